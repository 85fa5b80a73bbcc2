"""``StaffNoticeStore`` (the staff chat's notices in the outbox) on both SQL backends, written
once on ``storage.units.Tx`` and the plain-statement primitives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import storage.rows as rows
from newsbot.models import CommentId, Platform
from newsbot.staffchat import (
    Kind,
    Notice,
    StaffChat,
    StaffNotice,
    enter_all,
    notice_due,
    parse_staff_chat,
)
from storage.units import CommonUnits, Tx

_COLUMNS = (
    "id, chat, lead, kind, more_held, more_reported, state, attempts, message_id, "
    "claimed_by, last_error, updated_at"
)


def _notice(row: Any) -> StaffNotice:
    chat = parse_staff_chat(row[1])
    assert chat is not None
    more = {Kind.HELD: int(row[4]), Kind.REPORTED: int(row[5])}
    return StaffNotice(
        id=int(row[0]),
        chat=chat,
        notice=Notice(CommentId(int(row[2])), Kind(row[3]), {k: n for k, n in more.items() if n}),
        state=row[6],
        attempts=int(row[7]),
        message_id=row[8],
        claimed_by=row[9],
        last_error=row[10],
        updated_at=rows.at(row[11]),
    )


async def _insert(tx: Tx, chat: StaffChat, notice: Notice, now: datetime, gap: float) -> int:
    """A new pending notice for ``chat``, due ``gap`` after its last one went; 0 when another
    worker's pending notice is there already."""
    last = await tx.row(
        "SELECT max(updated_at) FROM staff_notices WHERE chat = $1 "
        "AND state IN ('sending', 'sent')",
        str(chat),
    )
    due = notice_due(now, None if last is None else rows.maybe_at(last[0]), gap)
    return await tx.run(
        "INSERT INTO staff_notices (chat, platform, lead, kind, more_held, more_reported, "
        "state, due_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $7, $8, 'pending', "
        "$6, $5, $5) ON CONFLICT (chat) WHERE state = 'pending' DO NOTHING",
        str(chat),
        str(chat.platform),
        int(notice.lead),
        str(notice.kind),
        now,
        due,
        notice.more.get(Kind.HELD, 0),
        notice.more.get(Kind.REPORTED, 0),
    )


class SqlStaffNotices(CommonUnits):
    """The staff notices' methods, on a SQL backend's ``_atomic`` and ``_rows``."""

    async def enqueue_staff_notice(
        self, chat: StaffChat, comment_id: CommentId, kind: Kind, now: datetime, gap: float = 0.0
    ) -> bool:
        return await self.enqueue_staff_notices(chat, [(comment_id, kind)], now, gap)

    async def enqueue_staff_notices(
        self,
        chat: StaffChat,
        items: Sequence[tuple[CommentId, Kind]],
        now: datetime,
        gap: float = 0.0,
    ) -> bool:
        if not items:
            return False

        async def body(tx: Tx) -> bool:
            # Twice at most: a notice inserted or claimed by another worker between our read
            # and our write is read again.
            for _ in range(3):
                await tx.lock(
                    "SELECT id FROM staff_notices WHERE chat = $1 AND state = 'pending' "
                    "FOR UPDATE",
                    str(chat),
                )
                row = await tx.row(
                    f"SELECT {_COLUMNS} FROM staff_notices WHERE chat = $1 AND state = 'pending'",
                    str(chat),
                )
                pending = None if row is None else _notice(row)
                notice, new = enter_all(None if pending is None else pending.notice, items)
                if new:
                    if await _insert(tx, chat, notice, now, gap):
                        await tx.notify(["outbox"])
                        return True
                    continue
                assert pending is not None
                if notice == pending.notice:
                    return False
                if await tx.run(
                    "UPDATE staff_notices SET more_held = $2, more_reported = $3, "
                    "updated_at = $4 WHERE id = $1 AND state = 'pending'",
                    pending.id,
                    notice.more.get(Kind.HELD, 0),
                    notice.more.get(Kind.REPORTED, 0),
                    now,
                ):
                    return False
            return False

        return await self._atomic(body)

    async def claim_staff_notices(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[StaffNotice]:
        expiry = now + timedelta(seconds=lease)

        async def body(tx: Tx) -> list[StaffNotice]:
            # The outer condition is checked again on the locked row (PostgreSQL), so two
            # workers claiming together never both take one notice.
            found = await tx.rows(
                "UPDATE staff_notices SET state = 'sending', attempts = attempts + 1, "
                "due_at = $3, claimed_by = $4, updated_at = $2 WHERE id IN ("
                "SELECT id FROM staff_notices WHERE platform = $1 AND due_at <= $2 "
                "ORDER BY due_at, id LIMIT $5) AND due_at <= $2 "
                f"RETURNING {_COLUMNS}",
                str(platform),
                now,
                expiry,
                worker,
                limit,
            )
            return sorted((_notice(r) for r in found), key=lambda n: n.id)

        return await self._atomic(body)

    async def complete_staff_notice(
        self, notice_id: int, worker: str, message_id: str, now: datetime
    ) -> None:
        async def body(tx: Tx) -> None:
            # Recorded even if another worker took the claim over: the message exists.
            await tx.run(
                "UPDATE staff_notices SET state = 'sent', message_id = $2, due_at = NULL, "
                "claimed_by = NULL, last_error = NULL, updated_at = $3 "
                "WHERE id = $1 AND state = 'sending'",
                notice_id,
                message_id,
                now,
            )

        await self._atomic(body)

    async def retry_staff_notice(
        self,
        notice_id: int,
        worker: str,
        error: str,
        due: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        async def body(tx: Tx) -> None:
            await tx.run(
                "UPDATE staff_notices SET state = 'waiting', due_at = $3, last_error = $4, "
                "attempts = attempts - $5, claimed_by = NULL, updated_at = $6 "
                "WHERE id = $1 AND state = 'sending' AND claimed_by = $2",
                notice_id,
                worker,
                due,
                error[:500],
                0 if count_attempt else 1,
                now,
            )

        await self._atomic(body)

    async def fail_staff_notice(
        self, notice_id: int, worker: str, error: str, now: datetime
    ) -> None:
        async def body(tx: Tx) -> None:
            await tx.run(
                "UPDATE staff_notices SET state = 'dead', due_at = NULL, last_error = $3, "
                "claimed_by = NULL, updated_at = $4 "
                "WHERE id = $1 AND state = 'sending' AND claimed_by = $2",
                notice_id,
                worker,
                error[:500],
                now,
            )

        await self._atomic(body)

    async def next_staff_notice_due(self, platform: Platform) -> datetime | None:
        row = await self._row(
            "SELECT min(due_at) FROM staff_notices WHERE platform = $1 AND due_at IS NOT NULL",
            str(platform),
        )
        return None if row is None else rows.maybe_at(row[0])

    async def renew_staff_claims(self, worker: str, now: datetime, lease: float) -> int:
        changed = await self._change(
            (
                "UPDATE staff_notices SET due_at = $1 WHERE state = 'sending' AND claimed_by = $2",
                (now + timedelta(seconds=lease), worker),
            )
        )
        return changed[0]

    async def release_staff_claims(self, worker: str) -> int:
        async def body(tx: Tx) -> int:
            return await tx.run(
                "UPDATE staff_notices SET state = 'waiting', claimed_by = NULL, "
                "attempts = attempts - 1, due_at = created_at "
                "WHERE state = 'sending' AND claimed_by = $1",
                worker,
            )

        return await self._atomic(body)

    async def staff_notices(self, chat: StaffChat, limit: int) -> list[StaffNotice]:
        found = await self._rows(
            f"SELECT {_COLUMNS} FROM staff_notices WHERE chat = $1 ORDER BY id DESC LIMIT $2",
            str(chat),
            limit,
        )
        return [_notice(r) for r in found]
