"""A web site on 127.0.0.1 whose feeds the tests control.

Like a real site it answers conditional GETs (ETag and Last-Modified, 304 when unchanged),
compresses when asked, and can redirect, refuse (404, 410, 429 with Retry-After, 503), hang,
stream a feed far larger than anyone should read, serve any bytes at all (a hostile
document), or cut an answer off mid-transfer (a dropped connection, a proxy's cut). Every request is recorded with its
headers. ``python -m tests.fakes.feeds --feeds N --items M`` runs one in a process of its own
(the benchmark's), with N feeds of M items at ``/feeds/I`` and a ``/_control`` API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

DATA = Path(__file__).resolve().parent.parent / "data" / "feeds"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Item:
    """One item of a generated RSS 2.0 feed."""

    guid: str
    title: str
    body: str = "<p>Body.</p>"
    link: str | None = None
    published: datetime | None = None
    categories: tuple[str, ...] = ()
    image: str | None = None

    def xml(self) -> str:
        parts = [f"<item><title>{escape(self.title)}</title>"]
        if self.guid:
            parts.append(f'<guid isPermaLink="false">{escape(self.guid)}</guid>')
        if self.link:
            parts.append(f"<link>{escape(self.link)}</link>")
        if self.published:
            parts.append(f"<pubDate>{format_datetime(self.published)}</pubDate>")
        parts += [f"<category>{escape(c)}</category>" for c in self.categories]
        if self.image:
            parts.append(f'<enclosure url="{escape(self.image)}" type="image/jpeg" length="0"/>')
        parts.append(f"<content:encoded><![CDATA[{self.body}]]></content:encoded></item>")
        return "".join(parts)


def rss(title: str, items: list[Item], link: str = "https://site.example/") -> bytes:
    """An RSS 2.0 document, items in the given order (newest first, as sites list them)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(title)}</description>"
        + "".join(i.xml() for i in items)
        + "</channel></rss>"
    ).encode()


def items(count: int, prefix: str = "item", start: datetime = T0) -> list[Item]:
    """``count`` items, newest first, an hour apart."""
    return [
        Item(
            f"{prefix}-{n}",
            f"{prefix.title()} {n}",
            f"<p>Body of {prefix} {n}.</p>",
            f"https://site.example/{prefix}/{n}",
            start + timedelta(hours=n),
        )
        for n in reversed(range(count))
    ]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True
    compress: bool = True
    hang: bool = False
    stream: int = 0  # bytes of an endless-looking feed to stream instead of ``body``
    cut: int | None = None  # send only this many bytes of ``body``
    declared: bool = True  # with ``cut``: announce the whole length, then drop the connection
    modified: datetime = T0


@dataclass
class Seen:
    path: str
    headers: CIMultiDictProxy[str]


class FeedSite:
    """The site. ``async with FeedSite() as site``; ``site.url(path)`` is a page's address."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.counts: Counter[str] = Counter()
        self.record = True
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> FeedSite:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    # -- what the site serves -------------------------------------------------------------

    def feed(self, path: str, title: str, entries: list[Item], **options: Any) -> Route:
        """Serve (or replace) a generated RSS feed; its ETag changes with its content."""
        route = self.routes.get(path)
        body = rss(title, entries)
        if route is None or route.body != body:
            modified = datetime.now(UTC).replace(microsecond=0)
            route = Route(body=body, modified=modified, **options)
            self.routes[path] = route
        return route

    def file(self, path: str, name: str, content_type: str | None = None) -> Route:
        """Serve a sample file from tests/data/feeds."""
        kind = content_type or (
            "application/feed+json" if name.endswith(".json") else "application/xml"
        )
        route = Route(body=(DATA / name).read_bytes(), content_type=kind)
        self.routes[path] = route
        return route

    def answer(self, path: str, status: int, headers: dict[str, str] | None = None) -> Route:
        route = Route(status=status, body=b"", content_type="text/plain", headers=headers or {})
        self.routes[path] = route
        return route

    def redirect(self, path: str, to: str, status: int = 301) -> Route:
        return self.answer(path, status, {"Location": to})

    def hang(self, path: str) -> Route:
        route = Route(hang=True)
        self.routes[path] = route
        return route

    def huge(self, path: str, size: int, *, declared: bool = False) -> Route:
        """A feed of ``size`` bytes, streamed (with its Content-Length when ``declared``)."""
        route = Route(stream=size, conditional=False, compress=False)
        if declared:
            route.headers["Content-Length"] = str(size)
        self.routes[path] = route
        return route

    def raw(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> Route:
        """Serve these bytes as they are (a hostile document, say)."""
        route = Route(body=body, content_type=content_type)
        self.routes[path] = route
        return route

    def cut(self, path: str, body: bytes, at: int, *, declared: bool = True) -> Route:
        """Answer with the first ``at`` bytes of ``body`` only. ``declared``: with the whole
        body's Content-Length, then the connection drops (a server or link that failed);
        else a chunked answer that ends cleanly, the document cut short (a proxy's cut)."""
        route = Route(body=body, cut=at, declared=declared, conditional=False, compress=False)
        self.routes[path] = route
        return route

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # -- answering ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.path_qs in self.routes else request.path
        self.counts[path] += 1
        if self.record:
            self.requests.append(Seen(path, request.headers))
        route = self.routes.get(path)
        if route is None:
            return web.Response(status=404, text="no such page")
        if route.hang:
            await self._closing.wait()
            return web.Response(status=503)
        if route.stream:
            return await self._stream(request, route)
        if route.cut is not None:
            return await self._cut(request, route)
        headers = dict(route.headers)
        if route.status == 200 and route.conditional:
            etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
            modified = format_datetime(route.modified, usegmt=True)
            headers |= {"ETag": etag, "Last-Modified": modified}
            if request.headers.get("If-None-Match") == etag or (
                "If-None-Match" not in request.headers
                and request.headers.get("If-Modified-Since") == modified
            ):
                return web.Response(status=304, headers=headers)
        response = web.Response(
            status=route.status, body=route.body, headers=headers, content_type=None
        )
        if route.status == 200:
            response.headers["Content-Type"] = route.content_type
            if route.compress:
                response.enable_compression()
        return response

    async def _stream(self, request: web.Request, route: Route) -> web.StreamResponse:
        response = web.StreamResponse(headers=route.headers)
        response.content_type = "application/rss+xml"
        await response.prepare(request)
        chunk = (Item("big", "Big " * 50, "<p>" + "x" * 60_000 + "</p>").xml()).encode()
        sent = 0
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await response.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
            while sent < route.stream:
                await response.write(chunk)
                sent += len(chunk)
        return response

    async def _cut(self, request: web.Request, route: Route) -> web.StreamResponse:
        response = web.StreamResponse(headers=route.headers)
        response.content_type = route.content_type.split(";")[0]
        if route.declared:
            response.content_length = len(route.body)
        await response.prepare(request)
        await response.write(route.body[: route.cut])
        if route.declared and request.transport is not None:
            request.transport.close()  # mid-answer: the client sees the connection end early
            return response
        await response.write_eof()
        return response


# -- in a process of its own (the benchmark's) ----------------------------------------------


class BenchSite(FeedSite):
    """``feeds`` feeds of ``entries`` items; ``/_control/add?feed=I`` puts a new item on top
    of feed I (answering the time it did, for latency); ``/_control/counts`` says how many
    200s and 304s were answered."""

    def __init__(self, feeds: int, entries: int) -> None:
        super().__init__()
        self.record = False
        self.entries = entries
        self.added: Counter[int] = Counter()
        self.answers: Counter[int] = Counter()
        self._items = {i: items(entries, f"f{i}") for i in range(feeds)}
        for i in range(feeds):
            self.feed(f"/feeds/{i}", f"Bench feed {i}", self._items[i])

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/_control/add":
            index = int(request.query["feed"])
            self.added[index] += 1
            guid = f"f{index}-new-{self.added[index]}"
            self._items[index] = [Item(guid, f"New {guid}", "<p>New.</p>"), *self._items[index]]
            self._items[index] = self._items[index][: self.entries]
            self.feed(f"/feeds/{index}", f"Bench feed {index}", self._items[index])
            loop = asyncio.get_running_loop()
            return web.json_response({"guid": guid, "at": loop.time(), "wall": _wall()})
        if request.path == "/_control/counts":
            return web.json_response({str(k): v for k, v in self.answers.items()})
        response = await super()._handle(request)
        self.answers[response.status] += 1
        return response


def _wall() -> float:
    return datetime.now(UTC).timestamp()


async def _serve(args: argparse.Namespace) -> None:
    site = BenchSite(args.feeds, args.items)
    await site.start(args.port)
    print("FAKE_READY " + json.dumps({"url": site.url("")}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closed our stdin, or died
    await stop.wait()
    await site.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.feeds")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
