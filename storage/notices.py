"""The notifications port (``newsbot.ports.notifications``) on both SQL backends, written
once like ``storage.people``: plain statements over ``_rows`` and ``_atomic``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from newsbot.models import CommentId, Platform
from newsbot.notifications import ITEMS_MAX, Key, NoticeJob, Prefs, decode
from storage.rows import maybe_at
from storage.units import CommonUnits, Tx

_DUE = "((state = 'pending' AND due_at <= $1) OR (state = 'sending' AND due_at <= $1))"


class SqlNotices(CommonUnits):
    """``NoticeStore`` on a SQL backend's transaction primitive."""

    async def account_prefs(self, keys: Iterable[Key]) -> dict[Key, Prefs]:
        found: dict[Key, Prefs] = {}
        for platform, account_id in set(keys):
            row = await self._rows(
                "SELECT started, notify FROM notify_accounts "
                "WHERE platform = $1 AND account_id = $2",
                str(platform),
                account_id,
            )
            if row:
                notify = row[0][1]
                found[(platform, account_id)] = Prefs(
                    bool(row[0][0]), None if notify is None else bool(notify)
                )
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
        async def body(tx: Tx) -> None:
            await tx.run(
                "INSERT INTO notices (platform, account_id, items, count, state, due_at, "
                "created_at) VALUES ($1, $2, $3, 1, 'pending', $4, $5) "
                "ON CONFLICT (platform, account_id) WHERE state = 'pending' DO UPDATE SET "
                "count = notices.count + 1, items = CASE WHEN length(notices.items) < $6 "
                "THEN notices.items || excluded.items ELSE notices.items END",
                str(platform),
                account_id,
                item,
                due,
                now,
                ITEMS_MAX,
            )
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
