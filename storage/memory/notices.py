"""The notifications port in memory: account switches and the coalescing notice outbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from newsbot.models import Article, ArticleId, Comment, CommentId, CommentStatus, Platform
from newsbot.notifications import ITEMS_MAX, Key, NoticeJob, Prefs, Queued, decode
from storage.memory.tables import MemoryBase, NoticeRow, _utc


class MemoryNotices(MemoryBase):
    """``NoticeStore`` on the memory database."""

    async def account_prefs(self, keys: Iterable[Key]) -> dict[Key, Prefs]:
        known = self._db.notify_accounts
        return {k: known[k] for k in set(keys) if k in known}

    async def set_account_prefs(
        self,
        platform: Platform,
        account_id: str,
        *,
        started: bool | None = None,
        notify: bool | None = None,
    ) -> None:
        known = self._db.notify_accounts
        now = known.get((platform, account_id), Prefs())
        known[(platform, account_id)] = Prefs(
            now.started if started is None else started, now.notify if notify is None else notify
        )

    def _pending(self, platform: Platform, account_id: str) -> int | None:
        return next(
            (
                i
                for i, r in self._db.notices.items()
                if not r.sending and r.platform is platform and r.account_id == account_id
            ),
            None,
        )

    async def queue_notice(
        self, platform: Platform, account_id: str, item: str, due: datetime, now: datetime
    ) -> None:
        await self.queue_notices([Queued((platform, account_id), item, 1)], due, now)

    async def queue_notices(self, queued: Sequence[Queued], due: datetime, now: datetime) -> None:
        rows = self._db.notices
        for q in queued:
            pending = self._pending(*q.key)
            if pending is None:
                rows[self._db.new_id("notices")] = NoticeRow(
                    q.key[0], q.key[1], q.items, q.count, False, 0, _utc(due)
                )
            else:
                row = rows[pending]
                items = row.items + q.items if len(row.items) < ITEMS_MAX else row.items
                rows[pending] = replace(row, items=items, count=row.count + q.count)
        if queued:
            self._changed()

    async def comments_by_ids(self, ids: Iterable[CommentId]) -> dict[CommentId, Comment]:
        comments = self._db.comments
        return {i: comments[i] for i in set(ids) if i in comments}

    async def articles_by_ids(self, ids: Iterable[ArticleId]) -> dict[ArticleId, Article]:
        articles = self._db.articles
        return {i: articles[i] for i in set(ids) if i in articles}

    async def claim_notices(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[NoticeJob]:
        now = _utc(now)
        rows = self._db.notices
        due = sorted(
            (r.due_at, i) for i, r in rows.items() if r.platform is platform and r.due_at <= now
        )[:limit]
        jobs = []
        for _at, i in due:
            row = rows[i] = replace(
                rows[i],
                sending=True,
                worker=worker,
                attempts=rows[i].attempts + 1,
                due_at=now + timedelta(seconds=lease),
            )
            jobs.append(
                NoticeJob(i, platform, row.account_id, decode(row.items), row.count, row.attempts)
            )
        return sorted(jobs, key=lambda job: job.id)

    async def renew_notice_claims(self, worker: str, now: datetime, lease: float) -> int:
        rows = self._db.notices
        mine = [i for i, r in rows.items() if r.sending and r.worker == worker]
        for i in mine:
            rows[i] = replace(rows[i], due_at=_utc(now) + timedelta(seconds=lease))
        return len(mine)

    async def next_notice_due(self, platform: Platform) -> datetime | None:
        rows = self._db.notices.values()
        return min((r.due_at for r in rows if r.platform is platform), default=None)

    async def visible_comments(self, comment_ids: Iterable[CommentId]) -> set[CommentId]:
        comments = self._db.comments
        return {
            c
            for c in set(comment_ids)
            if c in comments and comments[c].status is CommentStatus.VISIBLE
        }

    async def finish_notice(self, notice_id: int) -> None:
        self._db.notices.pop(notice_id, None)

    async def retry_notice(self, notice_id: int, due: datetime, error: str) -> None:
        rows = self._db.notices
        row = rows.get(notice_id)
        if row is None:
            return
        newer = self._pending(row.platform, row.account_id)
        if newer is None:
            rows[notice_id] = replace(
                row, sending=False, worker=None, due_at=_utc(due), error=error[:500]
            )
            return
        rows[newer] = replace(
            rows[newer], items=row.items + rows[newer].items, count=rows[newer].count + row.count
        )
        del rows[notice_id]
