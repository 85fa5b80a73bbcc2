"""A removed feed's id is never given again (issue 16): its request keys (``feed:ID:ITEM``) and
its articles' author (``feed:ID``) outlive it, and a new feed under the same id took its
articles over. On both backends, through the real service, after migrating a database made
before the fix, and after copy-database."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import asyncpg

from newsbot import NewsService
from newsbot.feeds import FeedService
from newsbot.models import NewFeed
from newsbot.ports import Store
from storage import SqliteStore
from storage import postgres as postgres_storage
from storage import sqlite as sqlite_storage
from storage.copy import copy_database
from storage.postgres import PostgresStore
from tests.conftest import FakeClock
from tests.core.test_feeds_core import OPERATOR, ScriptedSource, entry
from tests.pg import BOTH

STORE_BACKENDS = BOTH
OLD = "https://old.example/feed"
NEW = "https://new.example/feed"


async def test_a_new_feed_does_not_take_over_a_removed_feeds_articles(
    store: Store, clock: FakeClock
) -> None:
    source = ScriptedSource()
    feeds = FeedService(NewsService(store, clock=clock), source, edit_pace=0.0)
    shared = entry(1)  # the same guid in both feeds (a site that moved, a syndicated post)
    source.serve(OLD, [shared])
    old, result = await feeds.add(OPERATOR, NewFeed(OLD, backfill=1))
    assert result is not None and result.published == 1
    (first,) = await store.latest_articles(10, None)
    await feeds.remove(OPERATOR, OLD)  # the feed with the largest id goes

    source.serve(NEW, [shared])
    new, result = await feeds.add(OPERATOR, NewFeed(NEW, backfill=1))
    assert new.id != old.id
    assert result is not None and result.published == 1
    articles = await store.latest_articles(10, None)
    assert len(articles) == 2  # its own article, not the old feed's "repeated"

    # The new feed's item changes: its article is edited, never the removed feed's.
    clock.advance(600)
    source.serve(NEW, [dataclasses.replace(shared, title="Post 1, corrected")])
    assert (await feeds.poll(await feeds.find(NEW))).edited == 1
    assert await store.get_article(first.id) == first
    (mine,) = [a for a in await store.latest_articles(10, None) if a.id != first.id]
    assert mine.title == "Post 1, corrected"


ARTICLE = (
    "INSERT INTO articles (id, title, body, author_name, author_platform, author_user_id, "
    "status, created_at, updated_at) VALUES ({}, 'Old', 'Body', 'Old feed', 'cli', 'feed:{}', "
    "'published', '2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00')"
)


async def test_sqlite_made_before_the_fix_never_gives_a_used_id_again(tmp_path: Path) -> None:
    # A version-3 database: feed 1 followed (with an item), feeds 5 and 7 removed, known only
    # by a request key and by an article's author.
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for version, script in sqlite_storage.migrations():
            if version <= 3:
                db.executescript(script)
        db.execute("PRAGMA user_version = 3")
        db.execute(ARTICLE.format(1, 5))
        db.execute(ARTICLE.format(2, 7))
        db.execute(
            "INSERT INTO requests (key, kind, article_id, created_at) VALUES "
            "('feed:5:abc', 'publish', 1, '2026-01-01T00:00:00.000000+00:00')"
        )
        db.execute(
            "INSERT INTO feeds (id, url, interval_s, created_at, next_poll_at) VALUES "
            "(1, 'https://kept.example/feed', 600, '2026-01-01', '2026-01-01')"
        )
        db.execute(
            "INSERT INTO feed_items (feed_id, key, article_id, fingerprint, seen_at) VALUES "
            "(1, 'k', 1, 'f', '2026-01-01T00:00:00.000000+00:00')"
        )
    async with SqliteStore(path) as store:
        assert store.schema_version >= 4
        (kept,) = await store.list_feeds()
        assert (kept.id, kept.items_seen) == (1, 1)  # the rebuild kept the items
        assert (await store.feed_items(kept.id, ["k"]))["k"].article_id == 1
        new, _ = await store.add_feed(NewFeed(NEW), FakeClock().now())
        assert new.id == 8
        assert await store.remove_feed(kept.id)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("SELECT COUNT(*) FROM feed_items").fetchone()[0] == 0


async def test_postgres_copied_before_the_fix_never_gives_a_used_id_again(
    pg_schema_url: str,
) -> None:
    # A version-2 database as copy-database left it: the sequence at the largest id copied
    # (1), below feeds 5 and 7, which were removed before the copy.
    conn = await asyncpg.connect(pg_schema_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, script in postgres_storage.migrations():
            if version <= 2:
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
        await conn.execute(ARTICLE.format(1, 5))
        await conn.execute(ARTICLE.format(2, 7))
        await conn.execute(
            "INSERT INTO requests (key, kind, article_id, created_at) "
            "VALUES ('feed:5:abc', 'publish', 1, now())"
        )
        await conn.execute(
            "INSERT INTO feeds (id, url, interval_s, created_at, next_poll_at) "
            "VALUES (1, 'https://kept.example/feed', 600, now(), now())"
        )
        await conn.execute("SELECT setval(pg_get_serial_sequence('feeds', 'id'), 1)")
    finally:
        await conn.close()
    async with PostgresStore(pg_schema_url) as store:
        new, _ = await store.add_feed(NewFeed(NEW), FakeClock().now())
        assert new.id == 8


async def test_copy_database_carries_the_ids_already_given(tmp_path: Path, pg_url: str) -> None:
    db = tmp_path / "source.db"
    async with SqliteStore(db) as source:
        kept, _ = await source.add_feed(NewFeed(OLD), FakeClock().now())
        gone, _ = await source.add_feed(NewFeed(NEW), FakeClock().now())
        assert await source.remove_feed(gone.id)
    await copy_database(db, pg_url)
    async with PostgresStore(pg_url) as target:
        third, _ = await target.add_feed(NewFeed("https://third.example/feed"), FakeClock().now())
        assert third.id == gone.id + 1
        assert [f.id for f in await target.list_feeds()] == [kept.id, third.id]
