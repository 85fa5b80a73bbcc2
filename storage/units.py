"""The ``Store`` methods that are several statements in one transaction, written once.

Each runs as one unit of work through the backend's ``_atomic`` primitive, which hands it a
``Tx``: statements on one transaction (``BEGIN IMMEDIATE`` on SQLite, a pooled connection's
transaction on PostgreSQL), with PostgreSQL's ``$1`` placeholders as in
``storage.statements``. ``Tx.lock`` runs the statements only PostgreSQL needs to serialise
concurrent writers (row locks, advisory locks; SQLite's write lock already serialises them)
and ``Tx.notify`` tells other processes of a change (SQLite's watcher polls instead). What is
tuned per backend for speed (claims, ingestion, thread pages, rate slots) stays there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import storage.rows as rows
from newsbot.errors import StorageError
from newsbot.models import (
    Article,
    ArticleDraft,
    ArticleId,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    Delivery,
    DeliveryOp,
    Destination,
    DestinationId,
    Feed,
    FeedItem,
    Job,
    MessageRef,
    NewDestination,
    NewFeed,
    Platform,
    Posted,
    RoleLease,
)
from storage.statements import CommonStatements

T = TypeVar("T")
_REQUEST_CLASS = 0x6E62_02

# When a delivery going back to pending is due: the time given, or later if it is a comment
# edit held (``not_before``) by the moderation hold or the intake pace.
_HELD = "CASE WHEN op = 'edit' AND not_before > {0} THEN not_before ELSE {0} END"


class Tx(Protocol):
    """Statements in one open transaction."""

    async def rows(self, sql: str, *args: Any) -> list[Any]: ...

    async def row(self, sql: str, *args: Any) -> Any | None: ...

    async def run(self, sql: str, *args: Any) -> int:
        """Run ``sql``; the rows it changed."""
        ...

    async def many(self, sql: str, args: Iterable[Sequence[Any]]) -> None: ...

    async def lock(self, sql: str, *args: Any) -> None:
        """Run ``sql`` on PostgreSQL only: a lock SQLite's write transaction already holds."""
        ...

    async def notify(self, topics: Iterable[str]) -> None:
        """Tell other processes, at commit, what changed (PostgreSQL's NOTIFY)."""
        ...


def _topics(article_id: int, queued: int) -> list[str]:
    return [f"article:{article_id}", *(["outbox"] if queued else [])]


class CommonUnits(CommonStatements):
    """The multi-statement methods, on a backend's ``_atomic``."""

    async def _atomic(self, body: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``body`` in one write transaction (again, on PostgreSQL, if the server broke
        a deadlock by aborting it: ``body`` keeps no state between attempts)."""
        raise NotImplementedError

    # -- articles -------------------------------------------------------------------------

    async def add_article(
        self,
        draft: ArticleDraft,
        author: Author,
        now: datetime,
        deliver_to: Sequence[DestinationId],
        *,
        request: str | None = None,
    ) -> tuple[Article, bool]:
        """A plain publish: a planned one live now, every post due now, in lane 0."""
        due = [(d, now) for d in deliver_to]
        return await self.add_planned_article(draft, author, now, now, due, 0, request=request)

    async def add_planned_article(
        self,
        draft: ArticleDraft,
        author: Author,
        now: datetime,
        live_at: datetime,
        deliver_to: Sequence[tuple[DestinationId, datetime]],
        lane: int,
        *,
        request: str | None = None,
    ) -> tuple[Article, bool]:
        async def body(tx: Tx) -> tuple[Article, bool]:
            if request is not None:
                done = await _request(tx, request)
                if done is not None:
                    row = await tx.row(f"SELECT {rows.ARTICLE} FROM articles WHERE id = $1", done)
                    assert row is not None
                    return rows.article(row), False
            row = await tx.row(
                "INSERT INTO articles (title, body, summary, url, image_url, author_name, "
                "author_platform, author_user_id, tags, status, created_at, published_at, "
                "updated_at, revision) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'published',$10,$11,"
                f"$10,1) RETURNING {rows.ARTICLE}",
                *rows.draft_values(draft),
                *rows.author_values(author),
                " ".join(draft.tags),
                now,
                live_at,
            )
            assert row is not None
            article = rows.article(row)
            await tx.many(
                "INSERT INTO deliveries (article_id, destination_id, platform, op, state, "
                "due_at, created_at, updated_at, lane) SELECT $1, id, platform, 'post', "
                "'pending', $2, $3, $3, $4 FROM destinations WHERE id = $5 AND active "
                "ON CONFLICT DO NOTHING",
                [(article.id, due, now, lane, d) for d, due in deliver_to],
            )
            if request is not None:
                await tx.run(
                    "INSERT INTO requests (key, kind, article_id, created_at) "
                    "VALUES ($1, 'publish', $2, $3)",
                    request,
                    article.id,
                    now,
                )
            await tx.notify(_topics(article.id, len(deliver_to)))
            return article, True

        return await self._atomic(body)

    async def update_article(
        self,
        article_id: ArticleId,
        draft: ArticleDraft,
        now: datetime,
        *,
        request: str | None = None,
    ) -> int | None:
        async def body(tx: Tx) -> int | None:
            if request is not None:
                if await _request(tx, request) is not None:
                    return None
                await tx.run(
                    "INSERT INTO requests (key, kind, article_id, created_at) "
                    "VALUES ($1, 'edit', $2, $3)",
                    request,
                    article_id,
                    now,
                )
            await tx.run(
                "UPDATE articles SET title = $1, body = $2, summary = $3, url = $4, "
                "image_url = $5, tags = $6, updated_at = $7, revision = revision + 1 "
                "WHERE id = $8",
                *rows.draft_values(draft),
                " ".join(draft.tags),
                now,
                article_id,
            )
            where = "article_id = $1 AND comment_id IS NULL"
            count = await _reenqueue(tx, where, article_id, DeliveryOp.EDIT, now)
            await tx.notify(_topics(article_id, count))
            return count

        return await self._atomic(body)

    async def retract_article(self, article_id: ArticleId, now: datetime) -> int:
        async def body(tx: Tx) -> int:
            await tx.run(
                "UPDATE articles SET status = 'retracted', updated_at = $1 WHERE id = $2",
                now,
                article_id,
            )
            count = await _reenqueue(tx, "article_id = $1", article_id, DeliveryOp.DELETE, now)
            await tx.notify(_topics(article_id, count))
            return count

        return await self._atomic(body)

    # -- destinations ---------------------------------------------------------------------

    async def add_destination(
        self, new: NewDestination, now: datetime, *, pending: bool = False
    ) -> tuple[Destination, bool]:
        key = (str(new.platform), new.chat_id, new.thread_id or "")
        active, reason = (False, rows.PENDING_REASON) if pending else (True, None)

        async def body(tx: Tx) -> tuple[Destination, bool]:
            row = await tx.row(
                f"SELECT {rows.DESTINATION} FROM destinations "
                "WHERE platform = $1 AND chat_id = $2 AND thread_id = $3",
                *key,
            )
            if row is not None and (row[6] or (pending and row[9])):
                return rows.destination(row), False
            row = await tx.row(
                "INSERT INTO destinations (platform, chat_id, thread_id, title, kind, active, "
                "pending, deactivated_reason, tags, created_at, updated_at) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10) "
                "ON CONFLICT (platform, chat_id, thread_id) DO UPDATE SET "
                "active = excluded.active, pending = excluded.pending, "
                "title = excluded.title, kind = excluded.kind, tags = excluded.tags, "
                "updated_at = excluded.updated_at, "
                f"deactivated_reason = excluded.deactivated_reason RETURNING {rows.DESTINATION}",
                *key,
                new.title,
                str(new.kind),
                active,
                not active,
                reason,
                " ".join(new.tags),
                now,
            )
            assert row is not None
            return rows.destination(row), True

        return await self._atomic(body)

    # -- comments -------------------------------------------------------------------------

    async def edit_comment(
        self, comment_id: CommentId, text: str, now: datetime, *, due: datetime | None = None
    ) -> Comment:
        held = max(due or now, now)

        async def body(tx: Tx) -> Comment:
            row = await tx.row(
                "UPDATE comments SET text = $2, edited_at = $3 WHERE id = $1 "
                f"RETURNING {rows.COMMENT}",
                comment_id,
                text,
                now,
            )
            if row is None:
                raise StorageError(f"comment {comment_id} vanished")
            count = await _hold_edit(tx, comment_id, held, now)
            await tx.notify(_topics(row[1], count))
            return rows.comment(row)

        return await self._atomic(body)

    async def set_comment_status(
        self, comment_id: CommentId, status: CommentStatus, now: datetime
    ) -> Comment:
        visible = status is CommentStatus.VISIBLE

        async def body(tx: Tx) -> Comment:
            row = await tx.row(
                f"UPDATE comments SET status = $2, deleted_at = $3 WHERE id = $1 "
                f"RETURNING {rows.COMMENT}",
                comment_id,
                str(status),
                None if visible else now,
            )
            if row is None:
                raise StorageError(f"comment {comment_id} vanished")
            count = 0
            if not visible:
                count = await _reenqueue(tx, "comment_id = $1", comment_id, DeliveryOp.DELETE, now)
            await tx.notify(_topics(row[1], count))
            return rows.comment(row)

        return await self._atomic(body)

    # -- the outbox -----------------------------------------------------------------------

    async def claim_deliveries(
        self,
        platform: Platform,
        now: datetime,
        limit: int,
        *,
        worker: str = "",
        lease: float = 30.0,
    ) -> list[Job]:
        # A 'sending' delivery's due_at is its lease expiry: an expired claim is due again.
        return await self._claim(platform, now, limit, worker, now + timedelta(seconds=lease))

    async def _claim(
        self, platform: Platform, now: datetime, limit: int, worker: str, expiry: datetime
    ) -> list[Job]:
        """Claim up to ``limit`` due deliveries until ``expiry`` (tuned per backend)."""
        raise NotImplementedError

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        async def body(tx: Tx) -> None:
            # Recorded even if another worker took the claim over meanwhile: the message exists.
            row = await tx.row(
                "UPDATE deliveries SET message_id = COALESCE($1, message_id), "
                "thread_id = COALESCE($2, thread_id), last_error = NULL, updated_at = $3, "
                "claimed_by = NULL, sent_at = COALESCE(sent_at, $6), "
                "state = CASE WHEN generation = $4 THEN 'sent' ELSE 'pending' END, "
                "due_at = CASE WHEN generation = $4 THEN NULL "
                f"ELSE {_HELD.format('$3')} END WHERE id = $5 "
                "RETURNING state, (SELECT chat_id FROM destinations t "
                "WHERE t.id = deliveries.destination_id)",
                posted.message_id if posted else None,
                posted.thread_id if posted else None,
                now,
                delivery.generation,
                delivery.id,
                now if posted else None,  # when the message first existed (article figures)
            )
            if row is None:
                return
            if row[0] == "pending":
                await tx.notify(["outbox"])
            if posted is None:
                return
            links = posted.links or (MessageRef(delivery.platform, row[1], posted.message_id),)
            await tx.many(
                "INSERT INTO message_links (platform, chat_id, message_id, article_id, "
                "comment_id, destination_id) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
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

        await self._atomic(body)

    async def retry_delivery(
        self,
        delivery: Delivery,
        error: str,
        due_at: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        async def body(tx: Tx) -> None:
            await tx.run(
                f"UPDATE deliveries SET state = $1, due_at = {_HELD.format('$2')}, "
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

        await self._atomic(body)

    async def release_claims(self, worker: str, platform: Platform | None = None) -> int:
        sql = (
            "UPDATE deliveries SET state = 'pending', claimed_by = NULL, "
            f"due_at = {_HELD.format('updated_at')}, "
            "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END "
            "WHERE state = 'sending' AND claimed_by = $1"
        )
        params: list[str] = [worker]
        if platform is not None:
            sql += " AND platform = $2"
            params.append(str(platform))

        async def body(tx: Tx) -> int:
            count = await tx.run(sql, *params)
            if count:
                await tx.notify(["outbox"])
            return count

        return await self._atomic(body)

    # -- small state, roles and feeds -----------------------------------------------------

    async def setdefault_state(self, key: str, value: str) -> str:
        async def body(tx: Tx) -> str:
            # Two statements: on PostgreSQL the SELECT takes a snapshot after the INSERT
            # waited for any concurrent insert of the same key, so it sees the value that won.
            await tx.run(
                "INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                key,
                value,
            )
            row = await tx.row("SELECT value FROM state WHERE key = $1", key)
            assert row is not None
            return str(row[0])

        return await self._atomic(body)

    async def acquire_role(
        self, role: str, worker: str, now: datetime, lease: float
    ) -> RoleLease | None:
        until = now + timedelta(seconds=lease)

        async def body(tx: Tx) -> RoleLease | None:
            # One statement: concurrent claimants queue on the row, and each sees the winner.
            row = await tx.row(
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
            if row is None:
                return None
            return RoleLease(role, worker, until.astimezone(UTC), int(row[0]))

        return await self._atomic(body)

    async def add_feed(self, new: NewFeed, now: datetime) -> tuple[Feed, bool]:
        async def body(tx: Tx) -> tuple[Feed, bool]:
            tags = " ".join(new.tags)
            row = await tx.row(
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
                row = await tx.row(
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
                row = await tx.row(f"SELECT {rows.FEED} FROM feeds WHERE url = $1", new.url)
            assert row is not None
            seen = await tx.row("SELECT count(*) FROM feed_items WHERE feed_id = $1", row[0])
            return rows.feed(row, 0 if seen is None else int(seen[0])), changed

        return await self._atomic(body)

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        if not items:
            return

        async def body(tx: Tx) -> None:
            await tx.many(
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

        await self._atomic(body)


async def _request(tx: Tx, key: str) -> int | None:
    """The article a request (a command carried out once) was about, if it was carried out.

    On PostgreSQL the request's lock is held to the end of the transaction, so that the same
    request arriving twice at once is carried out once.
    """
    await tx.lock("SELECT pg_advisory_xact_lock($1, hashtext($2))", _REQUEST_CLASS, key)
    row = await tx.row("SELECT article_id FROM requests WHERE key = $1", key)
    return None if row is None else int(row[0])


async def _hold_edit(tx: Tx, comment_id: int, held: datetime, now: datetime) -> int:
    """Re-enqueue a comment's copies as edits, none of them sent before ``held``
    (``Store.edit_comment``); return how many. Rows are locked in id order as in
    ``_reenqueue``."""
    await tx.lock(
        "SELECT 1 FROM deliveries WHERE comment_id = $1 ORDER BY id FOR UPDATE", comment_id
    )
    count = await tx.run(
        "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = $2, attempts = 0, "
        "generation = generation + 1, last_error = NULL, updated_at = $3, not_before = $2 "
        "WHERE comment_id = $1 AND message_id IS NOT NULL AND state = 'sent' "
        "AND op != 'delete'",
        comment_id,
        held,
        now,
    )
    # The later of the two (a NULL compares to nothing, so gives way to ``held``).
    count += await tx.run(
        "UPDATE deliveries SET due_at = CASE WHEN due_at > $2 THEN due_at ELSE $2 END, "
        "not_before = CASE WHEN not_before > $2 THEN not_before ELSE $2 END "
        "WHERE comment_id = $1 AND state IN ('pending', 'failed') AND op != 'delete'",
        comment_id,
        held,
    )
    count += await tx.run(
        "UPDATE deliveries SET op = 'edit', generation = generation + 1, updated_at = $3, "
        "not_before = CASE WHEN not_before > $2 THEN not_before ELSE $2 END "
        "WHERE comment_id = $1 AND state = 'sending' AND op != 'delete'",
        comment_id,
        held,
        now,
    )
    return count


async def _reenqueue(tx: Tx, where: str, key: int, op: DeliveryOp, now: datetime) -> int:
    """Re-enqueue deliveries matching ``where`` (on ``$1``) as ``op``; return how many.

    Sent (and, for deletes, waiting) messages get the new op, due now; sends in flight get the
    new op and a new generation, so they come back pending once they finish; for a delete,
    posts that never went out are cancelled.

    On PostgreSQL the rows are locked first, in id order: a claim committing meanwhile is
    waited for, so the updates below see it ``sending`` (and bump its generation) instead of
    a ``pending`` row whose claim already read the old content.
    """
    await tx.lock(f"SELECT 1 FROM deliveries WHERE {where} ORDER BY id FOR UPDATE", key)
    if op is DeliveryOp.DELETE:
        await tx.run(
            "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = $2, "
            "last_error = 'cancelled: removed before it was sent' "
            f"WHERE {where} AND message_id IS NULL AND state IN ('pending', 'failed')",
            key,
            now,
        )
        settled = "('sent', 'pending', 'failed')"
    else:
        settled = "('sent')"
    count = await tx.run(
        "UPDATE deliveries SET op = $2, state = 'pending', due_at = $3, attempts = 0, "
        "generation = generation + 1, last_error = NULL, updated_at = $3 "
        f"WHERE {where} AND message_id IS NOT NULL AND state IN {settled} AND op != 'delete'",
        key,
        str(op),
        now,
    )
    count += await tx.run(
        "UPDATE deliveries SET op = $2, generation = generation + 1, updated_at = $3 "
        f"WHERE {where} AND state = 'sending' AND op != 'delete'",
        key,
        str(op),
        now,
    )
    return count
