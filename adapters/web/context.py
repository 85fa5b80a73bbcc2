"""What every handler shares: the site's configuration, template rendering and small helpers."""

from __future__ import annotations

import logging
import socket
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment

from adapters.i18n import Speech
from adapters.web.brand import Brand
from adapters.web.cache import Load, Page, PageCache, respond
from adapters.web.guard import (
    AdminSessions,
    IPNetwork,
    derive_key,
    origin_of,
    real_client,
    same_origin,
    site_origins,
    trusted,
)
from newsbot import NewsService
from newsbot.errors import DomainError, NotFound
from newsbot.i18n import N_

log = logging.getLogger("newsbot.web")

SESSION_COOKIE = "newsbot_session"
SESSION_MAX_AGE = 365 * 24 * 3600
ADMIN_COOKIE = "newsbot_admin"
ADMIN_DEVICE_COOKIE = "newsbot_admin_device"
ADMIN_DEVICE_MAX_AGE = 180 * 24 * 3600
SECRET_STATE_KEY = "web.secret"
# Pages carry nothing per visitor: no form token, no cookie set on a GET. Pages rendered
# for one request (a form re-shown with its errors) are kept by no shared cache.
PAGE_CACHE = "private, no-cache"
# Error pages: any cache must ask again.
ERROR_CACHE = "no-cache"
ID_PATTERN = r"[0-9]{1,18}"  # fits SQLite's 64-bit integers


class Gone(DomainError):
    """The article was retracted: answered with HTTP 410."""

    code = "gone"


@dataclass(slots=True)
class Keys:
    """The secret every worker shares (from the store), and what is derived from it."""

    secret: bytes = b""
    identity: bytes = b""  # web_identity's key
    submit: bytes = b""  # the double-submit key
    admin: AdminSessions | None = None
    admin_device: AdminSessions | None = None  # browsers the admin logged in from


@dataclass(frozen=True, slots=True)
class Site:
    """The web adapter's state, one per application."""

    service: NewsService
    templates: Environment
    keys: Keys
    admin_token: str | None
    admin_max_age: int
    rate_limit: int
    rate_window: float
    login_limit: int
    login_window: float
    trusted_proxies: tuple[IPNetwork, ...]
    articles_per_page: int
    comments_per_page: int
    refresh_seconds: int
    cache: PageCache
    variants: PageCache  # pages named by a query, kept apart
    public_cache: str  # the Cache-Control of public pages (see cache.public_cache_control)
    gone_cache: str  # the Cache-Control of a retracted article's 410
    brand: Brand
    static: tuple[Path, ...]  # where /static/NAME is looked up, first match wins
    speech: Speech = field(default_factory=Speech)  # the site's language and time zone
    # Seconds a public page may be shown after it was served (browsers' and shared caches'
    # lifetime with stale-while-revalidate): relative times are kept true over it.
    page_lag: float = 0.0


SITE = web.AppKey("site", Site)


def site(request: web.Request) -> Site:
    """The ``Site`` of the application serving ``request``."""
    return request.app[SITE]


def speech(request: web.Request) -> Speech:
    """The site's language and time zone (``NEWSBOT_LANGUAGE``, ``NEWSBOT_TIMEZONE``)."""
    return request.app[SITE].speech


async def load_keys(s: Site, secret: bytes | None = None) -> None:
    """Fill ``s.keys`` from ``secret``, or from the store's shared ``web.secret`` (the first
    worker to start writes it; the others read the same value)."""
    if secret is None:
        secret = await s.service.shared_secret(SECRET_STATE_KEY)
    s.keys.secret = secret
    s.keys.identity = derive_key(secret, "identity")
    s.keys.submit = derive_key(secret, "submit")
    if s.admin_token:
        s.keys.admin = AdminSessions(secret, s.admin_token, s.admin_max_age)
        s.keys.admin_device = AdminSessions(
            secret, s.admin_token, ADMIN_DEVICE_MAX_AGE, purpose="admin-device"
        )


def https(request: web.Request) -> bool:
    """Whether the visitor reached the site over TLS, so cookies get ``Secure``: directly, or
    through a trusted proxy that says ``X-Forwarded-Proto: https``, or under the host of an
    ``https://`` public URL (a TLS proxy passing the Host on)."""
    if request.secure:
        return True
    s = site(request)
    proto = request.headers.get("X-Forwarded-Proto", "").strip().lower()
    if proto == "https" and (
        via_unix_socket(request) or trusted(request.remote or "", s.trusted_proxies)
    ):
        return True
    public = origin_of(s.service.public_url)
    return public.startswith("https://") and public == f"https://{request.host}".lower()


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
    kept = s.variants if variant else s.cache
    if scope is None:  # a list of articles: it changes when a scheduled one's time comes
        inner = load

        async def load() -> Page:
            page = await inner()
            kept.lists_until(await s.service.next_live_at())
            return page

    entry = await kept.get(key, scope, load)
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
    """Render a template into a (compressed when large) response."""
    text = site(request).templates.get_template(template).render(**context)
    response = web.Response(text=text, status=status, content_type=content_type, charset="utf-8")
    response.headers["Cache-Control"] = cache
    if len(text) > 1024:
        response.enable_compression()
    return response


def via_unix_socket(request: web.Request) -> bool:
    """Whether the request came through the Unix socket, which only the reverse proxy can
    open (its file permissions decide who can), so the proxy's headers are believed."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    return sock is not None and sock.family == getattr(socket, "AF_UNIX", None)


def client_address(request: web.Request) -> str:
    """The address rate limits count: the peer, or behind a trusted proxy (or the Unix
    socket) the rightmost ``X-Forwarded-For`` hop that is not a trusted proxy."""
    unix = via_unix_socket(request)
    return real_client(
        "unix-socket" if unix else request.remote,
        request.headers.getall("X-Forwarded-For", []),
        site(request).trusted_proxies,
        peer_is_proxy=unix,
    )


def from_this_site(request: web.Request) -> bool:
    """Whether a POST comes from this site's pages or a non-browser client (see
    ``guard.same_origin``)."""
    allowed = site_origins(request.host, site(request).service.public_url)
    return same_origin(
        request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin"), allowed
    )


def cross_site_refusal(request: web.Request, back: str = "") -> web.Response:
    """The 403 page for a POST from another site."""
    log.info(
        "post refused: cross-site",
        extra={
            "path": request.path,
            "origin": request.headers.get("Origin", ""),
            "fetch_site": request.headers.get("Sec-Fetch-Site", ""),
            "remote": client_address(request),
        },
    )
    return render(
        request,
        "message.html",
        status=403,
        title=speech(request).gettext("Form refused"),
        message=speech(request).gettext(
            "This form was sent from another site, so it was refused. "
            "Open the page on this site and submit again."
        ),
        back=back,
    )


def path_id(request: web.Request, key: str = "id") -> int:
    """An integer id from the URL (the route pattern allows only digits)."""
    try:
        return int(request.match_info[key].split("-", 1)[0])
    except (KeyError, ValueError) as exc:  # pragma: no cover - the route pattern prevents it
        raise NotFound(N_("There is no such page.")) from exc


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, session: str, fresh: bool
) -> None:
    """Give a reader their session cookie (``SESSION_COOKIE``) on ``response`` when it is
    ``fresh`` (made for this request); a reader who has one keeps it."""
    if fresh:
        response.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=SESSION_MAX_AGE,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=https(request),
        )
