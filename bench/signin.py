"""Readers as people (issue 18): what a signed-in page view costs next to an anonymous one
served from the page cache, and reply notices sent while an article fans out.

Page views: the real aiohttp app on a TCP port, one client asking one page after another (the
latency of a view, not the throughput), an article with 50 comments. The anonymous page must
stay shared and cacheable (``Cache-Control: public``); the signed-in one is rendered for the
reader (``private``) and never stored in the shared cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from adapters.web import create_app
from adapters.web.signin import SignInConfig
from bench.notice_fanout import notice_fanout
from bench.report import Result, percentile
from bench.web import _serve
from newsbot import Actor, ArticleDraft, NewsService
from storage import SqliteStore

TOKEN = "123456:BENCH"


def _telegram_login(service: NewsService, user: str) -> str:
    """The Login Widget's redirect query, signed as Telegram signs it."""
    fields = {
        "id": user,
        "first_name": "Nina",
        "username": "nina",
        "auth_date": str(int(service.clock.now().timestamp())),
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hashlib.sha256(TOKEN.encode()).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


async def _views(http: aiohttp.ClientSession, url: str, count: int) -> tuple[list[float], str]:
    times: list[float] = []
    cache = ""
    for _ in range(count):
        began = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
            assert response.status == 200, response.status
            cache = response.headers.get("Cache-Control", "")
        times.append((time.perf_counter() - began) * 1000)
    return times, cache


async def page_views(count: int) -> list[Result]:
    """``count`` anonymous views (cached) and ``count`` signed-in views of one article."""
    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / "signin.db") as store:
            service = NewsService(store)
            change = await service.publish(Actor.operator(), ArticleDraft("Tram line", "Body"))
            article = change.article.id
            for n in range(50):
                await service.add_web_comment(article, f"R{n}", f"Comment {n}", client_key=f"{n}")
            app = create_app(service, sign_in=SignInConfig(TOKEN, "bench_bot"))
            async with _serve(app) as base:
                page = f"{base}/articles/{article}"
                async with aiohttp.ClientSession() as anonymous:
                    await _views(anonymous, page, 20)  # warm the cache and the templates
                    anon, anon_cache = await _views(anonymous, page, count)
                jar = aiohttp.CookieJar(unsafe=True)
                async with aiohttp.ClientSession(cookie_jar=jar) as reader:
                    signin = f"{base}/signin/telegram?{_telegram_login(service, '777')}"
                    async with reader.get(signin, allow_redirects=False) as r:
                        assert r.status == 303, await r.text()
                    await _views(reader, page, 20)
                    signed, signed_cache = await _views(reader, page, count)
                    # The anonymous page is still the shared one after signed-in views.
                async with aiohttp.ClientSession() as anonymous:
                    _, after = await _views(anonymous, page, 1)
    public = anon_cache.startswith("public") and after.startswith("public")
    private = signed_cache.startswith("private")
    a50, a99 = percentile(anon, 50), percentile(anon, 99)
    s50, s99 = percentile(signed, 50), percentile(signed, 99)
    return [
        Result(
            f"anonymous article view, cached ({count} views, 50 comments)",
            f"p50 {a50:.2f} ms, p99 {a99:.2f} ms",
            "Cache-Control public",
            public,
            f"Cache-Control: {anon_cache}; still public after signed-in views: {after}",
        ),
        Result(
            f"signed-in article view ({count} views, 50 comments)",
            f"p50 {s50:.2f} ms, p99 {s99:.2f} ms ({s50 / a50:.1f}x the cached p50)",
            "private, not in the shared cache",
            private,
            f"Cache-Control: {signed_cache}; loaded machine",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """Page views, then notices during a fan-out."""
    print("  signed-in and anonymous page views ...", file=sys.stderr)
    rows = asyncio.run(page_views(300 if quick else 2_000))
    rows += asyncio.run(notice_fanout(300 if quick else 10_000, 100 if quick else 500))
    return rows


if __name__ == "__main__":
    for result in run("--quick" in sys.argv):
        print(result)
