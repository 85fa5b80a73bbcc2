"""Big databases for the read benchmarks, built in bulk on SQLite and PostgreSQL.

Both hold the same articles, destinations and comments (a fifth of them replies), written
straight into the tables (``storage.rows.INGEST_COLUMNS`` for the comments): going through the
service would take longer than the benchmarks themselves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from storage import open_store
from storage.rows import INGEST_COLUMNS
from storage.sqlite import migrations

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _sqlite_at(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def comment_rows(
    articles: int, per_article: int, at: Callable[[datetime], Any]
) -> Iterator[tuple[Any, ...]]:
    """``per_article`` comments on each article, as ``INGEST_COLUMNS`` rows (ids from 1);
    every fifth answers the article's first comment. ``at`` puts a time in the backend's
    form."""
    cid = 0
    for a in range(1, articles + 1):
        first = cid + 1
        for k in range(per_article):
            cid += 1
            parent = first if k % 5 == 4 else None
            yield (
                *(cid, a, parent, parent),
                *(f"user{k}", "telegram", str(k), f"comment {cid}"),
                *("telegram", "-100", str(cid), "visible"),
                at(BASE + timedelta(minutes=a, seconds=k)),
            )


def build_big_database(path: Path, articles: int, per_article: int, destinations: int) -> None:
    """A database with ``articles`` x ``per_article`` comments (a fifth are replies)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.executescript(
        "\n".join(script for _, script in migrations())
        + f"\nPRAGMA user_version = {migrations()[-1][0]};"
    )
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO articles (id, title, body, author_name, author_platform, author_user_id, "
        "status, created_at, published_at, updated_at) VALUES (?, ?, 'body', 'a', 'cli', 'op', "
        "'published', ?, ?, ?)",
        (
            (a, f"Article {a}", s, s, s)
            for a in range(1, articles + 1)
            for s in [_sqlite_at(BASE + timedelta(minutes=a))]
        ),
    )
    db.executemany(
        "INSERT INTO destinations (platform, chat_id, kind, created_at, updated_at) "
        "VALUES ('telegram', ?, 'channel', '2026-01-01', '2026-01-01')",
        ((f"-100{n}",) for n in range(destinations)),
    )
    db.executemany(
        f"INSERT INTO comments ({', '.join(INGEST_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(INGEST_COLUMNS))})",
        comment_rows(articles, per_article, _sqlite_at),
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


async def build_big_postgres(url: str, articles: int, per_article: int, destinations: int) -> None:
    """``build_big_database`` in a PostgreSQL database, through COPY."""
    import asyncpg

    async with open_store(url):  # the schema
        pass
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "articles",
            columns=[
                *("id", "title", "body", "author_name", "author_platform", "author_user_id"),
                *("status", "created_at", "published_at", "updated_at"),
            ],
            records=[
                (a, f"Article {a}", "body", "a", "cli", "op", "published", s, s, s)
                for a in range(1, articles + 1)
                for s in [BASE + timedelta(minutes=a)]
            ],
        )
        await conn.copy_records_to_table(
            "destinations",
            columns=["platform", "chat_id", "kind", "created_at", "updated_at"],
            records=[("telegram", f"-100{n}", "channel", BASE, BASE) for n in range(destinations)],
        )
        await conn.copy_records_to_table(
            "comments",
            columns=list(INGEST_COLUMNS),
            records=comment_rows(articles, per_article, lambda at: at),
        )
        for table in ("articles", "comments"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        await conn.execute("VACUUM ANALYZE")  # as autovacuum would have by then
    finally:
        await conn.close()
