"""Flood limits and lengths, as Telegram enforces them."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .wire import ApiError

if TYPE_CHECKING:
    from .world import _Chat  # a type only: world.py builds on this module

MAX_TEXT_UTF16 = 4096
MAX_CAPTION_UTF16 = 1024
MAX_ENTITIES = 100
MAX_CALLBACK_ANSWER = 200


@dataclass
class RateLimits:
    """Flood-control settings. ``*_per_sec``/``*_per_min`` are counts per ``*_window`` seconds."""

    global_per_sec: int = 30
    global_window: float = 1.0
    group_per_min: int = 20
    group_window: float = 60.0
    private_per_sec: float = 1.0
    private_window: float = 1.0
    private_burst: int = 3


class _SlidingWindow:
    def __init__(self) -> None:
        self.events: deque[float] = deque()

    def wait(self, now: float, limit: int, window: float) -> float:
        while self.events and self.events[0] <= now - window:
            self.events.popleft()
        if len(self.events) < limit:
            return 0.0
        return self.events[len(self.events) - limit] + window - now

    def record(self, now: float) -> None:
        self.events.append(now)


class _TokenBucket:
    def __init__(self, capacity: int) -> None:
        self.tokens = float(capacity)
        self.last: float | None = None

    def _refill(self, now: float, rate: float, capacity: int) -> None:
        if self.last is not None:
            self.tokens = min(float(capacity), self.tokens + (now - self.last) * rate)
        self.last = now

    def wait(self, now: float, rate: float, capacity: int) -> float:
        self._refill(now, rate, capacity)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / rate

    def record(self, now: float, rate: float, capacity: int) -> None:
        self._refill(now, rate, capacity)
        self.tokens -= 1.0


class FloodControl:
    """Telegram's flood limits: 30 sends a second overall, 20 a minute per group, about one a
    second per private chat; a send over them answers 429 with ``retry_after``.

    A base of the fake: the state it reads is set up by ``World.__init__``.
    """

    clock: Callable[[], float]
    enforce_rate_limits: bool
    limits: RateLimits
    _global_window: _SlidingWindow
    _chat_windows: dict[int, _SlidingWindow]
    _private_buckets: dict[int, _TokenBucket]

    def set_limits(
        self,
        *,
        global_per_sec: int | None = None,
        global_window: float | None = None,
        group_per_min: int | None = None,
        group_window: float | None = None,
        private_per_sec: float | None = None,
        private_window: float | None = None,
        private_burst: int | None = None,
        enabled: bool = True,
    ) -> None:
        """Change the flood limits (and turn enforcement on); resets the windows."""
        changes = {
            "global_per_sec": global_per_sec,
            "global_window": global_window,
            "group_per_min": group_per_min,
            "group_window": group_window,
            "private_per_sec": private_per_sec,
            "private_window": private_window,
            "private_burst": private_burst,
        }
        for name, value in changes.items():
            if value is not None:
                if value <= 0:
                    raise ValueError(f"{name} must be positive")
                setattr(self.limits, name, value)
        self.enforce_rate_limits = enabled
        self._global_window = _SlidingWindow()
        self._chat_windows.clear()
        self._private_buckets.clear()

    def _rate_wait(self, chat: _Chat, now: float) -> float:
        limits = self.limits
        waits = [self._global_window.wait(now, limits.global_per_sec, limits.global_window)]
        if chat.type == "private":
            bucket = self._private_buckets.setdefault(chat.id, _TokenBucket(limits.private_burst))
            rate = limits.private_per_sec / limits.private_window
            waits.append(bucket.wait(now, rate, limits.private_burst))
        else:
            window = self._chat_windows.setdefault(chat.id, _SlidingWindow())
            waits.append(window.wait(now, limits.group_per_min, limits.group_window))
        return max(waits)

    def _rate_check(self, chat: _Chat) -> None:
        if not self.enforce_rate_limits:
            return
        wait = self._rate_wait(chat, self.clock())
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )

    def _rate_record(self, chat: _Chat) -> None:
        if not self.enforce_rate_limits:
            return
        now = self.clock()
        limits = self.limits
        self._global_window.record(now)
        if chat.type == "private":
            rate = limits.private_per_sec / limits.private_window
            self._private_buckets.setdefault(chat.id, _TokenBucket(limits.private_burst)).record(
                now, rate, limits.private_burst
            )
        else:
            self._chat_windows.setdefault(chat.id, _SlidingWindow()).record(now)
