"""What every handler shares: the site's configuration, template rendering and small helpers."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from jinja2 import Environment

from adapters.web.cache import Load, PageCache, respond
from adapters.web.guard import FormTokens, RateLimiter
from newsbot import NewsService
from newsbot.errors import NotFound

log = logging.getLogger("newsbot.web")

SESSION_COOKIE = "newsbot_session"
SESSION_MAX_AGE = 30 * 24 * 3600
# Pages rendered for one request (a form re-shown with its errors): no shared cache.
PAGE_CACHE = "private, no-cache"
# Error pages: any cache must ask again.
ERROR_CACHE = "no-cache"
ID_PATTERN = r"[0-9]{1,18}"  # fits SQLite's 64-bit integers


class Gone(Exception):
    """The article was retracted: answered with HTTP 410."""


@dataclass(frozen=True, slots=True)
class Site:
    """The web adapter's state, one per application."""

    service: NewsService
    templates: Environment
    tokens: FormTokens
    limiter: RateLimiter
    admin_token: str | None
    trust_proxy: bool
    articles_per_page: int
    comments_per_page: int
    refresh_seconds: int
    cache: PageCache
    variants: PageCache  # pages named by a query, kept apart
    public_cache: str  # the Cache-Control of public pages (see cache.public_cache_control)
    gone_cache: str  # the Cache-Control of a retracted article's 410


SITE = web.AppKey("site", Site)
_NEW_SESSION = web.RequestKey("newsbot_new_session", str)


def site(request: web.Request) -> Site:
    """The ``Site`` of the application serving ``request``."""
    return request.app[SITE]


def form_token(request: web.Request) -> str:
    """A fresh form token for this browser, starting a session (a cookie) if it has none."""
    session = request.cookies.get(SESSION_COOKIE) or request.get(_NEW_SESSION)
    if not session:
        session = FormTokens.new_session()
        request[_NEW_SESSION] = session
    return site(request).tokens.issue(session)


def render_text(request: web.Request, template: str, **context: Any) -> str:
    """A template rendered to text."""
    return site(request).templates.get_template(template).render(**context)


async def cached(
    request: web.Request, key: Hashable, scope: int | None, load: Load, *, variant: bool = False
) -> web.Response:
    """Answer a public GET page from the page cache (``load`` runs when it is not current):
    304 on matching validators, the stored gzip body when accepted; no cookie. A
    ``variant`` (a page named by a query) is kept in a pool of its own."""
    s = site(request)
    entry = await (s.variants if variant else s.cache).get(key, scope, load)
    return respond(request, entry)


def render(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    cache: str = PAGE_CACHE,
    content_type: str = "text/html",
    **context: Any,
) -> web.Response:
    """Render a template into a compressed response, setting the session cookie if new."""
    text = site(request).templates.get_template(template).render(**context)
    response = web.Response(text=text, status=status, content_type=content_type, charset="utf-8")
    response.headers["Cache-Control"] = cache
    new_session = request.get(_NEW_SESSION)
    if new_session:
        response.set_cookie(
            SESSION_COOKIE,
            new_session,
            max_age=SESSION_MAX_AGE,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.secure,
        )
    if len(text) > 1024:
        response.enable_compression()
    return response


def client_address(request: web.Request) -> str:
    """The address the rate limit counts: the peer, or the proxy's last hop when trusted."""
    if site(request).trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"


def path_id(request: web.Request, key: str = "id") -> int:
    """An integer id from the URL (the route pattern allows only digits)."""
    try:
        return int(request.match_info[key].split("-", 1)[0])
    except (KeyError, ValueError) as exc:  # pragma: no cover - the route pattern prevents it
        raise NotFound("There is no such page.") from exc
