"""Readers as people: ``/link`` links this Discord account to a person signed in on the web
(a one-time code either way); ``/notifications on|off`` says whether replies to one's
comments come as DMs from the bot. The answer is ephemeral: only the user who ran it sees the
code, and Discord vouches for who ran it."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup
from adapters.discord.interactions import reply, say, service_of, words
from newsbot.i18n import N_
from newsbot.identity import LINKED
from newsbot.models import Platform
from newsbot.people import Proof, Proven


def proven(interaction: discord.Interaction) -> Proven:
    """The account that ran the command (Discord signs the interaction for the bot)."""
    user = interaction.user
    name = user.global_name or user.name
    return Proven(Platform.DISCORD, str(user.id), name, Proof.LINK_CODE)


class PeopleCommands(CommandGroup, name="people", description="Your account"):
    """Commands about one's own account: anyone may."""

    @app_commands.command()
    @app_commands.describe(code="A code the web site gave you (leave empty to get one)")
    async def link(self, interaction: discord.Interaction, code: str | None = None) -> None:
        """Link your Discord account to the web site."""

        service = service_of(interaction)
        await service.notifications.started(Platform.DISCORD, str(interaction.user.id))
        if code:
            person = await service.people.redeem_in_chat(proven(interaction), code)
            accounts = ", ".join(f"{a.platform} ({a.name})" for a in person.accounts)
            await say(interaction, LINKED, accounts=accounts)
            return
        made = await service.people.chat_link_code(proven(interaction))
        await say(
            interaction,
            N_(
                "Your link code: %(code)s. Enter it at %(url)s/signin while signed "
                "in, within 10 minutes. Only you can see this message; do not share the code."
            ),
            code=f"`{made}`",
            url=service.public_url,
        )

    @app_commands.command()
    @app_commands.describe(state="on: replies to your comments come as DMs; off: they do not")
    async def notifications(
        self, interaction: discord.Interaction, state: Literal["on", "off"] | None = None
    ) -> None:
        """Replies to your comments as direct messages from the bot."""

        notes = service_of(interaction).notifications
        account = str(interaction.user.id)
        if state is not None:
            await notes.switch(Platform.DISCORD, account, state == "on")
        else:
            await notes.started(Platform.DISCORD, account)
        on = await notes.enabled(Platform.DISCORD, account)
        said = (
            N_("Replies to your comments come to you as direct messages.")
            if on
            else N_("Replies are not sent to you.")
        )
        change = N_(
            "Change it with /notifications on or off. Discord delivers them only while "
            "you share a server with the bot and allow its DMs."
        )
        await reply(
            interaction, f"{await words(interaction, said)} {await words(interaction, change)}"
        )
