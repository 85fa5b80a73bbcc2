"""A story's comment policy for newsbot admins: ``/policy``."""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup
from adapters.discord.interactions import acknowledge, actor_of, say, service_of
from newsbot.answers import POLICY_IS
from newsbot.i18n import N_
from newsbot.models import ArticleId
from newsbot.policy import CommentPolicy, parse

_CHOICES = [
    app_commands.Choice(name=name, value=name)
    for name in (*(str(c) for c in CommentPolicy), "default")
]


class PolicyCommands(CommandGroup, name="policies", description="Comment policies (admins)"):
    """Showing and setting a story's comment policy: newsbot admins only."""

    async def check(self, interaction: discord.Interaction) -> None:
        service_of(interaction).require_admin(actor_of(interaction), N_("set comment policies"))

    @app_commands.command()
    @app_commands.describe(
        article="The article's number",
        comments="open, premoderated, closed, or default (the setting); leave out to see it",
    )
    @app_commands.choices(comments=_CHOICES)
    async def policy(
        self,
        interaction: discord.Interaction,
        article: app_commands.Range[int, 1],
        comments: str | None = None,
    ) -> None:
        """Show or set a story's comment policy."""
        service = service_of(interaction)
        if not await acknowledge(interaction):
            return
        article_id = ArticleId(article)
        if comments is None:
            await service.article(article_id)
            meets = await service.desk.policy(article_id)
        else:
            chosen = None if comments == "default" else parse(comments)
            meets = await service.desk.set_policy(actor_of(interaction), article_id, chosen)
        await say(interaction, POLICY_IS[str(meets)], id=article)
