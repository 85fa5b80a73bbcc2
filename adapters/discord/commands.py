"""Slash commands, message context menus, the publish form, and the comment and feed pagers.

Every interaction is first admitted (``admit``): a second delivery of one this client already
saw is dropped, and one from a server the operator did not name (``NEWSBOT_DISCORD_GUILDS``) is
refused with a log line, unless its user is in ``NEWSBOT_DISCORD_ADMINS``. Discord permissions
count as newsbot rights only in named servers: Manage Server makes a newsbot admin
(``platform_admin``), Manage Channels lets a member ask for their channel's subscription
(``chat_admin``; it waits for a newsbot admin's ``/approve``).

Every command then goes through ``_guarded``: a ``DomainError`` (a refusal, a bad value, an
unknown article) is shown to the user as is, ephemerally; anything else is logged with its
context and the user gets a short apology. A command with an effect acknowledges first
(``_acknowledge``: Discord's ephemeral "thinking") and answers by replacing it, so a slow store
never costs the answer and the user never has a reason to run the command again; publishing and
editing carry the command's interaction id as the request, so a redelivered interaction (after
a restart too) publishes or edits once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.client import NewsClient, NewsTree
from adapters.discord.ids import snowflake
from adapters.discord.publisher import NO_MENTIONS
from adapters.discord.render import (
    article_embed,
    escape_name,
    latest_embed,
    neutralise_mentions,
    platform_label,
    thread_embed,
    thread_lines,
)
from newsbot.errors import DomainError, InvalidInput, NotFound, PermissionDenied, StorageError
from newsbot.feeds import (
    DEFAULT_INTERVAL,
    FeedService,
    feed_page,
    parse_interval,
    poll_summary,
)
from newsbot.models import (
    Actor,
    Article,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    CommentStatus,
    Destination,
    DestinationKind,
    MessageRef,
    NewDestination,
    NewFeed,
    Platform,
)
from newsbot.service import Change, NewsService
from newsbot.text import cut_chars
from newsbot.threads import PAGE_COMMENTS

log = logging.getLogger("newsbot.discord")

APOLOGY = "Sorry, something went wrong on newsbot's side. The error was logged; please try again."
TRY_AGAIN = (
    "Sorry, newsbot's database is not answering right now, so nothing was done. "
    "Please try again in a minute."
)
ADMIN_HINT = "Members with the Manage Server permission in this server may do this too."
CHANNEL_HINT = "On Discord that is the Manage Channels permission in that channel."
UNNAMED_HINT = (
    "Discord permissions count only in the servers the operator names in NEWSBOT_DISCORD_GUILDS."
)
STRANGER = (
    "newsbot does not take commands in this server: its operator has not named it (server id "
    "{guild_id}, for NEWSBOT_DISCORD_GUILDS)."
)
MODAL_TEXT_MAX = 4000
ALREADY_ACKNOWLEDGED = 40060
UNKNOWN_INTERACTION = 10062
CHOICES_MAX = 25
COMMENTS_PAGE = 10
FEED_LIST_BUDGET = 1800  # of a message's 2000 characters, the rest for the heading and mentions
CLEAR = ("-", "none")
"""Option values that remove an article's url, image or tags in /edit."""

_KINDS = {
    discord.ChannelType.text: DestinationKind.CHANNEL,
    discord.ChannelType.news: DestinationKind.ANNOUNCEMENT,
    discord.ChannelType.forum: DestinationKind.FORUM,
}


# -- plumbing -----------------------------------------------------------------------------


def _client(interaction: discord.Interaction) -> NewsClient:
    client = interaction.client
    if not isinstance(client, NewsClient):  # pragma: no cover - wiring error
        raise TypeError("newsbot commands need a NewsClient")
    return client


def _service(interaction: discord.Interaction) -> NewsService:
    return _client(interaction).service


def rights_count(interaction: discord.Interaction) -> bool:
    """Whether the interaction comes from a server whose Discord permissions are newsbot
    rights: one the operator named."""
    guild_id = interaction.guild_id
    return guild_id is not None and guild_id in _client(interaction).guild_ids


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
    admins = _service(interaction).admins.get(Platform.DISCORD, frozenset())
    return str(interaction.user.id) in admins


def _command_name(interaction: discord.Interaction) -> str:
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
    client = _client(interaction)
    if not client.first_delivery(interaction.id):
        log.info(
            "discord interaction delivered again; dropped",
            extra={"interaction_id": interaction.id, "command": _command_name(interaction)},
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
            "command": _command_name(interaction),
            "interaction_id": interaction.id,
        },
    )
    if interaction.type is discord.InteractionType.autocomplete:
        try:
            await interaction.response.autocomplete([])
        except discord.HTTPException as exc:
            log.info("cannot answer an autocomplete", extra={"error": str(exc)})
    else:
        await reply(interaction, STRANGER.format(guild_id=guild_id))
    return False


async def _acknowledge(interaction: discord.Interaction) -> bool:
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
        fields = {"interaction_id": interaction.id, "command": _command_name(interaction)}
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


def _hint(interaction: discord.Interaction, hint: str) -> str:
    return hint if rights_count(interaction) else UNNAMED_HINT


async def _guarded(
    interaction: discord.Interaction,
    command: str,
    action: Callable[[], Awaitable[None]],
    *,
    hint: str = ADMIN_HINT,
) -> None:
    if not await admit(interaction):
        return
    try:
        await action()
    except PermissionDenied as exc:
        await reply(interaction, f"{exc} {_hint(interaction, hint)}")
    except DomainError as exc:
        await reply(interaction, str(exc))
    except StorageError as exc:
        # The database is away (a restart, a network cut): say so, and to try again.
        log.warning(
            "discord command failed: the store does not answer",
            extra={"command": command, "interaction_id": interaction.id, "error": str(exc)},
        )
        await reply(interaction, TRY_AGAIN)
    except Exception:
        log.exception(
            "discord command failed",
            extra={
                "command": command,
                "interaction_id": interaction.id,
                "user_id": interaction.user.id,
                "guild_id": interaction.guild_id,
                "channel_id": interaction.channel_id,
            },
        )
        await reply(interaction, APOLOGY)


def _tags(value: str | None) -> tuple[str, ...]:
    if value is None or value.strip().lower() in CLEAR:
        return ()
    return tuple(t for t in value.replace(",", " ").split() if t)


def _optional(value: str | None, current: str | None) -> str | None:
    if value is None:
        return current
    return None if value.strip().lower() in CLEAR else value


async def _tree_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    log.error(
        "discord command error",
        exc_info=error,
        extra={
            "interaction_id": interaction.id,
            "command": getattr(interaction.command, "name", ""),
        },
    )
    await reply(interaction, APOLOGY)


# -- the article form ---------------------------------------------------------------------

ArticleSubmit = Callable[[discord.Interaction, str, str, str], Awaitable[None]]


class ArticleModal(discord.ui.Modal):
    """A form with Title, Summary and Body; ``submit`` receives the three values.

    Args:
        heading: the form's title (at most 45 characters).
        custom_id: unique per form shown (discord.py looks submitted forms up by it).
        submit: called with the interaction and the title, summary and body.
        title: the Title field's starting value.
        summary: the Summary field's starting value.
        body: the Body field's starting value.
    """

    def __init__(
        self,
        *,
        heading: str,
        custom_id: str,
        submit: ArticleSubmit,
        title: str = "",
        summary: str = "",
        body: str = "",
    ) -> None:
        super().__init__(title=heading, custom_id=custom_id, timeout=30 * 60)
        self._submit = submit
        self.headline: discord.ui.TextInput[ArticleModal] = discord.ui.TextInput(
            label="Title", custom_id="title", max_length=256, default=title or None
        )
        self.summary: discord.ui.TextInput[ArticleModal] = discord.ui.TextInput(
            label="Summary",
            custom_id="summary",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=1024,
            default=summary or None,
        )
        self.body: discord.ui.TextInput[ArticleModal] = discord.ui.TextInput(
            label="Body (Markdown)",
            custom_id="body",
            style=discord.TextStyle.paragraph,
            max_length=MODAL_TEXT_MAX,
            default=body or None,
        )
        for item in (self.headline, self.summary, self.body):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await _guarded(
            interaction,
            "form",
            lambda: self._submit(
                interaction, self.headline.value, self.summary.value, self.body.value
            ),
        )

    async def on_error(  # type: ignore[override]  # Modal's own signature
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        log.error("discord form failed", exc_info=error, extra={"interaction_id": interaction.id})
        await reply(interaction, APOLOGY)


# -- articles -----------------------------------------------------------------------------


def _request(interaction: discord.Interaction) -> str:
    """The idempotency key of a command: its interaction's id. A form's submission is keyed
    on the command that opened the form, so one command makes one article (or one edit) even
    when the form is sent twice or its submission delivered twice."""
    return f"discord:interaction:{interaction.id}"


async def _published(interaction: discord.Interaction, change: Change) -> None:
    article = change.article
    url = _service(interaction).article_url(article.id)
    title = escape_name(article.title)
    if change.repeated:
        text = f"Article {article.id} was already published by this command: {title}\nPage: {url}"
    else:
        text = (
            f"Published article {article.id}: {title}\n"
            f"Queued for {change.queued} channel(s). Page: {url}"
        )
    await reply(interaction, text)


@app_commands.describe(
    title="The headline (opens a form when there is no body)",
    body="The article in Markdown; leave out to write it in a form",
    summary="A short summary shown in the post",
    url="The original article's address",
    image="An image address shown in the post",
    tags="Tags, separated by spaces or commas",
)
async def publish(
    interaction: discord.Interaction,
    title: str | None = None,
    body: str | None = None,
    summary: str | None = None,
    url: str | None = None,
    image: str | None = None,
    tags: str | None = None,
) -> None:
    """Publish an article to every subscribed channel."""
    service = _service(interaction)
    request = _request(interaction)

    async def submit(done: discord.Interaction, title: str, summary: str, body: str) -> None:
        if not await _acknowledge(done):
            return
        draft = ArticleDraft(title, body, summary, url, image, _tags(tags))
        change = await service.publish(actor_of(done), draft, request=request)
        await _published(done, change)

    async def run() -> None:
        service.require_admin(actor_of(interaction), "publish")  # before any form or wait
        if body is None:
            modal = ArticleModal(
                heading="Publish an article",
                custom_id=f"newsbot:publish:{interaction.id}",
                submit=submit,
                title=title or "",
                summary=summary or "",
            )
            await interaction.response.send_modal(modal)
            return
        await submit(interaction, title or "", summary or "", body)

    await _guarded(interaction, "publish", run)


@app_commands.describe(
    article="The article's number",
    title="A new headline",
    body="A new body in Markdown (leave every option out to edit in a form)",
    summary="A new summary ('-' removes it)",
    url="A new original address ('-' removes it)",
    image="A new image address ('-' removes it)",
    tags="New tags ('-' removes them)",
)
async def edit(
    interaction: discord.Interaction,
    article: app_commands.Range[int, 1],
    title: str | None = None,
    body: str | None = None,
    summary: str | None = None,
    url: str | None = None,
    image: str | None = None,
    tags: str | None = None,
) -> None:
    """Change an article; every post of it is updated."""
    service = _service(interaction)
    article_id = ArticleId(article)
    request = _request(interaction)

    async def apply(done: discord.Interaction, draft: ArticleDraft) -> None:
        change = await service.edit(actor_of(done), article_id, draft, request=request)
        if change.repeated:
            text = (
                f"This command had already edited article {article_id} "
                f"(now revision {change.article.revision}); nothing more was changed."
            )
        else:
            text = (
                f"Edited article {article_id} (revision {change.article.revision}); "
                f"{change.queued} post(s) will be updated."
            )
        await reply(done, text)

    async def run() -> None:
        service.require_admin(actor_of(interaction), "edit articles")
        if all(v is None for v in (title, body, summary, url, image, tags)):
            current = await service.article(article_id)
            if len(current.body) > MODAL_TEXT_MAX:
                raise InvalidInput(
                    f"The body is longer than a Discord form holds ({MODAL_TEXT_MAX} "
                    "characters); give the new text with the body option instead."
                )

            async def submit(
                done: discord.Interaction, title: str, summary: str, body: str
            ) -> None:
                if not await _acknowledge(done):
                    return
                await apply(
                    done,
                    ArticleDraft(
                        title, body, summary, current.url, current.image_url, current.tags
                    ),
                )

            modal = ArticleModal(
                heading=f"Edit article {article_id}",
                custom_id=f"newsbot:edit:{interaction.id}",
                submit=submit,
                title=current.title,
                summary=current.summary,
                body=current.body,
            )
            await interaction.response.send_modal(modal)
            return
        if not await _acknowledge(interaction):
            return
        current = await service.article(article_id)
        summary_text = _optional(summary, current.summary)
        draft = ArticleDraft(
            title=title if title is not None else current.title,
            body=body if body is not None else current.body,
            summary=summary_text or "",
            url=_optional(url, current.url),
            image_url=_optional(image, current.image_url),
            tags=_tags(tags) if tags is not None else current.tags,
        )
        await apply(interaction, draft)

    await _guarded(interaction, "edit", run)


@app_commands.describe(article="The article's number")
async def retract(interaction: discord.Interaction, article: app_commands.Range[int, 1]) -> None:
    """Retract an article: its posts are deleted and its threads locked."""

    async def run() -> None:
        service = _service(interaction)
        service.require_admin(actor_of(interaction), "retract articles")
        if not await _acknowledge(interaction):
            return
        change = await service.retract(actor_of(interaction), ArticleId(article))
        await reply(
            interaction, f"Retracted article {article}; {change.queued} deletion(s) queued."
        )

    await _guarded(interaction, "retract", run)


# -- subscriptions ------------------------------------------------------------------------

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
        raise InvalidInput("Run this in a server channel.")
    if option is None:
        channel: Any = interaction.channel
        user_perms, bot_perms = interaction.permissions, interaction.app_permissions
    else:
        channel = guild.get_channel(option.id)
        if channel is None:
            raise NotFound("I cannot see that channel.")
        member = interaction.user
        if not isinstance(member, discord.Member):
            raise InvalidInput("Run this in a server channel.")
        user_perms = channel.permissions_for(member)
        bot_perms = channel.permissions_for(guild.me)
    kind = _KINDS.get(channel.type)
    if kind is None:
        where = "a thread" if isinstance(channel, discord.Thread) else "this kind of channel"
        raise InvalidInput(
            f"newsbot cannot post in {where}. Run this in a text or announcement channel, or "
            "name a text, announcement or forum channel with the channel option."
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
) -> str:
    if destination.pending:
        if created:
            return (
                f"Asked to subscribe #{name}: a newsbot admin must approve it (/approve) "
                "before articles are posted there."
            )
        return f"#{name} is already waiting for a newsbot admin's approval."
    if created:
        return f"Subscribed #{name}: new articles will be posted there as {kind}."
    return f"#{name} is already subscribed."


@app_commands.describe(
    channel="The channel to subscribe (default: this one; forums must be named here)",
    tags="Only articles with one of these tags (spaces or commas)",
)
async def subscribe(
    interaction: discord.Interaction,
    channel: app_commands.AppCommandChannel | None = None,
    tags: str | None = None,
) -> None:
    """Post future articles in this channel (or the one named)."""

    async def run() -> None:
        target, kind, user_perms, bot_perms = _target_channel(interaction, channel)
        if not await _acknowledge(interaction):
            return
        guild_name = interaction.guild.name if interaction.guild else ""
        result = await _service(interaction).subscribe(
            _subscriber(interaction, user_perms),
            NewDestination(
                Platform.DISCORD,
                str(target.id),
                kind,
                title=f"#{target.name} ({guild_name})",
                tags=_tags(tags),
            ),
        )
        text = _subscribed_text(target.name, kind, result.destination, result.created)
        missing = _missing(kind, bot_perms)
        if missing:
            text += f"\nI am missing these permissions there: {', '.join(missing)}."
        await reply(interaction, text)

    await _guarded(interaction, "subscribe", run, hint=CHANNEL_HINT)


@app_commands.describe(channel="The channel to unsubscribe (default: this one)")
async def unsubscribe(
    interaction: discord.Interaction, channel: app_commands.AppCommandChannel | None = None
) -> None:
    """Stop posting articles in this channel (or the one named)."""

    async def run() -> None:
        target, _kind, user_perms, _bot = _target_channel(interaction, channel)
        if not await _acknowledge(interaction):
            return
        gone = await _service(interaction).unsubscribe(
            _subscriber(interaction, user_perms), Platform.DISCORD, str(target.id)
        )
        if gone.pending:
            text = f"Withdrew the request to subscribe #{target.name}."
        else:
            text = f"Unsubscribed #{target.name}: no more articles there."
        await reply(interaction, text)

    await _guarded(interaction, "unsubscribe", run, hint=CHANNEL_HINT)


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
            raise InvalidInput("That is not a Discord channel id.")
        return platform, choice.group(2), choice.group(3)
    mention = _CHANNEL_MENTION.fullmatch(value)
    channel_id = snowflake(mention.group(1) if mention else value)
    if channel_id is None:
        raise InvalidInput(
            "Pick a chat from the list, or give a Discord channel id (digits) or #channel."
        )
    return Platform.DISCORD, str(channel_id), None


@app_commands.describe(chat="A chat waiting for approval: pick it from the list")
async def approve(interaction: discord.Interaction, chat: str) -> None:
    """Approve a channel manager's subscription (newsbot admins)."""

    async def run() -> None:
        service = _service(interaction)
        actor = actor_of(interaction)
        service.require_admin(actor, "approve subscriptions")
        platform, chat_id, thread_id = _pending_chat(chat)
        if not await _acknowledge(interaction):
            return
        approved = await service.approve(actor, platform, chat_id, thread_id)
        where = escape_name(approved.title or approved.chat_id)
        await reply(
            interaction,
            f"Approved {where} ({platform_label(platform)}): articles are posted there now.",
        )

    await _guarded(interaction, "approve", run)


async def _pending_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The pending subscriptions matching what was typed, for newsbot admins only."""
    service = _service(interaction)
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


# -- reading ------------------------------------------------------------------------------


@app_commands.describe(count="How many articles (1 to 10)")
async def latest(
    interaction: discord.Interaction, count: app_commands.Range[int, 1, 10] = 5
) -> None:
    """The latest articles."""

    async def run() -> None:
        service = _service(interaction)
        page = await service.latest(limit=count)
        urls = {int(a.id): service.article_url(a.id) for a in page.articles}
        await reply(interaction, embed=latest_embed(page, urls))

    await _guarded(interaction, "latest", run)


@app_commands.describe(article="The article's number")
async def article(interaction: discord.Interaction, article: app_commands.Range[int, 1]) -> None:
    """Show one article."""

    async def run() -> None:
        service = _service(interaction)
        found = await service.readable_article(ArticleId(article), actor_of(interaction))
        count = await service.comment_count(found.id)
        embed = article_embed(found, url=service.article_url(found.id), comment_count=count)
        note = None if found.status is ArticleStatus.PUBLISHED else f"(status: {found.status})"
        await reply(interaction, note, embed=embed)

    await _guarded(interaction, "article", run)


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
    ) -> None:
        super().__init__(timeout=15 * 60)
        self.service = service
        self.article = article
        self.cursors = cursors
        self.next_cursor = next_cursor
        self.previous_page.disabled = len(cursors) <= 1
        self.next_page.disabled = next_cursor is None

    @classmethod
    async def first(
        cls, service: NewsService, article: Article, viewer: Actor
    ) -> tuple[discord.Embed, CommentsView]:
        """The first page of an article's thread as ``viewer`` may read it, and a view to
        page through it."""
        return await cls._page(service, article, [None], viewer)

    @classmethod
    async def _page(
        cls, service: NewsService, article: Article, cursors: list[str | None], viewer: Actor
    ) -> tuple[discord.Embed, CommentsView]:
        # Each page asks again: an article retracted meanwhile is gone for non-admins.
        size = PAGE_COMMENTS
        for _ in range(4):
            page = await service.thread(
                article.id, cursor=cursors[-1], limit=COMMENTS_PAGE, viewer=viewer, size=size
            )
            lines, cut = thread_lines(page)
            if not cut or size <= 1:
                break
            # The embed holds fewer comments than the page: ask for a page of those only,
            # so that "Next" goes on from the first one left out instead of skipping it.
            size = max(1, min(size - 1, len(lines)))
        embed = thread_embed(
            article, page, url=service.article_url(article.id), page_number=len(cursors)
        )
        return embed, cls(service, article, cursors, page.next_cursor)

    async def _show(self, interaction: discord.Interaction, cursors: list[str | None]) -> None:
        async def run() -> None:
            viewer = actor_of(interaction)
            embed, view = await self._page(self.service, self.article, cursors, viewer)
            self.stop()
            await interaction.response.edit_message(
                embed=embed, view=view, allowed_mentions=NO_MENTIONS
            )

        await _guarded(interaction, "comments page", run)

    @discord.ui.button(label="◀ Previous", custom_id="newsbot:comments:previous")
    async def previous_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[CommentsView]
    ) -> None:
        """Show the page before."""
        await self._show(interaction, self.cursors[:-1] or [None])

    @discord.ui.button(label="Next ▶", custom_id="newsbot:comments:next")
    async def next_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[CommentsView]
    ) -> None:
        """Show the page after."""
        await self._show(interaction, [*self.cursors, self.next_cursor])


@app_commands.describe(article="The article's number")
async def comments(interaction: discord.Interaction, article: app_commands.Range[int, 1]) -> None:
    """Read an article's comment thread."""

    async def run() -> None:
        service = _service(interaction)
        viewer = actor_of(interaction)
        found = await service.readable_article(ArticleId(article), viewer)
        embed, view = await CommentsView.first(service, found, viewer)
        await reply(interaction, embed=embed, view=view)

    await _guarded(interaction, "comments", run)


# -- moderation (message context menus) ---------------------------------------------------


def _ref(message: discord.Message) -> MessageRef:
    return MessageRef(Platform.DISCORD, str(message.channel.id), str(message.id))


async def delete_comment(interaction: discord.Interaction, message: discord.Message) -> None:
    """Delete the comment a message carries, everywhere it was mirrored."""

    async def run() -> None:
        service = _service(interaction)
        actor = actor_of(interaction)
        service.require_admin(actor, "delete comments")
        if not await _acknowledge(interaction):
            return
        ref = _ref(message)
        link = await service.resolve(ref)
        if link is None or link.comment_id is None:
            raise NotFound("That message is not a stored comment.")
        if (await service.comment(link.comment_id)).status is CommentStatus.DELETED:
            # Deleted before (by its author, or by this very command delivered again).
            await reply(interaction, f"Comment {link.comment_id} was already deleted.")
            return
        comment = await service.delete_comment(actor, link.comment_id)
        text = f"Comment {comment.id} deleted everywhere."
        if comment.source == ref:
            # A comment written here: its own message goes too (its mirrors are queued).
            try:
                await message.delete()
            except discord.HTTPException as exc:
                text += f" I could not remove this message itself ({exc.text or exc.status})."
        await reply(interaction, text)

    await _guarded(interaction, "delete comment", run)


async def ban_author(interaction: discord.Interaction, message: discord.Message) -> None:
    """Ban the author of a comment (from any platform) and delete their comments."""

    async def run() -> None:
        service = _service(interaction)
        actor = actor_of(interaction)
        service.require_admin(actor, "ban authors")
        if not await _acknowledge(interaction):
            return
        link = await service.resolve(_ref(message))
        if link is not None and link.comment_id is not None:
            author = (await service.comment(link.comment_id)).author
            platform, user_id, name = author.platform, author.user_id, author.name
        elif not message.author.bot:
            platform, user_id = Platform.DISCORD, str(message.author.id)
            name = message.author.display_name
        else:
            raise NotFound("That message is not a comment.")
        count = await service.ban(actor, platform, user_id)
        await reply(
            interaction,
            f"Banned {escape_name(name)} ({platform}); {count} comment(s) deleted.",
        )

    await _guarded(interaction, "ban author", run)


# -- feeds --------------------------------------------------------------------------------

feed_group = app_commands.Group(name="feed", description="Publish a site's RSS or Atom feed")


def _feeds(interaction: discord.Interaction) -> FeedService:
    service = _service(interaction)
    service.require_admin(actor_of(interaction), "manage feeds")
    if service.feeds is None:
        raise InvalidInput("Feeds are not available in this newsbot.")
    return service.feeds


def _quote(text: str) -> str:
    return discord.utils.escape_markdown(text)


@feed_group.command(name="add", description="Follow a feed: its new items become articles")
@app_commands.describe(
    url="The feed's address (http or https)",
    tags="Tags added to its articles (spaces or commas)",
    every="How often to poll: 10m (default), 1h; at least 1m",
    backfill="Publish the newest N items already in the feed (default 0)",
)
async def feed_add(
    interaction: discord.Interaction,
    url: str,
    tags: str | None = None,
    every: str | None = None,
    backfill: app_commands.Range[int, 0, 50] = 0,
) -> None:
    """``/feed add``: read the feed once, record what is there, publish what comes next."""

    async def run() -> None:
        feeds = _feeds(interaction)
        interval = parse_interval(every) if every else DEFAULT_INTERVAL
        await interaction.response.defer(ephemeral=True, thinking=True)  # the fetch takes time
        feed, result = await feeds.add(
            actor_of(interaction), NewFeed(url, _tags(tags), interval, backfill)
        )
        if result is None:
            await reply(interaction, f"<{feed.url}> is already followed.")
            return
        await reply(
            interaction,
            f"Following <{feed.url}> ({_quote(feed.title or 'untitled')}): "
            f"{result.published} published now, {result.recorded} recorded as seen.",
        )

    await _guarded(interaction, "feed add", run)


class FeedsView(discord.ui.View):
    """Previous / Next buttons over ``/feed list``, as many feeds a page as fit a message.

    Args:
        starts: the id each page shown so far starts after (0 for the first page).
        next_after: the id the page after the current one starts after, if any.
    """

    def __init__(self, starts: list[int], next_after: int | None) -> None:
        super().__init__(timeout=15 * 60)
        self.starts = starts
        self.next_after = next_after
        self.previous_page.disabled = len(starts) <= 1
        self.next_page.disabled = next_after is None

    @classmethod
    async def page(
        cls, interaction: discord.Interaction, starts: list[int]
    ) -> tuple[str, FeedsView | None]:
        """The page after ``starts[-1]`` as its text, and a view to page on (``None`` when
        every feed fits one page). Each page asks again: the asker must still be an admin."""
        page = feed_page(
            await _feeds(interaction).feeds(),
            starts[-1],
            budget=FEED_LIST_BUDGET,
            quote=_quote,
            separator=3,
        )
        if not page.total:
            return "No feeds yet: /feed add", None
        text = "\n".join((f"{page.heading}:", *(f"- {line}" for line in page.lines)))
        if len(starts) == 1 and page.next_after is None:
            return text, None
        return text, cls(starts, page.next_after)

    async def _show(self, interaction: discord.Interaction, starts: list[int]) -> None:
        async def run() -> None:
            text, view = await self.page(interaction, starts)
            self.stop()
            await interaction.response.edit_message(
                content=cut_chars(neutralise_mentions(text), 2000),
                view=view,
                allowed_mentions=NO_MENTIONS,
            )

        await _guarded(interaction, "feed list page", run)

    @discord.ui.button(label="◀ Previous", custom_id="newsbot:feeds:previous")
    async def previous_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[FeedsView]
    ) -> None:
        """Show the page before."""
        await self._show(interaction, self.starts[:-1] or [0])

    @discord.ui.button(label="Next ▶", custom_id="newsbot:feeds:next")
    async def next_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[FeedsView]
    ) -> None:
        """Show the page after."""
        await self._show(interaction, [*self.starts, self.next_after or 0])


@feed_group.command(name="list", description="The feeds newsbot follows and how they fare")
async def feed_list(interaction: discord.Interaction) -> None:
    """``/feed list``: how many feeds there are, and each with its last poll, status, next
    poll, items and error, a page at a time."""

    async def run() -> None:
        text, view = await FeedsView.page(interaction, [0])
        await reply(interaction, text, view=view)

    await _guarded(interaction, "feed list", run)


@feed_group.command(name="remove", description="Stop following a feed (its articles stay)")
@app_commands.describe(url="The feed's address, as /feed list shows it")
async def feed_remove(interaction: discord.Interaction, url: str) -> None:
    """``/feed remove``."""

    async def run() -> None:
        feed = await _feeds(interaction).remove(actor_of(interaction), url)
        await reply(interaction, f"No longer following <{feed.url}>; its articles stay.")

    await _guarded(interaction, "feed remove", run)


@feed_group.command(name="poll", description="Poll a feed now")
@app_commands.describe(url="The feed's address, as /feed list shows it")
async def feed_poll(interaction: discord.Interaction, url: str) -> None:
    """``/feed poll``: now, whatever its schedule."""

    async def run() -> None:
        feeds = _feeds(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await feeds.poll_now(actor_of(interaction), url)
        await reply(interaction, poll_summary(result, _quote))

    await _guarded(interaction, "feed poll", run)


def install_commands(tree: NewsTree) -> None:
    """Add every newsbot command to a command tree (one tree per client), behind ``admit``."""
    tree.admission = admit
    for name, callback in (
        ("publish", publish),
        ("edit", edit),
        ("retract", retract),
        ("subscribe", subscribe),
        ("unsubscribe", unsubscribe),
        ("approve", approve),
        ("latest", latest),
        ("article", article),
        ("comments", comments),
    ):
        description = (callback.__doc__ or name).strip().splitlines()[0]
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=name, description=description, callback=callback
        )
        if name == "approve":
            command.autocomplete("chat")(_pending_choices)
        tree.add_command(command)
    tree.add_command(feed_group)
    tree.add_command(app_commands.ContextMenu(name="Delete comment", callback=delete_comment))
    tree.add_command(app_commands.ContextMenu(name="Ban author", callback=ban_author))
    tree.error(_tree_error)
