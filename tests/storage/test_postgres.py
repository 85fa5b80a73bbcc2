"""What only PostgreSQL has to prove: several stores (workers) on one database at once,
wake-ups across processes, migrations raced by workers starting together, and faults: lost
connections, a server gone for 30 s, a network that stops answering."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsbot import (
    Actor,
    ArticleDraft,
    Author,
    DestinationKind,
    Dispatcher,
    MessageRef,
    NewDestination,
    NewsService,
    Platform,
    Posted,
    SchemaTooNew,
    StorageError,
)
from newsbot.models import IncomingComment
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.wait import wait_for
from tests.pg import Proxy, through

asyncpg = pytest.importorskip("asyncpg")
from storage.postgres import PostgresStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TG = Platform.TELEGRAM
AUTHOR = Author("Ada", Platform.CLI, "operator")


async def stores(url: str, count: int, **kw: float) -> list[PostgresStore]:
    opened = [PostgresStore(url, **kw) for _ in range(count)]  # type: ignore[arg-type]
    await asyncio.gather(*(s.open() for s in opened))
    return opened


async def close_all(opened: list[PostgresStore]) -> None:
    for store in opened:
        await store.close()


async def fan_out(store: PostgresStore, destinations: int) -> int:
    ids = []
    for i in range(destinations):
        d, _ = await store.add_destination(
            NewDestination(TG, f"-{i}", DestinationKind.CHANNEL), T0
        )
        ids.append(d.id)
    article, _ = await store.add_article(ArticleDraft("T", "B"), AUTHOR, T0, ids)
    return article.id


async def test_concurrent_claims_by_several_stores_never_overlap(pg_url: str) -> None:
    workers = await stores(pg_url, 4)
    try:
        await fan_out(workers[0], 300)
        claimed: dict[str, list[int]] = {}

        async def work(store: PostgresStore, name: str) -> None:
            mine = claimed.setdefault(name, [])
            while jobs := await store.claim_deliveries(TG, T0, 7, worker=name):
                mine += [j.delivery.id for j in jobs]
                for job in jobs:
                    assert job.delivery.claimed_by == name
                    await store.complete_delivery(job.delivery, Posted(f"m{job.delivery.id}"), T0)

        await asyncio.gather(*(work(s, f"w{i}") for i, s in enumerate(workers)))
        every = [d for ids in claimed.values() for d in ids]
        assert len(every) == 300 and len(set(every)) == 300
        assert sum(1 for ids in claimed.values() if ids) >= 2  # they really ran side by side
    finally:
        await close_all(workers)


async def test_a_role_claimed_by_several_stores_at_once_has_one_winner(pg_url: str) -> None:
    workers = await stores(pg_url, 5)
    try:
        for round_ in range(20):
            role = f"send:r{round_}"
            results = await asyncio.gather(
                *(s.acquire_role(role, f"w{i}", T0, 30) for i, s in enumerate(workers))
            )
            winners = [r for r in results if r is not None]
            assert len(winners) == 1
            (lease,) = [r for r in await workers[0].list_roles() if r.role == role]
            assert lease.holder == winners[0].holder and lease.epoch == 1
    finally:
        await close_all(workers)


async def test_notify_reaches_a_watcher_from_another_connection_at_once(pg_url: str) -> None:
    watcher, writer = await stores(pg_url, 2)
    heard: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
    watcher.watch(lambda topic: heard.put_nowait((time.perf_counter(), topic)))
    try:
        await asyncio.wait_for(watcher.listening.wait(), 5)
        d, _ = await writer.add_destination(NewDestination(TG, "-1", DestinationKind.CHANNEL), T0)
        await asyncio.sleep(0.05)
        while not heard.empty():
            heard.get_nowait()
        delays = []
        for i in range(20):
            started = time.perf_counter()
            article, _ = await writer.add_article(ArticleDraft(f"T{i}", "B"), AUTHOR, T0, [d.id])
            topics = set()
            while "outbox" not in topics or f"article:{article.id}" not in topics:
                when, topic = await asyncio.wait_for(heard.get(), 2)
                topics.add(topic)
            delays.append(when - started)
        print(
            f"NOTIFY to watcher: p50 {statistics.median(delays) * 1000:.1f} ms, "
            f"max {max(delays) * 1000:.1f} ms (from the start of the publishing call)"
        )
        assert max(delays) < 1.0
    finally:
        await close_all([watcher, writer])


async def test_an_article_published_by_the_cli_starts_sending_at_once(pg_url: str) -> None:
    """A dispatcher polling only every 10 s sends within a fraction of a second of the
    command line's commit, because the store's watch wakes it."""
    async with PostgresStore(pg_url) as store:
        service = NewsService(store)
        await service.subscribe(
            Actor.operator(), NewDestination(TG, "-1", DestinationKind.CHANNEL)
        )
        publisher = RecordingPublisher(TG)
        dispatcher = Dispatcher(store, {TG: publisher}, poll_interval=10)
        sent_at: list[float] = []
        original = publisher.post

        async def post(job):  # type: ignore[no-untyped-def]
            sent_at.append(time.time())
            return await original(job)

        publisher.post = post  # type: ignore[method-assign]
        store.watch(lambda topic: dispatcher.wake())
        async with dispatcher:
            await asyncio.wait_for(store.listening.wait(), 5)
            await dispatcher.drain()
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, str(ROOT / "bot.py"), "publish", "--title", "CLI", "--body", "x"],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT), "NEWSBOT_DATABASE": pg_url},
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            await wait_for(lambda: bool(sent_at), timeout=5, what="the CLI's article sent")
        (article,) = await store.latest_articles(1, None)
        assert article.published_at is not None
        # published_at is taken before the command's transaction: an upper bound of the wait.
        delay = sent_at[0] - article.published_at.timestamp()
        print(f"CLI publish to first send: {delay * 1000:.0f} ms (poll interval 10 s)")
        assert delay < 1.0


async def test_migrations_raced_by_workers_starting_together(pg_schema_url: str) -> None:
    workers = await stores(pg_schema_url, 4)
    try:
        conn = await asyncpg.connect(pg_schema_url)
        try:
            versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")]
            # Every migration once, in order, however many workers raced to apply them (the
            # numbers of the files: engineers working side by side leave gaps).
            assert versions == [version for version, _ in workers[0].migrations()]
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (999)")
        finally:
            await conn.close()
    finally:
        await close_all(workers)
    with pytest.raises(SchemaTooNew, match="schema version 999, newer than this newsbot"):
        await PostgresStore(pg_schema_url).open()


async def test_an_unreachable_server_fails_fast_and_clearly() -> None:
    started = time.perf_counter()
    with pytest.raises(StorageError, match=r"cannot open database postgresql://x@127\.0\.0\.1:9/"):
        await PostgresStore("postgresql://x:secret@127.0.0.1:9/db", connect_timeout=2).open()
    assert time.perf_counter() - started < 3


def comment(n: int, reply_to: MessageRef) -> IncomingComment:
    return IncomingComment(
        MessageRef(TG, "-1", f"c{n}"), Author("Rita", TG, "7"), f"text {n}", T0, reply_to
    )


async def posted(store: PostgresStore) -> MessageRef:
    await fan_out(store, 1)
    (job,) = await store.claim_deliveries(TG, T0, 10)
    post = MessageRef(TG, "-0", "post")
    await store.complete_delivery(job.delivery, Posted("post", links=(post,)), T0)
    return post


async def ingest_while(
    store: PostgresStore, post: MessageRef, running: asyncio.Event, acknowledged: list[int]
) -> list[StorageError]:
    """Offer comments in bursts of 20 until ``running`` clears; note which were stored."""
    failures: list[StorageError] = []
    n = 0
    while running.is_set():
        batch = list(range(n, n + 20))
        n += 20
        results = await asyncio.gather(
            *(store.ingest_comment(comment(i, post)) for i in batch), return_exceptions=True
        )
        for i, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                assert isinstance(result, StorageError), repr(result)
                failures.append(result)
            else:
                assert result is not None
                acknowledged.append(i)
        await asyncio.sleep(0.01)
    return failures


async def test_killed_connections_surface_as_storage_errors_and_heal(pg_url: str) -> None:
    async with PostgresStore(pg_url) as store:
        post = await posted(store)
        topics: list[str] = []
        store.watch(topics.append)
        await asyncio.wait_for(store.listening.wait(), 5)
        acknowledged: list[int]
        running, acknowledged = asyncio.Event(), []
        running.set()
        load = asyncio.create_task(ingest_while(store, post, running, acknowledged))
        admin = await asyncpg.connect(pg_url)
        try:
            for _ in range(3):
                seen = len(acknowledged)
                await wait_for(lambda s=seen: len(acknowledged) > s + 40, what="ingestion")  # type: ignore[misc]  # python/mypy#15459: a lambda default binding a loop variable
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND application_name = 'newsbot'"
                )
            seen = len(acknowledged)
            await wait_for(lambda: len(acknowledged) > seen + 100, what="ingestion after it")
        finally:
            running.clear()
            failures = await load
            await admin.close()
        assert "*" in topics  # the listener came back and said anything may have changed
        await asyncio.wait_for(store.listening.wait(), 5)
        stored = await store.thread_page(1, 100_000, None, newest_first=False)  # type: ignore[arg-type]
        ids = {int(c.source.message_id[1:]) for c in stored[0]}
        assert set(acknowledged) <= ids, "an acknowledged comment was lost"
        print(f"terminations: {len(failures)} calls answered StorageError, all others stored")


async def calls_answer_quickly(store: PostgresStore, seconds: float, limit: float) -> int:
    """Call the store for ``seconds`` while it is cut off: each call must fail with a
    "try again" StorageError within ``limit`` seconds. Returns how many calls were made."""
    deadline = time.monotonic() + seconds
    calls = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        with pytest.raises(StorageError, match="try again"):
            await store.get_article(1)  # type: ignore[arg-type]
        with pytest.raises(StorageError, match="try again"):
            await store.ingest_comment(comment(10_000 + calls, MessageRef(TG, "-0", "post")))
        assert time.monotonic() - started < 2 * limit
        calls += 2
        await asyncio.sleep(0.5)  # paces the calls while the server is away, not a wait
    return calls


@pytest.mark.slow
async def test_a_server_gone_for_30_s_then_a_hung_network_and_back(pg_url: str) -> None:
    proxy = Proxy(pg_url)
    await proxy.start()
    url = through(pg_url, proxy.port)
    try:
        async with PostgresStore(url, connect_timeout=2, command_timeout=3) as store:
            post = await posted(store)
            before = await store.ingest_comment(comment(1, post))
            assert before is not None
            topics: list[str] = []
            store.watch(topics.append)
            await asyncio.wait_for(store.listening.wait(), 5)

            proxy.refuse()  # the server is down (or restarting) for 30 s
            refused = await calls_answer_quickly(store, 30, limit=3)
            proxy.restore()
            await wait_for(lambda: _works(store), timeout=10, what="recovery after the outage")
            await wait_for(lambda: "*" in topics, timeout=10, what="the listener back")

            proxy.hang()  # the network stops answering, connections stay open
            hung = await calls_answer_quickly(store, 8, limit=3 + 2)
            proxy.restore()
            await wait_for(lambda: _works(store), timeout=15, what="recovery after the hang")

            after = await store.ingest_comment(comment(2, post))
            assert after is not None and after[1]
            assert await store.get_comment_by_source(before[0].source) == before[0]
            print(f"outage: {refused} calls refused in 30 s, {hung} timed out in 8 s; recovered")
    finally:
        await proxy.stop()


async def _works(store: PostgresStore) -> bool:
    try:
        await store.get_article(1)  # type: ignore[arg-type]
        await store.set_state("probe", "1")
    except StorageError:
        return False
    return True


async def test_a_failed_unit_of_work_leaves_no_transaction_open(pg_url: str) -> None:
    async with PostgresStore(pg_url, pool_size=1) as store:
        with pytest.raises(StorageError, match="comment 99 vanished"):
            await store.edit_comment(99, "x", T0)  # type: ignore[arg-type]
        with pytest.raises(StorageError, match=r"invalid byte sequence|null|0x00"):
            await store.set_state("k", "nul \x00 inside")
        # The pool's one connection is back, outside any transaction, and works.
        await store.set_state("k", "v")
        assert await store.get_state("k") == "v"
        conn = await asyncpg.connect(pg_url)
        try:
            states = await conn.fetch(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'newsbot'"
            )
        finally:
            await conn.close()
        assert [r[0] for r in states] == ["idle"]
