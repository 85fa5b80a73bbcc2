"""Article figures in a memory store: the reads, and web views per source."""

from __future__ import annotations

from collections.abc import Sequence

from newsbot.models import ArticleId, CommentStatus
from newsbot.stats import CommentTime, PostTime
from storage.memory.tables import MemoryBase


class Stats(MemoryBase):
    """The ``StatsStore`` in memory."""

    async def add_views(self, counts: Sequence[tuple[ArticleId, str, int]]) -> None:
        db = self._db
        for article_id, source, views in counts:
            if views > 0 and article_id in db.articles:
                key = (article_id, source)
                db.views[key] = db.views.get(key, 0) + views

    async def article_views(self, article_id: ArticleId) -> dict[str, int]:
        found = {s: n for (a, s), n in self._db.views.items() if a == article_id}
        return dict(sorted(found.items()))

    async def view_totals(self) -> int:
        return sum(self._db.views.values())

    async def post_times(self, article_id: ArticleId) -> list[PostTime]:
        db = self._db
        return [
            PostTime(d.platform, d.state, db.sent_at.get(d.id), f"d{d.destination_id}")
            for d in sorted(db.deliveries.values(), key=lambda d: d.id)
            if d.article_id == article_id and d.comment_id is None
        ]

    async def comment_times(self, article_id: ArticleId) -> list[CommentTime]:
        found = [c for c in self._db.comments.values() if c.article_id == article_id]
        found.sort(key=lambda c: (c.created_at, c.id))
        return [
            CommentTime(c.source.platform, c.created_at, c.status is CommentStatus.VISIBLE)
            for c in found
        ]
