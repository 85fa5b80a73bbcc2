"""The routing port: what each subscribed chat receives (its filter) and how (its template).

Part of ``Store`` (``newsbot.ports.store``); the rules it follows are written there. Filters
are ``newsbot.filters``' text and templates the template adapter's text: a backend keeps them
as given and decides nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from newsbot.models import Article, ArticleDraft, Author, Destination, DestinationId


class RoutingStore(Protocol):
    """Filters and templates per destination."""

    async def destination_by_id(self, destination_id: DestinationId) -> Destination | None:
        """A destination by its id, active or not."""
        ...

    async def set_destination_filter(
        self, destination_id: DestinationId, text: str | None, now: datetime
    ) -> bool:
        """Keep (``None``: remove) a destination's filter; ``False`` for no such destination."""
        ...

    async def destination_filters(self) -> dict[DestinationId, str]:
        """Every destination's filter, by destination (those without one left out)."""
        ...

    async def set_destination_template(
        self, destination_id: DestinationId, text: str | None, now: datetime
    ) -> bool:
        """Keep (``None``: remove) a destination's template; ``False`` for no such one."""
        ...

    async def destination_templates(self) -> dict[DestinationId, str]:
        """Every destination's template, by destination (those without one left out)."""
        ...

    async def add_test_article(
        self, draft: ArticleDraft, author: Author, now: datetime, destination_id: DestinationId
    ) -> Article | None:
        """Store ``draft`` as a draft (no page, in no list) with one post to one active
        destination, in the breaking-news lane; ``None`` when that destination is not active."""
        ...
