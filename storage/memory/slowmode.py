"""A story's slow mode in memory: its seconds, and what the core's rule looks up."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from newsbot import slowmode
from newsbot.models import ArticleId, CommentStatus, DeliveryOp, Platform
from storage.memory.tables import _FAILED, _PENDING, MemoryBase, _utc


class MemorySlowMode(MemoryBase):
    """``DeskStore``'s slow-mode methods on the memory database."""

    @property
    def _slow_modes(self) -> dict[ArticleId, int]:
        db = self._db
        modes: dict[ArticleId, int] | None = getattr(db, "slow_modes", None)
        if modes is None:
            modes = {}
            db.slow_modes = modes  # type: ignore[attr-defined]
        return modes

    async def set_slow_mode(self, article_id: ArticleId, seconds: int, now: datetime) -> int:
        if seconds <= 0:
            self._slow_modes.pop(article_id, None)
        else:
            self._slow_modes[article_id] = seconds
        posts = [
            d
            for d in self._db.deliveries.values()
            if d.article_id == article_id and not d.comment_id and d.platform is Platform.DISCORD
        ]
        now = _utc(now)
        queued = self._reenqueue(posts, DeliveryOp.EDIT, now)
        for d in posts:  # an edit waiting for its pace (a count refresh) goes now
            due = d.next_attempt_at
            if d.op is DeliveryOp.EDIT and d.state in (_PENDING, _FAILED) and due and due > now:
                self._put(d, next_attempt_at=now)
                queued += 1
        self._changed()
        return queued

    async def get_slow_mode(self, article_id: ArticleId) -> int:
        return self._slow_modes.get(article_id, 0)

    async def slow_lookups(
        self, article_id: ArticleId, authors: Collection[tuple[str, str]]
    ) -> slowmode.Lookups:
        return self._slow_lookups([article_id], authors)

    def _slow_lookups(
        self, article_ids: Sequence[ArticleId], authors: Collection[tuple[str, str]]
    ) -> slowmode.Lookups:
        """What ``storage.slowmode.lookups`` finds, from the memory database."""
        if not article_ids or not authors:
            return slowmode.Lookups()
        wanted = slowmode.accounts(authors)
        people: dict[tuple[str, str], int] = {}
        for person in self._db.people.values():
            mine = {(str(a.platform), a.account_id) for a in person.accounts}
            if mine & wanted:
                people.update(dict.fromkeys(mine, int(person.id)))
        ids = slowmode.author_ids(authors, people)
        articles = set(article_ids)
        latest: dict[tuple[int, str, str], datetime] = {}
        for c in self._db.comments.values():
            key = (int(c.article_id), str(c.author.platform), c.author.user_id)
            if (
                c.article_id in articles
                and c.status is CommentStatus.VISIBLE
                and key[1:] in ids
                and (key not in latest or latest[key] < c.created_at)
            ):
                latest[key] = c.created_at
        return slowmode.Lookups(people, latest)
