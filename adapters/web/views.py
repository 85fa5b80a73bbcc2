"""Article page views, counted without cookies or personal data: per article and per source
(the chat whose post was followed, named by the post link's ``via``), in memory, and added to
the store in batches every few seconds, so that several workers add up and a burst of readers
costs one write a batch, not one a view."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiohttp import web

from newsbot.errors import StorageError
from newsbot.models import ArticleId

log = logging.getLogger("newsbot.web")

Flush = Callable[[Sequence[tuple[ArticleId, str, int]]], Awaitable[None]]


class ViewCounter:
    """Views counted in memory and flushed to the store.

    Args:
        flush: adds a batch to the store (``FiguresService.add_views``).
        every: seconds between flushes.
        batch: views that trigger a flush before ``every`` is up.
    """

    def __init__(self, flush: Flush, *, every: float = 5.0, batch: int = 10_000) -> None:
        self._flush = flush
        self.every = every
        self.batch = batch
        self._counts: Counter[tuple[ArticleId, str]] = Counter()
        self._pending = 0
        self._wake = asyncio.Event()
        self.flushed = 0  # views written to the store by this worker

    def add(self, article_id: ArticleId, source: str) -> None:
        """Count one view (no I/O)."""
        self._counts[(article_id, source)] += 1
        self._pending += 1
        if self._pending >= self.batch:
            self._wake.set()

    async def flush(self) -> None:
        """Write what was counted; kept for the next flush if the store fails."""
        counts, self._counts, self._pending = self._counts, Counter(), 0
        if not counts:
            return
        try:
            await self._flush([(a, s, n) for (a, s), n in sorted(counts.items())])
        except StorageError:
            log.warning("views not stored yet; kept for the next flush")
            self._counts.update(counts)
            self._pending += sum(counts.values())
            return
        self.flushed += sum(counts.values())

    async def run(self) -> None:
        """Flush every ``every`` seconds, or sooner when a batch filled up."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.every)
            self._wake.clear()
            await self.flush()


VIEWS = web.AppKey("views", ViewCounter)


async def counting(app: web.Application) -> AsyncIterator[None]:
    """The application's view counter at work while it serves (``cleanup_ctx``); the last
    views are flushed when it stops."""
    counter = app[VIEWS]
    task = asyncio.create_task(counter.run(), name="web-views")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await counter.flush()
