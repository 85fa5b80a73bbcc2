"""What search engines and the browser fetch around the pages: ``robots.txt``,
``sitemap.xml``, the static files (a theme's before the built-in ones) and the accent
stylesheet."""

from __future__ import annotations

from aiohttp import web

from adapters.web.cache import Page
from adapters.web.context import cached, render_text, site
from adapters.web.render import article_path
from newsbot.models import Article
from newsbot.reading import PAGE_MAX

# A sitemap file may list 50,000 addresses; the newest this many articles are plenty for a
# crawler that also follows the front page's links.
SITEMAP_MAX = 5000
STATIC_NAME = r"[A-Za-z0-9_][A-Za-z0-9._/-]*"


async def robots(request: web.Request) -> web.Response:
    """``/robots.txt``: everything public may be crawled; the admin pages, the form's
    target, the report forms and the API may not. Names the sitemap."""
    public = site(request).service.public_url
    text = (
        "User-agent: *\n"
        "Disallow: /admin\n"
        "Disallow: /api/\n"
        "Disallow: /*?reply=\n"
        "Disallow: /comments/*/report\n"
        f"Sitemap: {public}/sitemap.xml\n"
    )
    return web.Response(
        text=text, content_type="text/plain", headers={"Cache-Control": "public, max-age=3600"}
    )


async def sitemap(request: web.Request) -> web.Response:
    """``/sitemap.xml``: the front page and the newest published articles, with the time
    each last changed."""
    s = site(request)
    service = s.service

    async def load() -> Page:
        articles: list[Article] = []
        cursor: str | None = None
        while len(articles) < SITEMAP_MAX:
            page = await service.latest(PAGE_MAX, cursor)
            articles.extend(page.articles)
            cursor = page.next_cursor
            if cursor is None:
                break
        articles = articles[:SITEMAP_MAX]
        urls = [(f"{service.public_url}{article_path(a)}", a.updated_at) for a in articles]
        return Page(
            data=tuple(urls),
            make=lambda: render_text(
                request, "sitemap.xml", site_url=service.public_url, urls=urls
            ),
            content_type="application/xml",
            cache_control=s.public_cache,
        )

    return await cached(request, ("sitemap",), None, load)


async def static_file(request: web.Request) -> web.StreamResponse:
    """``/static/NAME``: the theme's file of that name, else the built-in one."""
    name = request.match_info["name"]
    if ".." in name.split("/"):
        raise web.HTTPNotFound()
    for folder in site(request).static:
        path = folder / name
        if path.is_file():
            return web.FileResponse(path)
    raise web.HTTPNotFound()


async def accent_css(request: web.Request) -> web.Response:
    """``/site.css``: the site's accent colour (a stylesheet, as the page's CSP allows no
    inline style). The dark scheme keeps its own light accent, readable on dark grey."""
    accent = site(request).brand.accent
    text = f"@media not (prefers-color-scheme:dark){{:root{{--accent:{accent}}}}}\n"
    return web.Response(
        text=text if accent else "",
        content_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def routes() -> list[web.RouteDef]:
    """The routes of this module."""
    return [
        web.get("/robots.txt", robots),
        web.get("/sitemap.xml", sitemap),
        web.get("/site.css", accent_css),
        web.get(f"/static/{{name:{STATIC_NAME}}}", static_file),
    ]
