"""Subscriptions: /subscribe and /unsubscribe for channel managers, /approve for newsbot
admins."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup
from adapters.discord.ids import snowflake
from adapters.discord.interactions import (
    CHANNEL_HINT,
    acknowledge,
    actor_of,
    parse_tags,
    reply,
    rights_count,
    say,
    service_of,
    words,
)
from adapters.discord.render import escape_name, platform_label
from newsbot.errors import InvalidInput, NotFound
from newsbot.i18n import N_, Message
from newsbot.models import Actor, Destination, DestinationKind, NewDestination, Platform
from newsbot.text import cut_chars

CHOICES_MAX = 25
_KINDS = {
    discord.ChannelType.text: DestinationKind.CHANNEL,
    discord.ChannelType.news: DestinationKind.ANNOUNCEMENT,
    discord.ChannelType.forum: DestinationKind.FORUM,
}

IN_A_SERVER = N_("Run this in a server channel.")
KIND_NAMES = {
    DestinationKind.CHANNEL: N_("channel"),
    DestinationKind.ANNOUNCEMENT: N_("announcement"),
    DestinationKind.FORUM: N_("forum"),
}
"""A subscribed channel's kind as an answer names it."""

_NEEDED = {
    DestinationKind.CHANNEL: (
        "view_channel",
        "send_messages",
        "embed_links",
        "create_public_threads",
        "send_messages_in_threads",
        "read_message_history",
    ),
    DestinationKind.FORUM: (
        "view_channel",
        "send_messages",
        "embed_links",
        "send_messages_in_threads",
        "read_message_history",
    ),
}
_NEEDED[DestinationKind.ANNOUNCEMENT] = _NEEDED[DestinationKind.CHANNEL]


def _target_channel(
    interaction: discord.Interaction, option: app_commands.AppCommandChannel | None
) -> tuple[discord.abc.GuildChannel, DestinationKind, discord.Permissions, discord.Permissions]:
    """The channel a subscription command is about, its kind, and the user's and the bot's
    permissions there."""
    guild = interaction.guild
    if guild is None or interaction.channel is None:
        raise InvalidInput(IN_A_SERVER)
    if option is None:
        channel: Any = interaction.channel
        user_perms, bot_perms = interaction.permissions, interaction.app_permissions
    else:
        channel = guild.get_channel(option.id)
        if channel is None:
            raise NotFound(N_("I cannot see that channel."))
        member = interaction.user
        if not isinstance(member, discord.Member):
            raise InvalidInput(IN_A_SERVER)
        user_perms = channel.permissions_for(member)
        bot_perms = channel.permissions_for(guild.me)
    kind = _KINDS.get(channel.type)
    if kind is None:
        where = (
            N_("a thread") if isinstance(channel, discord.Thread) else N_("this kind of channel")
        )
        raise InvalidInput(
            N_(
                "newsbot cannot post in %(where)s. Run this in a text or announcement channel, "
                "or name a text, announcement or forum channel with the channel option."
            ),
            where=Message(where),
        )
    return channel, kind, user_perms, bot_perms


def _missing(kind: DestinationKind, permissions: discord.Permissions) -> list[str]:
    return [
        name.replace("_", " ").title() for name in _NEEDED[kind] if not getattr(permissions, name)
    ]


def _subscriber(interaction: discord.Interaction, user_perms: discord.Permissions) -> Actor:
    actor = actor_of(interaction)
    return Actor(
        actor.platform,
        actor.user_id,
        actor.name,
        platform_admin=actor.platform_admin,
        chat_admin=rights_count(interaction) and user_perms.manage_channels,
    )


def _subscribed_text(
    name: str, kind: DestinationKind, destination: Destination, created: bool
) -> Message:
    values = {"name": f"#{name}"}
    if destination.pending:
        if created:
            asked = N_(
                "Asked to subscribe %(name)s: a newsbot admin must approve it (/approve) "
                "before articles are posted there."
            )
            return Message(asked, values=values)
        return Message(
            N_("%(name)s is already waiting for a newsbot admin's approval."), values=values
        )
    if created:
        subscribed = N_("Subscribed %(name)s: new articles will be posted there as %(kind)s.")
        return Message(subscribed, values={**values, "kind": Message(KIND_NAMES.get(kind, kind))})
    return Message(N_("%(name)s is already subscribed."), values=values)


_CHOICE = re.compile(r"(telegram|discord):([^:\s]{1,64})(?::([^:\s]{1,64}))?")
_CHANNEL_MENTION = re.compile(r"<#([0-9]{1,20})>")


def _choice_value(destination: Destination) -> str:
    value = f"{destination.platform}:{destination.chat_id}"
    return value + (f":{destination.thread_id}" if destination.thread_id else "")


def _pending_chat(value: str) -> tuple[Platform, str, str | None]:
    """The chat an ``/approve`` option names: a choice from the list (``PLATFORM:CHAT`` or
    ``PLATFORM:CHAT:THREAD``), a Discord channel id, or a channel mention."""
    value = value.strip()
    choice = _CHOICE.fullmatch(value)
    if choice is not None:
        platform = Platform(choice.group(1))
        if platform is Platform.DISCORD and snowflake(choice.group(2)) is None:
            raise InvalidInput(N_("That is not a Discord channel id."))
        return platform, choice.group(2), choice.group(3)
    mention = _CHANNEL_MENTION.fullmatch(value)
    channel_id = snowflake(mention.group(1) if mention else value)
    if channel_id is None:
        raise InvalidInput(
            N_("Pick a chat from the list, or give a Discord channel id (digits) or #channel.")
        )
    return Platform.DISCORD, str(channel_id), None


async def _pending_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The pending subscriptions matching what was typed, for newsbot admins only."""
    service = service_of(interaction)
    if not service.is_admin(actor_of(interaction)):
        return []
    typed = current.casefold().strip()
    choices = []
    for destination in await service.pending_destinations():
        label = f"{platform_label(destination.platform)}: {destination.title or ''}".strip()
        name = cut_chars(f"{label} {destination.chat_id}".strip(), 100)
        value = _choice_value(destination)
        if len(value) > 100 or (typed and typed not in name.casefold()):
            continue
        choices.append(app_commands.Choice(name=name, value=value))
        if len(choices) == CHOICES_MAX:
            break
    return choices


class ChannelCommands(CommandGroup, name="channel", description=N_("Subscriptions")):
    """Subscribing a channel: its managers ask, the service decides (a newsbot admin's
    approval may be needed), so there is no check up front."""

    permission_hint = CHANNEL_HINT

    @app_commands.command(
        description=N_("Post future articles in this channel (or the one named).")
    )
    @app_commands.describe(
        channel=N_("The channel to subscribe (default: this one; forums must be named here)"),
        tags=N_("Only articles with one of these tags (spaces or commas)"),
    )
    async def subscribe(
        self,
        interaction: discord.Interaction,
        channel: app_commands.AppCommandChannel | None = None,
        tags: str | None = None,
    ) -> None:
        """Post future articles in this channel (or the one named)."""

        target, kind, user_perms, bot_perms = _target_channel(interaction, channel)
        if not await acknowledge(interaction):
            return
        guild_name = interaction.guild.name if interaction.guild else ""
        result = await service_of(interaction).subscribe(
            _subscriber(interaction, user_perms),
            NewDestination(
                Platform.DISCORD,
                str(target.id),
                kind,
                title=f"#{target.name} ({guild_name})",
                tags=parse_tags(tags),
            ),
        )
        said = _subscribed_text(target.name, kind, result.destination, result.created)
        text = await words(interaction, said)
        missing = _missing(kind, bot_perms)
        if missing:
            lacking = N_("I am missing these permissions there: %(missing)s.")
            text += "\n" + await words(interaction, lacking, missing=", ".join(missing))
        await reply(interaction, text)

    @app_commands.command(
        description=N_("Stop posting articles in this channel (or the one named).")
    )
    @app_commands.describe(channel=N_("The channel to unsubscribe (default: this one)"))
    async def unsubscribe(
        self,
        interaction: discord.Interaction,
        channel: app_commands.AppCommandChannel | None = None,
    ) -> None:
        """Stop posting articles in this channel (or the one named)."""

        target, _kind, user_perms, _bot = _target_channel(interaction, channel)
        if not await acknowledge(interaction):
            return
        gone = await service_of(interaction).unsubscribe(
            _subscriber(interaction, user_perms), Platform.DISCORD, str(target.id)
        )
        if gone.pending:
            text = N_("Withdrew the request to subscribe %(name)s.")
        else:
            text = N_("Unsubscribed %(name)s: no more articles there.")
        await say(interaction, text, name=f"#{target.name}")


class ApprovalCommands(CommandGroup, name="approval", description=N_("Approvals")):
    """Approving subscriptions: newsbot admins only."""

    async def check(self, interaction: discord.Interaction) -> None:
        service_of(interaction).require_admin(actor_of(interaction), N_("approve subscriptions"))

    @app_commands.command(
        description=N_("Approve a channel manager's subscription (newsbot admins).")
    )
    @app_commands.autocomplete(chat=_pending_choices)
    @app_commands.describe(chat=N_("A chat waiting for approval: pick it from the list"))
    async def approve(self, interaction: discord.Interaction, chat: str) -> None:
        """Approve a channel manager's subscription (newsbot admins)."""

        service = service_of(interaction)
        actor = actor_of(interaction)
        platform, chat_id, thread_id = _pending_chat(chat)
        if not await acknowledge(interaction):
            return
        approved = await service.approve(actor, platform, chat_id, thread_id)
        where = escape_name(approved.title or approved.chat_id)
        await say(
            interaction,
            N_("Approved %(name)s (%(platform)s): articles are posted there now."),
            name=where,
            platform=platform_label(platform),
        )
