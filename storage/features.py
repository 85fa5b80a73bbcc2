"""The capabilities both SQL backends share, written once over ``storage.base.Tx``.

``SqliteStore`` and ``PostgresStore`` each add their own outbox and coordination (claims and
roles differ by engine) to this one class, so a new capability is added here once, not to
each store's list of bases.
"""

from __future__ import annotations

from storage.desk import SqlDesk
from storage.notices import SqlNotices
from storage.people import SqlPeople
from storage.reactions import SqlReactions
from storage.routing import RoutingUnits
from storage.schedule import ScheduleUnits
from storage.slowmode import SqlSlowMode
from storage.staffchat import SqlStaffNotices
from storage.stats import SqlStats

__all__ = ["SqlFeatures"]


class SqlFeatures(
    SqlPeople,
    SqlNotices,
    SqlReactions,
    SqlDesk,
    SqlSlowMode,
    ScheduleUnits,
    RoutingUnits,
    SqlStats,
    SqlStaffNotices,
):
    """People, notices, reactions, the desk, slow mode, scheduling, routing, figures and the
    staff chat's notices: every ``Store`` role that is the same SQL on both engines."""
