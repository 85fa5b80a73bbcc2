"""The SQLite store's coordination and feeds: what is more than one plain statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import storage.rows as rows
from newsbot.models import Feed, FeedId, FeedItem
from storage.sqlite.connection import Conn, SqliteConnections, _chunks, _marks, _ts

_SLOT_PRUNE = 100  # expired rate slots deleted per take_slot at most


class SqliteCoordination(SqliteConnections):
    """Rate slots and the feeds' reads, tuned for SQLite (state, roles and the feeds'
    writes are in ``storage.units``)."""

    async def take_slot(self, key: str, limit: int, window: float, now: datetime) -> float:
        stamp, horizon = _ts(now), _ts(now - timedelta(seconds=window))
        expires = _ts(now + timedelta(seconds=window))

        def body(conn: Conn) -> float:
            conn.execute("DELETE FROM rate_slots WHERE key = ? AND taken_at <= ?", (key, horizon))
            # Expired slots of other keys too (one-off keys, such as a visitor's address, are
            # never asked again), a bounded batch per call: more than each call adds.
            conn.execute(
                "DELETE FROM rate_slots WHERE rowid IN "
                "(SELECT rowid FROM rate_slots WHERE expires_at <= ? LIMIT ?)",
                (stamp, _SLOT_PRUNE),
            )
            taken = conn.execute(
                "SELECT taken_at FROM rate_slots WHERE key = ? ORDER BY taken_at LIMIT ?",
                (key, max(limit, 1)),
            ).fetchall()
            if len(taken) < limit:
                conn.execute(
                    "INSERT INTO rate_slots (key, taken_at, expires_at) VALUES (?, ?, ?)",
                    (key, stamp, expires),
                )
                return 0.0
            oldest = datetime.fromisoformat(taken[0][0])
            return max((oldest - now).total_seconds() + window, 0.001)

        return await self._tx(body)

    async def list_feeds(self) -> list[Feed]:
        def body(conn: Conn) -> list[Feed]:
            counts = dict(
                conn.execute("SELECT feed_id, COUNT(*) FROM feed_items GROUP BY feed_id")
            )
            found = conn.execute(f"SELECT {rows.FEED} FROM feeds ORDER BY id").fetchall()
            return [rows.feed(r, int(counts.get(r[0], 0))) for r in found]

        return await self._read(body)

    async def feed_items(self, feed_id: FeedId, keys: Sequence[str]) -> dict[str, FeedItem]:
        def body(conn: Conn) -> dict[str, FeedItem]:
            found: dict[str, FeedItem] = {}
            for chunk in _chunks(list(keys)):
                for r in conn.execute(
                    f"SELECT {rows.FEED_ITEM} FROM feed_items "
                    f"WHERE feed_id = ? AND key IN ({_marks(len(chunk))})",
                    (feed_id, *chunk),
                ).fetchall():
                    found[r[0]] = rows.feed_item(feed_id, r)
            return found

        return await self._read(body)
