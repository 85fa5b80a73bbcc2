"""``/stats``: an article's figures in short, for newsbot admins (answered ephemerally)."""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup
from adapters.discord.interactions import acknowledge, actor_of, reply, say, service_of, speech_of
from newsbot.i18n import N_
from newsbot.models import ArticleId
from newsbot.stats import NOTHING_PUBLISHED, summary


class FigureCommands(CommandGroup, name="figures", description="Figures (newsbot admins)"):
    """Articles' figures: newsbot admins only."""

    async def check(self, interaction: discord.Interaction) -> None:
        service_of(interaction).require_admin(actor_of(interaction), N_("see articles' figures"))

    @app_commands.command()
    @app_commands.describe(article="The article's number (the latest article's without it)")
    async def stats(
        self, interaction: discord.Interaction, article: app_commands.Range[int, 1] | None = None
    ) -> None:
        """An article's figures: posts, comments, reactions and web views."""
        figures = service_of(interaction).figures
        if not await acknowledge(interaction):
            return
        actor = actor_of(interaction)
        if article is not None:
            found = await figures.article(actor, ArticleId(article))
        else:
            latest = await figures.latest(actor, 1)
            if not latest:
                await say(interaction, NOTHING_PUBLISHED)
                return
            found = latest[0]
        tr = (await speech_of(interaction)).tr
        lines = summary(found, await figures.chat_names(found), tr)
        await reply(interaction, "\n".join(lines))
