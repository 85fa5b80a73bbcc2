"""Filters and templates per destination in a memory store (``RoutingStore``)."""

from __future__ import annotations

from datetime import datetime

from newsbot.models import Destination, DestinationId
from storage.memory.tables import MemoryBase


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
