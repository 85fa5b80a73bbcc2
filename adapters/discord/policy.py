"""A story's comment policy for newsbot admins: ``/policy``."""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup
from adapters.discord.interactions import acknowledge, actor_of, reply, service_of, words
from newsbot import slowmode
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
        article=N_("The article's number"),
        comments=N_("open, premoderated, closed, or default (the setting); leave out to see it"),
        slow=N_("Slow mode: one comment per reader per this many seconds (0: off)"),
    )
    @app_commands.choices(comments=_CHOICES)
    async def policy(
        self,
        interaction: discord.Interaction,
        article: app_commands.Range[int, 1],
        comments: str | None = None,
        slow: app_commands.Range[int, 0, slowmode.SLOW_MAX] | None = None,
    ) -> None:
        """Show or set a story's comment policy and slow mode."""
        service = service_of(interaction)
        if not await acknowledge(interaction):
            return
        article_id = ArticleId(article)
        actor = actor_of(interaction)
        if comments is None:
            await service.article(article_id)
            meets = await service.desk.policy(article_id)
        else:
            chosen = None if comments == "default" else parse(comments)
            meets = await service.desk.set_policy(actor, article_id, chosen)
        if slow is None:
            slow = await service.desk.slow_mode(article_id)
        else:
            slow = await service.desk.set_slow_mode(actor, article_id, slow)
        said = await words(interaction, POLICY_IS[str(meets)], id=article)
        pace = slowmode.described(slow)
        await reply(interaction, f"{said} {await words(interaction, pace)}" if pace else said)
