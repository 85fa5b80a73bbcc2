"""Comment intake limits: how many comments one author, or one chat, may add per minute.

A chat admin may subscribe a chat, and its members' replies are mirrored to every other chat
where the article went: without a limit one busy (or hostile) chat floods all the others.
Comments over a limit are still stored, hidden, for moderators; they are never mirrored.

The counters live in memory, in the process that receives the platform's messages (the
holder of that platform's role when several workers run): a restart forgets them, which
errs on the side of readers.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """Comments allowed per ``window`` seconds; 0 turns a limit off.

    Attributes:
        per_author: comments of one author (per platform user, or web identity).
        per_chat: comments written in one chat (a Telegram group, a Discord channel or
            thread, an article's web page).
        window: the sliding window in seconds.
    """

    per_author: int = 5
    per_chat: int = 60
    window: float = 60.0


class SlidingCounter:
    """Events per key in a sliding window; remembers only the ``max_keys`` latest keys.

    ``hit`` counts an event and says whether the key was already at its limit, in one step:
    nothing awaits between the check and the count, so concurrent comments cannot both slip
    under the limit.
    """

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[object, deque[float]] = OrderedDict()

    def hit(self, key: object, now: float) -> bool:
        """Count one event for ``key`` at ``now``; ``True`` when it is over the limit."""
        if self.limit <= 0:
            return False
        events = self._events.get(key)
        if events is None:
            # Only the latest ``limit`` times matter: a key is over when the oldest of them is
            # still inside the window (so memory stays bounded however fast a key floods).
            events = self._events[key] = deque(maxlen=self.limit)
            if len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        over = len(events) == self.limit and events[0] > now - self.window
        events.append(now)
        return over
