"""The database, as an operator reads it: plain queries on an SQLite file or a PostgreSQL URL."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

# -- the database, as an operator reads it ------------------------------------------------


Database = Path | str
"""An SQLite file, or a PostgreSQL URL (the suites run on both)."""


class _PgCursor:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


class _PgConnection:
    """Just enough of sqlite3's connection for the queries here, on PostgreSQL: ``?``
    placeholders become ``$n``, and ISO times become timestamps."""

    def __init__(self, url: str) -> None:
        self.url = url

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> _PgCursor:
        import asyncpg

        from tests.pg import run_sync

        parts = sql.split("?")
        query = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
        values = [
            datetime.fromisoformat(v) if isinstance(v, str) and _ISO.match(v) else v
            for v in params
        ]

        async def fetch() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.url, timeout=10)
            try:
                return [tuple(r) for r in await conn.fetch(query, *values)]
            finally:
                await conn.close()

        return _PgCursor(run_sync(fetch()))

    def close(self) -> None:
        pass


def is_postgres(db: Database) -> bool:
    return str(db).startswith(("postgresql://", "postgres://"))


@contextlib.contextmanager
def connect(db: Database) -> Iterator[Any]:
    conn: Any = _PgConnection(str(db)) if is_postgres(db) else sqlite3.connect(db, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def sending(db: Database, platform: str | None = None) -> int:
    """Article posts claimed and not yet recorded: sends that may be in flight."""
    sql = (
        "SELECT COUNT(*) FROM deliveries WHERE state = 'sending' AND comment_id IS NULL "
        "AND message_id IS NULL"
    )
    params: tuple[str, ...] = ()
    if platform is not None:
        sql += " AND platform = ?"
        params = (platform,)
    with connect(db) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def sending_chats(db: Database, platform: str) -> set[str]:
    """Chats of the article posts claimed and not yet recorded on one platform."""
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT t.chat_id FROM deliveries d JOIN destinations t ON t.id = d.destination_id "
            "WHERE d.state = 'sending' AND d.comment_id IS NULL AND d.message_id IS NULL "
            "AND d.platform = ?",
            (platform,),
        ).fetchall()
    return {r[0] for r in rows}


def recorded_posts(db: Database, article_id: int = 1) -> dict[tuple[str, str], str | None]:
    """(platform, chat id) -> the message id recorded for the article's post there."""
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT t.platform, t.chat_id, d.message_id FROM deliveries d "
            "JOIN destinations t ON t.id = d.destination_id "
            "WHERE d.comment_id IS NULL AND d.article_id = ?",
            (article_id,),
        ).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}


def recorded_count(db: Database, article_id: int, platform: str | None = None) -> int:
    """How many of the article's posts are recorded (on one platform, or on all)."""
    sql = (
        "SELECT COUNT(*) FROM deliveries WHERE comment_id IS NULL AND article_id = ? "
        "AND message_id IS NOT NULL"
    )
    params: tuple[Any, ...] = (article_id,)
    if platform is not None:
        sql += " AND platform = ?"
        params += (platform,)
    with connect(db) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def comments(db: Database) -> list[tuple[str, str, str, str]]:
    """Every stored comment as (platform, chat id, message id, text)."""
    with connect(db) as conn:
        return [
            (r[0], r[1], r[2], r[3])
            for r in conn.execute(
                "SELECT source_platform, source_chat_id, source_message_id, text FROM comments"
            ).fetchall()
        ]
