"""The ``Store`` methods that are one or two plain statements, the same SQL on both backends.

They are written here once, with PostgreSQL's numbered placeholders (``$1``; SQLite reads them
as ``?1``) and no cast, over three primitives each backend provides: ``_rows`` and ``_row``
read, ``_change`` runs statements in one write transaction and returns their row counts. A
backend passes timestamps in its own form (SQLite as ISO 8601 text) and the mappers of
``storage.rows`` read either. Whatever is tuned per backend (claims, ingestion, thread pages,
re-enqueueing) or tells other processes of a change stays in the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import storage.rows as rows
from newsbot.models import (
    Article,
    ArticleCursor,
    ArticleId,
    Comment,
    CommentId,
    Delivery,
    DeliveryState,
    DeliveryStatus,
    Destination,
    DestinationId,
    Feed,
    FeedId,
    MessageLink,
    MessageRef,
    Platform,
    RoleLease,
    WorkerInfo,
)

Statement = tuple[str, Sequence[Any]]
READER_LOCK_CLASS = 0x6E62_04  # advisory locks of one reader's reaction counts (PostgreSQL)
_BY_SOURCE = (
    f"SELECT {rows.COMMENT} FROM comments WHERE source_platform = $1 "
    "AND source_chat_id = $2 AND source_message_id = $3"
)
_DESTINATION_KEY = (
    f"SELECT {rows.DESTINATION} FROM destinations "
    "WHERE platform = $1 AND chat_id = $2 AND thread_id = $3"
)


class CommonStatements:
    """The plain statements, on a backend's ``_rows``, ``_row`` and ``_change``."""

    # What serialises the changes of one reader's reaction counts between a ban and a batch
    # of reactions (``storage.reaction_writes``), with ``READER_LOCK_CLASS`` and
    # ``platform|reader``: PostgreSQL's advisory lock; nothing on SQLite, whose write
    # transactions run one at a time.
    _reader_lock: str | None = None

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        """The rows ``sql`` reads."""
        raise NotImplementedError

    async def _row(self, sql: str, *args: Any) -> Any | None:
        """The first row ``sql`` reads, if any."""
        raise NotImplementedError

    async def _change(self, *statements: Statement) -> list[int]:
        """Run ``statements`` in one write transaction; the rows each changed."""
        raise NotImplementedError

    async def _changed(self, sql: str, *args: Any) -> bool:
        return (await self._change((sql, args)))[0] > 0

    # -- articles -------------------------------------------------------------------------

    async def get_article(self, article_id: ArticleId) -> Article | None:
        row = await self._row(f"SELECT {rows.ARTICLE} FROM articles WHERE id = $1", article_id)
        return None if row is None else rows.article(row)

    async def latest_articles(self, limit: int, before: ArticleCursor | None) -> list[Article]:
        sql = f"SELECT {rows.ARTICLE} FROM articles WHERE status = 'published'"
        params: list[Any] = []
        if before is not None:
            sql += " AND (published_at, id) < ($1, $2)"
            params += [before.published_at, before.article_id]
        sql += f" ORDER BY published_at DESC, id DESC LIMIT ${len(params) + 1}"
        return [rows.article(r) for r in await self._rows(sql, *params, limit)]

    async def count_comments(self, article_id: ArticleId) -> int:
        row = await self._row(
            "SELECT count(*) FROM comments WHERE article_id = $1 AND status = 'visible'",
            article_id,
        )
        return 0 if row is None else int(row[0])

    # -- destinations ---------------------------------------------------------------------

    async def approve_destination(self, destination_id: DestinationId, now: datetime) -> bool:
        return await self._changed(
            "UPDATE destinations SET active = true, pending = false, "
            "deactivated_reason = NULL, updated_at = $1 WHERE id = $2 AND pending",
            now,
            destination_id,
        )

    async def get_destination(
        self, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination | None:
        row = await self._row(_DESTINATION_KEY, str(platform), chat_id, thread_id or "")
        return None if row is None else rows.destination(row)

    async def deactivate_destination(
        self, destination_id: DestinationId, reason: str, now: datetime
    ) -> bool:
        changed, _ = await self._change(
            (
                "UPDATE destinations SET active = false, pending = false, "
                "deactivated_reason = $1, updated_at = $2 WHERE id = $3 AND (active OR pending)",
                (reason, now, destination_id),
            ),
            (
                "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = $1, "
                "last_error = $2 WHERE destination_id = $3 AND state IN ('pending', 'failed')",
                (now, f"destination inactive: {reason}", destination_id),
            ),
        )
        return changed > 0

    async def list_destinations(
        self, platform: Platform | None = None, *, active_only: bool = True
    ) -> list[Destination]:
        sql = f"SELECT {rows.DESTINATION} FROM destinations WHERE true"
        params: list[Any] = []
        if active_only:
            sql += " AND active"
        if platform is not None:
            sql += " AND platform = $1"
            params.append(str(platform))
        return [rows.destination(r) for r in await self._rows(f"{sql} ORDER BY id", *params)]

    # -- the outbox -----------------------------------------------------------------------

    async def renew_claims(self, worker: str, now: datetime, lease: float) -> int:
        changed = await self._change(
            (
                "UPDATE deliveries SET due_at = $1 WHERE claimed_by = $2 AND state = 'sending'",
                (now + timedelta(seconds=lease), worker),
            )
        )
        return changed[0]

    async def next_due(self, platform: Platform) -> datetime | None:
        row = await self._row(
            "SELECT min(due_at) FROM deliveries WHERE platform = $1 AND due_at IS NOT NULL",
            str(platform),
        )
        return None if row is None else rows.maybe_at(row[0])

    async def fail_delivery(self, delivery: Delivery, error: str, now: datetime) -> None:
        await self._change(
            (
                "UPDATE deliveries SET state = 'dead', due_at = NULL, last_error = $1, "
                "updated_at = $2, claimed_by = NULL "
                "WHERE id = $3 AND state = 'sending' AND claimed_by = $4",
                (error, now, delivery.id, delivery.claimed_by or ""),
            )
        )

    async def delivery_counts(self) -> dict[tuple[Platform, DeliveryState], int]:
        found = await self._rows(
            "SELECT platform, state, count(*) FROM deliveries GROUP BY platform, state"
        )
        return {(Platform(r[0]), DeliveryState(r[1])): int(r[2]) for r in found}

    async def deliveries_for_article(self, article_id: ArticleId) -> list[DeliveryStatus]:
        return await self._statuses("d.article_id = $1 AND d.comment_id IS NULL", article_id)

    async def deliveries_for_comment(self, comment_id: CommentId) -> list[DeliveryStatus]:
        return await self._statuses("d.comment_id = $1", comment_id)

    async def _statuses(self, where: str, key: int) -> list[DeliveryStatus]:
        width = rows.DELIVERY_WIDTH
        return [
            DeliveryStatus(rows.delivery(r[:width]), rows.destination(r[width:]))
            for r in await self._rows(f"{rows.STATUSES} WHERE {where} ORDER BY d.id", key)
        ]

    # -- message links and comments -------------------------------------------------------

    async def add_link(self, link: MessageLink) -> bool:
        return await self._changed(
            "INSERT INTO message_links (platform, chat_id, message_id, article_id, "
            "comment_id, destination_id) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
            str(link.ref.platform),
            link.ref.chat_id,
            link.ref.message_id,
            link.article_id,
            link.comment_id,
            link.destination_id,
        )

    async def get_comment(self, comment_id: CommentId) -> Comment | None:
        row = await self._row(f"SELECT {rows.COMMENT} FROM comments WHERE id = $1", comment_id)
        return None if row is None else rows.comment(row)

    async def get_comment_by_source(self, source: MessageRef) -> Comment | None:
        row = await self._row(_BY_SOURCE, str(source.platform), source.chat_id, source.message_id)
        return None if row is None else rows.comment(row)

    async def comments_by_author(self, platform: Platform, user_id: str) -> list[Comment]:
        found = await self._rows(
            f"SELECT {rows.COMMENT} FROM comments WHERE author_platform = $1 "
            "AND author_user_id = $2 AND status = 'visible' ORDER BY id",
            str(platform),
            user_id,
        )
        return [rows.comment(r) for r in found]

    async def has_visible_comment(self, platform: Platform, user_id: str) -> bool:
        row = await self._row(
            "SELECT 1 FROM comments WHERE author_platform = $1 AND author_user_id = $2 "
            "AND status = 'visible' LIMIT 1",
            str(platform),
            user_id,
        )
        return row is not None

    # -- bans and small state -------------------------------------------------------------

    async def set_ban(self, platform: Platform, user_id: str, banned: bool, now: datetime) -> bool:
        # The reader's reactions leave the kept counts (or come back) in the same transaction.
        counts = _ban_counts(platform, user_id, banned)
        if banned:
            change: Statement = (
                "INSERT INTO bans (platform, user_id, created_at) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                (str(platform), user_id, now),
            )
        else:
            change = (
                "DELETE FROM bans WHERE platform = $1 AND user_id = $2",
                (str(platform), user_id),
            )
        locks: list[Statement] = []
        if self._reader_lock is not None:
            locks.append((self._reader_lock, (READER_LOCK_CLASS, f"{platform}|{user_id}")))
        return (await self._change(*locks, counts, change))[-1] > 0

    async def is_banned(self, platform: Platform, user_id: str) -> bool:
        row = await self._row(
            "SELECT 1 FROM bans WHERE platform = $1 AND user_id = $2", str(platform), user_id
        )
        return row is not None

    async def get_state(self, key: str) -> str | None:
        row = await self._row("SELECT value FROM state WHERE key = $1", key)
        return None if row is None else str(row[0])

    async def set_state(self, key: str, value: str) -> None:
        await self._change(
            (
                "INSERT INTO state (key, value) VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    # -- workers and roles ----------------------------------------------------------------

    async def heartbeat(self, worker: WorkerInfo) -> None:
        await self._change(
            (
                f"INSERT INTO workers ({rows.WORKER}) VALUES ($1,$2,$3,$4,$5,$6) "
                "ON CONFLICT (id) DO UPDATE SET "
                "heartbeat_at = excluded.heartbeat_at, roles = excluded.roles",
                (
                    worker.id,
                    worker.host,
                    worker.pid,
                    worker.started_at,
                    worker.heartbeat_at,
                    " ".join(worker.roles),
                ),
            )
        )

    async def remove_worker(self, worker_id: str) -> None:
        await self._change(("DELETE FROM workers WHERE id = $1", (worker_id,)))

    async def list_workers(self, since: datetime) -> list[WorkerInfo]:
        found = await self._rows(
            f"SELECT {rows.WORKER} FROM workers WHERE heartbeat_at >= $1 ORDER BY started_at, id",
            since,
        )
        return [rows.worker(r) for r in found]

    async def release_role(self, role: str, worker: str) -> bool:
        # Expired, not deleted: the epoch keeps growing across holders.
        return await self._changed(
            "UPDATE roles SET lease_until = $1 WHERE role = $2 AND holder = $3",
            datetime.min.replace(tzinfo=UTC),
            role,
            worker,
        )

    async def list_roles(self) -> list[RoleLease]:
        return [
            rows.role(r) for r in await self._rows(f"SELECT {rows.ROLE} FROM roles ORDER BY role")
        ]

    # -- feeds ----------------------------------------------------------------------------

    async def save_feed(self, feed: Feed) -> None:
        await self._change(
            (
                "UPDATE feeds SET url = $1, title = $2, tags = $3, interval_s = $4, "
                "backfill = $5, active = $6, next_poll_at = $7, last_poll_at = $8, "
                "last_success_at = $9, last_status = $10, etag = $11, last_modified = $12, "
                "errors = $13, last_error = $14, deactivated_reason = $15 WHERE id = $16",
                (
                    feed.url,
                    feed.title,
                    " ".join(feed.tags),
                    feed.interval,
                    feed.backfill,
                    feed.active,
                    feed.next_poll_at,
                    feed.last_poll_at,
                    feed.last_success_at,
                    feed.last_status,
                    feed.etag,
                    feed.last_modified,
                    feed.errors,
                    feed.last_error,
                    feed.deactivated_reason,
                    feed.id,
                ),
            )
        )

    async def remove_feed(self, feed_id: FeedId) -> bool:
        _, removed = await self._change(
            ("DELETE FROM feed_items WHERE feed_id = $1", (feed_id,)),
            ("DELETE FROM feeds WHERE id = $1", (feed_id,)),
        )
        return removed > 0


def _ban_counts(platform: Platform, user_id: str, banned: bool) -> Statement:
    """What a ban or unban does to the per-target reaction counts (``reaction_tally``), run
    before the ``bans`` row changes: the reader's reactions leave the counts (or come back),
    once per target and emoji, only if the ban changes."""
    step, exists = (-1, "NOT EXISTS") if banned else (1, "EXISTS")
    sql = (
        "INSERT INTO reaction_tally (article_id, comment_key, platform, emoji, readers, "
        "anonymous) SELECT DISTINCT article_id, COALESCE(comment_id, 0), platform, emoji, "
        f"{step}, 0 FROM reactions WHERE platform = $1 AND reader = $2 AND {exists} "
        "(SELECT 1 FROM bans WHERE platform = $1 AND user_id = $2) "
        "ON CONFLICT (article_id, comment_key, platform, emoji) "
        "DO UPDATE SET readers = reaction_tally.readers + excluded.readers"
    )
    return sql, (str(platform), user_id)
