"""The ``Store`` in memory, for tests of the core that need no SQL: the same contract, in
microseconds, lost when the process ends.

Every rule comes from the core, as in the SQL backends (``newsbot.intake`` decides what
becomes of an arriving comment, ``newsbot.mirroring`` where its copies land); these modules
only keep the rows. No method awaits anything, so each is atomic on the event loop. Several
``MemoryStore`` handles on one ``MemoryDatabase`` behave as workers sharing a database; each
change is reported to the ``watch`` listeners of all of them as ``"*"``.
"""

from storage.memory.store import MemoryStore
from storage.memory.tables import MemoryDatabase

__all__ = ["MemoryDatabase", "MemoryStore"]
