"""Atom feeds: the latest articles, and the latest comments of one article."""

from __future__ import annotations

from aiohttp import web

from adapters.web.cache import Page
from adapters.web.context import Gone, cached, path_id, render_text, site
from adapters.web.render import article_path
from newsbot.errors import NotFound
from newsbot.i18n import N_
from newsbot.models import ArticleId, ArticleStatus, Comment, CommentNode, CommentStatus

ATOM = "application/atom+xml"
FEED_SIZE = 20
COMMENT_FEED_SIZE = 50


async def articles_feed(request: web.Request) -> web.Response:
    """``/feed.xml``: the latest published articles."""
    s = site(request)
    service = s.service

    async def load() -> Page:
        page = await service.latest(FEED_SIZE)
        updated = max((a.updated_at for a in page.articles), default=None)
        return Page(
            data=page,
            make=lambda: render_text(
                request,
                "feed.xml",
                site_url=service.public_url,
                self_url=f"{service.public_url}/feed.xml",
                updated=updated or service.clock.now(),
                articles=page.articles,
            ),
            content_type=ATOM,
            cache_control=s.public_cache,
        )

    return await cached(request, ("feed",), None, load)


def _all(nodes: list[CommentNode]) -> list[Comment]:
    found: list[Comment] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.comment.status is CommentStatus.VISIBLE:
            found.append(node.comment)
        stack.extend(node.replies)
    return found


async def comments_feed(request: web.Request) -> web.Response:
    """``/articles/ID/comments.xml``: the article's latest comments, newest first.

    Built from the newest top-level comments and their replies, so a late reply under a
    very old comment may be missing; the page and the API show the whole thread.
    """
    s = site(request)
    service = s.service
    article_id = path_id(request)

    async def load() -> Page:
        article = await service.article(ArticleId(article_id))
        if article.status in (ArticleStatus.DRAFT, ArticleStatus.SCHEDULED):
            raise NotFound(N_("There is no article %(id)s."), id=article.id)
        if article.status is ArticleStatus.RETRACTED:
            raise Gone(N_("Article %(id)s was retracted."), id=article.id)
        thread = await service.thread(article.id, limit=100, newest_first=True)
        latest = sorted(_all(thread.comments), key=lambda c: (c.created_at, c.id), reverse=True)
        latest = latest[:COMMENT_FEED_SIZE]
        updated = max(
            (c.edited_at or c.created_at for c in latest),
            default=article.published_at or article.updated_at,
        )
        page_url = service.public_url + article_path(article)
        return Page(
            data=(article, latest),
            make=lambda: render_text(
                request,
                "comments.xml",
                article=article,
                page_url=page_url,
                article_url=service.article_url(article.id),
                self_url=f"{service.public_url}/articles/{article.id}/comments.xml",
                updated=updated,
                comments=latest,
            ),
            content_type=ATOM,
            cache_control=s.public_cache,
        )

    return await cached(request, ("comments-feed", article_id), article_id, load)
