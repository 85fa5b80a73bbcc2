"""Benchmarks of the core on real SQLite and PostgreSQL: comment ingestion, thread reads,
memory, restart.

PostgreSQL rows need a server: ``NEWSBOT_BENCH_POSTGRES`` (else ``NEWSBOT_TEST_POSTGRES``, else
the local default) names one; each run gets a database of its own, dropped afterwards. Without
a server the PostgreSQL rows are left out with a line saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Re-exported: bench.compare runs `core.build_big_database` in checkouts from before bench.big.
from bench.big import build_big_database as build_big_database
from bench.big import build_big_postgres as build_big_postgres
from bench.report import Result, percentile, rss_mib  # noqa: F401 - used by child scripts
from newsbot import (
    Actor,
    ArticleDraft,
    Author,
    Job,
    MessageLink,
    MessageRef,
    NewsService,
    Platform,
    Posted,
    Store,
)
from storage import SqliteStore, open_store
from storage.sqlite import migrations

ROOT = Path(__file__).resolve().parent.parent
TG = Platform.TELEGRAM
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_server() -> str | None:
    """The URL of a PostgreSQL server that answers, or ``None`` (and a line saying why)."""
    url = (
        os.environ.get("NEWSBOT_BENCH_POSTGRES")
        or os.environ.get("NEWSBOT_TEST_POSTGRES")
        or POSTGRES_DEFAULT
    )
    try:
        import asyncpg

        async def probe() -> None:
            conn = await asyncpg.connect(url, timeout=3)
            await conn.close()

        asyncio.run(probe())
    except Exception as exc:
        print(f"PostgreSQL rows left out: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    return url


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A new empty database on ``server`` for one benchmark; dropped afterwards."""
    import asyncpg

    name = f"newsbot_bench_{os.getpid()}_{random.randrange(16**6):06x}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(server, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.asynccontextmanager
async def bench_store(
    postgres: str | None, name: str, synchronous: str = "FULL"
) -> AsyncIterator[Store]:
    """A store in a temporary SQLite file, or in the PostgreSQL database ``postgres``."""
    if postgres is not None:
        async with open_store(postgres, synchronous=synchronous) as store:
            yield store
        return
    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / name, synchronous=synchronous) as store:
            yield store


def _label(postgres: str | None) -> str:
    return ", PostgreSQL" if postgres else ""


Prepare = Callable[[NewsService, list[MessageRef]], Awaitable[list[MessageRef]]]
"""Sets a service up for a variant of the ingestion bench (``bench.ingest_notices``) after
the warm-up: given the articles' posts, returns what the replies answer instead."""


async def _targets(
    service: NewsService, refs: list[MessageRef], prepare: Prepare | None
) -> list[MessageRef]:
    """What the bench's replies answer: the articles' posts, or what ``prepare`` says."""
    # Start the ingest process before the clock starts, as a running bot has.
    await service.record_reply(
        reply_to=refs[0], source=MessageRef(TG, "-100", "warm"), author=READER, text="w"
    )
    return refs if prepare is None else await prepare(service, refs)


READER = Author("Reader", TG, "7")


async def _posted_articles(store: Store, count: int) -> list[MessageRef]:
    service = NewsService(store, mirror=False)
    refs = []
    for i in range(count):
        article = (await service.publish(Actor.operator(), ArticleDraft(f"A{i}", "body"))).article
        ref = MessageRef(TG, "-100", f"post{i}")
        await store.add_link(MessageLink(ref, article.id))
        refs.append(ref)
    return refs


async def ingestion(
    duration: float,
    rate: int,
    synchronous: str = "FULL",
    callers: int = 1000,
    postgres: str | None = None,
    prepare: Prepare | None = None,
    variant: str = "",
) -> list[Result]:
    """Offer ``rate`` replies per second through NewsService.record_reply for ``duration`` s.

    Open loop without a task per reply: reply ``n`` is due at ``n / rate`` seconds, and a pool
    of ``callers`` coroutines each takes the next reply, waits until it is due and stores it.
    Latency counts from when the reply was due, so a backlog (all callers busy) shows in it
    instead of slowing the offer (no coordinated omission). ``prepare`` and ``variant``
    (the rows' label) make a variant: ``bench.ingest_notices``.
    """
    async with bench_store(postgres, "ingest.db", synchronous) as store:
        refs = await _posted_articles(store, 10)
        service = NewsService(store, mirror=False)
        latencies: list[float] = []
        targets = await _targets(service, refs, prepare)
        started = time.perf_counter()
        numbers = iter(range(int(duration * rate)))

        async def caller() -> None:
            for n in numbers:
                due = started + n / rate
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                await service.record_reply(
                    reply_to=targets[n % len(targets)],
                    source=MessageRef(TG, "-100", f"m{n}"),
                    author=READER,
                    text=f"comment number {n}",
                )
                latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - started
        stored = -1 - (0 if targets is refs else len(targets))  # the warm-up, the parents
        for ref in refs:
            link = await store.resolve_message(ref)
            stored += await store.count_comments(link.article_id) if link else 0
    done = len(latencies)
    at = f" at {rate:,}/s offered" + ("" if synchronous == "FULL" else f", {synchronous}")
    at += _label(postgres) + variant
    return [
        Result(
            "4. ingestion through the service" + at,
            f"{done / elapsed:,.0f}/s",
            ">= 20,000/s" if rate >= 20_000 else "sustains the offer",
            done / elapsed >= 20_000 if rate >= 20_000 else done / elapsed >= 0.98 * rate,
            f"offered {rate:,}/s for {duration:.0f} s, synchronous={synchronous}; "
            f"{stored:,} stored, {done:,} answered",
        ),
        Result(
            "4. ingestion p99, call to committed" + at,
            f"{percentile(latencies, 99) * 1000:.1f} ms",
            "<= 10 ms",
            percentile(latencies, 99) <= 0.010,
            f"p50 {percentile(latencies, 50) * 1000:.1f} ms",
        ),
    ]


async def ingestion_capacity(
    count: int, postgres: str | None = None, prepare: Prepare | None = None, variant: str = ""
) -> Result:
    """Closed loop: how fast the service stores replies when callers never wait for a tick.
    ``prepare`` and ``variant`` as for ``ingestion``."""
    async with bench_store(postgres, "cap.db") as store:
        refs = await _posted_articles(store, 10)
        service = NewsService(store, mirror=False)
        targets = await _targets(service, refs, prepare)
        queue = iter(range(count))

        async def worker() -> None:
            for n in queue:
                await service.record_reply(
                    reply_to=targets[n % len(targets)],
                    source=MessageRef(TG, "-100", f"m{n}"),
                    author=READER,
                    text=f"comment number {n}",
                )

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(1000)))
        elapsed = time.perf_counter() - started
        queued = service.notifications.queued
    return Result(
        f"4. ingestion capacity (1,000 callers){_label(postgres)}{variant}",
        f"{count / elapsed:,.0f}/s",
        "(ceiling of the service path)",
        None,
        f"{count:,} replies" + (f", {queued:,} notices queued" if queued else ""),
    )


def raw_executemany(count: int) -> Result:
    """The ceiling: plain sqlite3 executemany into the same schema, 1000 rows a transaction."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.executescript(migrations()[0][1])
        db.execute(
            "INSERT INTO articles (title, body, author_name, author_platform, author_user_id, "
            "status, created_at, updated_at) VALUES ('t', 'b', 'a', 'cli', 'op', 'published', "
            "'2026-01-01', '2026-01-01')"
        )
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        started = time.perf_counter()
        for start in range(0, count, 1000):
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO comments (article_id, author_name, author_platform, author_user_id, "
                "text, source_platform, source_chat_id, source_message_id, status, created_at) "
                "VALUES (1, 'Reader', 'telegram', '7', ?, 'telegram', '-100', ?, 'visible', ?)",
                ((f"comment number {n}", f"m{n}", stamp) for n in range(start, start + 1000)),
            )
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        db.close()
    return Result(
        "4. raw sqlite3 executemany (ceiling)",
        f"{count / elapsed:,.0f}/s",
        "(reference)",
        None,
        f"{count:,} rows, 1000 per transaction, same schema and indexes",
    )


async def thread_reads(
    path: Path | str, samples: int, ingest_rate: int, articles: list[int] | None = None
) -> list[Result]:
    """p99 of the newest 50 top-level comments (with replies) and the next page."""
    gc.freeze()  # as bot.py does once it is running
    postgres = isinstance(path, str) and path.startswith("postgresql://")
    async with open_store(str(path)) as store:
        service = NewsService(store, mirror=False)
        if articles is None:
            articles = [a[0] for a in sqlite3.connect(path).execute("SELECT id FROM articles")]
        ref = MessageRef(TG, "-100", "bench-post")
        await store.add_link(MessageLink(ref, articles[0]))  # type: ignore[arg-type]
        results = []
        for label, rate in (("idle", 0), (f"while ingesting {ingest_rate:,}/s", ingest_rate)):
            stop = asyncio.Event()

            async def ingest(
                rate: int = rate, stop: asyncio.Event = stop, label: str = label
            ) -> None:
                n = 0
                author = Author("Load", TG, "8")
                started = time.perf_counter()
                while not stop.is_set():
                    due = int((time.perf_counter() - started) * rate)
                    batch = [
                        service.record_reply(
                            reply_to=ref,
                            source=MessageRef(TG, "-100", f"load{label}{i}"),
                            author=author,
                            text="load",
                        )
                        for i in range(n, due)
                    ]
                    n = due
                    if batch:
                        await asyncio.gather(*batch)
                    await asyncio.sleep(0.002)

            loader = asyncio.create_task(ingest()) if rate else None
            first_page: list[float] = []
            next_page: list[float] = []
            rng = random.Random(7)
            for _ in range(samples):
                article = rng.choice(articles)
                start = time.perf_counter()
                page = await service.thread(article, limit=50, newest_first=True)  # type: ignore[arg-type]
                first_page.append(time.perf_counter() - start)
                start = time.perf_counter()
                await service.thread(article, cursor=page.next_cursor, limit=50, newest_first=True)  # type: ignore[arg-type]
                next_page.append(time.perf_counter() - start)
                await asyncio.sleep(0)
            stop.set()
            if loader:
                await loader
            limit = 0.002 if rate == 0 else 0.005
            for name, values in (("newest 50", first_page), ("next page", next_page)):
                p99 = percentile(values, 99)
                results.append(
                    Result(
                        f"5. thread read, {name}, {label}" + (", PostgreSQL" if postgres else ""),
                        f"{p99 * 1000:.2f} ms",
                        f"<= {limit * 1000:.0f} ms",
                        p99 <= limit,
                        f"p50 {statistics.median(values) * 1000:.2f} ms, {samples} reads",
                    )
                )
    return results


class NullPublisher:
    """Accepts every post at once, so only the core is measured."""

    platform = TG

    def __init__(self) -> None:
        self.posted = 0
        self.first_post_at: float | None = None

    async def post(self, job: Job) -> Posted:
        if self.first_post_at is None:
            self.first_post_at = time.time()
        self.posted += 1
        return Posted(str(self.posted))

    async def edit(self, job: Job) -> None:
        return None

    async def delete(self, job: Job) -> None:
        return None


MEMORY_CHILD = textwrap.dedent(
    """
    import asyncio, json, sqlite3, sys
    from bench.core import NullPublisher, rss_mib
    from newsbot import Actor, ArticleDraft, Dispatcher, NewsService, Platform
    from storage import SqliteStore

    async def main(path, count):
        async with SqliteStore(path) as store:
            service = NewsService(store)
            base = rss_mib()
            db = sqlite3.connect(path)
            db.executemany(
                "INSERT INTO destinations (platform, chat_id, kind, created_at, updated_at) "
                "VALUES ('telegram', ?, 'channel', '2026-01-01', '2026-01-01')",
                ((f"-100{n}",) for n in range(count)))
            db.commit(); db.close()
            destinations = await service.destinations()
            held = rss_mib()
            publisher = NullPublisher()
            dispatcher = Dispatcher(store, {Platform.TELEGRAM: publisher}, poll_interval=0.05)
            service.on_enqueue(dispatcher.wake)
            peak = held
            async with dispatcher:
                await service.publish(Actor.operator(), ArticleDraft("Memory", "test"))
                while publisher.posted < count:
                    peak = max(peak, rss_mib())
                    await asyncio.sleep(0.05)
                await dispatcher.drain()
            print(json.dumps({"base": base, "held": held, "peak": peak, "n": len(destinations),
                              "tasks": len(asyncio.all_tasks())}))

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


def memory(count: int) -> list[Result]:
    """RSS per ``count`` subscribed destinations, and its peak during a fan-out to them."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(Path(tmp) / "mem.db"), str(count)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    per_10k = (data["held"] - data["base"]) * 10_000 / count
    growth = data["peak"] - data["held"]
    return [
        Result(
            "6. memory per 10,000 destinations",
            f"{per_10k:.1f} MiB",
            "<= 15 MiB",
            per_10k <= 15,
            f"{count:,} destinations loaded as objects; "
            f"RSS {data['base']:.0f} -> {data['held']:.0f} MiB",
        ),
        Result(
            "6. RSS growth during the fan-out",
            f"{growth:.1f} MiB",
            "bounded",
            growth <= 15,
            f"peak {data['peak']:.0f} MiB; {data['tasks']} tasks alive (no task per destination)",
        ),
    ]


RESTART_CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from bench.core import NullPublisher
    from newsbot import Dispatcher, Platform
    from storage import SqliteStore

    async def main(path):
        async with SqliteStore(path) as store:
            publisher = NullPublisher()
            dispatcher = Dispatcher(store, {Platform.TELEGRAM: publisher})
            async with dispatcher:
                while publisher.first_post_at is None:
                    await asyncio.sleep(0.001)
            print(publisher.first_post_at, flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def restart(path: Path, destinations: int) -> Result:
    """From process start to the first send, with a fan-out pending to every destination."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute("DELETE FROM deliveries")
    db.execute(
        "INSERT INTO deliveries (article_id, destination_id, platform, op, state, due_at, "
        "created_at, updated_at) SELECT 1, id, 'telegram', 'post', 'pending', '2026-01-01', "
        "'2026-01-01', '2026-01-01' FROM destinations"
    )
    db.execute("COMMIT")
    comments = db.execute("SELECT COUNT(*) FROM comments").fetchone()[0]
    db.close()
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", RESTART_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    first = float(out.strip().splitlines()[-1]) - start
    return Result(
        "7. restart to first send",
        f"{first:.2f} s",
        "<= 3 s",
        first <= 3,
        f"{destinations:,} destinations pending, {comments:,} comments; "
        "includes interpreter start",
    )
