"""How long ago something was, as a page may show it while it is kept in caches.

A page showing "5 minutes ago" is read later than it was made: the site's page cache keeps it,
and browsers and shared caches may show it up to ``lag`` seconds after they got it (the pages'
``Cache-Control`` lifetime). So an age here is *floored* to a whole unit after adding ``lag``,
and changes when that floor does (``Age.changes_at``): a page made at ``now`` and re-made by
``changes_at`` shows, at every moment a reader can see it, a value less than one unit away
from the true age. Units no longer than ``lag`` are never used (they could not be kept true);
below the smallest unit left, the age is "just now" only when that unit is the minute, and
otherwise not relative at all (``None``: the page shows the exact time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Babel's units (``babel.dates.TIMEDELTA_UNITS``), largest first, without seconds.
UNITS: tuple[tuple[str, int], ...] = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("week", 7 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)
MINUTE = 60


@dataclass(frozen=True, slots=True)
class Age:
    """``count`` whole ``unit``s ago (``count`` 0: just now), true until ``changes_at``."""

    count: int
    unit: str
    seconds: int  # the unit's length
    changes_at: datetime

    @property
    def span(self) -> timedelta:
        """The age shown, as a duration (``count`` units)."""
        return timedelta(seconds=self.count * self.seconds)


def age(at: datetime, now: datetime, lag: float = 0.0) -> Age | None:
    """How long before ``now`` ``at`` was, for a page readers may see ``lag`` seconds late;
    ``None`` when no unit longer than ``lag`` is short enough (see the module's docstring)."""
    usable = [(unit, length) for unit, length in UNITS if length > lag]
    if not usable:
        return None
    shown = max((now - at).total_seconds(), 0.0) + lag
    for index, (unit, length) in enumerate(usable):
        if shown >= length:
            count = int(shown // length)
            # The next floor of this unit, or the next unit up, whichever comes first.
            boundary = float((count + 1) * length)
            if index > 0:
                boundary = min(boundary, float(usable[index - 1][1]))
            return Age(count, unit, length, now + timedelta(seconds=boundary - shown))
    unit, length = usable[-1]
    if length != MINUTE:
        return None
    return Age(0, unit, length, now + timedelta(seconds=length - shown))


def first_change(ages: list[Age | None]) -> datetime | None:
    """When the first of ``ages`` changes (``None`` for none)."""
    return min((a.changes_at for a in ages if a is not None), default=None)
