"""The SQLite store's outbox: claiming deliveries, and settling them once sent or failed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import storage.rows as rows
from newsbot.models import (
    Comment,
    Delivery,
    DeliveryOp,
    Job,
    MessageRef,
    Platform,
    Posted,
)
from storage.sqlite.connection import (
    Conn,
    SqliteConnections,
    _chunks,
    _marks,
    _post_links,
    _select_in,
    _ts,
)


class SqliteOutbox(SqliteConnections):
    """Deliveries claimed, completed, retried and released (``Store``'s outbox)."""

    async def claim_deliveries(
        self,
        platform: Platform,
        now: datetime,
        limit: int,
        *,
        worker: str = "",
        lease: float = 30.0,
    ) -> list[Job]:
        stamp = _ts(now)
        expiry = _ts(now + timedelta(seconds=lease))

        def body(conn: Conn) -> list[Job]:
            # A 'sending' delivery's due_at is its lease expiry: an expired claim is due again.
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM deliveries WHERE platform = ? AND due_at IS NOT NULL "
                    "AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                    (str(platform), stamp, limit),
                ).fetchall()
            ]
            if not ids:
                return []
            for chunk in _chunks(ids):
                conn.execute(
                    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
                    "due_at = ?, claimed_by = ?, updated_at = ? "
                    f"WHERE id IN ({_marks(len(chunk))})",
                    (expiry, worker, stamp, *chunk),
                )
            return _jobs(conn, ids)

        return await self._tx(body)

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        stamp = _ts(now)

        def body(conn: Conn) -> None:
            # Recorded even if another worker took the claim over meanwhile: the message exists.
            conn.execute(
                "UPDATE deliveries SET message_id = COALESCE(?, message_id), "
                "thread_id = COALESCE(?, thread_id), last_error = NULL, updated_at = ?, "
                "claimed_by = NULL, "
                "state = CASE WHEN generation = ? THEN 'sent' ELSE 'pending' END, "
                f"due_at = CASE WHEN generation = ? THEN NULL ELSE {_HELD} END WHERE id = ?",
                (
                    posted.message_id if posted else None,
                    posted.thread_id if posted else None,
                    stamp,
                    delivery.generation,
                    delivery.generation,
                    stamp,
                    stamp,
                    delivery.id,
                ),
            )
            if posted is None:
                return
            links = posted.links
            if not links:
                chat = conn.execute(
                    "SELECT chat_id FROM destinations WHERE id = ?", (delivery.destination_id,)
                ).fetchone()[0]
                links = (MessageRef(delivery.platform, chat, posted.message_id),)
            conn.executemany(
                "INSERT OR IGNORE INTO message_links (platform, chat_id, message_id, "
                "article_id, comment_id, destination_id) VALUES (?,?,?,?,?,?)",
                [
                    (
                        str(ref.platform),
                        ref.chat_id,
                        ref.message_id,
                        delivery.article_id,
                        delivery.comment_id,
                        delivery.destination_id,
                    )
                    for ref in links
                ],
            )

        await self._tx(body)

    async def retry_delivery(
        self,
        delivery: Delivery,
        error: str,
        due_at: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        params = (
            "failed" if count_attempt else "pending",
            _ts(due_at),
            _ts(due_at),
            error,
            _ts(now),
            0 if count_attempt else 1,
            delivery.id,
            delivery.claimed_by or "",
        )
        await self._tx(
            lambda conn: conn.execute(
                f"UPDATE deliveries SET state = ?, due_at = {_HELD}, last_error = ?, "
                "updated_at = ?, attempts = attempts - ?, claimed_by = NULL "
                "WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                params,
            )
        )

    async def release_claims(self, worker: str, platform: Platform | None = None) -> int:
        sql = (
            "UPDATE deliveries SET state = 'pending', claimed_by = NULL, "
            f"due_at = {_HELD.replace('?', 'updated_at')}, "
            "attempts = MAX(attempts - 1, 0) WHERE state = 'sending' AND claimed_by = ?"
        )
        params: tuple[str, ...] = (worker,)
        if platform is not None:
            sql += " AND platform = ?"
            params = (worker, str(platform))
        return await self._tx(lambda conn: conn.execute(sql, params).rowcount)


def _reenqueue(conn: Conn, where: str, key: int, op: DeliveryOp, stamp: str) -> int:
    """Re-enqueue deliveries matching ``where`` as ``op``; return how many were affected.

    Sent (and, for deletes, waiting) messages get the new op, due now; sends in flight get the
    new op and a new generation, so they come back pending once they finish; for a delete,
    posts that never went out are cancelled.
    """
    if op is DeliveryOp.DELETE:
        conn.execute(
            "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = ?, "
            "last_error = 'cancelled: removed before it was sent' "
            f"WHERE {where} AND message_id IS NULL AND state IN ('pending', 'failed')",
            (stamp, key),
        )
        settled = "('sent', 'pending', 'failed')"
    else:
        settled = "('sent')"
    count: int = conn.execute(
        "UPDATE deliveries SET op = ?, state = 'pending', due_at = ?, attempts = 0, "
        "generation = generation + 1, last_error = NULL, updated_at = ? "
        f"WHERE {where} AND message_id IS NOT NULL AND state IN {settled} AND op != 'delete'",
        (str(op), stamp, stamp, key),
    ).rowcount
    count += conn.execute(
        "UPDATE deliveries SET op = ?, generation = generation + 1, updated_at = ? "
        f"WHERE {where} AND state = 'sending' AND op != 'delete'",
        (str(op), stamp, key),
    ).rowcount
    return count


# When a delivery going back to pending is due: the time given (the ``?`` twice), or later if
# it is a comment edit held (``not_before``) by the moderation hold or the intake pace.
_HELD = "CASE WHEN op = 'edit' AND not_before > ? THEN not_before ELSE ? END"


def _hold_edit(conn: Conn, comment_id: int, held: str, stamp: str) -> None:
    """Re-enqueue a comment's copies as edits, none of them sent before ``held``
    (``Store.edit_comment``)."""
    conn.execute(
        "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = ?, attempts = 0, "
        "generation = generation + 1, last_error = NULL, updated_at = ?, not_before = ? "
        "WHERE comment_id = ? AND message_id IS NOT NULL AND state = 'sent' AND op != 'delete'",
        (held, stamp, held, comment_id),
    )
    conn.execute(
        "UPDATE deliveries SET due_at = MAX(COALESCE(due_at, ?), ?), "
        "not_before = MAX(COALESCE(not_before, ?), ?) "
        "WHERE comment_id = ? AND state IN ('pending', 'failed') AND op != 'delete'",
        (held, held, held, held, comment_id),
    )
    conn.execute(
        "UPDATE deliveries SET op = 'edit', generation = generation + 1, updated_at = ?, "
        "not_before = MAX(COALESCE(not_before, ?), ?) "
        "WHERE comment_id = ? AND state = 'sending' AND op != 'delete'",
        (stamp, held, held, comment_id),
    )


def _jobs(conn: Conn, ids: list[int]) -> list[Job]:
    parts = rows.JobParts(
        [rows.delivery(r) for r in _by_ids(conn, "deliveries", rows.DELIVERY, ids)]
    )
    found = _by_ids(conn, "destinations", rows.DESTINATION, parts.destination_ids)
    parts.destinations = {d.id: d for d in map(rows.destination, found)}
    article_ids = parts.article_ids
    found = _by_ids(conn, "articles", rows.ARTICLE, article_ids)
    parts.articles = {a.id: a for a in map(rows.article, found)}
    parts.counts = dict(
        _select_in(
            conn,
            "SELECT article_id, COUNT(*) FROM comments WHERE status = 'visible' AND "
            "article_id IN ({}) GROUP BY article_id",
            article_ids,
        )
    )
    mirrored = parts.mirrored
    if not mirrored:
        return parts.jobs()
    found = _select_in(
        conn,
        "SELECT article_id, destination_id, message_id, thread_id FROM deliveries "
        "WHERE comment_id IS NULL AND article_id IN ({})",
        article_ids,
    )
    parts.posts = {(r[0], r[1]): (r[2], r[3]) for r in found}
    parts.post_links = rows.group_links(_post_links(conn, article_ids))
    parts.comments = _comments_by_ids(conn, mirrored)
    parts.comments |= _comments_by_ids(conn, parts.missing_parents)
    for key in parts.parent_copies:
        row = conn.execute(
            "SELECT message_id FROM deliveries WHERE comment_id = ? AND destination_id = ?", key
        ).fetchone()
        parts.copies[key] = None if row is None else row[0]
    return parts.jobs()


def _by_ids(conn: Conn, table: str, columns: str, ids: Sequence[int]) -> list[Any]:
    return _select_in(conn, f"SELECT {columns} FROM {table} WHERE id IN ({{}})", ids)


def _comments_by_ids(conn: Conn, ids: Iterable[int]) -> dict[int, Comment]:
    found = _by_ids(conn, "comments", rows.COMMENT, sorted(ids))
    return {row[0]: rows.comment(row) for row in found}
