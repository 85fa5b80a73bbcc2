"""``ScheduleStore`` for the SQL backends, written once on ``_atomic`` (``storage.units``).
Storing a planned article is ``CommonUnits.add_planned_article``, which a plain publish
(``add_article``) shares.

A post is *waiting* while it was never claimed: pending, no message, no attempt, no error.
Rescheduling and cancelling refuse an article with any post that is not waiting, and lock its
deliveries first on PostgreSQL, so a claim committing meanwhile is seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import storage.rows as rows
from newsbot.models import Article, ArticleId, Platform
from newsbot.scheduling import ScheduledArticle
from storage.units import CommonUnits, Tx, _topics

_POSTS = "article_id = $1 AND comment_id IS NULL"
_WAITING = (
    "op = 'post' AND state = 'pending' AND message_id IS NULL AND attempts = 0 "
    "AND last_error IS NULL"
)


class ScheduleUnits(CommonUnits):
    """Scheduled articles and lanes on a SQL backend."""

    async def scheduled_articles(self, now: datetime) -> list[ScheduledArticle]:
        found = await self._rows(
            f"SELECT {rows.ARTICLE} FROM articles WHERE status = 'published' AND ("
            "published_at > $1 OR id IN (SELECT article_id FROM deliveries "
            f"WHERE due_at > $1 AND comment_id IS NULL AND {_WAITING})) "
            "ORDER BY published_at, id",
            now,
        )
        return [await self._scheduled(rows.article(r), now) for r in found]

    async def scheduled_article(
        self, article_id: ArticleId, now: datetime
    ) -> ScheduledArticle | None:
        row = await self._row(
            f"SELECT {rows.ARTICLE} FROM articles WHERE id = $1 AND status = 'published'",
            article_id,
        )
        if row is None:
            return None
        item = await self._scheduled(rows.article(row), now)
        live = item.article.published_at
        return item if item.platforms or (live is not None and live > now) else None

    async def _scheduled(self, article: Article, now: datetime) -> ScheduledArticle:
        found = await self._rows(
            "SELECT platform, min(due_at), count(*) FROM deliveries "
            f"WHERE {_POSTS} AND due_at > $2 AND {_WAITING} GROUP BY platform",
            article.id,
            now,
        )
        times = {Platform(r[0]): rows.at(r[1]) for r in found}
        return ScheduledArticle(article, times, sum(int(r[2]) for r in found))

    async def reschedule_article(
        self,
        article_id: ArticleId,
        live_at: datetime,
        platforms: Mapping[Platform, datetime],
        now: datetime,
    ) -> bool:
        async def body(tx: Tx) -> bool:
            if not await _still_scheduled(tx, article_id, now):
                return False
            await tx.run(
                "UPDATE articles SET published_at = $1, updated_at = $2 WHERE id = $3",
                live_at,
                now,
                article_id,
            )
            moves = [(live_at, None), *((when, str(p)) for p, when in platforms.items())]
            for when, platform in moves:
                await tx.run(
                    f"UPDATE deliveries SET due_at = $2, updated_at = $3 WHERE {_POSTS}"
                    + ("" if platform is None else " AND platform = $4"),
                    article_id,
                    when,
                    now,
                    *([] if platform is None else [platform]),
                )
            await tx.notify(_topics(article_id, 1))
            return True

        return await self._atomic(body)

    async def cancel_scheduled_article(self, article_id: ArticleId, now: datetime) -> bool:
        async def body(tx: Tx) -> bool:
            if not await _still_scheduled(tx, article_id, now):
                return False
            await tx.run(
                "UPDATE articles SET status = 'draft', published_at = NULL, updated_at = $1 "
                "WHERE id = $2",
                now,
                article_id,
            )
            await tx.run(
                "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = $2, "
                f"last_error = 'cancelled: unscheduled before it was sent' WHERE {_POSTS}",
                article_id,
                now,
            )
            await tx.notify(_topics(article_id, 0))
            return True

        return await self._atomic(body)

    async def next_live_at(self, now: datetime) -> datetime | None:
        row = await self._row(
            "SELECT min(published_at) FROM articles WHERE status = 'published' "
            "AND published_at > $1",
            now,
        )
        return None if row is None or row[0] is None else rows.at(row[0])


async def _still_scheduled(tx: Tx, article_id: ArticleId, now: datetime) -> bool:
    """Whether the article's web time is ahead and none of its posts was claimed."""
    await tx.lock(f"SELECT 1 FROM deliveries WHERE {_POSTS} ORDER BY id FOR UPDATE", article_id)
    row = await tx.row(
        "SELECT 1 FROM articles WHERE id = $1 AND status = 'published' AND published_at > $2",
        article_id,
        now,
    )
    if row is None:
        return False
    claimed = await tx.row(
        f"SELECT 1 FROM deliveries WHERE {_POSTS} AND NOT ({_WAITING}) LIMIT 1", article_id
    )
    return claimed is None
