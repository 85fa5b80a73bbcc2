"""The SQLite store's outbox: claiming deliveries, and settling them once sent or failed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import storage.rows as rows
from newsbot.models import (
    Comment,
    Job,
    Platform,
)
from storage.reactions import TALLY_TOTAL
from storage.sqlite.connection import (
    Conn,
    SqliteConnections,
    _chunks,
    _marks,
    _numbered,
    _post_links,
    _select_in,
    _ts,
)


class SqliteOutbox(SqliteConnections):
    """Claims, as one function on the connection thread: the due ids, one UPDATE per
    chunk of them, then the jobs read (the rest of the outbox is in ``storage.units``)."""

    async def _claim(
        self, platform: Platform, now: datetime, limit: int, worker: str, expiry: datetime
    ) -> list[Job]:
        stamp = _ts(now)
        expiry_at = _ts(expiry)

        def body(conn: Conn) -> list[Job]:
            ids: list[int] = []
            # The breaking-news lane first (lane > 0, its own small index), then the rest.
            for lane in ("lane > 0", "lane = 0"):
                if len(ids) < limit:
                    ids += [
                        r[0]
                        for r in conn.execute(
                            "SELECT id FROM deliveries WHERE platform = ? AND due_at IS NOT NULL "
                            f"AND due_at <= ? AND {lane} ORDER BY due_at, id LIMIT ?",
                            (str(platform), stamp, limit - len(ids)),
                        ).fetchall()
                    ]
            if not ids:
                return []
            for chunk in _chunks(ids):
                conn.execute(
                    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
                    "due_at = ?, claimed_by = ?, updated_at = ? "
                    f"WHERE id IN ({_marks(len(chunk))})",
                    (expiry_at, worker, stamp, *chunk),
                )
            return _jobs(conn, ids)

        return await self._tx(body)


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
    for article_id in parts.posted_articles:
        reacted = conn.execute(_numbered(TALLY_TOTAL), (article_id,)).fetchone()[0]
        if reacted:
            parts.reactions[article_id] = int(reacted)
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
