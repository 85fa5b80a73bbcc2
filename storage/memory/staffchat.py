"""``StaffNoticeStore`` in memory: the staff chat's notices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from newsbot.models import CommentId, Platform
from newsbot.staffchat import Kind, StaffChat, StaffNotice, enter_all, notice_due
from storage.memory.tables import MemoryBase, _utc


class StaffNotices(MemoryBase):
    """The staff notices' methods on a memory database."""

    @property
    def _notices(self) -> dict[int, tuple[StaffNotice, datetime | None]]:
        """Each notice by id, with when it is due (``None``: not claimable)."""
        db = self._db
        table: dict[int, tuple[StaffNotice, datetime | None]] | None = getattr(
            db, "staff_notices", None
        )
        if table is None:
            table = {}
            db.staff_notices = table  # type: ignore[attr-defined]
        return table

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
        now = _utc(now)
        table = self._notices
        pending = next(
            (n for n, _ in table.values() if n.chat == chat and n.state == "pending"), None
        )
        notice, new = enter_all(None if pending is None else pending.notice, items)
        if new:
            last = max(
                (
                    n.updated_at
                    for n, _ in table.values()
                    if n.chat == chat and n.state in ("sending", "sent")
                ),
                default=None,
            )
            notice_id = max(table, default=0) + 1
            table[notice_id] = (
                StaffNotice(notice_id, chat, notice, "pending", 0, None, None, None, now),
                notice_due(now, last, gap),
            )
            self._changed()
            return True
        assert pending is not None
        if notice != pending.notice:
            due = table[pending.id][1]
            table[pending.id] = (replace(pending, notice=notice, updated_at=now), due)
        return False

    async def claim_staff_notices(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[StaffNotice]:
        now = _utc(now)
        table = self._notices
        due = sorted(
            (at, n.id)
            for n, at in table.values()
            if n.chat.platform is platform and at is not None and at <= now
        )[:limit]
        claimed = []
        for _, notice_id in due:
            notice = table[notice_id][0]
            notice = replace(
                notice,
                state="sending",
                attempts=notice.attempts + 1,
                claimed_by=worker,
                updated_at=now,
            )
            table[notice_id] = (notice, now + timedelta(seconds=lease))
            claimed.append(notice)
        return claimed

    def _settle(
        self,
        notice_id: int,
        worker: str | None,
        due: datetime | None,
        now: datetime,
        **changes: object,
    ) -> None:
        table = self._notices
        found = table.get(notice_id)
        if found is None or found[0].state != "sending":
            return
        if worker is not None and found[0].claimed_by != worker:
            return
        notice = replace(found[0], claimed_by=None, updated_at=_utc(now), **changes)  # type: ignore[arg-type]
        table[notice_id] = (notice, due)
        if due is not None:
            self._changed()

    async def complete_staff_notice(
        self, notice_id: int, worker: str, message_id: str, now: datetime
    ) -> None:
        self._settle(
            notice_id, None, None, now, state="sent", message_id=message_id, last_error=None
        )

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
        found = self._notices.get(notice_id)
        attempts = 0 if found is None else found[0].attempts - (0 if count_attempt else 1)
        self._settle(
            notice_id,
            worker,
            _utc(due),
            now,
            state="waiting",
            last_error=error[:500],
            attempts=attempts,
        )

    async def fail_staff_notice(
        self, notice_id: int, worker: str, error: str, now: datetime
    ) -> None:
        self._settle(notice_id, worker, None, now, state="dead", last_error=error[:500])

    async def next_staff_notice_due(self, platform: Platform) -> datetime | None:
        return min(
            (at for n, at in self._notices.values() if n.chat.platform is platform and at),
            default=None,
        )

    async def renew_staff_claims(self, worker: str, now: datetime, lease: float) -> int:
        table = self._notices
        mine = [n for n, _ in table.values() if n.state == "sending" and n.claimed_by == worker]
        for notice in mine:
            table[notice.id] = (notice, _utc(now) + timedelta(seconds=lease))
        return len(mine)

    async def release_staff_claims(self, worker: str) -> int:
        table = self._notices
        mine = [n for n, _ in table.values() if n.state == "sending" and n.claimed_by == worker]
        for notice in mine:
            table[notice.id] = (
                replace(notice, state="waiting", claimed_by=None, attempts=notice.attempts - 1),
                notice.updated_at,
            )
        if mine:
            self._changed()
        return len(mine)

    async def staff_notices(self, chat: StaffChat, limit: int) -> list[StaffNotice]:
        found = [n for n, _ in self._notices.values() if n.chat == chat]
        return sorted(found, key=lambda n: n.id, reverse=True)[:limit]
