"""Role supervision: what runs on this worker follows the roles it holds.

``Roles`` (in ``newsbot.workers``) takes and gives up the roles; the supervisors here listen
to it. ``Senders`` runs a chat platform's adapter while the worker holds ``send:<platform>``,
``FeedPolling`` runs the feed poller while it holds ``poll:feeds``. Both are platform-free:
an adapter is anything with a ``publisher`` and ``start``/``stop`` (``Adapter``), built by a
factory the composition root hands in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from newsbot.dispatcher import Dispatcher
from newsbot.errors import ConfigError, NewsBotError
from newsbot.feeds import FeedPoller, FeedService
from newsbot.models import Platform
from newsbot.ports import Publisher
from newsbot.workers import Backoff, Roles

# The lines these write were bot.py's before they moved here: same logger, same lines.
log = logging.getLogger("newsbot")

FEEDS_ROLE = "poll:feeds"
"""The role of the one worker that polls every feed."""


class Adapter(Protocol):
    """What the supervisors (and the composition root) need of a platform adapter."""

    name: str

    @property
    def publisher(self) -> Publisher | None:
        """The adapter's publisher, or ``None`` for adapters that only receive (the web)."""
        ...

    async def start(self) -> None:
        """Connect and start receiving.

        Raises:
            ConfigError: the adapter's settings are wrong; retrying cannot help.
            Exception: anything else (the platform unreachable): the role is given up and
                tried for again later.
        """
        ...

    async def stop(self) -> None:
        """Stop receiving and disconnect."""
        ...


AdapterFactory = Callable[[], Adapter]
"""Builds a fresh adapter each time this worker takes the adapter's role."""


def role_of(platform: Platform) -> str:
    """The role that lets one worker send and receive for ``platform``."""
    return f"send:{platform}"


class FeedPolling:
    """Runs the feed poller while this worker holds ``FEEDS_ROLE``; a poll cut short by a
    lost role is redone by the next holder, and its request keys publish nothing twice."""

    def __init__(self, feeds: FeedService, concurrency: int) -> None:
        self.feeds = feeds
        self.concurrency = concurrency
        self.poller: FeedPoller | None = None

    async def changed(self, role: str, held: bool) -> None:
        """The ``Roles`` listener."""
        if role != FEEDS_ROLE:
            return
        if held and self.poller is None:
            self.poller = FeedPoller(self.feeds, concurrency=self.concurrency)
            await self.poller.start()
            log.info("polling feeds")
        elif not held and self.poller is not None:
            poller, self.poller = self.poller, None
            await poller.stop()
            log.info("feeds: standing by")

    async def stop(self) -> None:
        """Stop polling and close the feed source (its HTTP client)."""
        await self.changed(FEEDS_ROLE, False)
        await self.feeds.source.close()


class Senders:
    """Runs a platform's adapter while this worker holds the platform's role.

    Gaining the role builds and starts the adapter and attaches its publisher to the
    dispatcher; losing it detaches the publisher (sends in flight finish, claims go back)
    and stops the adapter. Changes run in a task per platform, one after another, so the
    role renewals never wait behind a slow start (the Discord gateway takes seconds).

    An adapter that fails to start (the platform unreachable) gives the role up at once, so
    a standby can take it, and this worker tries for it again after a pause that grows with
    each failure in a row (``backoff``: a fresh ``Backoff`` per platform). A ``ConfigError``
    from a start is fatal: ``on_fatal`` gets it.
    """

    def __init__(
        self,
        factories: dict[Platform, AdapterFactory],
        dispatcher: Dispatcher,
        on_fatal: Callable[[BaseException], None],
        roles: Roles | None = None,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self.factories = factories
        self.dispatcher = dispatcher
        self.on_fatal = on_fatal
        self.roles = roles
        self._backoff = {p: backoff() for p in factories}
        self.running: dict[Platform, Adapter] = {}
        self._locks = {p: asyncio.Lock() for p in factories}
        self._tasks: set[asyncio.Task[None]] = set()
        self._past_429s: dict[str, int] = {}

    async def changed(self, role: str, held: bool) -> None:
        """The ``Roles`` listener."""
        if not role.startswith("send:"):
            return
        platform = Platform(role.split(":", 1)[1])
        if platform not in self.factories:
            return
        task = asyncio.create_task(self._apply(platform, held), name=f"role-{platform}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if not held:
            await task  # a lost role is acted on before anything else: stop sending now

    async def _apply(self, platform: Platform, held: bool) -> None:
        failed: tuple[Adapter, Exception] | None = None
        async with self._locks[platform]:
            if held and platform not in self.running:
                adapter = self.factories[platform]()
                try:
                    await adapter.start()
                except ConfigError as exc:
                    self.on_fatal(exc)
                    return
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        await adapter.stop()
                    failed = (adapter, exc)
                else:
                    self._started(platform, adapter)
            elif not held and platform in self.running:
                adapter = self.running.pop(platform)
                key = str(platform)
                self._past_429s[key] = self._past_429s.get(key, 0) + _answers_429(adapter)
                await self.dispatcher.detach(platform, grace=5.0)
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("adapter failed to stop", extra={"adapter": adapter.name})
                log.info("standing by", extra={"platform": str(platform)})
        if failed is not None:  # outside the lock: giving the role up calls this listener
            await self._retry_later(platform, *failed)

    def _started(self, platform: Platform, adapter: Adapter) -> None:
        self._backoff[platform].reset()
        self.running[platform] = adapter
        if adapter.publisher is not None:
            self.dispatcher.attach(adapter.publisher)
        log.info("sending and receiving", extra={"platform": str(platform)})

    async def _retry_later(self, platform: Platform, adapter: Adapter, exc: Exception) -> None:
        pause = self._backoff[platform].next()
        extra = {"adapter": adapter.name, "retry_in": round(pause, 1)}
        if isinstance(exc, NewsBotError):  # the platform did not answer: no traceback
            log.warning("adapter failed to start", extra={**extra, "error": str(exc)})
        else:
            log.error("adapter failed to start", extra=extra, exc_info=exc)
        if self.roles is not None:
            await self.roles.stand_down(role_of(platform), pause, "the adapter failed to start")

    def rate_limit_answers(self) -> dict[str, int]:
        """Answers of 429 the platforms gave this worker's publishers, for ``/metrics``
        (adapters come and go with the roles; the count goes on)."""
        counts = dict(self._past_429s)
        for platform, adapter in self.running.items():
            counts[str(platform)] = counts.get(str(platform), 0) + _answers_429(adapter)
        return counts

    async def settle(self) -> None:
        """Wait for the starts and stops under way."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop every running adapter (after the roles were given up)."""
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        for platform in list(self.running):
            await self._apply(platform, False)


def _answers_429(adapter: Adapter) -> int:
    # Only the chat adapters count their 429 answers; the Protocol does not ask for it.
    return int(getattr(adapter, "rate_limit_answers", 0))
