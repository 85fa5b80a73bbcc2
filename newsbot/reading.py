"""The reading use cases behind ``NewsService``: the latest articles and an article's thread,
one keyset page at a time behind signed cursors.

Each function takes the service (any ``Host``) first; ``NewsService`` forwards to them.
"""

from __future__ import annotations

from typing import Protocol

from newsbot import threads
from newsbot.cursors import Cursors
from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import Actor, Article, ArticleCursor, ArticleId, ArticlePage, ThreadPage
from newsbot.ports import Clock, Store
from newsbot.threads import PAGE_COMMENTS

PAGE_MAX = 100


class Host(Protocol):
    """What the reading use cases need of ``NewsService``."""

    store: Store
    clock: Clock

    async def cursors(self, *, make: bool = True) -> Cursors:
        """``NewsService.cursors``."""
        ...

    async def readable_article(self, article_id: ArticleId, viewer: Actor | None) -> Article:
        """``NewsService.readable_article``."""
        ...


async def latest(svc: Host, limit: int = 20, cursor: str | None = None) -> ArticlePage:
    """Return published articles, newest first, one keyset page at a time.

    Raises:
        InvalidInput: the cursor is malformed or the limit out of range.
    """
    limit = _page_limit(limit)
    position = (await svc.cursors(make=False)).read_article(cursor) if cursor else None
    # Scheduled articles (web time ahead) are the newest: start the page at now.
    now = ArticleCursor(svc.clock.now(), ArticleId(2**62))
    if position is None or (position.published_at, position.article_id) > (
        now.published_at,
        now.article_id,
    ):
        position = now
    articles = await svc.store.latest_articles(limit + 1, position)
    next_cursor = None
    if len(articles) > limit:
        articles = articles[:limit]
        last = articles[-1]
        assert last.published_at is not None
        next_cursor = (await svc.cursors()).article(ArticleCursor(last.published_at, last.id))
    return ArticlePage(articles, next_cursor)


async def thread(
    svc: Host,
    article_id: ArticleId,
    *,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = False,
    viewer: Actor | None = None,
    size: int = PAGE_COMMENTS,
) -> ThreadPage:
    """Return one page of an article's thread: ``limit`` top-level comments, each with its
    replies nested under it, at most ``size`` comments in all.

    Replies nest ``THREAD_DEPTH`` levels deep at most; deeper ones are listed flat at that
    level (``newsbot.threads``). A top-level comment whose replies do not fit in ``size``
    continues on the next page (``ThreadPage.continued``). Deleted and hidden comments
    are left out, except as empty placeholders where visible replies hang under them.
    The thread of a retracted (or draft) article is gone, as the article is, for every
    viewer but newsbot admins (``readable_article``).

    Raises:
        NotFound: no such article, or not one the viewer may read.
        InvalidInput: the cursor was not made for this thread in this order, or the
            limit is out of range.
    """
    limit = _page_limit(limit)
    start = None
    if cursor:
        start = (await svc.cursors(make=False)).read_thread(cursor, article_id, newest_first)
    await svc.readable_article(article_id, viewer)
    roots, replies, total = await svc.store.thread_page(
        article_id, limit + 1, start.after if start else None, newest_first=newest_first
    )
    trees = threads.build(roots[:limit], replies)
    comments, following, continued = threads.paginate(
        roots, trees, limit=limit, size=max(size, 1), start=start
    )
    next_cursor = None
    if following is not None:
        next_cursor = (await svc.cursors()).thread(article_id, newest_first, following)
    return ThreadPage(article_id, comments, next_cursor, total, continued)


def _page_limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(
            N_("The page size must be between 1 and %(max)s."), field="limit", max=PAGE_MAX
        )
    return limit
