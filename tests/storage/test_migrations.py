"""Schema migrations: from an empty file, re-opening, and refusing a newer schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from newsbot import ArticleDraft, ArticleId, Author, Platform, SchemaTooNew, StorageError
from storage import SqliteStore
from storage.sqlite import migrations
from tests.conftest import FakeClock


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


async def test_empty_file_gets_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with SqliteStore(path) as store:
        assert user_version(path) == store.schema_version == migrations()[-1][0]
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"articles", "comments", "destinations", "deliveries", "message_links"} <= tables
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_reopening_keeps_data_and_runs_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    clock = FakeClock()
    async with SqliteStore(path) as store:
        article, _ = await store.add_article(
            ArticleDraft("t", "b"), Author("a", Platform.CLI, "op"), clock.now(), []
        )
    async with SqliteStore(path) as store:
        assert await store.get_article(article.id) == article
    assert user_version(path) == migrations()[-1][0]


async def test_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 999")
    store = SqliteStore(path)
    with pytest.raises(SchemaTooNew, match=r"schema version 999, newer than this newsbot"):
        await store.open()
    assert user_version(path) == 999


async def test_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=r"not a newsbot database|file is not a database"):
        await SqliteStore(path).open()


async def test_indexes_serve_every_hot_query(tmp_path: Path) -> None:
    """The queries the service runs most use an index, never a full scan of a big table."""
    path = tmp_path / "plan.db"
    async with SqliteStore(path):
        pass
    hot = [
        "SELECT id FROM deliveries WHERE platform = 'telegram' AND due_at IS NOT NULL "
        "AND due_at <= 'x' ORDER BY due_at, id LIMIT 5",
        "SELECT * FROM comments WHERE article_id = 1 AND parent_id IS NULL "
        "AND (created_at, id) > ('x', 1) ORDER BY created_at, id LIMIT 50",
        "SELECT * FROM comments WHERE root_id IN (1, 2) ORDER BY created_at, id",
        "SELECT COUNT(*) FROM comments WHERE article_id = 1 AND status = 'visible'",
        "SELECT * FROM articles WHERE status = 'published' ORDER BY published_at DESC, id DESC "
        "LIMIT 20",
        "SELECT * FROM comments WHERE source_platform = 't' AND source_chat_id = 'c' "
        "AND source_message_id = 'm'",
        "SELECT * FROM deliveries WHERE article_id = 1 AND comment_id IS NULL",
        "SELECT * FROM deliveries WHERE comment_id = 1 AND destination_id = 2",
        "UPDATE deliveries SET state = 'dead' WHERE destination_id = 1 AND state = 'pending'",
        "SELECT * FROM comments WHERE author_platform = 't' AND author_user_id = 'u'",
        "SELECT * FROM message_links WHERE comment_id IS NULL AND destination_id IS NOT NULL "
        "AND article_id IN (1, 2)",
        # Reactions: an article's kept counts, a batch's lookups, a ban's reactions.
        "SELECT * FROM reaction_tally t WHERE t.article_id = 1",
        "WITH k(p, c, m, r) AS (VALUES ('t', 'c', 'm', 'r')) SELECT x.emoji FROM k "
        "JOIN reactions x ON x.platform = k.p AND x.chat_id = k.c AND x.message_id = k.m "
        "AND x.reader = k.r",
        "WITH k(a, p, r) AS (VALUES (1, 't', 'r')) SELECT x.emoji FROM k JOIN reactions x "
        "ON x.article_id = k.a AND x.platform = k.p AND x.reader = k.r",
        "SELECT DISTINCT article_id, emoji FROM reactions WHERE platform = 't' AND reader = 'r'",
    ]
    with sqlite3.connect(path) as db:
        for sql in hot:
            plan = " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "USING" in plan and not plan.startswith("SCAN"), (sql, plan)


async def test_the_reaction_counts_are_built_from_the_rows_on_upgrade(tmp_path: Path) -> None:
    """Version 18 keeps per-target counts: an older database gets them from its rows (a reader
    once per target and emoji, banned readers left out, anonymous counts added)."""
    path = tmp_path / "old.db"
    async with SqliteStore(path) as store:
        await store.set_ban(Platform.TELEGRAM, "bad", True, FakeClock().now())
    with sqlite3.connect(path) as db:
        db.executescript(
            # Back to version 17: what 0018 and every later migration made goes too.
            "DROP TABLE reaction_tally; DROP INDEX reactions_by_reader; "
            "DROP TABLE story_slow_mode; PRAGMA user_version = 17;"
            "INSERT INTO articles (id, title, body, author_name, author_platform, author_user_id, "
            "status, created_at, updated_at) VALUES (1, 't', 'b', 'a', 'cli', 'a', 'published', "
            "'x', 'x');"
            "INSERT INTO reactions VALUES ('telegram', '-1', '5', 'u', '👍', 1, NULL, 'x'),"
            "('telegram', '-2', '6', 'u', '👍', 1, NULL, 'x'),"
            "('telegram', '-1', '5', 'v', '👍', 1, NULL, 'x'),"
            "('telegram', '-1', '5', 'bad', '👍', 1, NULL, 'x');"
            "INSERT INTO reaction_counts VALUES ('telegram', '-3', '7', '👍', 4, 1, NULL, 'x');"
        )
    async with SqliteStore(path) as store:
        counts = await store.reaction_counts(ArticleId(1))
    assert user_version(path) == migrations()[-1][0]
    assert counts.article.counts == {(Platform.TELEGRAM, "👍"): 6}
