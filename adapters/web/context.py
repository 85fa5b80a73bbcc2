"""What every handler shares: the site's configuration, template rendering and small helpers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from jinja2 import Environment

from adapters.web.guard import FormTokens, RateLimiter
from newsbot import NewsService
from newsbot.errors import NotFound

log = logging.getLogger("newsbot.web")

SESSION_COOKIE = "newsbot_session"
SESSION_MAX_AGE = 30 * 24 * 3600
# Pages carry a per-browser form token: a shared cache must never keep them.
PAGE_CACHE = "private, no-cache"
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
