"""The PostgreSQL store's coordination and feeds: what is more than one plain statement.
Rate slots serialise on transaction-level advisory locks; roles are one atomic upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import storage.rows as rows
from newsbot.models import Feed, FeedId, FeedItem
from storage.postgres.connection import Conn, PostgresConnections

_SLOT_CLASS = 0x6E62_01
_SLOT_PRUNE = 100  # expired rate slots deleted per take_slot at most


class PostgresCoordination(PostgresConnections):
    """Rate slots on advisory locks and the feeds' reads in one statement each (state,
    roles and the feeds' writes are in ``storage.units``)."""

    async def take_slot(self, key: str, limit: int, window: float, now: datetime) -> float:
        async def body(conn: Conn) -> float:
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _SLOT_CLASS, key)
            await conn.execute(
                "DELETE FROM rate_slots WHERE key = $1 AND taken_at <= $2",
                key,
                now - timedelta(seconds=window),
            )
            # Expired slots of other keys too (one-off keys, such as a visitor's address, are
            # never asked again), a bounded batch per call: more than each call adds. Rows
            # another call is deleting are skipped, never waited for.
            await conn.execute(
                "DELETE FROM rate_slots WHERE ctid = ANY (ARRAY("
                "SELECT ctid FROM rate_slots WHERE expires_at <= $1 "
                "LIMIT $2 FOR UPDATE SKIP LOCKED))",
                now,
                _SLOT_PRUNE,
            )
            row = await conn.fetchrow(
                "SELECT count(*), min(taken_at) FROM rate_slots WHERE key = $1", key
            )
            assert row is not None
            taken, oldest = row[0], row[1]
            if taken < limit:
                await conn.execute(
                    "INSERT INTO rate_slots (key, taken_at, expires_at) VALUES ($1, $2, $3)",
                    key,
                    now,
                    now + timedelta(seconds=window),
                )
                return 0.0
            if oldest is None:
                return float(window)
            wait: float = (oldest - now).total_seconds() + window
            return max(wait, 0.001)

        return await self._tx(body)

    async def list_feeds(self) -> list[Feed]:
        async def body(conn: Conn) -> list[Feed]:
            found = await conn.fetch(
                f"SELECT {rows.FEED}, (SELECT count(*) FROM feed_items i WHERE i.feed_id = f.id) "
                "FROM feeds f ORDER BY id"
            )
            return [rows.feed(r, int(r[17])) for r in found]

        return await self._read(body)

    async def feed_items(self, feed_id: FeedId, keys: Sequence[str]) -> dict[str, FeedItem]:
        async def body(conn: Conn) -> dict[str, FeedItem]:
            found = await conn.fetch(
                f"SELECT {rows.FEED_ITEM} FROM feed_items "
                "WHERE feed_id = $1 AND key = ANY($2::text[])",
                feed_id,
                list(keys),
            )
            return {r[0]: rows.feed_item(feed_id, r) for r in found}

        return await self._read(body)
