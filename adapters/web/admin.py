"""A small moderation page, on only when an admin token is configured.

``GET /admin`` shows a login form until the browser holds an admin session; ``POST
/admin/login`` with the token sets it (a signed, HttpOnly, SameSite=Strict cookie that
expires), ``POST /admin/logout`` ends it. The token never travels in a URL. With a session,
``/admin`` lists the latest articles and ``/admin?article=ID`` that article's comments,
newest first, each with Delete, Ban and (for web comments) Ban name buttons. The buttons act
as the local operator, so moderation reaches every platform the comment was mirrored to.
Every POST here must come from this site (``guard.same_origin``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from adapters.web.context import (
    ADMIN_COOKIE,
    ADMIN_DEVICE_COOKIE,
    client_address,
    cross_site_refusal,
    from_this_site,
    https,
    log,
    path_id,
    render,
    site,
    speech,
)
from adapters.web.guard import address_bucket, ascii_number, token_matches
from adapters.web.render import flatten
from newsbot.errors import InvalidInput, NotFound
from newsbot.i18n import N_
from newsbot.models import Actor, ArticleId, CommentId, Platform

ADMIN_CACHE = "no-store"
ADMIN_MAX_AGE = 8 * 3600

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _private(response: web.Response) -> web.Response:
    response.headers["Cache-Control"] = ADMIN_CACHE
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _signed_in(request: web.Request) -> bool:
    sessions = site(request).keys.admin
    return sessions is not None and sessions.valid(request.cookies.get(ADMIN_COOKIE), time.time())


def _admin_url(
    article_id: int | None = None, done: str = "", comment: int | None = None, count: int = 0
) -> str:
    """Where a moderation POST leads: the page it came from, with the code of its notice."""
    query: dict[str, str] = {}
    if article_id is not None:
        query["article"] = str(article_id)
    if done:
        query["done"] = done
    if comment is not None:
        query["comment"] = str(comment)
    if count:
        query["count"] = str(count)
    return f"/admin?{urlencode(query)}" if query else "/admin"


async def _notice(request: web.Request) -> str:
    """The status notice a moderation POST asked for, by its code (``?done=``).

    A link can name only a code and numbers: the text is fixed here, and names are read
    from the comment the action was about, so no link makes the page say what it wants.
    """
    code = request.query.get("done", "")
    number = ascii_number(request.query.get("comment"))
    count = ascii_number(request.query.get("count"), digits=9) or 0
    if code == "name-banned" and number is None:
        return speech(request).gettext("Banned the name and names that look like it.")
    if code not in ("deleted", "banned", "name-banned") or number is None:
        return ""
    if code == "deleted":
        return speech(request).gettext("Deleted comment %(number)s.") % {"number": number}
    try:
        author = (await site(request).service.comment(CommentId(number))).author
    except NotFound:
        return ""
    if code == "banned":
        return speech(request).ngettext(
            "Banned %(name)s (%(platform)s); deleted %(count)s comment.",
            "Banned %(name)s (%(platform)s); deleted %(count)s comments.",
            count,
        ) % {"name": author.name, "platform": author.platform, "count": count}
    return speech(request).gettext("Banned the name %(name)s and names that look like it.") % {
        "name": author.name
    }


def _login_page(request: web.Request, status: int = 200, error: str = "") -> web.Response:
    return _private(
        render(request, "admin_login.html", status=status, error=error, cache=ADMIN_CACHE)
    )


async def admin_page(request: web.Request) -> web.Response:
    """``GET /admin[?article=ID]``: the login form, or articles / one article's comments."""
    if not _signed_in(request):
        return _login_page(request)
    service = site(request).service
    context: dict[str, Any] = {"done": await _notice(request)}
    article_id = ascii_number(request.query.get("article"))
    if article_id is not None:
        article = await service.article(ArticleId(article_id))
        cursor = request.query.get("comments") or None
        thread = await service.thread(article.id, cursor=cursor, limit=100, newest_first=True)
        context.update(
            article=article,
            rows=flatten(thread.comments),
            total=thread.total,
            next_cursor=thread.next_cursor,
            first_page=cursor is None,
        )
    else:
        page = await service.latest(50)
        context.update(article=None, articles=page.articles)
    return _private(render(request, "admin.html", cache=ADMIN_CACHE, **context))


async def login(request: web.Request) -> web.StreamResponse:
    """``POST /admin/login``: check the token and start an admin session (303 to /admin).

    Every attempt takes one of ``login_limit`` slots per ``login_window`` before the token is
    compared, so guesses cannot outrun the limit (429 with Retry-After): slots per client
    address (an IPv6 /64), or, from a browser holding the admin's device cookie (set by
    every successful login), slots of that browser alone. So failed logins from, or
    claiming to be from, the admin's address cannot lock out a browser the admin used
    before.
    """
    s = site(request)
    if not from_this_site(request):
        return _private(cross_site_refusal(request, back="/admin"))
    remote = client_address(request)
    now = time.time()
    devices = s.keys.admin_device
    device = devices.nonce(request.cookies.get(ADMIN_DEVICE_COOKIE), now) if devices else None
    bucket = f"device:{device}" if device else address_bucket(remote)
    wait = await s.service.rate_slot(f"web-admin-login:{bucket}", s.login_limit, s.login_window)
    extra = {"remote": remote, "known_device": device is not None}
    if wait:
        seconds = max(1, math.ceil(wait))
        log.warning("admin login refused: too many attempts", extra=extra)
        response = _private(
            render(
                request,
                "message.html",
                status=429,
                title=speech(request).gettext("Too many attempts"),
                message=speech(request).ngettext(
                    "Too many login attempts. Please wait %(seconds)s second.",
                    "Too many login attempts. Please wait %(seconds)s seconds.",
                    seconds,
                )
                % {"seconds": seconds},
                back="/admin",
            )
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    data = await request.post()
    token = data.get("token")
    expected = s.admin_token or ""
    sessions = s.keys.admin
    if sessions is None or not isinstance(token, str) or not token_matches(token, expected):
        log.warning("admin login failed", extra=extra)
        return _login_page(
            request, status=403, error=speech(request).gettext("Wrong admin token.")
        )
    log.info("admin logged in", extra=extra)
    response = web.Response(status=303, headers={"Location": "/admin"})
    response.set_cookie(
        ADMIN_COOKIE,
        sessions.issue(now),
        max_age=sessions.max_age,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=https(request),
    )
    if devices is not None:
        response.set_cookie(
            ADMIN_DEVICE_COOKIE,
            devices.issue(now),
            max_age=devices.max_age,
            path="/admin/login",
            httponly=True,
            samesite="Strict",
            secure=https(request),
        )
    return _private(response)


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /admin/logout``: forget the admin session (303 to the login form)."""
    if not from_this_site(request):
        return _private(cross_site_refusal(request, back="/admin"))
    response = web.Response(status=303, headers={"Location": "/admin"})
    response.del_cookie(ADMIN_COOKIE, path="/admin")
    return _private(response)


def moderation(handler: Handler) -> Handler:
    """A moderation POST: from this site, with an admin session, else refused (403)."""

    async def checked(request: web.Request) -> web.StreamResponse:
        if not from_this_site(request):
            return _private(cross_site_refusal(request, back="/admin"))
        if not _signed_in(request):
            log.warning(
                "moderation refused: not signed in",
                extra={"path": request.path, "remote": client_address(request)},
            )
            return _login_page(
                request, status=403, error=speech(request).gettext("Please log in again.")
            )
        return await handler(request)

    checked.__doc__ = handler.__doc__
    return checked


async def _article_field(request: web.Request) -> int | None:
    data = await request.post()
    article = data.get("article")
    return ascii_number(article) if isinstance(article, str) else None


@moderation
async def delete_comment(request: web.Request) -> web.StreamResponse:
    """``POST /admin/comments/ID/delete``: delete a comment everywhere it was mirrored."""
    article_id = await _article_field(request)
    comment = await site(request).service.delete_comment(
        Actor.operator(), CommentId(path_id(request))
    )
    log.info("comment deleted from the admin page", extra={"comment_id": comment.id})
    raise web.HTTPSeeOther(_admin_url(article_id, "deleted", comment.id))


@moderation
async def ban_author(request: web.Request) -> web.StreamResponse:
    """``POST /admin/comments/ID/ban``: ban the comment's author and delete their comments.

    A web comment's author is its writer's identity (a keyed hash of their session), not
    the name they typed: someone typing another reader's name gets only themselves banned.
    """
    article_id = await _article_field(request)
    service = site(request).service
    comment = await service.comment(CommentId(path_id(request)))
    author = comment.author
    count = await service.ban(Actor.operator(), author.platform, author.user_id)
    log.info(
        "author banned from the admin page",
        extra={"platform": str(author.platform), "user_id": author.user_id, "deleted": count},
    )
    raise web.HTTPSeeOther(_admin_url(article_id, "banned", comment.id, count))


@moderation
async def ban_comment_name(request: web.Request) -> web.StreamResponse:
    """``POST /admin/comments/ID/ban-name``: refuse web comments under this comment's name
    and every name that looks like it ("Nina.", a Cyrillic "Nіna")."""
    article_id = await _article_field(request)
    service = site(request).service
    comment = await service.comment(CommentId(path_id(request)))
    if comment.author.platform is not Platform.WEB:
        raise InvalidInput(N_("Only web comments are banned by name."))
    await service.ban_name(Actor.operator(), comment.author.name)
    log.info("web name banned from the admin page", extra={"comment_id": comment.id})
    raise web.HTTPSeeOther(_admin_url(article_id, "name-banned", comment.id))


@moderation
async def ban_name(request: web.Request) -> web.StreamResponse:
    """``POST /admin/names/ban`` with ``name``: refuse web comments under that name and
    every name that looks like it."""
    data = await request.post()
    name = data.get("name")
    name = name if isinstance(name, str) else ""
    await site(request).service.ban_name(Actor.operator(), name)
    log.info("web name banned from the admin page")
    raise web.HTTPSeeOther(_admin_url(None, "name-banned"))
