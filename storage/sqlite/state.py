"""The SQLite store's coordination and feeds: what is more than one plain statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import storage.rows as rows
from newsbot.models import Feed, FeedId, FeedItem, NewFeed, RoleLease
from storage.sqlite.connection import Conn, SqliteConnections, _chunks, _marks, _opt_ts, _ts

_SLOT_PRUNE = 100  # expired rate slots deleted per take_slot at most


class SqliteCoordination(SqliteConnections):
    """Small state, rate slots, roles and feeds (``Store``'s coordination and feeds)."""

    async def setdefault_state(self, key: str, value: str) -> str:
        def body(conn: Conn) -> str:
            conn.execute("INSERT OR IGNORE INTO state (key, value) VALUES (?, ?)", (key, value))
            return str(conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()[0])

        return await self._tx(body)

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

    async def acquire_role(
        self, role: str, worker: str, now: datetime, lease: float
    ) -> RoleLease | None:
        stamp, until = _ts(now), _ts(now + timedelta(seconds=lease))

        def body(conn: Conn) -> RoleLease | None:
            row = conn.execute(
                "SELECT holder, lease_until, epoch FROM roles WHERE role = ?", (role,)
            ).fetchone()
            if row is None:
                epoch = 1
                conn.execute(
                    "INSERT INTO roles (role, holder, lease_until, epoch) VALUES (?,?,?,?)",
                    (role, worker, until, epoch),
                )
            elif row[0] == worker or row[1] < stamp:
                epoch = row[2] if row[0] == worker else row[2] + 1
                conn.execute(
                    "UPDATE roles SET holder = ?, lease_until = ?, epoch = ? WHERE role = ?",
                    (worker, until, epoch, role),
                )
            else:
                return None
            return RoleLease(role, worker, datetime.fromisoformat(until), epoch)

        return await self._tx(body)

    async def add_feed(self, new: NewFeed, now: datetime) -> tuple[Feed, bool]:
        stamp = _ts(now)

        def body(conn: Conn) -> tuple[Feed, bool]:
            row = conn.execute(
                f"SELECT {rows.FEED} FROM feeds WHERE url = ?", (new.url,)
            ).fetchone()
            changed = True
            if row is None:
                conn.execute(
                    "INSERT INTO feeds (url, tags, interval_s, backfill, created_at, "
                    "next_poll_at) VALUES (?,?,?,?,?,?)",
                    (new.url, " ".join(new.tags), new.interval, new.backfill, stamp, stamp),
                )
            elif not row[6]:
                conn.execute(
                    "UPDATE feeds SET active = 1, tags = ?, interval_s = ?, backfill = ?, "
                    "errors = 0, last_error = NULL, deactivated_reason = NULL, etag = NULL, "
                    "last_modified = NULL, last_success_at = NULL, next_poll_at = ? "
                    "WHERE id = ?",
                    (" ".join(new.tags), new.interval, new.backfill, stamp, row[0]),
                )
            else:
                changed = False
            row = conn.execute(
                f"SELECT {rows.FEED} FROM feeds WHERE url = ?", (new.url,)
            ).fetchone()
            seen = conn.execute(
                "SELECT COUNT(*) FROM feed_items WHERE feed_id = ?", (row[0],)
            ).fetchone()[0]
            return rows.feed(row, int(seen)), changed

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

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        records = [
            (
                i.feed_id,
                i.key,
                i.article_id,
                i.fingerprint,
                _ts(i.seen_at),
                _opt_ts(i.edited_at),
                i.feed_id,
            )
            for i in items
        ]
        if not records:
            return
        await self._tx(
            lambda conn: conn.executemany(
                "INSERT INTO feed_items (feed_id, key, article_id, fingerprint, seen_at, "
                "edited_at) SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM feeds WHERE id = ?) "
                "ON CONFLICT (feed_id, key) DO UPDATE SET article_id = excluded.article_id, "
                "fingerprint = excluded.fingerprint, edited_at = excluded.edited_at",
                records,
            )
        )
