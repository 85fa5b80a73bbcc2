"""The aiohttp application: routes, error pages, security and caching headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from adapters.i18n import Speech, accepted_speech
from adapters.web import (
    admin,
    admin_people,
    admin_stats,
    api,
    desk,
    discovery,
    feeds,
    pages,
    permalinks,
    reactions,
    reports,
    signin,
    signin_chat,
)
from adapters.web.brand import Brand
from adapters.web.cache import PageCache, public_cache_control
from adapters.web.context import (
    ERROR_CACHE,
    ID_PATTERN,
    SITE,
    Gone,
    Keys,
    Site,
    load_keys,
    log,
    render,
    site,
)
from adapters.web.guard import parse_networks
from adapters.web.render import environment, static_dirs, static_versions
from adapters.web.views import VIEWS, ViewCounter, counting
from newsbot import NewsService
from newsbot.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from newsbot.i18n import N_

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
    trust_proxy: Sequence[str] = (),
    login_limit: int = 5,
    login_window: float = 900.0,
    admin_max_age: int = admin.ADMIN_MAX_AGE,
    articles_per_page: int = 20,
    comments_per_page: int = 100,
    refresh_seconds: int = 30,
    max_age: int = 5,
    s_maxage: int = 10,
    stale: int = 30,
    cache_entries: int = 1024,
    cache_bytes: int = 64 * 1024 * 1024,
    sign_in: signin.SignInConfig | None = None,
    brand: Brand | None = None,
    speech: Speech | None = None,
) -> web.Application:
    """Build the web application for ``service``.

    Args:
        service: the news service the pages read and the form writes through.
        admin_token: enables ``/admin`` (a login form) for whoever presents this token;
            ``None`` leaves the admin page off.
        secret: the key commenter identities, the double-submit key and admin sessions are
            derived from; ``None`` (the default) reads the one all workers share from the
            store (state ``web.secret``, written by the first worker) at startup.
        rate_limit: comments one address may post per ``rate_window`` seconds (a slot in
            the store, shared by every worker).
        rate_window: the rate limit's sliding window, in seconds.
        trust_proxy: addresses or CIDR ranges of reverse proxies whose ``X-Forwarded-For``
            names the client; from any other peer the header is ignored.
        login_limit: admin login attempts per address per ``login_window`` seconds.
        login_window: the login limit's window, in seconds.
        admin_max_age: seconds an admin session lasts.
        articles_per_page: articles on each page of ``/``.
        comments_per_page: top-level comments (with their replies) on each article page.
        refresh_seconds: how often the optional script on article pages checks for new
            comments.
        max_age: seconds a browser may reuse a public page (article, front page, feeds,
            API) without asking again.
        s_maxage: the same for shared caches (a reverse proxy, a CDN).
        stale: seconds either may serve a page past those while it fetches a fresh one.
        cache_entries: rendered pages kept in this process at most (and a quarter of that
            more for pages named by a query: older comments, a reply form, API pages).
        cache_bytes: bytes of rendered pages (identity and gzip) kept at most (the same).
        sign_in: how readers sign in (``adapters.web.signin``); ``None``: nobody can, and
            anonymous comments are taken.
        brand: the site's name, masthead, accent, footer and theme folder (``Brand()``:
            "News", the built-in look).
        speech: the pages' language and time zone (English in UTC by default).

    Returns:
        An ``aiohttp.web.Application``, ready for ``AppRunner`` or a test server.

    Raises:
        ValueError: a ``trust_proxy`` entry is not an address or range.
    """
    brand = brand or Brand()
    versions = static_versions(brand)
    app = web.Application(middlewares=[_errors])
    cache = PageCache(cache_entries, cache_bytes, now=service.clock.now)
    # Pages named by a query (?comments=, ?reply=, ?cursor=, ?limit=) have a pool of their
    # own: however many of them are asked for, the plain pages stay kept.
    variants = PageCache(
        max(cache_entries // 4, 1), max(cache_bytes // 4, 1), now=service.clock.now
    )
    for kept in (cache, variants):
        # In this process at once (after every stored, edited or deleted comment and every
        # article change), in other workers through the store (see adapters.web.cache).
        service.on_enqueue(kept.changed)
        service.watch(kept.heard)
        service.reactions.watch(kept.heard)
    templates = environment(versions, brand, speech)
    templates.filters["staff"] = service.is_staff  # a comment's author is staff
    app[SITE] = Site(
        service=service,
        templates=templates,
        keys=Keys(),
        admin_token=admin_token or None,
        admin_max_age=admin_max_age,
        rate_limit=rate_limit,
        rate_window=rate_window,
        login_limit=login_limit,
        login_window=login_window,
        trusted_proxies=parse_networks(trust_proxy),
        articles_per_page=articles_per_page,
        comments_per_page=comments_per_page,
        refresh_seconds=refresh_seconds,
        cache=cache,
        variants=variants,
        public_cache=public_cache_control(max_age, s_maxage, stale),
        # Retraction is final, but a 410 is kept briefly and never served stale.
        gone_cache=f"public, max-age={max_age}, s-maxage={s_maxage}",
        brand=brand,
        static=tuple(static_dirs(brand)),
        speech=speech or Speech(),
        page_lag=max(max_age, s_maxage) + stale,
    )
    article = f"/articles/{{id:{ID_PATTERN}}}"
    app.router.add_get("/", pages.index)
    app.router.add_get(f"/articles/{{id:{ID_PATTERN}(?:-[^/]*)?}}", pages.article_page)
    app.router.add_post(f"{article}/comments", pages.post_comment)
    app.router.add_post(f"{article}/reactions", reactions.post_reaction)
    app.router.add_get(f"/comments/{{id:{ID_PATTERN}}}", permalinks.comment_permalink)
    app.router.add_get(f"{article}/comments.xml", feeds.comments_feed)
    app.router.add_get("/feed.xml", feeds.articles_feed)
    reports.add_routes(app, ID_PATTERN)
    app.router.add_get("/api/articles", api.articles)
    app.router.add_get(f"/api{article}", api.article)
    app.router.add_get(f"/api{article}/comments", api.comments)
    app.router.add_get(f"/api{article}/reactions", reactions.reactions_api)
    if admin_token:
        comment = f"/admin/comments/{{id:{ID_PATTERN}}}"
        app.router.add_get("/admin", admin.admin_page)
        app.router.add_post("/admin/login", admin.login)
        app.router.add_post("/admin/logout", admin.logout)
        app.router.add_post(f"{comment}/delete", admin.delete_comment)
        app.router.add_post(f"{comment}/ban", admin.ban_author)
        app.router.add_post(f"{comment}/ban-name", admin.ban_comment_name)
        app.router.add_post("/admin/names/ban", admin.ban_name)
        admin_people.register(app)
        desk.add_routes(app, ID_PATTERN)
        app.router.add_get("/admin/stats", admin_stats.stats_page)
        app.router.add_get(f"/admin/stats/{{id:{ID_PATTERN}}}", admin_stats.article_stats_page)
    signin.register(app, sign_in or signin.SignInConfig())
    signin_chat.add_routes(app)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_routes(discovery.routes())
    app.on_response_prepare.append(_headers)

    async def _load_keys(app: web.Application) -> None:
        await load_keys(app[SITE], secret)

    app.on_startup.append(_load_keys)
    app[VIEWS] = ViewCounter(service.figures.add_views)
    app.cleanup_ctx.append(counting)
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
    """Turn refusals and failures into JSON under /api/ and into small pages elsewhere, in the
    reader's language: the site's on pages; under /api/ the one ``Accept-Language`` prefers,
    beside a ``code`` that does not change with it."""
    headers: dict[str, str] = {}
    refusal: DomainError | None = None
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, message = exc.status, exc.reason
        if "Allow" in exc.headers:
            headers["Allow"] = exc.headers["Allow"]
    except DomainError as exc:
        status, message, refusal = _status(exc), str(exc), exc
    except Exception:
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        status, message = 500, N_("Something went wrong on our side. Please try again later.")
    if status == 404 and message == "Not Found":
        message = N_("There is no such page.")
    api = request.path.startswith("/api/")
    speech = site(request).speech
    if api:
        speech = accepted_speech(request.headers.get("Accept-Language"), speech)
    # A refusal is rendered from its message and values; a constant (a status text, the
    # middleware's own) has a translation; an already translated one is shown as it is.
    tr = speech.tr
    text = refusal.translated(tr) if refusal is not None else tr.gettext(message)
    if api:
        body = {"error": text, "code": error_code(status, refusal)}
        if isinstance(refusal, InvalidInput) and refusal.field:
            body["field"] = refusal.field
        response = web.json_response(body, status=status)
        response.headers["Cache-Control"] = ERROR_CACHE
        response.headers["Vary"] = "Accept-Language"
    else:
        title = tr.gettext(_TITLES.get(status, N_("Error")))
        response = render(
            request, "message.html", status=status, cache=ERROR_CACHE, title=title, message=text
        )
    response.headers.update(headers)
    return response


def error_code(status: int, refusal: DomainError | None = None) -> str:
    """The JSON API's ``code``: the refusal's kind, or a name for the HTTP status."""
    if refusal is not None:
        return refusal.code
    return _CODES.get(status, "server_error" if status >= 500 else "bad_request")


_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    410: "gone",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}
_TITLES = {
    400: N_("Bad request"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    410: N_("Gone"),
    413: N_("Too large"),
    500: N_("Server error"),
}
