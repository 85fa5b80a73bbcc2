"""The notifications port (``newsbot.ports.notifications``) on both SQL backends, written
once like ``storage.people``: plain statements over ``_rows`` and ``_atomic``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import storage.rows as rows
from newsbot.models import Article, ArticleId, Comment, CommentId, Platform
from newsbot.notifications import ITEMS_MAX, Key, NoticeJob, Prefs, Queued, decode
from storage.rows import in_lists, maybe_at
from storage.units import CommonUnits, Tx

_DUE = "((state = 'pending' AND due_at <= $1) OR (state = 'sending' AND due_at <= $1))"
# One account's notices appended to its pending row, or a row opened (a row per account
# while pending: the partial unique index makes concurrent writers meet on it).
_QUEUE = (
    "INSERT INTO notices (platform, account_id, items, count, state, due_at, created_at) "
    "VALUES ($1, $2, $3, $4, 'pending', $5, $6) "
    "ON CONFLICT (platform, account_id) WHERE state = 'pending' DO UPDATE SET "
    "count = notices.count + excluded.count, items = CASE WHEN length(notices.items) < $7 "
    "THEN notices.items || excluded.items ELSE notices.items END"
)


def per_platform(keys: Iterable[Key]) -> dict[Platform, list[str]]:
    """Accounts grouped by platform (a look-up per platform uses the key's index)."""
    found: dict[Platform, list[str]] = {}
    for platform, account_id in keys:
        found.setdefault(platform, []).append(account_id)
    return found


class SqlNotices(CommonUnits):
    """``NoticeStore`` on a SQL backend's transaction primitive."""

    async def account_prefs(self, keys: Iterable[Key]) -> dict[Key, Prefs]:
        found: dict[Key, Prefs] = {}
        for platform, accounts in per_platform(keys).items():
            for marks, chunk in in_lists(accounts, 2):
                for r in await self._rows(
                    "SELECT account_id, started, notify FROM notify_accounts "
                    f"WHERE platform = $1 AND account_id IN ({marks})",
                    str(platform),
                    *chunk,
                ):
                    notify = None if r[2] is None else bool(r[2])
                    found[(platform, str(r[0]))] = Prefs(bool(r[1]), notify)
        return found

    async def comments_by_ids(self, ids: Iterable[CommentId]) -> dict[CommentId, Comment]:
        found = await self._by_ids(f"SELECT {rows.COMMENT} FROM comments", ids)
        return {c.id: c for c in map(rows.comment, found)}

    async def articles_by_ids(self, ids: Iterable[ArticleId]) -> dict[ArticleId, Article]:
        found = await self._by_ids(f"SELECT {rows.ARTICLE} FROM articles", ids)
        return {a.id: a for a in map(rows.article, found)}

    async def _by_ids(self, select: str, ids: Iterable[int]) -> list[Any]:
        found: list[Any] = []
        for marks, chunk in in_lists(ids):
            found += await self._rows(f"{select} WHERE id IN ({marks})", *chunk)
        return found

    async def set_account_prefs(
        self,
        platform: Platform,
        account_id: str,
        *,
        started: bool | None = None,
        notify: bool | None = None,
    ) -> None:
        async def body(tx: Tx) -> None:
            await tx.run(
                "INSERT INTO notify_accounts (platform, account_id) VALUES ($1, $2) "
                "ON CONFLICT (platform, account_id) DO NOTHING",
                str(platform),
                account_id,
            )
            if started is not None:
                await tx.run(
                    "UPDATE notify_accounts SET started = $1 "
                    "WHERE platform = $2 AND account_id = $3",
                    started,
                    str(platform),
                    account_id,
                )
            if notify is not None:
                await tx.run(
                    "UPDATE notify_accounts SET notify = $1 "
                    "WHERE platform = $2 AND account_id = $3",
                    notify,
                    str(platform),
                    account_id,
                )

        await self._atomic(body)

    async def queue_notice(
        self, platform: Platform, account_id: str, item: str, due: datetime, now: datetime
    ) -> None:
        await self.queue_notices([Queued((platform, account_id), item, 1)], due, now)

    async def queue_notices(self, queued: Sequence[Queued], due: datetime, now: datetime) -> None:
        if not queued:
            return
        # In the order given (``notifications.folded`` sorts by account): two transactions
        # taking the same accounts' rows take them in one order and cannot deadlock.
        args = [(str(q.key[0]), q.key[1], q.items, q.count, due, now, ITEMS_MAX) for q in queued]

        async def body(tx: Tx) -> None:
            await tx.many(_QUEUE, args)
            await tx.notify(["outbox"])

        await self._atomic(body)

    async def claim_notices(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[NoticeJob]:
        # A claim moves due_at to the lease's end: a dead worker's claim falls due again.
        # The outer condition is checked again on a row another worker just claimed.
        async def body(tx: Tx) -> list[NoticeJob]:
            found = await tx.rows(
                "UPDATE notices SET state = 'sending', worker = $2, due_at = $3, "
                f"attempts = attempts + 1 WHERE {_DUE} AND id IN (SELECT id FROM notices "
                f"WHERE platform = $4 AND {_DUE} ORDER BY due_at, id LIMIT $5) "
                "RETURNING id, account_id, items, count, attempts",
                now,
                worker,
                now + timedelta(seconds=lease),
                str(platform),
                limit,
            )
            return sorted(
                (
                    NoticeJob(int(r[0]), platform, str(r[1]), decode(r[2]), int(r[3]), int(r[4]))
                    for r in found
                ),
                key=lambda job: job.id,
            )

        return await self._atomic(body)

    async def renew_notice_claims(self, worker: str, now: datetime, lease: float) -> int:
        async def body(tx: Tx) -> int:
            return await tx.run(
                "UPDATE notices SET due_at = $1 WHERE state = 'sending' AND worker = $2",
                now + timedelta(seconds=lease),
                worker,
            )

        return await self._atomic(body)

    async def next_notice_due(self, platform: Platform) -> datetime | None:
        found = await self._rows(
            "SELECT min(due_at) FROM notices WHERE platform = $1", str(platform)
        )
        return maybe_at(found[0][0]) if found else None

    async def visible_comments(self, comment_ids: Iterable[CommentId]) -> set[CommentId]:
        found: set[CommentId] = set()
        for comment_id in set(comment_ids):
            if await self._rows(
                "SELECT 1 FROM comments WHERE id = $1 AND status = 'visible'", comment_id
            ):
                found.add(comment_id)
        return found

    async def finish_notice(self, notice_id: int) -> None:
        await self._changed("DELETE FROM notices WHERE id = $1", notice_id)

    async def retry_notice(self, notice_id: int, due: datetime, error: str) -> None:
        # Back to pending unless a newer pending row for the account exists: then the two
        # are merged into that one (a row per account while pending).
        async def body(tx: Tx) -> None:
            row = await tx.row(
                "SELECT platform, account_id, items, count FROM notices WHERE id = $1",
                notice_id,
            )
            if row is None:
                return
            newer = await tx.row(
                "SELECT id FROM notices WHERE platform = $1 AND account_id = $2 "
                "AND state = 'pending'",
                row[0],
                row[1],
            )
            if newer is None:
                await tx.run(
                    "UPDATE notices SET state = 'pending', worker = NULL, due_at = $1, "
                    "last_error = $2 WHERE id = $3",
                    due,
                    error[:500],
                    notice_id,
                )
                return
            await tx.run(
                "UPDATE notices SET items = $1 || items, count = count + $2 WHERE id = $3",
                row[2],
                int(row[3]),
                newer[0],
            )
            await tx.run("DELETE FROM notices WHERE id = $1", notice_id)

        await self._atomic(body)
