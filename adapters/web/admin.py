"""A small moderation page, on only when an admin token is configured.

``/admin?token=T`` lists the latest articles; ``/admin?token=T&article=ID`` lists that
article's comments, newest first, each with Delete and Ban buttons. The buttons post the
token and a form token back, and act as the local operator, so moderation reaches every
platform the comment was mirrored to.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from adapters.web.context import SESSION_COOKIE, form_token, log, path_id, render, site
from adapters.web.guard import FormTokenError
from adapters.web.render import flatten
from newsbot.models import Actor, ArticleId, CommentId

ADMIN_CACHE = "no-store"


def _authorised(request: web.Request, token: str | None) -> None:
    expected = site(request).admin_token
    if not expected or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise web.HTTPForbidden(reason="Wrong or missing admin token.")


def _admin_url(token: str, article_id: int | None = None, done: str = "") -> str:
    query: dict[str, str] = {"token": token}
    if article_id is not None:
        query["article"] = str(article_id)
    if done:
        query["done"] = done
    return f"/admin?{urlencode(query)}"


async def admin_page(request: web.Request) -> web.Response:
    """``GET /admin?token=T[&article=ID]``: articles, or one article's comments to moderate."""
    token = request.query.get("token", "")
    _authorised(request, token)
    service = site(request).service
    raw = request.query.get("article", "")
    context: dict[str, Any] = {
        "admin_token": token,
        "done": request.query.get("done", ""),
        "token": form_token(request),
    }
    if raw.isdigit() and len(raw) <= 18:
        article = await service.article(ArticleId(int(raw)))
        thread = await service.thread(article.id, limit=100, newest_first=True)
        context.update(article=article, rows=flatten(thread.comments), total=thread.total)
    else:
        page = await service.latest(50)
        context.update(article=None, articles=page.articles)
    response = render(request, "admin.html", cache=ADMIN_CACHE, **context)
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL holds the admin token
    return response


async def _checked_form(request: web.Request) -> tuple[str, int | None]:
    data = await request.post()
    token = data.get("token")
    _authorised(request, token if isinstance(token, str) else None)
    csrf = data.get("csrf")
    try:
        site(request).tokens.check(
            request.cookies.get(SESSION_COOKIE), csrf if isinstance(csrf, str) else None
        )
    except FormTokenError as exc:
        raise web.HTTPForbidden(reason=str(exc)) from exc
    article = data.get("article")
    article_id = int(article) if isinstance(article, str) and article.isdigit() else None
    return str(token), article_id


async def delete_comment(request: web.Request) -> web.Response:
    """``POST /admin/comments/ID/delete``: delete a comment everywhere it was mirrored."""
    token, article_id = await _checked_form(request)
    comment = await site(request).service.delete_comment(
        Actor.operator(), CommentId(path_id(request))
    )
    log.info("comment deleted from the admin page", extra={"comment_id": comment.id})
    raise web.HTTPSeeOther(_admin_url(token, article_id, f"Deleted comment {comment.id}."))


async def ban_author(request: web.Request) -> web.Response:
    """``POST /admin/comments/ID/ban``: ban the comment's author and delete their comments."""
    token, article_id = await _checked_form(request)
    service = site(request).service
    comment = await service.comment(CommentId(path_id(request)))
    author = comment.author
    count = await service.ban(Actor.operator(), author.platform, author.user_id)
    log.info(
        "author banned from the admin page",
        extra={"platform": str(author.platform), "user_id": author.user_id, "deleted": count},
    )
    done = f"Banned {author.name} ({author.platform}); deleted {count} comment(s)."
    raise web.HTTPSeeOther(_admin_url(token, article_id, done))
