"""The figures use cases: an article's figures for newsbot admins, and web views counted.

``NewsService.figures`` is one of these. What the figures are is ``newsbot.stats``'s; the
store reads what they are made of (``StatsStore``) and adds up the views every worker
counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from newsbot.errors import NotFound
from newsbot.i18n import N_
from newsbot.models import Actor, ArticleId, ArticleStatus, Platform
from newsbot.ports import Clock, Store
from newsbot.reacting import ReactionService
from newsbot.stats import ArticleFigures, figures


class FiguresService:
    """Per-article figures and web views.

    Args:
        store: where the figures are read and the views added.
        clock: the time source.
        reactions: the reaction use cases (their counts are part of the figures).
        require_admin: raises ``PermissionDenied`` unless the actor is a newsbot admin.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        reactions: ReactionService,
        require_admin: Callable[[Actor, str], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.reactions = reactions
        self.require_admin = require_admin

    async def article(self, actor: Actor, article_id: ArticleId) -> ArticleFigures:
        """One article's figures, for a newsbot admin.

        Raises:
            PermissionDenied: the actor is not a newsbot admin.
            NotFound: there is no such article (or it is a draft).
        """
        self.require_admin(actor, N_("see an article's figures"))
        article = await self.store.get_article(article_id)
        if article is None or article.status is ArticleStatus.DRAFT:
            raise NotFound(N_("There is no article %(id)s."), id=article_id)
        return figures(
            article,
            await self.store.post_times(article.id),
            await self.store.comment_times(article.id),
            await self.reactions.counts(article.id),
            await self.store.article_views(article.id),
            self.clock.now(),
            await self.store.reaction_times(article.id),
        )

    async def latest(self, actor: Actor, limit: int = 10) -> list[ArticleFigures]:
        """The figures of the latest published articles, newest first, for a newsbot admin."""
        self.require_admin(actor, N_("see articles' figures"))
        found = await self.store.latest_articles(max(1, min(limit, 100)), None)
        return [await self.article(actor, a.id) for a in found]

    async def add_views(self, counts: Sequence[tuple[ArticleId, str, int]]) -> None:
        """Add web views counted in memory: ``(article, source, views)``."""
        await self.store.add_views(counts)

    async def totals(self) -> tuple[int, dict[Platform, int]]:
        """Every web view counted, and every reaction per platform (for monitoring)."""
        return await self.store.view_totals(), await self.reactions.totals()

    async def chat_names(self, figures_: ArticleFigures) -> dict[str, str]:
        """The names of the chats readers came from (``d`` + destination id -> title)."""
        names = {}
        for destination in await self.store.list_destinations(active_only=False):
            key = f"d{destination.id}"
            if key in figures_.arrivals:
                names[key] = f"{destination.platform} {destination.title or destination.chat_id}"
        return names
