"""A closed story shows on its posts: a "Comments are closed" line under the counts, and on
Discord a locked and archived thread. Reopening takes both back.

The posts are edited through the outbox like a count refresh (``DeskStore.refresh_posts``,
at the comment count's pace): retried, sent once across workers by the holder of each
platform's role, and never ahead of an article's fan-out (edits wait for the posts due). The
dispatcher asks ``Closing.closed`` which of the articles it claimed posts of are closed and
sets ``Job.comments_closed``; the platform's publisher draws the line (and, on Discord, locks
or unlocks the thread) from it. Nothing here does platform I/O.

Three things change whether a story is closed: ``/policy`` (``Desk.set_policy`` asks
``changed``), a changed default (the next edit shows it), and the automatic close after
``DeskSettings.close_after``, which no event marks: ``close_due`` finds the stories whose
age crossed it since the last look (a watermark in the shared state) and refreshes their
posts; ``AutoClose`` runs it every minute in the worker that polls feeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from newsbot.comments import Host, meets
from newsbot.errors import StorageError
from newsbot.models import Article, ArticleCursor, ArticleId
from newsbot.policy import CommentPolicy

log = logging.getLogger("newsbot.service")

WATERMARK = "comments.closed_until"
"""The shared-state key: stories published before this time were seen closing by age."""
PAGE = 200
"""Articles read per page while looking for stories that closed by age."""


class Closing:
    """Whether stories are closed, as their posts show it (``NewsService.desk.closing``)."""

    def __init__(self, svc: Host) -> None:
        self._svc = svc

    async def closed(self, articles: Iterable[Article]) -> set[ArticleId]:
        """The ids of ``articles`` whose new comments meet the closed policy now (one look-up
        per distinct article): the dispatcher marks their posts' jobs with it."""
        return {
            article.id
            for article in {a.id: a for a in articles}.values()
            if await meets(self._svc, article.id, article.published_at) is CommentPolicy.CLOSED
        }

    async def changed(self, article_id: ArticleId, was: CommentPolicy, now: CommentPolicy) -> int:
        """After a story's policy changed from ``was`` to ``now``: when it closed or reopened,
        its sent posts are edited (the line, the Discord thread). Returns the edits queued."""
        if (was is CommentPolicy.CLOSED) == (now is CommentPolicy.CLOSED):
            return 0
        return await self.refresh(article_id)

    async def refresh(self, article_id: ArticleId) -> int:
        """Queue edits of the article's posts at the comment count's pace."""
        svc = self._svc
        queued = await svc.store.refresh_posts(article_id, svc.count_refresh, svc.clock.now())
        if queued:
            svc._enqueued()
        return queued

    async def close_due(self) -> int:
        """Refresh the posts of the stories that closed by age since the last look; the
        first look goes back one ``close_after`` (not through the whole archive). Returns
        how many stories closed. Looking twice at once edits twice, harmlessly."""
        svc = self._svc
        after = svc.desk_settings.close_after
        if not after:
            return 0
        until = svc.clock.now() - after
        seen = await svc.store.get_state(WATERMARK)
        since = datetime.fromisoformat(seen) if seen else until - after
        closed = 0
        for article in await self._published(since, until):
            if article.id in await self.closed([article]):
                await self.refresh(article.id)
                closed += 1
        await svc.store.set_state(WATERMARK, until.isoformat())
        if closed:
            log.info("stories closed by age", extra={"count": closed})
        return closed

    async def _published(self, since: datetime, until: datetime) -> list[Article]:
        """The published articles with ``since <= published_at < until``."""
        found: list[Article] = []
        cursor = ArticleCursor(until, ArticleId(0))
        while True:
            page = await self._svc.store.latest_articles(PAGE, cursor)
            for article in page:
                if article.published_at is None or article.published_at < since:
                    return found
                found.append(article)
            if len(page) < PAGE:
                return found
            last = page[-1]
            assert last.published_at is not None
            cursor = ArticleCursor(last.published_at, last.id)


class AutoClose:
    """Runs ``Closing.close_due`` every ``interval`` seconds while ``may_run()`` says so
    (the worker holding the feeds role), until stopped."""

    def __init__(
        self,
        closing: Closing,
        may_run: Callable[[], bool],
        interval: timedelta = timedelta(minutes=1),
    ) -> None:
        self._closing = closing
        self._may_run = may_run
        self._interval = interval.total_seconds()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start looking (once)."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="auto-close")

    async def stop(self) -> None:
        """Stop looking."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            if self._may_run():
                try:
                    await self._closing.close_due()
                except StorageError:
                    log.warning("cannot look for stories closed by age", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
