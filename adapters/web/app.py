"""The aiohttp application: routes, error pages, security and caching headers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.web import admin, api, feeds, pages
from adapters.web.cache import PageCache, public_cache_control
from adapters.web.context import ERROR_CACHE, ID_PATTERN, SITE, Gone, Site, log, render
from adapters.web.guard import FormTokens, RateLimiter
from adapters.web.render import STATIC_DIR, environment, file_version
from newsbot import NewsService
from newsbot.errors import DomainError, InvalidInput, NotFound, PermissionDenied

SECURITY_HEADERS = {
    # Scripts, styles, fonts and forms: this site only. Images may come from anywhere over
    # http(s) because article images are addresses chosen by the publisher.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https: http:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
STATIC_CACHE_VERSIONED = "public, max-age=31536000, immutable"
STATIC_CACHE = "public, max-age=3600"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(
    service: NewsService,
    *,
    admin_token: str | None = None,
    secret: bytes | None = None,
    rate_limit: int = 5,
    rate_window: float = 60.0,
    trust_proxy: bool = False,
    articles_per_page: int = 20,
    comments_per_page: int = 100,
    refresh_seconds: int = 30,
    monotonic: Callable[[], float] = time.monotonic,
    max_age: int = 5,
    s_maxage: int = 10,
    stale: int = 30,
    cache_entries: int = 1024,
    cache_bytes: int = 64 * 1024 * 1024,
) -> web.Application:
    """Build the web application for ``service``.

    Args:
        service: the news service the pages read and the form writes through.
        admin_token: enables ``/admin`` for whoever presents this token; ``None`` leaves
            the admin page off.
        secret: the key that signs form tokens; random per process when ``None``.
        rate_limit: comments one address may post per ``rate_window`` seconds.
        rate_window: the rate limit's sliding window, in seconds.
        trust_proxy: count the rate limit per the last ``X-Forwarded-For`` hop (only behind
            a reverse proxy that sets it).
        articles_per_page: articles on each page of ``/``.
        comments_per_page: top-level comments (with their replies) on each article page.
        refresh_seconds: how often the optional script on article pages checks for new
            comments.
        monotonic: the rate limiter's clock (tests pass a controllable one).
        max_age: seconds a browser may reuse a public page (article, front page, feeds,
            API) without asking again.
        s_maxage: the same for shared caches (a reverse proxy, a CDN).
        stale: seconds either may serve a page past those while it fetches a fresh one.
        cache_entries: rendered pages kept in this process at most (and a quarter of that
            more for pages named by a query: older comments, a reply form, API pages).
        cache_bytes: bytes of rendered pages (identity and gzip) kept at most (the same).

    Returns:
        An ``aiohttp.web.Application``, ready for ``AppRunner`` or a test server.
    """
    versions = {p.name: file_version(p) for p in STATIC_DIR.iterdir() if p.is_file()}
    app = web.Application(middlewares=[_errors])
    cache = PageCache(cache_entries, cache_bytes)
    # Pages named by a query (?comments=, ?reply=, ?cursor=, ?limit=) have a pool of their
    # own: however many of them are asked for, the plain pages stay kept.
    variants = PageCache(max(cache_entries // 4, 1), max(cache_bytes // 4, 1))
    for kept in (cache, variants):
        # In this process at once (after every stored, edited or deleted comment and every
        # article change), in other workers through the store (see adapters.web.cache).
        service.on_enqueue(kept.changed)
        service.store.watch(kept.heard)
    app[SITE] = Site(
        service=service,
        templates=environment(versions),
        tokens=FormTokens(secret or secrets.token_bytes(32)),
        limiter=RateLimiter(rate_limit, rate_window, clock=monotonic),
        admin_token=admin_token or None,
        trust_proxy=trust_proxy,
        articles_per_page=articles_per_page,
        comments_per_page=comments_per_page,
        refresh_seconds=refresh_seconds,
        cache=cache,
        variants=variants,
        public_cache=public_cache_control(max_age, s_maxage, stale),
        # Retraction is final, but a 410 is kept briefly and never served stale.
        gone_cache=f"public, max-age={max_age}, s-maxage={s_maxage}",
    )
    article = f"/articles/{{id:{ID_PATTERN}}}"
    app.router.add_get("/", pages.index)
    app.router.add_get(f"/articles/{{id:{ID_PATTERN}(?:-[^/]*)?}}", pages.article_page)
    app.router.add_post(f"{article}/comments", pages.post_comment)
    app.router.add_get(f"{article}/comments.xml", feeds.comments_feed)
    app.router.add_get("/feed.xml", feeds.articles_feed)
    app.router.add_get("/api/articles", api.articles)
    app.router.add_get(f"/api{article}", api.article)
    app.router.add_get(f"/api{article}/comments", api.comments)
    if admin_token:
        app.router.add_get("/admin", admin.admin_page)
        app.router.add_post(f"/admin/comments/{{id:{ID_PATTERN}}}/delete", admin.delete_comment)
        app.router.add_post(f"/admin/comments/{{id:{ID_PATTERN}}}/ban", admin.ban_author)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_static("/static", STATIC_DIR)
    app.on_response_prepare.append(_headers)
    return app


async def _no_icon(request: web.Request) -> web.Response:
    # Browsers ask for it on every site; an empty answer they may cache beats a 404 page.
    return web.Response(status=204, headers={"Cache-Control": "public, max-age=604800"})


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        # Public, read-only and cookie-free: any site may load threads from it.
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif request.path.startswith("/static/"):
        versioned = "v" in request.query
        response.headers["Cache-Control"] = STATIC_CACHE_VERSIONED if versioned else STATIC_CACHE


def _status(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Gone):
        return 410
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, InvalidInput):
        return 400
    return 422  # another refusal the core may add later


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals and failures into JSON under /api/ and into small pages elsewhere."""
    headers: dict[str, str] = {}
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, message = exc.status, exc.reason
        if "Allow" in exc.headers:
            headers["Allow"] = exc.headers["Allow"]
    except (DomainError, Gone) as exc:
        status, message = _status(exc), str(exc)
    except Exception:
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        status, message = 500, "Something went wrong on our side. Please try again later."
    if status == 404 and message == "Not Found":
        message = "There is no such page."
    if request.path.startswith("/api/"):
        response = web.json_response({"error": message}, status=status)
        response.headers["Cache-Control"] = ERROR_CACHE
    else:
        title = _TITLES.get(status, "Error")
        response = render(
            request, "message.html", status=status, cache=ERROR_CACHE, title=title, message=message
        )
    response.headers.update(headers)
    return response


_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    410: "Gone",
    413: "Too large",
    500: "Server error",
}
