"""Atom feeds: the latest articles, and the latest comments of one article."""

from __future__ import annotations

from aiohttp import web

from adapters.web.context import Gone, path_id, render, site
from adapters.web.render import article_path
from newsbot.errors import NotFound
from newsbot.models import ArticleId, ArticleStatus, Comment, CommentNode, CommentStatus

ATOM = "application/atom+xml"
FEED_CACHE = "public, max-age=300"
FEED_SIZE = 20
COMMENT_FEED_SIZE = 50


async def articles_feed(request: web.Request) -> web.Response:
    """``/feed.xml``: the latest published articles."""
    service = site(request).service
    page = await service.latest(FEED_SIZE)
    updated = max((a.updated_at for a in page.articles), default=service.clock.now())
    return render(
        request,
        "feed.xml",
        content_type=ATOM,
        cache=FEED_CACHE,
        site_url=service.public_url,
        self_url=f"{service.public_url}/feed.xml",
        updated=updated,
        articles=page.articles,
    )


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
    service = site(request).service
    article = await service.article(ArticleId(path_id(request)))
    if article.status is ArticleStatus.DRAFT:
        raise NotFound(f"There is no article {article.id}.")
    if article.status is ArticleStatus.RETRACTED:
        raise Gone(f"Article {article.id} was retracted.")
    thread = await service.thread(article.id, limit=100, newest_first=True)
    latest = sorted(_all(thread.comments), key=lambda c: (c.created_at, c.id), reverse=True)
    latest = latest[:COMMENT_FEED_SIZE]
    updated = max(
        (c.edited_at or c.created_at for c in latest),
        default=article.published_at or article.updated_at,
    )
    page_url = service.public_url + article_path(article)
    return render(
        request,
        "comments.xml",
        content_type=ATOM,
        cache=FEED_CACHE,
        article=article,
        page_url=page_url,
        article_url=service.article_url(article.id),
        self_url=f"{service.public_url}/articles/{article.id}/comments.xml",
        updated=updated,
        comments=latest,
    )
