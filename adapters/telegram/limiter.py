"""Pacing of Bot API sends: stay under Telegram's flood limits without waiting to be told.

``SendLimiter`` plugs into python-telegram-bot as its rate limiter, so every request passes
through it. Message sends and edits count against two sliding windows: about 30 per second for
the whole bot, and 20 per minute per group or channel (three per three seconds in a private
chat). Two lanes share them:

- the *fan-out* lane (the dispatcher's posts, ``rate_limit_args={"lane": "fanout"}``) never
  waits for a chat: when the chat has no budget it raises ``RateLimited(seconds, scope="chat")``
  so the dispatcher reschedules that delivery and other chats proceed. It waits briefly for the
  global budget and leaves a reserve of it to the interactive lane while commands are served.
- the *interactive* lane (answers to commands, the default) goes first whenever both wait.

A 429 from Telegram pauses the chat it was for; 429s for several chats in quick succession (or
one without a chat) pause everything, for the ``retry_after`` the server gave.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from newsbot.errors import RateLimited

log = logging.getLogger("newsbot.telegram")

FANOUT = "fanout"
INTERACTIVE = "interactive"

# Requests that deliver or change a message count against the limits; queries do not.
_COUNTED_PREFIXES = ("send", "edit", "copy", "forward")
_UNCOUNTED = frozenset({"sendChatAction"})


class _Window:
    """Recent sends of one scope; admits one more while fewer than ``limit`` were answered in
    the last ``period`` seconds or are still in flight.

    A send counts from when its answer arrived, not from when it left: the server saw it
    somewhere in between, so network jitter can never squeeze more than ``limit`` sends into
    one of the server's windows.
    """

    __slots__ = ("done", "in_flight", "period")

    def __init__(self, period: float) -> None:
        self.done: deque[float] = deque()
        self.in_flight = 0
        self.period = period

    def delay(self, now: float, limit: int) -> float:
        """Seconds until one more send fits (0 when it fits now).

        When only sends still in flight could make room, the answer is an estimate.
        """
        done = self.done
        while done and done[0] <= now - self.period:
            done.popleft()
        excess = len(done) + self.in_flight - limit
        if excess < 0:
            return 0.0
        if excess < len(done):
            return done[excess] + self.period - now
        return self.period

    def begin(self) -> None:
        self.in_flight += 1

    def finish(self, now: float) -> None:
        self.in_flight -= 1
        self.done.append(now)

    @property
    def idle(self) -> bool:
        return not self.in_flight and not self.done


def retry_seconds(error: RetryAfter) -> float:
    """``error.retry_after`` in seconds, without python-telegram-bot's deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


class SendLimiter(BaseRateLimiter[Mapping[str, Any]]):
    """A window-aware limiter with a fan-out lane and an interactive lane.

    Args:
        overall: sends allowed in any ``overall_period`` for the whole bot. Counting each send
            from its answer keeps the rate a little under the limit (about 29.5/s locally).
        overall_period: the global window in seconds.
        group: sends per ``group_period`` to one group, supergroup or channel.
        group_period: the group window in seconds.
        private: sends per ``private_period`` to one private chat (a small burst, then 1/s).
        private_period: the private-chat window in seconds.
        reserve: global slots per window that fan-out leaves free while commands are served.
        fanout_wait: the longest a fan-out send waits for the global budget before it gives
            its delivery back with ``RateLimited(scope="global")``.
        interactive_wait: the longest a command answer waits before giving up.
        interactive_retry: a 429 shorter than this is waited out and an answer sent again.
        clock: a monotonic time source (tests may pass their own).
    """

    def __init__(
        self,
        *,
        overall: int = 30,
        overall_period: float = 1.0,
        group: int = 20,
        group_period: float = 61.0,
        private: int = 3,
        private_period: float = 3.05,
        reserve: int = 3,
        fanout_wait: float = 5.0,
        interactive_wait: float = 10.0,
        interactive_retry: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.overall = overall
        self.group = group
        self.private = private
        self.group_period = group_period
        self.private_period = private_period
        self.reserve = min(reserve, overall - 1)
        self.fanout_wait = fanout_wait
        self.interactive_wait = interactive_wait
        self.interactive_retry = interactive_retry
        self.clock = clock
        self._global = _Window(overall_period)
        self._chats: dict[str, _Window] = {}
        self._chat_paused: dict[str, float] = {}
        self._paused_until = 0.0
        self._interactive_waiting = 0
        self._recent_429: deque[tuple[float, str | None]] = deque(maxlen=16)
        self.sent = 0
        self.limited = 0
        self.answers_429 = 0  # answers of 429 Telegram gave anyway, for monitoring

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    # -- the budget -------------------------------------------------------------------------

    def _chat_window(self, chat: str) -> tuple[_Window, int]:
        window = self._chats.get(chat)
        private = not chat.startswith(("-", "@"))
        if window is None:
            if len(self._chats) > 50_000:
                self._forget_idle()
            window = _Window(self.private_period if private else self.group_period)
            self._chats[chat] = window
        return window, self.private if private else self.group

    def _forget_idle(self) -> None:
        now = self.clock()
        for chat in [c for c, w in self._chats.items() if w.delay(now, 1) == 0 or w.idle]:
            del self._chats[chat]

    def chat_delay(self, chat: str) -> float:
        """Seconds until ``chat`` has budget for one more send (0 when it has)."""
        now = self.clock()
        window, limit = self._chat_window(chat)
        return max(window.delay(now, limit), self._chat_paused.get(chat, 0.0) - now, 0.0)

    def _global_limit(self, lane: str, now: float) -> int:
        if lane == INTERACTIVE:
            return self.overall
        # Hold a few slots back only while a command answer is actually waiting: capping the
        # fan-out for a while after every answer cost 6% of the budget (bench/fanout.py).
        if self._interactive_waiting:
            return self.overall - self.reserve
        return self.overall

    async def acquire(self, chat: str | None, lane: str = INTERACTIVE) -> _Window | None:
        """Wait for budget to send one message to ``chat`` and take it.

        Returns the chat's window; pass it to ``release`` when the answer has arrived.

        Raises:
            RateLimited: a fan-out send to a chat without budget (``scope="chat"``), or any
                send that would wait longer than its lane allows.
        """
        interactive = lane == INTERACTIVE
        deadline = self.clock() + (self.interactive_wait if interactive else self.fanout_wait)
        if interactive:
            self._interactive_waiting += 1
        try:
            while True:
                now = self.clock()
                chat_wait = 0.0
                window = None
                if chat is not None:
                    chat_wait = self.chat_delay(chat)
                    if chat_wait > 0 and not interactive:
                        self.limited += 1
                        raise RateLimited(chat_wait, scope="chat")
                global_wait = max(
                    self._paused_until - now,
                    self._global.delay(now, self._global_limit(lane, now)),
                )
                if not interactive and self._interactive_waiting and global_wait <= 0:
                    # Let the waiting command answer take this slot; try again right after.
                    global_wait = 0.005
                wait = max(chat_wait, global_wait)
                if wait <= 0:
                    self._global.begin()
                    if chat is not None:
                        window = self._chat_window(chat)[0]
                        window.begin()
                    self.sent += 1
                    return window
                if now + wait > deadline:
                    self.limited += 1
                    scope = "chat" if chat_wait >= global_wait else "global"
                    raise RateLimited(wait, scope=scope)
                # Sends in flight may free the budget early: look again soon.
                await asyncio.sleep(min(wait, 0.05))
        finally:
            if interactive:
                self._interactive_waiting -= 1

    def release(self, window: _Window | None) -> None:
        """Count a send acquired with ``acquire`` from now, when its answer arrived."""
        now = self.clock()
        self._global.finish(now)
        if window is not None:
            window.finish(now)

    def record_429(self, chat: str | None, retry_after: float) -> str:
        """Pause after Telegram answered 429; returns the scope paused ("chat" or "global")."""
        now = self.clock()
        self.answers_429 += 1
        until = now + max(retry_after, 0.0)
        self._recent_429.append((now, chat))
        recent = {c for t, c in self._recent_429 if now - t < 2.0}
        if chat is None or len(recent) > 1:
            self._paused_until = max(self._paused_until, until)
            scope = "global"
        else:
            self._chat_paused[chat] = max(self._chat_paused.get(chat, 0.0), until)
            scope = "chat"
        log.warning(
            "telegram flood control",
            extra={"chat_id": chat, "retry_after": retry_after, "scope": scope},
        )
        return scope

    # -- python-telegram-bot's hook ---------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Mapping[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Pace counted requests, then make the call; turn a 429 into ``RateLimited``."""
        lane = str((rate_limit_args or {}).get("lane", INTERACTIVE))
        raw_chat = data.get("chat_id")
        chat = str(raw_chat) if raw_chat is not None else None
        counted = endpoint.startswith(_COUNTED_PREFIXES) and endpoint not in _UNCOUNTED
        attempts = 0
        while True:
            if not counted:
                return await callback(*args, **kwargs)
            window = await self.acquire(chat, lane)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_seconds(error)
                scope = self.record_429(chat, seconds)
                attempts += 1
                if lane != INTERACTIVE or attempts > 1 or seconds > self.interactive_retry:
                    raise RateLimited(seconds, scope=scope) from error
                # A command answer tries once more; acquire() waits out the pause.
            finally:
                self.release(window)
