"""Moving up: copy an SQLite database into an empty PostgreSQL database.

The SQLite file is first brought to the current schema (as the bot would on start), then
every table is streamed with ``COPY`` into the PostgreSQL database, ids included, in one
transaction that also moves the id sequences past the copied ids and compares every table's
row count with the source's before it commits. A target that holds any newsbot row is
refused untouched, and so is a source a worker still runs on (what it wrote after the copy
would be left behind).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from newsbot.errors import StorageError
from newsbot.workers import LIVE_HORIZON, live_workers
from storage.postgres import PostgresStore
from storage.postgres.connection import describe
from storage.sqlite import SqliteStore

log = logging.getLogger("newsbot.storage")

# In an order that satisfies the foreign keys.
TABLES = (
    "articles",
    "destinations",
    "comments",
    "deliveries",
    "message_links",
    "bans",
    "state",
    "requests",
    "rate_slots",
    "workers",
    "roles",
    "feeds",
    "feed_items",
    "people",
    "person_accounts",
    "tokens",
    "review",
    "reports",
    "audit",
    "story_policy",
    "story_slow_mode",
    "destination_settings",
    "reactions",
    "reaction_counts",
    "reaction_tally",
    "article_views",
    "staff_notices",
)
_WITH_IDS = (
    "articles",
    "destinations",
    "comments",
    "deliveries",
    "feeds",
    "people",
    "audit",
    "staff_notices",
)
_CHUNK = 5000


class TargetNotEmpty(StorageError):
    """The PostgreSQL database already holds newsbot data; nothing was copied."""


class SourceInUse(StorageError):
    """A worker sent a heartbeat to the SQLite database lately; nothing was copied."""


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _converter(data_type: str) -> Callable[[Any], Any]:
    if data_type == "timestamp with time zone":
        return _timestamp
    if data_type == "boolean":
        return lambda v: None if v is None else bool(v)
    if data_type in ("integer", "bigint"):
        return lambda v: None if v is None else int(v)
    return lambda v: v


def _source(sqlite_path: str | Path) -> tuple[Path, str]:
    """The SQLite file (which must exist: opening it would create it) and its read-only URI."""
    path = Path(sqlite_path)
    if not path.is_file():
        raise StorageError(f"{path} does not exist: nothing to copy")
    return path, f"{path.resolve().as_uri()}?mode=ro"


def _given(source: sqlite3.Connection, table: str) -> int:
    """The largest id an AUTOINCREMENT table of the source ever gave (0 when none)."""
    if not source.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone():
        return 0
    row = source.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return int(row[0]) if row else 0


CopyProgress = Callable[[str, int, int], None]
"""Called as rows stream: the table, its rows sent so far and its rows in all."""


async def copy_database(
    sqlite_path: str | Path, postgres_url: str, progress: CopyProgress | None = None
) -> dict[str, int]:
    """Copy every table of ``sqlite_path`` into the empty database at ``postgres_url``.

    Returns the number of rows copied per table (each checked against the source).
    ``progress`` hears of every chunk of rows sent (and of each table's start, at 0).

    Raises:
        SourceInUse: a worker runs on the SQLite database (its heartbeat is recent).
        TargetNotEmpty: the PostgreSQL database already holds newsbot rows.
        StorageError: either database failed; nothing is committed then.
    """
    path, uri = _source(sqlite_path)
    # The source at the current schema, as the bot would have it, and nobody running on it.
    async with SqliteStore(path) as store:
        running = await live_workers(store, datetime.now(UTC))
    if running:
        names = ", ".join(f"{w.id} (pid {w.pid} on {w.host})" for w in running)
        raise SourceInUse(
            f"newsbot is running on {path}: {names} sent a heartbeat in the last "
            f"{LIVE_HORIZON:g} s. Stop every worker first (what they write after the copy "
            "would be lost), then copy."
        )
    async with PostgresStore(postgres_url):  # the target's schema
        pass
    source = sqlite3.connect(uri, uri=True)
    try:
        conn = await asyncpg.connect(postgres_url, timeout=10)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        source.close()
        raise StorageError(f"cannot open database {describe(postgres_url)}: {exc}") from exc
    try:
        async with conn.transaction():
            counts = await _copy(source, conn, describe(postgres_url), progress)
        await conn.execute(f"ANALYZE {', '.join(TABLES)}")  # plans for the new row counts
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise StorageError(f"the copy into {describe(postgres_url)} failed: {exc}") from exc
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
    finally:
        source.close()
        await conn.close()
    return counts


async def _copy(
    source: sqlite3.Connection,
    conn: asyncpg.Connection[asyncpg.Record],
    target: str,
    progress: CopyProgress | None = None,
) -> dict[str, int]:
    # Nobody writes into the target until this transaction ends (readers may read).
    await conn.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
    used = [t for t in TABLES if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t})")]
    if used:
        raise TargetNotEmpty(
            f"{target} is not empty ({', '.join(used)} hold rows); copy-database only fills "
            "an empty database. Create a new one (createdb) or empty this one first."
        )
    counts: dict[str, int] = {}
    for table in TABLES:
        types = {
            r[0]: r[1]
            for r in await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = $1 AND table_schema = current_schema()",
                table,
            )
        }
        columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
        missing = [c for c in columns if c not in types]
        if missing:
            raise StorageError(f"{target} has no column {table}.{missing[0]}")
        convert = [_converter(types[c]) for c in columns]
        order = " ORDER BY id" if table in _WITH_IDS else ""
        expected = source.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}{order}")
        if progress is not None:
            progress(table, 0, expected)

        async def records(
            cursor: sqlite3.Cursor = cursor,
            convert: list[Callable[[Any], Any]] = convert,
            table: str = table,
            expected: int = expected,
        ) -> AsyncIterator[tuple[Any, ...]]:
            sent = 0
            while rows := cursor.fetchmany(_CHUNK):
                for row in rows:
                    yield tuple(f(v) for f, v in zip(convert, row, strict=True))
                sent += len(rows)
                if progress is not None:
                    progress(table, sent, expected)

        await conn.copy_records_to_table(table, records=records(), columns=columns)
        copied = await conn.fetchval(f"SELECT count(*) FROM {table}")
        if copied != expected:
            raise StorageError(
                f"{table}: {copied} rows arrived in {target} but the source has {expected}; "
                "nothing was committed"
            )
        counts[table] = copied
        if table in _WITH_IDS:
            # New rows must not take the ids of copied ones, nor (AUTOINCREMENT) of removed
            # ones: a removed feed's id still names its request keys.
            given = _given(source, table)
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST(max(id), $1, 1), max(id) IS NOT NULL OR $1 > 0) FROM {table}",
                given,
            )
        log.info("table copied", extra={"table": table, "rows": copied})
    return counts
