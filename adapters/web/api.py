"""The JSON API: articles and threads, one keyset page at a time.

Errors are ``{"error": "...", "code": "..."}`` with the matching status: ``error`` in the
reader's language (``Accept-Language``, else the site's), ``code`` a stable name for programs
(``not_found``, ``gone``, ``invalid_input`` with ``field``, ``forbidden``, ...); the error
middleware in ``app`` produces them for every path under ``/api/``. Field names follow the
command line's ``--json`` output (``url`` is the article's page here, ``canonical_url`` its
original).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from adapters.web.cache import Page
from adapters.web.context import Gone, cached, path_id, site
from adapters.web.guard import ascii_number
from adapters.web.render import article_path, markdown_html
from newsbot import NewsService
from newsbot.errors import InvalidInput, NotFound
from newsbot.i18n import N_
from newsbot.models import (
    Article,
    ArticleId,
    ArticleStatus,
    Comment,
    CommentNode,
    CommentStatus,
    Platform,
)
from newsbot.people import vouched_by

JSON = "application/json"
_ORDERS = {"oldest": False, "newest": True}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def article_json(service: NewsService, article: Article, *, full: bool) -> dict[str, Any]:
    """An article as the API shows it; ``full`` adds the body (Markdown and HTML)."""
    path = article_path(article)
    data: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "summary": article.summary,
        "url": service.public_url + path,
        "path": path,
        "canonical_url": article.url,
        "image_url": article.image_url,
        "tags": list(article.tags),
        "author": {"name": article.author.name, "platform": str(article.author.platform)},
        "published_at": _iso(article.published_at),
        "updated_at": _iso(article.updated_at),
        "revision": article.revision,
    }
    if full:
        data["body"] = article.body
        data["body_html"] = markdown_html(article.body)
    return data


def comment_json(node: CommentNode) -> dict[str, Any]:
    """A comment with its replies nested; a removed comment keeps only its place and replies.

    Built with a stack of its own: however deep a thread, nothing here recurses.
    """
    top = _comment_fields(node)
    stack = [(node, top)]
    while stack:
        current, data = stack.pop()
        for reply in current.replies:
            child = _comment_fields(reply)
            data["replies"].append(child)
            stack.append((reply, child))
    return top


def _author(c: Comment) -> dict[str, str]:
    """A comment's author; ``vouched_by`` names the platform a signed-in commenter used."""
    vouching = vouched_by(c.author.user_id) if c.author.platform is Platform.WEB else None
    extra = {"vouched_by": str(vouching)} if vouching is not None else {}
    return {"name": c.author.name, "platform": str(c.author.platform), **extra}


def _comment_fields(node: CommentNode) -> dict[str, Any]:
    c = node.comment
    visible = c.status is CommentStatus.VISIBLE
    return {
        "id": c.id,
        "parent_id": c.parent_id,
        "author": _author(c) if visible else None,
        "text": c.text if visible else "",
        "status": "visible" if visible else "removed",
        "created_at": c.created_at.isoformat(),
        "edited_at": _iso(c.edited_at),
        "replies": [],
    }


def _limit(request: web.Request, default: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    limit = ascii_number(raw, digits=6)
    if limit is None:
        raise InvalidInput(
            N_("The limit must be a whole number between 1 and 100."), field="limit"
        )
    return limit


async def _article(request: web.Request) -> Article:
    article = await site(request).service.article(ArticleId(path_id(request)))
    if article.status in (ArticleStatus.DRAFT, ArticleStatus.SCHEDULED):
        raise NotFound(N_("There is no article %(id)s."), id=article.id)
    if article.status is ArticleStatus.RETRACTED:
        raise Gone(N_("Article %(id)s was retracted."), id=article.id)
    return article


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


async def articles(request: web.Request) -> web.Response:
    """``GET /api/articles?cursor=&limit=``: published articles, newest first."""
    s = site(request)
    limit = _limit(request, s.articles_per_page)
    cursor = request.query.get("cursor") or None

    async def load() -> Page:
        page = await s.service.latest(limit, cursor)
        return Page(
            data=page,
            make=lambda: _dumps(
                {
                    "articles": [article_json(s.service, a, full=False) for a in page.articles],
                    "next_cursor": page.next_cursor,
                }
            ),
            content_type=JSON,
            cache_control=s.public_cache,
        )

    variant = cursor is not None or limit != s.articles_per_page
    return await cached(request, ("api-articles", cursor, limit), None, load, variant=variant)


async def article(request: web.Request) -> web.Response:
    """``GET /api/articles/ID``: one article with its body and comment count."""
    s = site(request)
    article_id = path_id(request)

    async def load() -> Page:
        found = await _article(request)
        count = await s.service.comment_count(found.id)
        reactions = (await s.service.reactions.counts(found.id)).everything()

        def make() -> str:
            data = article_json(s.service, found, full=True)
            data["comment_count"] = count
            # Every reaction on the article and its visible comments (per target: /reactions).
            data["reaction_count"] = reactions.total
            data["reactions"] = reactions.by_emoji()
            return _dumps(data)

        return Page(
            data=(found, count, reactions),
            make=make,
            content_type=JSON,
            cache_control=s.public_cache,
        )

    return await cached(request, ("api-article", article_id), article_id, load)


async def comments(request: web.Request) -> web.Response:
    """``GET /api/articles/ID/comments?cursor=&limit=&order=oldest|newest``.

    A page holds ``limit`` top-level comments, each with every reply nested under it.
    """
    s = site(request)
    article_id = path_id(request)
    order = request.query.get("order", "oldest")
    if order not in _ORDERS:
        raise InvalidInput(N_("The order must be 'oldest' or 'newest'."), field="order")
    cursor = request.query.get("cursor") or None
    limit = _limit(request, s.comments_per_page)

    async def load() -> Page:
        found = await _article(request)
        page = await s.service.thread(
            found.id, cursor=cursor, limit=limit, newest_first=_ORDERS[order]
        )
        return Page(
            data=page,
            make=lambda: _dumps(
                {
                    "article_id": found.id,
                    "total": page.total,
                    "comments": [comment_json(n) for n in page.comments],
                    "continued": page.continued,
                    "next_cursor": page.next_cursor,
                }
            ),
            content_type=JSON,
            cache_control=s.public_cache,
        )

    key = ("api-comments", article_id, cursor, limit, order)
    # Unknown parameters and spelled-out defaults name the plain page and share its entry.
    variant = cursor is not None or limit != s.comments_per_page or order != "oldest"
    return await cached(request, key, article_id, load, variant=variant)
