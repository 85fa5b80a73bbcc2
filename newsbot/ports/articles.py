"""What the feed use cases ask of the article use cases (``newsbot.feeds``)."""

from __future__ import annotations

from typing import Protocol

from newsbot.models import Actor, Article, ArticleDraft, ArticleId
from newsbot.ports import Clock
from newsbot.ports.store import FeedStore


class Changed(Protocol):
    """What publishing or editing an article gives back (``newsbot.service.Change`` is one)."""

    @property
    def article(self) -> Article:
        """The article as it stands after the change."""
        ...


class ArticleUseCases(Protocol):
    """What the feed use cases ask of the service (``NewsService`` is one).

    Feeds publish and edit through the article use cases, so that a feed's article is
    checked, cleaned and delivered like any other; they read and write only feeds in the
    store.
    """

    @property
    def clock(self) -> Clock:
        """The time source."""
        ...

    @property
    def store(self) -> FeedStore:
        """Where feeds and their items are kept."""
        ...

    def require_admin(self, actor: Actor, action: str) -> None:
        """Raise ``PermissionDenied`` unless ``actor`` may manage feeds (``action``)."""
        ...

    async def article(self, article_id: ArticleId) -> Article:
        """Return an article, whatever its status; ``NotFound`` when there is none."""
        ...

    async def publish(
        self, actor: Actor, draft: ArticleDraft, *, request: str | None = None
    ) -> Changed:
        """Publish an article, once per ``request``; ``InvalidInput`` for a bad draft."""
        ...

    async def edit(
        self,
        actor: Actor,
        article_id: ArticleId,
        draft: ArticleDraft,
        *,
        request: str | None = None,
    ) -> Changed:
        """Edit an article, once per ``request``; ``InvalidInput`` for a bad draft."""
        ...
