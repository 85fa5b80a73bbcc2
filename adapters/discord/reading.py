"""Reading commands anyone may run: /latest, /article, and /comments with its pager."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup, answer_failure
from adapters.discord.interactions import (
    actor_of,
    admit,
    reply,
    service_of,
    speech_of,
)
from adapters.discord.publisher import NO_MENTIONS
from adapters.discord.render import (
    NEXT,
    PREVIOUS,
    article_embed,
    latest_embed,
    thread_embed,
    thread_lines,
)
from newsbot.i18n import ENGLISH, N_, Translator
from newsbot.models import Actor, Article, ArticleId, ArticleStatus
from newsbot.service import NewsService
from newsbot.threads import PAGE_COMMENTS

COMMENTS_PAGE = 10


class CommentsView(discord.ui.View):
    """Previous / Next buttons over an article's thread, one page of top-level comments each.

    Args:
        service: where pages come from.
        article: the article whose thread is shown.
        cursors: the cursor of every page shown so far (``None`` for the first).
        next_cursor: the cursor of the page after the current one, if any.
    """

    def __init__(
        self,
        service: NewsService,
        article: Article,
        cursors: list[str | None],
        next_cursor: str | None,
        tr: Translator = ENGLISH,
    ) -> None:
        super().__init__(timeout=15 * 60)
        self.service = service
        self.article = article
        self.cursors = cursors
        self.next_cursor = next_cursor
        self.previous_page.label = tr.gettext(PREVIOUS)
        self.next_page.label = tr.gettext(NEXT)
        self.previous_page.disabled = len(cursors) <= 1
        self.next_page.disabled = next_cursor is None

    @classmethod
    async def first(
        cls, service: NewsService, article: Article, viewer: Actor, tr: Translator = ENGLISH
    ) -> tuple[discord.Embed, CommentsView]:
        """The first page of an article's thread as ``viewer`` may read it, and a view to
        page through it."""
        return await cls._page(service, article, [None], viewer, tr)

    @classmethod
    async def _page(
        cls,
        service: NewsService,
        article: Article,
        cursors: list[str | None],
        viewer: Actor,
        tr: Translator = ENGLISH,
    ) -> tuple[discord.Embed, CommentsView]:
        # Each page asks again: an article retracted meanwhile is gone for non-admins.
        size = PAGE_COMMENTS
        for _ in range(4):
            page = await service.thread(
                article.id, cursor=cursors[-1], limit=COMMENTS_PAGE, viewer=viewer, size=size
            )
            lines, cut = thread_lines(page, tr)
            if not cut or size <= 1:
                break
            # The embed holds fewer comments than the page: ask for a page of those only,
            # so that "Next" goes on from the first one left out instead of skipping it.
            size = max(1, min(size - 1, len(lines)))
        embed = thread_embed(
            article, page, url=service.article_url(article.id), page_number=len(cursors), tr=tr
        )
        return embed, cls(service, article, cursors, page.next_cursor, tr)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await admit(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, _item: discord.ui.Item[Any], /
    ) -> None:
        await answer_failure(interaction, "comments page", error)

    async def _show(self, interaction: discord.Interaction, cursors: list[str | None]) -> None:
        viewer = actor_of(interaction)
        tr = (await speech_of(interaction)).tr
        embed, view = await self._page(self.service, self.article, cursors, viewer, tr)
        self.stop()
        await interaction.response.edit_message(
            embed=embed, view=view, allowed_mentions=NO_MENTIONS
        )

    @discord.ui.button(label=PREVIOUS, custom_id="newsbot:comments:previous")
    async def previous_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[CommentsView]
    ) -> None:
        """Show the page before."""
        await self._show(interaction, self.cursors[:-1] or [None])

    @discord.ui.button(label=NEXT, custom_id="newsbot:comments:next")
    async def next_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[CommentsView]
    ) -> None:
        """Show the page after."""
        await self._show(interaction, [*self.cursors, self.next_cursor])


class ReadingCommands(CommandGroup, name="reading", description=N_("Reading")):
    """Reading: anyone may; what a reader may not see (a retracted article) is the service's
    to refuse."""

    @app_commands.command(description=N_("The latest articles."))
    @app_commands.describe(count=N_("How many articles (1 to 10)"))
    async def latest(
        self, interaction: discord.Interaction, count: app_commands.Range[int, 1, 10] = 5
    ) -> None:
        """The latest articles."""

        service = service_of(interaction)
        page = await service.latest(limit=count)
        urls = {int(a.id): service.article_url(a.id) for a in page.articles}
        await reply(interaction, embed=latest_embed(page, urls, (await speech_of(interaction)).tr))

    @app_commands.command(description=N_("Show one article."))
    @app_commands.describe(article=N_("The article's number"))
    async def article(
        self, interaction: discord.Interaction, article: app_commands.Range[int, 1]
    ) -> None:
        """Show one article."""

        service = service_of(interaction)
        found = await service.readable_article(ArticleId(article), actor_of(interaction))
        count = await service.comment_count(found.id)
        embed = article_embed(
            found,
            url=service.article_url(found.id),
            comment_count=count,
            tr=(await speech_of(interaction)).tr,
        )
        note = None if found.status is ArticleStatus.PUBLISHED else f"(status: {found.status})"
        await reply(interaction, note, embed=embed)

    @app_commands.command(description=N_("Read an article's comment thread."))
    @app_commands.describe(article=N_("The article's number"))
    async def comments(
        self, interaction: discord.Interaction, article: app_commands.Range[int, 1]
    ) -> None:
        """Read an article's comment thread."""

        service = service_of(interaction)
        viewer = actor_of(interaction)
        found = await service.readable_article(ArticleId(article), viewer)
        embed, view = await CommentsView.first(
            service, found, viewer, (await speech_of(interaction)).tr
        )
        await reply(interaction, embed=embed, view=view)
