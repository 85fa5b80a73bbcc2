"""The PostgreSQL store's coordination and feeds: what is more than one plain statement.
Rate slots serialise on transaction-level advisory locks; roles are one atomic upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import storage.rows as rows
from newsbot.models import Feed, FeedId, FeedItem, NewFeed, RoleLease
from storage.postgres.connection import Conn, PostgresConnections, _utc

_SLOT_CLASS = 0x6E62_01
_SLOT_PRUNE = 100  # expired rate slots deleted per take_slot at most


class PostgresCoordination(PostgresConnections):
    """Small state, rate slots, roles and feeds (``Store``'s coordination and feeds)."""

    async def setdefault_state(self, key: str, value: str) -> str:
        async def body(conn: Conn) -> str:
            # Two statements: the SELECT takes a snapshot after the INSERT waited for any
            # concurrent insert of the same key, so it sees the value that won.
            await conn.execute(
                "INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                key,
                value,
            )
            return str(await conn.fetchval("SELECT value FROM state WHERE key = $1", key))

        return await self._tx(body)

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

    async def acquire_role(
        self, role: str, worker: str, now: datetime, lease: float
    ) -> RoleLease | None:
        until = now + timedelta(seconds=lease)

        async def body(conn: Conn) -> RoleLease | None:
            # One statement: concurrent claimants queue on the row, and each sees the winner.
            epoch = await conn.fetchval(
                "INSERT INTO roles AS r (role, holder, lease_until, epoch) VALUES ($1,$2,$3,1) "
                "ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, "
                "lease_until = excluded.lease_until, "
                "epoch = CASE WHEN r.holder = excluded.holder THEN r.epoch ELSE r.epoch + 1 END "
                "WHERE r.holder = excluded.holder OR r.lease_until < $4 RETURNING epoch",
                role,
                worker,
                until,
                now,
            )
            return None if epoch is None else RoleLease(role, worker, _utc(until), epoch)

        return await self._tx(body)

    async def add_feed(self, new: NewFeed, now: datetime) -> tuple[Feed, bool]:
        async def body(conn: Conn) -> tuple[Feed, bool]:
            tags = " ".join(new.tags)
            row = await conn.fetchrow(
                "INSERT INTO feeds (url, tags, interval_s, backfill, created_at, next_poll_at) "
                "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (url) DO NOTHING "
                f"RETURNING {rows.FEED}",
                new.url,
                tags,
                new.interval,
                new.backfill,
                now,
            )
            changed = row is not None
            if row is None:
                row = await conn.fetchrow(
                    "UPDATE feeds SET active = true, tags = $2, interval_s = $3, "
                    "backfill = $4, errors = 0, last_error = NULL, deactivated_reason = NULL, "
                    "etag = NULL, last_modified = NULL, last_success_at = NULL, "
                    f"next_poll_at = $5 WHERE url = $1 AND NOT active RETURNING {rows.FEED}",
                    new.url,
                    tags,
                    new.interval,
                    new.backfill,
                    now,
                )
                changed = row is not None
            if row is None:
                row = await conn.fetchrow(f"SELECT {rows.FEED} FROM feeds WHERE url = $1", new.url)
            assert row is not None
            seen = await conn.fetchval(
                "SELECT count(*) FROM feed_items WHERE feed_id = $1", row[0]
            )
            return rows.feed(row, int(seen)), changed

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

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        if not items:
            return

        async def body(conn: Conn) -> None:
            await conn.executemany(
                "INSERT INTO feed_items (feed_id, key, article_id, fingerprint, seen_at, "
                "edited_at) SELECT $1, $2, $3, $4, $5, $6 "
                "WHERE EXISTS (SELECT 1 FROM feeds WHERE id = $1) "
                "ON CONFLICT (feed_id, key) DO UPDATE SET article_id = excluded.article_id, "
                "fingerprint = excluded.fingerprint, edited_at = excluded.edited_at",
                [
                    (i.feed_id, i.key, i.article_id, i.fingerprint, i.seen_at, i.edited_at)
                    for i in items
                ],
            )

        await self._tx(body)
