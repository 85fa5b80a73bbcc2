"""The scheduling port: articles stored ahead of their time, and the lanes of their posts.

Part of ``Store`` (``newsbot.ports.store``); the rules it follows are written there. What is
scheduled, and when, is ``newsbot.scheduling``'s to decide; a backend only writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from newsbot.models import Article, ArticleDraft, ArticleId, Author, DestinationId, Platform
from newsbot.scheduling import ScheduledArticle


class ScheduleStore(Protocol):
    """Articles that go out later, or in another lane, than a plain ``add_article``."""

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
        """As ``ArticleStore.add_article``, but the article's ``published_at`` is ``live_at``
        and each delivery is not claimable before its own time, in ``lane`` (claims take a
        higher lane's due deliveries before a lower one's)."""
        ...

    async def scheduled_articles(self, now: datetime) -> list[ScheduledArticle]:
        """Published articles whose web time is after ``now`` or with posts waiting for a
        time after ``now`` (never claimed yet), soonest first."""
        ...

    async def scheduled_article(
        self, article_id: ArticleId, now: datetime
    ) -> ScheduledArticle | None:
        """One of ``scheduled_articles``, or ``None`` when that article is not waiting."""
        ...

    async def reschedule_article(
        self,
        article_id: ArticleId,
        live_at: datetime,
        platforms: Mapping[Platform, datetime],
        now: datetime,
    ) -> bool:
        """Move a scheduled article (its web time to ``live_at``, its posts to their
        platform's time in ``platforms``, else ``live_at``); ``False``, changing nothing,
        when it is not scheduled or one of its posts was already claimed."""
        ...

    async def cancel_scheduled_article(self, article_id: ArticleId, now: datetime) -> bool:
        """Take a scheduled article back: it becomes a draft and its posts are cancelled
        (``dead``, never sent); ``False``, changing nothing, when it is not scheduled or
        one of its posts was already claimed."""
        ...

    async def next_live_at(self, now: datetime) -> datetime | None:
        """The soonest web time after ``now`` of a scheduled article (when the lists of
        articles change without any write)."""
        ...
