"""Request pacing in front of discord.py, so that Discord never has to answer 429.

discord.py learns per-route buckets from response headers but reacts to the global limit (50
requests per second per bot) only after a 429, and Discord bans clients that collect 10,000
invalid requests in 10 minutes. ``RequestPacer`` holds every REST request in a sliding window
before aiohttp sends it (through aiohttp's public tracing hooks, which discord.py accepts as
``http_trace``). ``ChannelPacer`` keeps message writes per channel within their bucket and, when
a channel has no budget left, says how long to wait instead of waiting, so that one busy channel
never holds up a fan-out to the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp


class SlidingWindow:
    """At most ``limit`` requests in any ``period`` seconds.

    A request holds its slot from when it is granted until ``period`` seconds after it
    finished. The server sees the request somewhere between those two instants, so however
    latency varies it never counts more than ``limit`` requests in any window of ``period``
    seconds, neither a sliding one nor a fixed one that starts with a request.

    Args:
        limit: requests allowed per window.
        period: the window length in seconds.
        clock: a monotonic time source (tests pass their own).
    """

    def __init__(
        self, limit: int, period: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._in_flight = 0
        self._expiries: list[float] = []
        self._lock = asyncio.Lock()
        self._released = asyncio.Event()

    def _prune(self) -> None:
        now = self._clock()
        while self._expiries and self._expiries[0] <= now:
            heapq.heappop(self._expiries)

    @property
    def used(self) -> int:
        """Slots taken now: requests in flight plus finished ones still inside the window."""
        self._prune()
        return self._in_flight + len(self._expiries)

    @property
    def idle(self) -> bool:
        """Whether nothing is in flight or remembered (the window can be forgotten)."""
        return self.used == 0

    def delay(self) -> float:
        """Seconds until a slot is free: 0 when one is free now, ``period`` when every slot is
        held by a request still in flight (its end is unknown)."""
        if self.used < self.limit:
            return 0.0
        if self._expiries:
            return max(self._expiries[0] - self._clock(), 0.0)
        return self.period

    def try_acquire(self) -> bool:
        """Take a slot if one is free now; never waits."""
        if self.used >= self.limit:
            return False
        self._in_flight += 1
        return True

    async def acquire(self) -> None:
        """Wait for a slot and take it. Waiters are served first come, first served."""
        async with self._lock:
            while not self.try_acquire():
                self._released.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.delay()):
                        await self._released.wait()

    def release(self) -> None:
        """The request holding a slot finished (successfully or not)."""
        self._in_flight = max(self._in_flight - 1, 0)
        heapq.heappush(self._expiries, self._clock() + self.period)
        self._released.set()


class RequestPacer:
    """Keeps every REST request to the API under the global rate limit.

    Interaction callbacks and interaction webhooks (follow-ups) are exempt on Discord's side
    and pass straight through, as does everything that is not the API (the gateway socket).

    Args:
        api_url: the REST base URL (``Route.BASE``); only requests under it are paced.
        limit: requests per ``period`` (Discord allows 50); each slot is held until a period after
            its answer arrives, so the server never counts more than ``limit`` in any window.
        period: the window in seconds.
    """

    def __init__(self, api_url: str, *, limit: int = 50, period: float = 1.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.window = SlidingWindow(limit, period)
        self.paced = 0
        self.answers_429 = 0  # for monitoring: answers of 429 Discord gave anyway

    def exempt(self, url: str) -> bool:
        """Whether a request to ``url`` is outside the global limit."""
        if not url.startswith(self.api_url):
            return True
        path = url[len(self.api_url) :]
        return path.startswith(("/interactions/", "/webhooks/"))

    def trace_config(self) -> aiohttp.TraceConfig:
        """An aiohttp trace config that paces requests; pass it to ``discord.Client`` as
        ``http_trace``."""
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._on_start)
        config.on_request_end.append(self._on_done)
        config.on_request_end.append(self._on_answer)
        config.on_request_exception.append(self._on_done)
        return config

    async def _on_answer(
        self, _session: aiohttp.ClientSession, _ctx: SimpleNamespace, params: Any
    ) -> None:
        if params.response.status == 429:
            self.answers_429 += 1

    async def _on_start(
        self, _session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any
    ) -> None:
        if self.exempt(str(params.url)):
            return
        await self.window.acquire()
        ctx.newsbot_paced = True
        self.paced += 1

    async def _on_done(
        self, _session: aiohttp.ClientSession, ctx: SimpleNamespace, _params: Any
    ) -> None:
        if getattr(ctx, "newsbot_paced", False):
            ctx.newsbot_paced = False
            self.window.release()


class ChannelPacer:
    """Sliding windows per (operation, channel) for message writes.

    Args:
        limit: writes per ``period`` in one channel (Discord: 5 per 5 s, observed).
        period: the window in seconds.
    """

    def __init__(self, limit: int = 5, period: float = 5.0) -> None:
        self.limit = limit
        self.period = period
        self._windows: dict[tuple[str, str], SlidingWindow] = {}

    def try_acquire(self, op: str, channel_id: str) -> float:
        """Take a slot for ``op`` in ``channel_id``: 0.0 when taken, else the seconds to wait."""
        key = (op, channel_id)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) > 4096:
                self._forget_idle()
            window = self._windows[key] = SlidingWindow(self.limit, self.period)
        if window.try_acquire():
            return 0.0
        return max(window.delay(), 0.05)

    def release(self, op: str, channel_id: str) -> None:
        """The write holding a slot finished."""
        window = self._windows.get((op, channel_id))
        if window is not None:
            window.release()

    def _forget_idle(self) -> None:
        for key in [k for k, w in self._windows.items() if w.idle]:
            del self._windows[key]
