"""When feeds are polled: each feed's next poll after a success or a failure, and the
``FeedPoller`` that polls every active feed when it is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from newsbot.drafts import TITLE_MAX
from newsbot.feed_items import plain_text
from newsbot.feed_reports import PollResult
from newsbot.models import Feed, FeedId, Fetched
from newsbot.ports import FeedStore
from newsbot.text import cut_chars, one_line

log = logging.getLogger("newsbot.feeds")

BACKOFF_CAP = 6 * 3600.0
WAIT_CAP = 86400.0
_PHASE = (math.sqrt(5) - 1) / 2  # golden-ratio steps spread ids evenly over the interval


class Stopped(Exception):
    """This worker may no longer poll (it lost the role)."""


def next_slot(feed: Feed, started: datetime) -> datetime:
    """The next time of this feed's phase at least half an interval after ``started``.

    A poll that started on time is followed by the next one an interval later; one that
    started late (polls queued behind others) keeps its phase rather than skipping a
    whole interval, so an item waits at most about an interval whatever the load.
    """
    interval = feed.interval
    phase = (feed.id * _PHASE) % 1.0 * interval
    earliest = started.timestamp() + interval / 2
    slot = math.ceil((earliest - phase) / interval) * interval + phase
    return datetime.fromtimestamp(slot, UTC)


def after_success(
    feed: Feed, fetched: Fetched, started: datetime, now: datetime, *, keep: bool
) -> Feed:
    """The feed after a poll answered 200 or 304 at ``now``: its next poll at its phase (or
    later, as ``max-age`` asks), its validators kept unless ``keep`` is false (work was left
    for the next poll, which must then ask unconditionally), its errors cleared."""
    due = next_slot(feed, started)
    if fetched.max_age:
        due = max(due, now + timedelta(seconds=min(fetched.max_age, WAIT_CAP)))
    return replace(
        feed,
        title=cut_chars(one_line(plain_text(fetched.title)), TITLE_MAX) or feed.title,
        next_poll_at=due,
        last_poll_at=started,
        last_success_at=started,
        last_status=fetched.status,
        etag=(fetched.etag if fetched.status == 200 else fetched.etag or feed.etag)
        if keep
        else None,
        last_modified=(
            fetched.last_modified
            if fetched.status == 200
            else (fetched.last_modified or feed.last_modified)
        )
        if keep
        else None,
        errors=0,
        last_error=None,
    )


def after_failure(
    feed: Feed,
    status: int | None,
    error: str,
    retry_after: float | None,
    started: datetime,
    *,
    jitter: float,
    now: datetime,
) -> Feed:
    """The feed after a failed poll: its next poll backed off exponentially (``jitter`` in
    [0, 1) spreads it), never sooner than ``Retry-After`` asks, capped."""
    # A 404 streak counts on its own, so that "three 404s in a row" means just that.
    errors = 1 if status == 404 and feed.last_status != 404 else feed.errors + 1
    wait = min(feed.interval * 2 ** min(errors - 1, 20), BACKOFF_CAP)
    wait *= 1.0 + 0.5 * jitter
    if retry_after:
        wait = max(wait, min(retry_after, WAIT_CAP))
    return replace(
        feed,
        next_poll_at=now + timedelta(seconds=max(wait, feed.interval)),
        last_poll_at=started,
        last_status=status,
        errors=errors,
        last_error=cut_chars(one_line(error), 500),
    )


class Pollable(Protocol):
    """What the poller asks of the feed use cases (``FeedService`` is one)."""

    store: FeedStore
    may_poll: Callable[[], bool] | None

    def _now(self) -> datetime: ...

    async def poll(self, feed: Feed) -> PollResult:
        """Poll a feed once; ``Stopped`` when this worker may no longer poll."""
        ...


class FeedPoller:
    """Polls every active feed when it is due, a bounded number at a time.

    Feeds are read from the store every ``refresh`` seconds (and on ``wake``) so that feeds
    added or removed by the command line or another worker are picked up; each poll runs in
    its own task under ``FeedService.poll_timeout``, so a slow or hanging feed holds one of
    the ``concurrency`` slots and delays no other feed.

    Args:
        feeds: the feed service.
        concurrency: polls at a time.
        refresh: seconds between readings of the feed list.
        failure_pause: seconds before a feed whose poll raised (the store failed) is tried
            again.
    """

    def __init__(
        self,
        feeds: Pollable,
        *,
        concurrency: int = 16,
        refresh: float = 5.0,
        failure_pause: float = 30.0,
    ) -> None:
        self.feeds = feeds
        self.concurrency = concurrency
        self.refresh = refresh
        self.failure_pause = failure_pause
        self.polls = 0
        self._known: dict[FeedId, Feed] = {}
        self._hold: dict[FeedId, datetime] = {}
        self._running: dict[FeedId, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loaded_at = -math.inf

    async def start(self) -> None:
        """Start polling in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="feed-poller")

    async def stop(self) -> None:
        """Stop polling; polls in flight are cancelled (and redone by whoever polls next)."""
        task, self._task = self._task, None
        for running in [*([task] if task else []), *self._running.values()]:
            running.cancel()
        for running in [*([task] if task else []), *list(self._running.values())]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        self._running.clear()

    def wake(self) -> None:
        """Read the feed list again now (a feed was added or removed)."""
        self._loaded_at = -math.inf
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() - self._loaded_at >= self.refresh:
                try:
                    listed = await self.feeds.store.list_feeds()
                except Exception:
                    log.exception("cannot read the feed list")
                else:
                    self._known = {f.id: f for f in listed if f.active}
                    self._loaded_at = loop.time()
            may_poll = self.feeds.may_poll
            if may_poll is not None and not may_poll():
                # The role is being lost: the listener stops this poller in a moment.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.refresh):
                        await self._wake.wait()
                continue
            now = self.feeds._now()
            due = sorted(
                (f for f in self._known.values() if f.id not in self._running),
                key=lambda f: max(f.next_poll_at, self._hold.get(f.id, f.next_poll_at)),
            )
            wait = self.refresh
            for feed in due:
                when = max(feed.next_poll_at, self._hold.get(feed.id, feed.next_poll_at))
                if when > now:
                    wait = min(wait, (when - now).total_seconds())
                    break
                if len(self._running) >= self.concurrency:
                    break
                self._running[feed.id] = asyncio.create_task(
                    self._poll(feed), name=f"feed-{feed.id}"
                )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.01)):
                    await self._wake.wait()

    async def _poll(self, feed: Feed) -> None:
        try:
            result = await self.feeds.poll(feed)
        except Stopped:
            return
        except Exception:
            log.exception("feed poll crashed", extra={"feed_id": feed.id})
            self._hold[feed.id] = self.feeds._now() + timedelta(seconds=self.failure_pause)
        else:
            self.polls += 1
            self._hold.pop(feed.id, None)
            if feed.id in self._known:
                if result.feed.active:
                    self._known[feed.id] = result.feed
                else:
                    del self._known[feed.id]
        finally:
            self._running.pop(feed.id, None)
            self._wake.set()
