"""copy-database: an SQLite database with every kind of row, copied into PostgreSQL through
the command line, reads back the same through the Store protocol; a non-empty target is
refused."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newsbot import (
    ArticleDraft,
    ArticleId,
    Author,
    CommentStatus,
    DestinationKind,
    MessageLink,
    MessageRef,
    NewDestination,
    Platform,
    Posted,
    Store,
    WorkerInfo,
)
from newsbot.models import FeedId, FeedItem, IncomingComment, NewComment, NewFeed
from storage import SqliteStore
from storage.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TG = Platform.TELEGRAM
AUTHOR = Author("Ada", Platform.CLI, "operator")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def fill(store: Store) -> None:
    """Articles, comments with replies, destinations (one pending, one gone), deliveries in
    every state, links, bans, state, requests, roles, workers and rate slots."""
    ids = []
    for i in range(4):
        d, _ = await store.add_destination(
            NewDestination(TG, f"-{i}", DestinationKind.CHANNEL, title=f"chat {i}", tags=("x",)),
            T0,
        )
        ids.append(d.id)
    await store.add_destination(NewDestination(TG, "-9", DestinationKind.GROUP), T0, pending=True)
    first, _ = await store.add_article(
        ArticleDraft("First ☃", "Body **b**", "s", "https://a.example/1", None, ("x", "y")),
        AUTHOR,
        T0,
        ids,
        request="telegram:1:1",
    )
    jobs = await store.claim_deliveries(TG, at(1), 3, worker="w1", lease=30)
    await store.complete_delivery(
        jobs[0].delivery, Posted("p0", links=(MessageRef(TG, "-0", "p0"),)), at(2)
    )
    await store.complete_delivery(jobs[1].delivery, Posted("p1", "t1"), at(2))
    await store.retry_delivery(jobs[2].delivery, "502", at(60), at(2))  # failed
    # -3 stays pending; another article's delivery stays sending (claimed by w2).
    second, _ = await store.add_article(ArticleDraft("Second", "B"), AUTHOR, at(3), [ids[3]])
    await store.claim_deliveries(TG, at(4), 10, worker="w2", lease=30)
    await store.deactivate_destination(ids[2], "kicked", at(5))  # its failed delivery dies
    await store.update_article(first.id, ArticleDraft("First, edited", "B2"), at(6), request="e1")
    top = await store.ingest_comment(
        IncomingComment(
            MessageRef(TG, "-0", "c1"),
            Author("Rita", TG, "7"),
            "top",
            at(7),
            MessageRef(TG, "-0", "p0"),
        )
    )
    assert top is not None
    reply, _ = await store.add_comment(
        NewComment(
            first.id, top[0].id, Author("Bob", TG, "8"), "re", MessageRef(TG, "-0", "c2"), at(8)
        ),
        [ids[1]],
    )
    deep, _ = await store.add_comment(
        NewComment(
            first.id, reply.id, Author("Eve", TG, "9"), "re re", MessageRef(TG, "-0", "c3"), at(9)
        )
    )
    await store.edit_comment(reply.id, "re, edited", at(10))
    await store.set_comment_status(deep.id, CommentStatus.HIDDEN, at(11))
    await store.add_link(MessageLink(MessageRef(TG, "-200", "copy"), first.id, None, ids[0]))
    await store.retract_article(second.id, at(12))
    await store.set_ban(TG, "66", True, at(13))
    await store.set_state("telegram.offset", "12345")
    await store.setdefault_state("web.form_secret", "s3cret")
    await store.acquire_role("send:telegram", "w1", at(14), 30)
    await store.heartbeat(WorkerInfo("w1", "host", 11, T0, at(15), ("send:telegram",)))
    assert await store.take_slot("web:1.2.3.4", 5, 60, at(16)) == 0.0
    feed, _ = await store.add_feed(NewFeed("https://site.example/feed", ("local",), 600.0), at(17))
    await store.save_feed_items(
        [
            FeedItem(feed.id, "k1", first.id, "fp1", at(18), at(19)),
            FeedItem(feed.id, "k2", None, "fp2", at(18), None),
        ]
    )
    await store.set_slow_mode(first.id, 45, at(19))


async def snapshot(store: Store) -> dict[str, Any]:
    """Everything the store holds, read through the protocol."""
    articles = [await store.get_article(ArticleId(i)) for i in range(1, 4)]
    found: dict[str, Any] = {
        "articles": articles,
        "latest": await store.latest_articles(10, None),
        "destinations": await store.list_destinations(active_only=False),
        "deliveries": [await store.deliveries_for_article(ArticleId(i)) for i in (1, 2)],
        "mirrors": [await store.deliveries_for_comment(i) for i in range(1, 4)],  # type: ignore[arg-type]
        "thread": await store.thread_page(ArticleId(1), 10, None, newest_first=False),
        "comments": [await store.get_comment(i) for i in range(1, 5)],  # type: ignore[arg-type]
        "links": [
            await store.resolve_message(MessageRef(TG, chat, message))
            for chat, message in (("-0", "p0"), ("-1", "p1"), ("-200", "copy"), ("-0", "c2"))
        ],
        "banned": await store.is_banned(TG, "66"),
        "state": [await store.get_state(k) for k in ("telegram.offset", "web.form_secret")],
        "roles": await store.list_roles(),
        "workers": await store.list_workers(T0),
        "slot": await store.take_slot("web:1.2.3.4", 1, 60, at(17)),  # the copied slot counts
        "feeds": await store.list_feeds(),
        "feed_items": await store.feed_items(FeedId(1), ["k1", "k2", "k3"]),
        "slow": await store.get_slow_mode(ArticleId(1)),
        "requests": await store.update_article(
            ArticleId(1), ArticleDraft("x", "y"), at(18), request="e1"
        ),
    }
    return found


def copy_command(db: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "copy-database", str(db), url, *extra],
        capture_output=True,
        text=True,
        cwd=db.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


async def test_copy_reads_back_the_same_and_refuses_a_second_time(
    tmp_path: Path, pg_url: str
) -> None:
    db = tmp_path / "source.db"
    async with SqliteStore(db) as source:
        await fill(source)
        expected = await snapshot(source)
    done = copy_command(db, pg_url, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    with sqlite3.connect(db) as conn:
        for table, copied in report["copied"].items():
            assert copied == conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0], table
            # Progress on stderr: each table from 0 to all of its rows.
            assert f"copying {table}: 0/{copied} rows" in done.stderr, done.stderr
            assert f"copying {table}: {copied}/{copied} rows" in done.stderr or copied == 0
    assert report["copied"]["comments"] == 3 and report["copied"]["rate_slots"] == 1
    assert set(report["copied"]) >= {"articles", "bans", "state", "requests", "roles"}
    async with PostgresStore(pg_url) as target:
        assert await snapshot(target) == expected
        # The sequences moved past the copied ids.
        third, _ = await target.add_article(ArticleDraft("Third", "B"), AUTHOR, at(20), [])
        assert third.id == 3
        d, created = await target.add_destination(
            NewDestination(TG, "-50", DestinationKind.GROUP), at(21)
        )
        assert created and d.id == 6

    again = copy_command(db, pg_url)
    assert again.returncode == 1
    assert "is not empty" in again.stderr and "articles" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_missing_source_or_a_file_path_target_is_refused(tmp_path: Path) -> None:
    done = copy_command(tmp_path / "nope.db", "postgresql://postgres@127.0.0.1:1/x")
    assert done.returncode == 1 and "does not exist" in done.stderr
    done = copy_command(tmp_path / "nope.db", str(tmp_path / "other.db"))
    assert done.returncode == 1 and "must start with postgresql://" in done.stderr


async def test_a_source_a_worker_runs_on_is_refused(tmp_path: Path, pg_url: str) -> None:
    """The heartbeat says a worker runs on the SQLite file: what it writes after the copy
    would be left behind, so nothing is copied until it stops."""
    db = tmp_path / "live.db"
    async with SqliteStore(db) as source:
        await source.add_article(ArticleDraft("Kept", "B"), AUTHOR, datetime.now(UTC), [])
        now = datetime.now(UTC)
        await source.heartbeat(WorkerInfo("w-live", "news-host", 4242, now, now, ()))
    done = copy_command(db, pg_url)
    assert done.returncode == 1, done.stdout
    assert "newsbot is running on" in done.stderr
    assert "w-live (pid 4242 on news-host)" in done.stderr
    assert "Stop every worker first" in done.stderr and "Traceback" not in done.stderr
    async with PostgresStore(pg_url) as target:
        assert (await target.latest_articles(5, None)) == [], "nothing copied"
    # Once the worker stopped (its heartbeat is old), the copy goes ahead; the source may also
    # be named with --database.
    async with SqliteStore(db) as source:
        old = datetime.now(UTC) - timedelta(minutes=5)
        await source.heartbeat(WorkerInfo("w-live", "news-host", 4242, old, old, ()))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "copy-database", "--database", str(db), pg_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"Copied {db} into" in done.stdout
