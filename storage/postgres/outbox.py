"""The PostgreSQL store's outbox: claims take rows with ``FOR UPDATE SKIP LOCKED``, so
workers claiming together never wait for each other."""

from __future__ import annotations

from datetime import datetime, timedelta

import storage.rows as rows
from newsbot.models import (
    Delivery,
    DeliveryOp,
    Job,
    MessageRef,
    Platform,
    Posted,
)
from storage.postgres.connection import Conn, PostgresConnections, _count, _notify
from storage.postgres.ingest import _columns


class PostgresOutbox(PostgresConnections):
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
        expiry = now + timedelta(seconds=lease)

        async def body(conn: Conn) -> list[Job]:
            # A 'sending' delivery's due_at is its lease expiry: an expired claim is due again.
            # Rows another worker is claiming right now are skipped, not waited for.
            claimed = await conn.fetch(
                "WITH due AS (SELECT id FROM deliveries WHERE platform = $1 "
                "AND due_at IS NOT NULL AND due_at <= $2 ORDER BY due_at, id LIMIT $3 "
                "FOR UPDATE SKIP LOCKED) "
                "UPDATE deliveries d SET state = 'sending', attempts = d.attempts + 1, "
                "due_at = $4, claimed_by = $5, updated_at = $2 FROM due WHERE d.id = due.id "
                "RETURNING d.id",
                str(platform),
                now,
                limit,
                expiry,
                worker,
            )
            if not claimed:
                return []
            return await _jobs(conn, [r[0] for r in claimed])

        return await self._tx(body)

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        async def body(conn: Conn) -> None:
            # Recorded even if another worker took the claim over meanwhile: the message exists.
            row = await conn.fetchrow(
                "UPDATE deliveries SET message_id = COALESCE($1, message_id), "
                "thread_id = COALESCE($2, thread_id), last_error = NULL, updated_at = $3, "
                "claimed_by = NULL, "
                "state = CASE WHEN generation = $4 THEN 'sent' ELSE 'pending' END, "
                "due_at = CASE WHEN generation = $4 THEN NULL "
                f"ELSE {_HELD.format('$3::timestamptz')} END WHERE id = $5 "
                "RETURNING state, (SELECT chat_id FROM destinations t "
                "WHERE t.id = deliveries.destination_id)",
                posted.message_id if posted else None,
                posted.thread_id if posted else None,
                now,
                delivery.generation,
                delivery.id,
            )
            if row is None:
                return
            if row[0] == "pending":
                await _notify(conn, ["outbox"])
            if posted is None:
                return
            links = posted.links or (MessageRef(delivery.platform, row[1], posted.message_id),)
            await conn.execute(
                "INSERT INTO message_links (platform, chat_id, message_id, article_id, "
                "comment_id, destination_id) SELECT p, c, m, $4, $5, $6 "
                "FROM unnest($1::text[], $2::text[], $3::text[]) AS u(p, c, m) "
                "ON CONFLICT DO NOTHING",
                [str(ref.platform) for ref in links],
                [ref.chat_id for ref in links],
                [ref.message_id for ref in links],
                delivery.article_id,
                delivery.comment_id,
                delivery.destination_id,
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
        async def body(conn: Conn) -> None:
            await conn.execute(
                f"UPDATE deliveries SET state = $1, due_at = {_HELD.format('$2::timestamptz')}, "
                "last_error = $3, updated_at = $4, attempts = attempts - $5, claimed_by = NULL "
                "WHERE id = $6 AND state = 'sending' AND claimed_by = $7",
                "failed" if count_attempt else "pending",
                due_at,
                error,
                now,
                0 if count_attempt else 1,
                delivery.id,
                delivery.claimed_by or "",
            )

        await self._tx(body)

    async def release_claims(self, worker: str, platform: Platform | None = None) -> int:
        sql = (
            "UPDATE deliveries SET state = 'pending', claimed_by = NULL, "
            f"due_at = {_HELD.format('updated_at')}, "
            "attempts = GREATEST(attempts - 1, 0) WHERE state = 'sending' AND claimed_by = $1"
        )
        params: list[str] = [worker]
        if platform is not None:
            sql += " AND platform = $2"
            params.append(str(platform))

        async def body(conn: Conn) -> int:
            count = _count(await conn.execute(sql, *params))
            if count:
                await _notify(conn, ["outbox"])
            return count

        return await self._tx(body)


# When a delivery going back to pending is due: the time given, or later if it is a comment
# edit held (``not_before``) by the moderation hold or the intake pace.
_HELD = "CASE WHEN op = 'edit' AND not_before > {0} THEN not_before ELSE {0} END"


async def _hold_edit(conn: Conn, comment_id: int, held: datetime, now: datetime) -> int:
    """Re-enqueue a comment's copies as edits, none of them sent before ``held``
    (``Store.edit_comment``); return how many. Rows are locked in id order as in
    ``_reenqueue``."""
    await conn.execute(
        "SELECT 1 FROM deliveries WHERE comment_id = $1 ORDER BY id FOR UPDATE", comment_id
    )
    count = _count(
        await conn.execute(
            "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = $2, attempts = 0, "
            "generation = generation + 1, last_error = NULL, updated_at = $3, not_before = $2 "
            "WHERE comment_id = $1 AND message_id IS NOT NULL AND state = 'sent' "
            "AND op != 'delete'",
            comment_id,
            held,
            now,
        )
    )
    count += _count(
        await conn.execute(
            "UPDATE deliveries SET due_at = GREATEST(due_at, $2), "
            "not_before = GREATEST(not_before, $2) "
            "WHERE comment_id = $1 AND state IN ('pending', 'failed') AND op != 'delete'",
            comment_id,
            held,
        )
    )
    count += _count(
        await conn.execute(
            "UPDATE deliveries SET op = 'edit', generation = generation + 1, updated_at = $3, "
            "not_before = GREATEST(not_before, $2) "
            "WHERE comment_id = $1 AND state = 'sending' AND op != 'delete'",
            comment_id,
            held,
            now,
        )
    )
    return count


async def _reenqueue(conn: Conn, where: str, key: int, op: DeliveryOp, now: datetime) -> int:
    """Re-enqueue deliveries matching ``where`` (on ``$1``) as ``op``; return how many.

    Sent (and, for deletes, waiting) messages get the new op, due now; sends in flight get the
    new op and a new generation, so they come back pending once they finish; for a delete,
    posts that never went out are cancelled.

    The rows are locked first, in id order: a claim committing meanwhile is waited for, so
    the updates below see it ``sending`` (and bump its generation) instead of a ``pending``
    row whose claim already read the old content.
    """
    await conn.execute(f"SELECT 1 FROM deliveries WHERE {where} ORDER BY id FOR UPDATE", key)
    if op is DeliveryOp.DELETE:
        await conn.execute(
            "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = $2, "
            "last_error = 'cancelled: removed before it was sent' "
            f"WHERE {where} AND message_id IS NULL AND state IN ('pending', 'failed')",
            key,
            now,
        )
        settled = "('sent', 'pending', 'failed')"
    else:
        settled = "('sent')"
    count = _count(
        await conn.execute(
            "UPDATE deliveries SET op = $2, state = 'pending', due_at = $3, attempts = 0, "
            "generation = generation + 1, last_error = NULL, updated_at = $3 "
            f"WHERE {where} AND message_id IS NOT NULL AND state IN {settled} AND op != 'delete'",
            key,
            str(op),
            now,
        )
    )
    count += _count(
        await conn.execute(
            "UPDATE deliveries SET op = $2, generation = generation + 1, updated_at = $3 "
            f"WHERE {where} AND state = 'sending' AND op != 'delete'",
            key,
            str(op),
            now,
        )
    )
    return count


def _by_ids(table: str, columns: str) -> str:
    """Rows of ``table`` by the ids in ``$1``, one primary-key probe each: a plain
    ``id = ANY($1)`` may keep the sequential scan its generic plan got on an empty table."""
    return (
        f"SELECT r.* FROM unnest($1::bigint[]) AS k(id) CROSS JOIN LATERAL "
        f"(SELECT {columns} FROM {table} WHERE id = k.id LIMIT 1) AS r"
    )


async def _jobs(conn: Conn, ids: list[int]) -> list[Job]:
    found = await conn.fetch(_by_ids("deliveries", rows.DELIVERY), ids)
    parts = rows.JobParts([rows.delivery(r) for r in found])
    found = await conn.fetch(_by_ids("destinations", rows.DESTINATION), parts.destination_ids)
    parts.destinations = {d.id: d for d in map(rows.destination, found)}
    article_ids = parts.article_ids
    found = await conn.fetch(_by_ids("articles", rows.ARTICLE), article_ids)
    parts.articles = {a.id: a for a in map(rows.article, found)}
    found = await conn.fetch(
        "SELECT article_id, count(*) FROM comments WHERE status = 'visible' AND "
        "article_id = ANY($1::bigint[]) GROUP BY article_id",
        article_ids,
    )
    parts.counts = {r[0]: r[1] for r in found}
    mirrored = parts.mirrored
    if not mirrored:
        return parts.jobs()
    found = await conn.fetch(
        "SELECT article_id, destination_id, message_id, thread_id FROM deliveries "
        "WHERE comment_id IS NULL AND article_id = ANY($1::bigint[])",
        article_ids,
    )
    parts.posts = {(r[0], r[1]): (r[2], r[3]) for r in found}
    found = await conn.fetch(
        f"SELECT {rows.POST_LINK} FROM message_links "
        "WHERE comment_id IS NULL AND destination_id IS NOT NULL "
        "AND article_id = ANY($1::bigint[]) ORDER BY platform, chat_id, message_id",
        article_ids,
    )
    parts.post_links = rows.group_links(map(rows.post_link, found))
    found = await conn.fetch(_by_ids("comments", rows.COMMENT), mirrored)
    parts.comments = {r[0]: rows.comment(r) for r in found}
    missing = parts.missing_parents  # once the mirrored comments are in
    if missing:
        found = await conn.fetch(_by_ids("comments", rows.COMMENT), missing)
        parts.comments |= {r[0]: rows.comment(r) for r in found}
    pairs = parts.parent_copies
    if pairs:
        found = await conn.fetch(
            "SELECT u.c, u.t, d.message_id FROM unnest($1::bigint[], $2::bigint[]) "
            "AS u(c, t) CROSS JOIN LATERAL (SELECT message_id FROM deliveries "
            "WHERE comment_id = u.c AND destination_id = u.t LIMIT 1) AS d",
            *_columns(pairs, 2),
        )
        parts.copies = {(r[0], r[1]): r[2] for r in found}
    return parts.jobs()
