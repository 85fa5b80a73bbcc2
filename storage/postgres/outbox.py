"""The PostgreSQL store's outbox: claims take rows with ``FOR UPDATE SKIP LOCKED``, so
workers claiming together never wait for each other."""

from __future__ import annotations

from datetime import datetime

import storage.rows as rows
from newsbot.models import (
    Job,
    Platform,
)
from storage.postgres.connection import Conn, PostgresConnections
from storage.postgres.ingest import _columns
from storage.reactions import TALLY_TOTAL


class PostgresOutbox(PostgresConnections):
    """Claims, as one ``FOR UPDATE SKIP LOCKED`` statement and the jobs read (the rest of
    the outbox is in ``storage.units``)."""

    async def _claim(
        self, platform: Platform, now: datetime, limit: int, worker: str, expiry: datetime
    ) -> list[Job]:
        async def body(conn: Conn) -> list[Job]:
            # Rows another worker is claiming right now are skipped, not waited for.
            claimed = await conn.fetch(
                # The breaking-news lane first (lane > 0, its own small index), then the rest.
                "WITH hi AS (SELECT id FROM deliveries WHERE platform = $1 "
                "AND due_at IS NOT NULL AND due_at <= $2 AND lane > 0 ORDER BY due_at, id "
                "LIMIT $3 FOR UPDATE SKIP LOCKED), "
                "lo AS (SELECT id FROM deliveries WHERE platform = $1 "
                "AND due_at IS NOT NULL AND due_at <= $2 AND lane = 0 ORDER BY due_at, id "
                "LIMIT $3 - (SELECT count(*) FROM hi) FOR UPDATE SKIP LOCKED), "
                "due AS (SELECT id FROM hi UNION ALL SELECT id FROM lo) "
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
    for article_id in parts.posted_articles:
        reacted = await conn.fetchval(TALLY_TOTAL, article_id)
        if reacted:
            parts.reactions[article_id] = int(reacted)
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
