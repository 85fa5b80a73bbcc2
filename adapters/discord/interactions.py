"""Interactions: admitting them, acknowledging them, answering them, and who is asking.

Every interaction is first admitted (``admit``): a second delivery of one this client already
saw is dropped, and one from a server the operator did not name (``NEWSBOT_DISCORD_GUILDS``) is
refused with a log line, unless its user is in ``NEWSBOT_DISCORD_ADMINS``. Discord permissions
count as newsbot rights only in named servers: Manage Server makes a newsbot admin
(``platform_admin``), Manage Channels lets a member ask for their channel's subscription
(``chat_admin``; it waits for a newsbot admin's ``/approve``).

A command with an effect acknowledges first (``acknowledge``: Discord's ephemeral "thinking")
and answers by replacing it, so a slow store never costs the answer and the user never has a
reason to run the command again; publishing and editing carry the command's interaction id as
the request, so a redelivered interaction (after a restart too) publishes or edits once."""

from __future__ import annotations

import logging
from typing import Any

import discord

from adapters.discord.client import NewsClient
from adapters.discord.publisher import NO_MENTIONS
from adapters.discord.render import neutralise_mentions
from adapters.i18n import ChatSpeech, Speech
from newsbot.i18n import N_, Message, normalise_language
from newsbot.models import Actor, Platform
from newsbot.service import NewsService
from newsbot.text import cut_chars

log = logging.getLogger("newsbot.discord")

ADMIN_HINT = N_("Members with the Manage Server permission in this server may do this too.")
CHANNEL_HINT = N_("On Discord that is the Manage Channels permission in that channel.")
UNNAMED_HINT = N_(
    "Discord permissions count only in the servers the operator names in NEWSBOT_DISCORD_GUILDS."
)
STRANGER = N_(
    "newsbot does not take commands in this server: its operator has not named it (server id "
    "%(guild_id)s, for NEWSBOT_DISCORD_GUILDS)."
)
ALREADY_ACKNOWLEDGED = 40060
CLEAR = ("-", "none")
"""Option values that remove an article's url, image or tags in /edit."""


def client_of(interaction: discord.Interaction) -> NewsClient:
    """The newsbot client an interaction came through."""
    client = interaction.client
    if not isinstance(client, NewsClient):  # pragma: no cover - wiring error
        raise TypeError("newsbot commands need a NewsClient")
    return client


def service_of(interaction: discord.Interaction) -> NewsService:
    """The service an interaction's command runs against."""
    return client_of(interaction).service


def rights_count(interaction: discord.Interaction) -> bool:
    """Whether the interaction comes from a server whose Discord permissions are newsbot
    rights: one the operator named."""
    guild_id = interaction.guild_id
    return guild_id is not None and guild_id in client_of(interaction).guild_ids


def actor_of(interaction: discord.Interaction) -> Actor:
    """Who runs a command, with the Discord rights the service takes into account: Manage
    Server and Manage Channels, in a named server only."""
    user = interaction.user
    counts = rights_count(interaction)
    permissions = interaction.permissions
    return Actor(
        Platform.DISCORD,
        str(user.id),
        user.display_name,
        platform_admin=counts and permissions.manage_guild,
        chat_admin=counts and permissions.manage_channels,
    )


def _listed(interaction: discord.Interaction) -> bool:
    admins = service_of(interaction).admins.get(Platform.DISCORD, frozenset())
    return str(interaction.user.id) in admins


def command_name(interaction: discord.Interaction) -> str:
    """The command (or component) an interaction runs, for logs and permission rules."""
    data: Any = interaction.data or {}
    return str(data.get("name") or data.get("custom_id") or interaction.type.name)


_ADMITTED = "newsbot.admitted"
_ANSWERED_ELSEWHERE = "newsbot.answered_elsewhere"
_FILLED = "newsbot.filled"


async def admit(interaction: discord.Interaction) -> bool:
    """Whether to carry out an interaction: not one this client saw before, and from a named
    server (or a DM, or from anyone in ``NEWSBOT_DISCORD_ADMINS``). With no server named, none
    is refused: there Discord permissions simply count nowhere. Answers the ones it refuses."""
    if interaction.extras.get(_ADMITTED):
        return True
    client = client_of(interaction)
    if not client.first_delivery(interaction.id):
        log.info(
            "discord interaction delivered again; dropped",
            extra={"interaction_id": interaction.id, "command": command_name(interaction)},
        )
        return False
    guild_id = interaction.guild_id
    if (
        guild_id is None
        or not client.guild_ids
        or guild_id in client.guild_ids
        or _listed(interaction)
    ):
        interaction.extras[_ADMITTED] = True
        return True
    log.warning(
        "discord interaction refused: its server is not named in NEWSBOT_DISCORD_GUILDS",
        extra={
            "guild_id": guild_id,
            "user_id": interaction.user.id,
            "command": command_name(interaction),
            "interaction_id": interaction.id,
        },
    )
    if interaction.type is discord.InteractionType.autocomplete:
        try:
            await interaction.response.autocomplete([])
        except discord.HTTPException as exc:
            log.info("cannot answer an autocomplete", extra={"error": str(exc)})
    else:
        await say(interaction, STRANGER, guild_id=guild_id)
    return False


async def acknowledge(interaction: discord.Interaction) -> bool:
    """Acknowledge before an effect (an ephemeral "thinking"); whether to carry it out.

    Discord wants the first answer within 3 seconds; after the acknowledgement the answer may
    take 15 minutes. Too late for it (Unknown Interaction), the user was shown a failure, so the
    command is not carried out (they may run it again). Already acknowledged means an earlier
    delivery of this interaction, perhaps before a restart, took it: it is carried out (by its
    request key, once) and answered with a follow-up.
    """
    try:
        await interaction.response.defer(ephemeral=True, thinking=True)
    except discord.HTTPException as exc:
        fields = {"interaction_id": interaction.id, "command": command_name(interaction)}
        if exc.code == ALREADY_ACKNOWLEDGED:
            log.info("discord interaction acknowledged by an earlier delivery", extra=fields)
            interaction.extras[_ANSWERED_ELSEWHERE] = True
            return True
        log.warning(
            "cannot acknowledge a discord interaction; not carried out",
            extra={**fields, "error": str(exc)},
        )
        return False
    return True


async def reply(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """Answer ephemerally: the first response, the message that replaces "thinking" after an
    acknowledgement, or a follow-up after that."""
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if content is not None:
        kwargs["content"] = cut_chars(neutralise_mentions(content), 2000)
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view
    response = interaction.response
    thinking = response.type is discord.InteractionResponseType.deferred_channel_message
    try:
        if interaction.extras.get(_ANSWERED_ELSEWHERE) or (
            response.is_done() and not (thinking and not interaction.extras.get(_FILLED))
        ):
            await interaction.followup.send(ephemeral=True, **kwargs)
        elif thinking:
            interaction.extras[_FILLED] = True
            await interaction.edit_original_response(**kwargs)
        else:
            await response.send_message(ephemeral=True, **kwargs)
    except discord.HTTPException as exc:
        # Typically the interaction expired (3 s for the first answer): nothing to tell.
        log.warning(
            "cannot answer an interaction",
            extra={"interaction_id": interaction.id, "error": str(exc)},
        )


def hint(interaction: discord.Interaction, text: str) -> str:
    """What to add to a refusal: ``text`` where Discord permissions count, else why not."""
    return text if rights_count(interaction) else UNNAMED_HINT


# -- the language of an answer ----------------------------------------------------------------


UNCHOSEN_LOCALE = "en-US"
"""The preferred locale of a server that never chose one (Discord's default)."""


def _languages(interaction: discord.Interaction) -> ChatSpeech | None:
    publisher = getattr(interaction.client, "publisher", None)
    languages = getattr(publisher, "languages", None)
    return languages if isinstance(languages, ChatSpeech) else None


def _shipped(code: object, zone: Speech) -> Speech | None:
    try:
        return Speech(normalise_language(str(code or "")), zone.zone)
    except ValueError:
        return None


def member_speech(interaction: discord.Interaction) -> Speech:
    """The language of an answer to a member (answers are ephemeral: only they read it), the
    first newsbot speaks of:

    1. the channel's own language, set by a newsbot admin (``bot.py language discord ID``):
       a deliberate choice for everyone there (as last looked up: ``speech_of`` looks again);
    2. the member's Discord client (``interaction.locale``): what they read;
    3. the server's preferred locale (``interaction.guild_locale``), unless it is ``en-US``:
       Discord gives every server that never chose one that, so it says nothing;
    4. ``NEWSBOT_LANGUAGE``.
    """
    languages = _languages(interaction)
    default = languages.default if languages is not None else Speech()
    if languages is not None and interaction.channel_id is not None:
        own = languages.own_known(str(interaction.channel_id))
        if own is not None:
            return own
    member = _shipped(getattr(interaction.locale, "value", interaction.locale), default)
    if member is not None:
        return member
    server = getattr(interaction.guild_locale, "value", interaction.guild_locale)
    if server and server != UNCHOSEN_LOCALE:
        return _shipped(server, default) or default
    return default


async def speech_of(interaction: discord.Interaction) -> Speech:
    """``member_speech`` with the channel's own language looked up (again after its ttl)."""
    languages = _languages(interaction)
    if languages is not None and interaction.channel_id is not None:
        await languages.own(str(interaction.channel_id))
    return member_speech(interaction)


async def words(
    interaction: discord.Interaction, message: str | Message, /, **values: object
) -> str:
    """``message`` (marked ``N_``, its ``%(name)s`` filled from ``values``, or a ``Message``)
    in the language of the answer (``speech_of``)."""
    said = message if isinstance(message, Message) else Message(message, values=values)
    return said.render((await speech_of(interaction)).tr)


async def say(
    interaction: discord.Interaction, message: str | Message, /, **values: object
) -> None:
    """``reply`` with ``words``."""
    await reply(interaction, await words(interaction, message, **values))


def request_key(interaction: discord.Interaction) -> str:
    """The idempotency key of a command: its interaction's id. A form's submission is keyed
    on the command that opened the form, so one command makes one article (or one edit) even
    when the form is sent twice or its submission delivered twice."""
    return f"discord:interaction:{interaction.id}"


def parse_tags(value: str | None) -> tuple[str, ...]:
    """Tags given in an option, separated by spaces or commas; ``-`` or ``none`` for none."""
    if value is None or value.strip().lower() in CLEAR:
        return ()
    return tuple(t for t in value.replace(",", " ").split() if t)
