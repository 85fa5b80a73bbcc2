"""Rate slots do not pile up: expired slots of every key are pruned, on both backends.

The web form and the admin login take a slot per client address. Before, a key's slots were
deleted only when that same key was used again, so every passing address (an IPv6 client
can use a new one for each request) stayed in the table for ever.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsbot.ports import Store
from storage import open_store
from storage.sqlite import migrations as sqlite_migrations
from tests.pg import BOTH

STORE_BACKENDS = BOTH
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def count_slots(database: str) -> int:
    if database.startswith("postgresql://"):
        import asyncpg

        conn = await asyncpg.connect(database)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM rate_slots"))
        finally:
            await conn.close()
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT COUNT(*) FROM rate_slots").fetchone()[0])


async def test_expired_slots_of_keys_never_used_again_are_pruned(
    store: Store, database: str
) -> None:
    # 450 visitors, each from an address of its own, post once and never come back.
    for n in range(450):
        assert await store.take_slot(f"web-comment:2001:db8::{n:x}", 5, 60, at(n / 100)) == 0.0
    # A slot of a longer window (the admin login's 15 minutes) is taken at the same time.
    assert await store.take_slot("web-admin-login:192.0.2.1", 1, 900, T0) == 0.0
    assert await count_slots(database) == 451
    # A minute later only one steady visitor is left. Its calls clear the expired slots.
    for n in range(5):
        assert await store.take_slot("web-comment:192.0.2.9", 5, 60, at(70 + n)) == 0.0
    assert await count_slots(database) == 1 + 5
    # The unexpired slot of the longer window was kept and still counts.
    wait = await store.take_slot("web-admin-login:192.0.2.1", 1, 900, at(80))
    assert wait == pytest.approx(900 - 80)


async def test_the_table_stays_bounded_while_new_keys_keep_coming(
    store: Store, database: str
) -> None:
    """A stream of one-off keys: the table holds about one window's worth, not all of them."""
    for n in range(600):
        await store.take_slot(f"web-comment:10.{n // 256}.{n % 256}.1", 5, 60, at(n / 2))
    # 120 keys are inside the last minute (one every half second); before, all 600 stayed.
    assert 120 <= await count_slots(database) <= 121


async def test_an_upgraded_sqlite_file_keeps_its_slots_expiring_an_hour_after_they_were_taken(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as db:
        for version, script in sqlite_migrations():
            if version <= 3:
                db.executescript(script)
        db.execute("PRAGMA user_version = 3")
        db.execute(
            "INSERT INTO rate_slots (key, taken_at) VALUES (?, ?)",
            ("web-comment:192.0.2.1", T0.isoformat(timespec="microseconds")),
        )
    async with open_store(str(path)) as store:
        # Still counted within its window after the upgrade...
        assert await store.take_slot("web-comment:192.0.2.1", 1, 60, at(30)) > 0
        # ...and pruned once an hour has passed, by a call for another key.
        await store.take_slot("other", 1, 60, at(3601))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key FROM rate_slots").fetchall() == [("other",)]


async def test_an_upgraded_postgres_database_keeps_its_slots_expiring_an_hour_later(
    pg_schema_url: str,
) -> None:
    import asyncpg

    from storage.postgres import migrations as pg_migrations

    conn = await asyncpg.connect(pg_schema_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, script in pg_migrations():
            if version <= 2:
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
        await conn.execute(
            "INSERT INTO rate_slots (key, taken_at) VALUES ($1, $2)", "web-comment:192.0.2.1", T0
        )
    finally:
        await conn.close()
    async with open_store(pg_schema_url) as store:
        assert await store.take_slot("web-comment:192.0.2.1", 1, 60, at(30)) > 0
        await store.take_slot("other", 1, 60, at(3601))
    conn = await asyncpg.connect(pg_schema_url)
    try:
        assert [r[0] for r in await conn.fetch("SELECT key FROM rate_slots")] == ["other"]
    finally:
        await conn.close()
