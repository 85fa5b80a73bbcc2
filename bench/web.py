"""The web site under a spike: requests a second, p50 and p99 against the bare-handler ceiling.

The load generator is an aiohttp client in a process of its own (``python -m bench.web load``;
wrk is not installed here): N connections, each sending its next GET as soon as the answer
came (or at a fixed rate with ``--rate``), ``Accept-Encoding: gzip`` like a browser. The site
runs in this process on the real application (``create_app``) over an SQLite file: (a) the
article with 100 comments, (b) one with 10,000, (c) the front page, (d) the JSON thread, and
(a) answered 304 (``If-None-Match``). The ceiling is a bare aiohttp handler in this process
returning the very bytes and headers of (a), measured by the same client in the same run.

Then a real ``python bot.py`` (web and Telegram against the bench's fake Telegram) serves
about 1,000 page views a second while it fans an article out to N channels: its efficiency
as in ``bench/fanout.py``, and how long a comment takes to show on the page (cache included),
posted through the form on that process and written by another process (this one) into the
same database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.report import Result, percentile

ROOT = Path(__file__).resolve().parent.parent
GZIP = {"Accept-Encoding": "gzip, deflate"}


# -- the load generator (its own process) ------------------------------------------------------


async def _load(
    url: str, connections: int, seconds: float, headers: dict[str, str], rate: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    connector = aiohttp.TCPConnector(limit=connections)
    interval = connections / rate if rate else 0.0
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as http:

        async def warm() -> None:
            async with http.get(url, headers=headers) as response:
                await response.read()

        # Open the connections before the clock starts.
        await asyncio.gather(*(warm() for _ in range(connections)), return_exceptions=True)
        started = time.perf_counter()
        deadline = started + seconds

        async def one(n: int) -> None:
            nonlocal errors
            next_at = started + interval * n / connections
            while not stop.is_set():
                now = time.perf_counter()
                if now >= deadline:
                    return
                if interval:
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                    next_at += interval
                t0 = time.perf_counter()
                try:
                    async with http.get(url, headers=headers) as response:
                        await response.read()
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one(n) for n in range(connections)))
        elapsed = time.perf_counter() - started
    return {
        "count": len(latencies),
        "elapsed": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else 0.0,
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else 0.0,
        "statuses": statuses,
        "errors": errors,
    }


def _load_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web load")
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="requests a second in all")
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    args = parser.parse_args(argv)
    headers = dict(GZIP)
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    result = asyncio.run(_load(args.url, args.connections, args.seconds, headers, args.rate))
    print(json.dumps(result), flush=True)
    return 0


async def _spawn_load(
    url: str,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    rate: float = 0.0,
) -> asyncio.subprocess.Process:
    args = [sys.executable, "-m", "bench.web", "load", url, "--connections", str(connections)]
    args += ["--seconds", str(seconds), "--rate", str(rate)]
    for name, value in (headers or {}).items():
        args += ["--header", f"{name}: {value}"]
    return await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def _measure(
    url: str,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    rate: float = 0.0,
) -> dict[str, Any]:
    process = await _spawn_load(url, connections, seconds, headers, rate)
    out, _ = await process.communicate()
    data: dict[str, Any] = json.loads(out)
    return data


# -- the site and its ceiling (this process) ------------------------------------------------


async def _database(path: Path, quick: bool) -> tuple[int, int]:
    """Article 1 with 10,000 comments (1,000 when quick); a second article with 100."""
    from bench.core import build_big_database
    from newsbot import Actor, ArticleDraft, Comment, NewsService
    from storage import open_store

    build_big_database(path, articles=1, per_article=1_000 if quick else 10_000, destinations=0)
    async with open_store(str(path), synchronous="NORMAL") as store:
        service = NewsService(store)
        body = "A paragraph of the article, long enough to look like news. " * 40
        article = (
            await service.publish(Actor.operator(), ArticleDraft("The spike", body))
        ).article
        root: Comment | None = None
        for n in range(100):
            words = " ".join(["word"] * (8 + n % 60))
            parent = root.id if root is not None and n % 4 in (1, 2) else None
            comment = await service.add_web_comment(
                article.id,
                f"Reader {n}",
                f"Comment {n}: {words}.",
                parent_id=parent,
                client_key=f"k{n}",
            )
            if n % 4 == 0:
                root = comment
    return article.id, 1


@contextlib.asynccontextmanager
async def _serve(app: web.Application) -> Any:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _ceiling_app(body: bytes, headers: dict[str, str]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/", handler)
    return app


def _row(
    name: str,
    got: dict[str, Any],
    ceiling: dict[str, Any] | None,
    target: str = "",
    met: bool | None = None,
) -> Result:
    note = f"{got['rps']:,.0f} req/s, p50 {got['p50_ms']:.1f} ms, p99 {got['p99_ms']:.1f} ms"
    if got["errors"] or set(got["statuses"]) - {"200", "304"}:
        note += f"; statuses {got['statuses']}, {got['errors']} errors"
    if ceiling is None:
        return Result(name, f"{got['rps']:,.0f} req/s", target, met, note)
    ratio = got["rps"] / ceiling["rps"]
    return Result(name, f"{ratio:.2f} of the ceiling", target, met, note)


async def pages(
    quick: bool,
    seconds: float | None = None,
    connections_list: tuple[int, ...] = (32, 256),
    open_loop: bool = True,
) -> list[Result]:
    """(a) to (d) and the ceiling at each number of connections; the ceiling is measured
    before and after the site, and the better of the two counts (the machine is shared)."""
    from adapters.web import create_app
    from adapters.web.context import SITE
    from newsbot import NewsService
    from storage import open_store

    if seconds is None:
        seconds = 1.0 if quick else 5.0
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.db"
        print("  building the articles ...", file=sys.stderr)
        small, big = await _database(path, quick)
        async with open_store(str(path)) as store:
            service = NewsService(store)
            app = create_app(service)
            async with _serve(app) as base, aiohttp.ClientSession(auto_decompress=False) as http:
                async with http.get(f"{base}/articles/{small}", headers=GZIP) as r:
                    body = await r.read()
                    etag = r.headers["ETag"]
                    headers = {
                        k: v
                        for k, v in r.headers.items()
                        if k not in ("Content-Length", "Date", "Server")
                    }
                targets = [
                    ("(a) article page, 100 comments", f"{base}/articles/{small}", None),
                    ("(a) article page, 304", f"{base}/articles/{small}", {"If-None-Match": etag}),
                    (
                        "(b) article page, 10,000 comments"
                        if not quick
                        else "(b) article page, 1,000 comments",
                        f"{base}/articles/{big}",
                        None,
                    ),
                    ("(c) front page", f"{base}/", None),
                    (
                        "(d) JSON thread, 100 comments",
                        f"{base}/api/articles/{small}/comments",
                        None,
                    ),
                ]
                async with _serve(_ceiling_app(body, headers)) as bare:
                    for connections in connections_list:
                        print(f"  {connections} connections ...", file=sys.stderr)
                        before = await _measure(bare + "/", connections, seconds)
                        measured = [
                            (label, await _measure(url, connections, seconds, extra))
                            for label, url, extra in targets
                        ]
                        after = await _measure(bare + "/", connections, seconds)
                        ceiling = max(before, after, key=lambda c: float(c["rps"]))
                        row = _row(
                            f"12. Web ceiling: bare handler ({connections} conns)", ceiling, None
                        )
                        row.note += (
                            f" (best of {before['rps']:,.0f} before, {after['rps']:,.0f} after)"
                        )
                        results.append(row)
                        for label, got in measured:
                            target, met = "", None
                            if connections == 32 and label.startswith("(a)"):
                                if label.endswith("304"):
                                    target = ">= 0.8"
                                    met = got["rps"] >= 0.8 * ceiling["rps"]
                                else:
                                    target = ">= 0.5, p99 <= 20 ms"
                                    met = (
                                        got["rps"] >= 0.5 * ceiling["rps"] and got["p99_ms"] <= 20
                                    )
                            name = f"12. Web {label} ({connections} conns)"
                            results.append(_row(name, got, ceiling, target, met))
                    if open_loop:
                        # Closed loops measure the client as much as the server: at 1,000 a
                        # second offered, the latency is the server's (and the machine's).
                        for label, url in (
                            ("ceiling: bare handler", bare + "/"),
                            ("(a) article page, 100 comments", targets[0][1]),
                        ):
                            got = await _measure(url, 32, seconds, rate=1000)
                            name = f"12. Web {label}, 1,000 req/s offered (32 conns)"
                            results.append(
                                Result(
                                    name,
                                    f"p99 {got['p99_ms']:.1f} ms",
                                    "",
                                    None,
                                    f"{got['rps']:,.0f} req/s, p50 {got['p50_ms']:.1f} ms",
                                )
                            )
            cache = app[SITE].cache
            results.append(
                Result(
                    "12. Web renders during the runs",
                    f"{cache.renders}",
                    "",
                    None,
                    f"{cache.hits:,} answers from the page cache, {cache.checks} data checks",
                )
            )
    return results


# -- a fan-out while the site is busy (a real bot.py) ----------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fanout_under_load(channels: int, views: float = 1000) -> list[Result]:
    """A ``bot.py`` fanning an article out to ``channels`` while ``views`` page views a second
    ask for it (0: none, the control)."""
    from bench.fake_servers import TELEGRAM_CHANNEL_BASE
    from bench.fanout import (
        TELEGRAM_RATE,
        TOKEN,
        efficiency_notes,
        running_fake,
        subscribe_all,
        until,
    )
    from bench.workers import Worker
    from newsbot import Actor, ArticleDraft, NewsService, Platform
    from storage import open_store

    with tempfile.TemporaryDirectory() as tmp:
        database = str(Path(tmp) / "spike.db")
        async with running_fake("telegram", "--channels", str(channels), "--users", "1") as tg:
            async with open_store(database) as store:
                service = NewsService(store)
                print(f"  subscribing {channels:,} channels ...", file=sys.stderr)
                await subscribe_all(
                    service,
                    Platform.TELEGRAM,
                    [str(TELEGRAM_CHANNEL_BASE - n) for n in range(channels)],
                    "TG",
                )
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
            env.update(
                {
                    "PYTHONPATH": str(ROOT),
                    "NEWSBOT_DATABASE": database,
                    "NEWSBOT_WEB_PORT": str(port),
                    "NEWSBOT_LOG_LEVEL": "WARNING",
                    "NEWSBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
                    "NEWSBOT_MIRROR": "false",
                    "NEWSBOT_TELEGRAM_TOKEN": TOKEN,
                    "NEWSBOT_TELEGRAM_API_URL": tg.info["base_url"],
                }
            )
            bot = Worker(env, Path(tmp) / "bot.log")
            base = f"http://127.0.0.1:{port}"
            try:
                async with aiohttp.ClientSession() as http:

                    async def up() -> bool:
                        try:
                            async with http.get(f"{base}/") as r:
                                return r.status == 200
                        except aiohttp.ClientError:
                            return False

                    await until(up, 60, "the bot's web site")
                    # The spike: readers open the article that is being sent out.
                    async with open_store(database) as store:
                        service = NewsService(store)
                        started = time.monotonic()
                        article = (
                            await service.publish(
                                Actor.operator(), ArticleDraft("Breaking", "The spike. " * 200)
                            )
                        ).article
                        page = f"{base}/articles/{article.id}"
                        expected = channels / TELEGRAM_RATE
                        load = None
                        if views:
                            load = await _spawn_load(page, 32, expected + 60, rate=views)
                        delays: dict[str, float] = {}

                        async def appears(text: str) -> float:
                            t0 = time.monotonic()
                            while True:
                                async with http.get(page) as r:
                                    if text in await r.text():
                                        return time.monotonic() - t0
                                if time.monotonic() - t0 > 10:
                                    return float("inf")
                                await asyncio.sleep(0.005)

                        if load is not None:
                            await asyncio.sleep(min(3.0, expected / 3))
                            form = {
                                "name": "Nina",
                                "text": "Posted through the form",
                                "website": "",
                            }
                            async with http.post(
                                f"{page}/comments", data=form, allow_redirects=False
                            ) as r:
                                assert r.status == 303, r.status
                            delays["form"] = await appears("Posted through the form")
                            await service.add_web_comment(
                                article.id,
                                "Otto",
                                "Written by another process",
                                client_key="other",
                            )
                            delays["other"] = await appears("Written by another process")

                        async def finished() -> bool:
                            progress = await tg.get("/progress")
                            return bool(progress["fanout_sends"] >= channels)

                        await until(finished, 4 * expected + 120, "the fan-out")
                        seen: dict[str, Any] = {}
                        if load is not None:
                            load.send_signal(signal.SIGTERM)
                            out, _ = await load.communicate()
                            seen = json.loads(out)
                        stats = await tg.get("/stats")
            finally:
                bot.stop()
    sends = [t for t, _ in stats["sends"] if t >= started]
    elapsed = max(sends) - started
    efficiency, attainable = efficiency_notes(len(sends), elapsed, TELEGRAM_RATE)
    note = f"{len(sends):,} posts in {elapsed:.1f} s; {attainable}; {stats['count_429']} 429s"
    if not views:
        return [
            Result(
                f"12. Telegram fan-out to {channels:,}, no page views (control, same run)",
                f"{efficiency:.3f}",
                "",
                None,
                note,
            )
        ]
    worst = max(delays.values())
    return [
        Result(
            f"12. Telegram fan-out to {channels:,} while the site serves ~{views:,.0f} views/s",
            f"{efficiency:.3f}",
            ">= 0.97",
            efficiency >= 0.97 and stats["count_429"] == 0,
            f"{note}; page views meanwhile {seen['rps']:,.0f}/s, p50 {seen['p50_ms']:.1f} ms, "
            f"p99 {seen['p99_ms']:.1f} ms",
        ),
        Result(
            "12. A comment shows on the page (cache included), during that spike",
            f"{worst * 1000:.0f} ms",
            "<= 1 s",
            worst <= 1.0,
            f"posted through the form: {delays['form'] * 1000:.0f} ms after the 303; written by "
            f"another process: {delays['other'] * 1000:.0f} ms",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """The page runs, then the fan-out to 10,000 channels (300 when quick) under page views."""
    results = asyncio.run(pages(quick))
    results += asyncio.run(fanout_under_load(300 if quick else 10_000))
    # The control: the same fan-out without page views, to tell the site's share of a loss
    # from the machine's (other sessions share its two cores).
    results += asyncio.run(fanout_under_load(300 if quick else 3_000, views=0))
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        raise SystemExit(_load_main(sys.argv[2:]))
    for result in run("--quick" in sys.argv):
        print(result)
