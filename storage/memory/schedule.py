"""Scheduled articles and lanes in a memory store (``ScheduleStore``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from newsbot.models import (
    Article,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    Delivery,
    DeliveryId,
    DestinationId,
    Platform,
)
from newsbot.scheduling import ScheduledArticle
from storage.memory.tables import _DEAD, _PENDING, MemoryBase, _utc


class Schedules(MemoryBase):
    """Articles stored ahead of their time, and the lane of each delivery."""

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
        db = self._db
        if request is not None and request in db.requests:
            return db.articles[db.requests[request]], False
        now = _utc(now)
        article = Article(
            ArticleId(db.new_id("articles")),
            draft.title,
            draft.body,
            draft.summary,
            draft.url,
            draft.image_url,
            author,
            draft.tags,
            ArticleStatus.PUBLISHED,
            now,
            _utc(live_at),
            now,
            1,
        )
        db.articles[article.id] = article
        for destination_id, due in deliver_to:
            if self._enqueue(article.id, None, destination_id, _utc(due)):
                delivery_id = DeliveryId(db.last_id["deliveries"])
                db.deliveries[delivery_id] = replace(
                    db.deliveries[delivery_id], updated_at=now, lane=lane
                )
        if request is not None:
            db.requests[request] = article.id
        self._changed()
        return article, True

    def _scheduled_posts(self, article_id: ArticleId) -> list[Delivery]:
        return [
            d
            for d in self._db.deliveries.values()
            if d.article_id == article_id and d.comment_id is None
        ]

    def _item(self, article: Article, now: datetime) -> ScheduledArticle:
        times: dict[Platform, datetime] = {}
        waiting = 0
        for d in self._scheduled_posts(article.id):
            due = d.next_attempt_at
            if _waiting(d) and due is not None and due > now:
                waiting += 1
                times[d.platform] = min(times.get(d.platform, due), due)
        return ScheduledArticle(article, times, waiting)

    async def scheduled_articles(self, now: datetime) -> list[ScheduledArticle]:
        found = []
        for article in self._db.articles.values():
            if article.status is not ArticleStatus.PUBLISHED:
                continue
            item = self._item(article, now)
            if item.platforms or _ahead(article, now):
                found.append(item)
        found.sort(key=lambda i: (i.article.published_at or now, i.article.id))
        return found

    async def scheduled_article(
        self, article_id: ArticleId, now: datetime
    ) -> ScheduledArticle | None:
        article = self._db.articles.get(article_id)
        if article is None or article.status is not ArticleStatus.PUBLISHED:
            return None
        item = self._item(article, now)
        return item if item.platforms or _ahead(article, now) else None

    def _still_scheduled(self, article_id: ArticleId, now: datetime) -> Article | None:
        article = self._db.articles.get(article_id)
        if article is None or article.status is not ArticleStatus.PUBLISHED:
            return None
        if not _ahead(article, now) or not all(map(_waiting, self._scheduled_posts(article_id))):
            return None
        return article

    async def reschedule_article(
        self,
        article_id: ArticleId,
        live_at: datetime,
        platforms: Mapping[Platform, datetime],
        now: datetime,
    ) -> bool:
        article = self._still_scheduled(article_id, now)
        if article is None:
            return False
        now = _utc(now)
        self.database.articles[article_id] = replace(
            article, published_at=_utc(live_at), updated_at=now
        )
        for d in self._scheduled_posts(article_id):
            due = _utc(platforms.get(d.platform, live_at))
            self._put(d, next_attempt_at=due, updated_at=now)
        self._changed()
        return True

    async def cancel_scheduled_article(self, article_id: ArticleId, now: datetime) -> bool:
        article = self._still_scheduled(article_id, now)
        if article is None:
            return False
        now = _utc(now)
        self.database.articles[article_id] = replace(
            article, status=ArticleStatus.DRAFT, published_at=None, updated_at=now
        )
        for d in self._scheduled_posts(article_id):
            self._put(
                d,
                state=_DEAD,
                next_attempt_at=None,
                updated_at=now,
                last_error="cancelled: unscheduled before it was sent",
            )
        self._changed()
        return True

    async def next_live_at(self, now: datetime) -> datetime | None:
        return min(
            (
                a.published_at
                for a in self._db.articles.values()
                if a.status is ArticleStatus.PUBLISHED
                and _ahead(a, now)
                and a.published_at is not None
            ),
            default=None,
        )


def _ahead(article: Article, now: datetime) -> bool:
    return article.published_at is not None and article.published_at > now


def _waiting(d: Delivery) -> bool:
    return (
        d.state is _PENDING
        and d.message_id is None
        and d.attempts == 0
        and d.last_error is None
        and d.op.value == "post"
    )
