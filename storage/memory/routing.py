"""Filters and templates per destination in a memory store (``RoutingStore``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from newsbot.models import (
    Article,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    DeliveryId,
    Destination,
    DestinationId,
)
from storage.memory.tables import MemoryBase, _utc


class Routing(MemoryBase):
    """Destination settings: filters and templates by destination."""

    async def destination_by_id(self, destination_id: DestinationId) -> Destination | None:
        return self._db.destinations.get(destination_id)

    def _set(self, kind: str, destination_id: DestinationId, text: str | None) -> bool:
        db = self._db
        if destination_id not in db.destinations:
            return False
        settings = db.settings.setdefault(kind, {})
        if text is None:
            settings.pop(destination_id, None)
        else:
            settings[destination_id] = text
        self._changed()
        return True

    async def set_destination_filter(
        self, destination_id: DestinationId, text: str | None, now: datetime
    ) -> bool:
        return self._set("filter", destination_id, text)

    async def destination_filters(self) -> dict[DestinationId, str]:
        return dict(sorted(self._db.settings.get("filter", {}).items()))

    async def set_destination_template(
        self, destination_id: DestinationId, text: str | None, now: datetime
    ) -> bool:
        return self._set("template", destination_id, text)

    async def destination_templates(self) -> dict[DestinationId, str]:
        return dict(sorted(self._db.settings.get("template", {}).items()))

    async def add_test_article(
        self, draft: ArticleDraft, author: Author, now: datetime, destination_id: DestinationId
    ) -> Article | None:
        db = self._db
        destination = db.destinations.get(destination_id)
        if destination is None or not destination.active:
            return None
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
            ArticleStatus.DRAFT,
            now,
            None,
            now,
            1,
        )
        db.articles[article.id] = article
        self._enqueue(article.id, None, destination_id, now)
        delivery_id = DeliveryId(db.last_id["deliveries"])
        db.deliveries[delivery_id] = replace(db.deliveries[delivery_id], lane=1)
        self._changed()
        return article
