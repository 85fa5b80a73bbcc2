"""Comment intake limits: how many comments one author, or one chat, may add per minute.

A chat admin may subscribe a chat, and its members' replies are mirrored to every other chat
where the article went: without a limit one busy (or hostile) chat floods all the others.
Comments over a limit are still stored, hidden, for moderators; they are never mirrored.

Only accepted comments count against the limits: what was held back takes nobody's place.
A chat fills fairly: past half its limit it goes into slow mode, where an author's own
accepted comments in that chat plus everything the chat accepted must stay under the chat's
limit. The more an author has written, the sooner they are held; someone who has not written
in the window is held only when the chat is full, and one author alone never takes more than
half of it.

The counters live in memory, in the process that receives the platform's messages (the
holder of that platform's role when several workers run): a restart forgets them, which
errs on the side of readers.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum


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


class Held(StrEnum):
    """Why a comment was held back (stored hidden, never mirrored)."""

    AUTHOR = "author"
    """Its author reached ``per_author``."""
    SLOW_MODE = "slow mode"
    """The chat is past half its limit and this author has had their share of it."""
    CHAT = "chat"
    """The chat reached ``per_chat``."""


class SlidingCounter:
    """Events per key in a sliding window; remembers only the ``max_keys`` latest keys.

    ``over`` asks without counting and ``add`` counts; nothing awaits between the two in a
    caller, so concurrent comments cannot both slip under the limit. ``hit`` does both.
    """

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[object, deque[float]] = OrderedDict()

    def over(self, key: object, now: float) -> bool:
        """Whether ``key`` already has ``limit`` events inside the window at ``now``."""
        if self.limit <= 0:
            return False
        events = self._events.get(key)
        # Only the latest ``limit`` times matter: a key is over when the oldest of them is
        # still inside the window (so memory stays bounded however fast a key floods).
        return events is not None and len(events) == self.limit and events[0] > now - self.window

    def add(self, key: object, now: float) -> None:
        """Count one event for ``key`` at ``now``."""
        if self.limit <= 0:
            return
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque(maxlen=self.limit)
            if len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        events.append(now)

    def hit(self, key: object, now: float) -> bool:
        """Count one event for ``key`` at ``now``; ``True`` when it is over the limit."""
        over = self.over(key, now)
        self.add(key, now)
        return over


class _ChatWindow:
    """The comments one chat accepted inside the window, and how many each author wrote."""

    __slots__ = ("by_author", "events")

    def __init__(self) -> None:
        self.events: deque[tuple[float, Hashable]] = deque()
        self.by_author: Counter[Hashable] = Counter()

    def expire(self, horizon: float) -> None:
        while self.events and self.events[0][0] <= horizon:
            _, author = self.events.popleft()
            self.by_author[author] -= 1
            if self.by_author[author] <= 0:
                del self.by_author[author]


class IntakeGate:
    """Decides, comment by comment, whether it is accepted under ``IntakeLimits``.

    ``None`` (or zero limits) accepts everything. Memory stays bounded: at most ``max_keys``
    authors and ``max_chats`` chats are remembered (the least recent are forgotten), and a
    chat holds at most ``per_chat`` accepted comments.
    """

    def __init__(
        self,
        limits: IntakeLimits | None,
        *,
        max_keys: int = 100_000,
        max_chats: int = 10_000,
    ) -> None:
        self.limits = limits or IntakeLimits(per_author=0, per_chat=0)
        self._authors = SlidingCounter(
            self.limits.per_author, self.limits.window, max_keys=max_keys
        )
        self._chats: OrderedDict[Hashable, _ChatWindow] = OrderedDict()
        self.max_chats = max_chats

    def admit(self, author: Hashable, chat: Hashable, now: float) -> Held | None:
        """Count a comment of ``author`` in ``chat`` at ``now`` (seconds) if it is accepted.

        Returns ``None`` when accepted, else why it is held back (then nothing is counted).
        """
        if self._authors.over(author, now):
            return Held.AUTHOR
        limit = self.limits.per_chat
        window = self._chats.get(chat) if limit > 0 else None
        if window is not None:
            window.expire(now - self.limits.window)
            self._chats.move_to_end(chat)
            accepted = len(window.events)
            if accepted >= limit:
                return Held.CHAT
            if window.by_author[author] + accepted >= limit:
                return Held.SLOW_MODE
        elif limit > 0:
            window = self._chats[chat] = _ChatWindow()
            if len(self._chats) > self.max_chats:
                self._chats.popitem(last=False)
        self._authors.add(author, now)
        if window is not None:
            window.events.append((now, author))
            window.by_author[author] += 1
        return None
