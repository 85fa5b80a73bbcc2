"""Reactions: the gateway's reaction events, and a message's counts read back (the
backfill), as ``newsbot.reactions`` events. Discord sends them only with the reactions
intent (``GUILD_MESSAGE_REACTIONS``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import discord

from adapters.discord.client import NewsClient
from newsbot.models import MessageRef, Platform
from newsbot.reactions import ReactionEvent, ReactionOp
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")


def emoji_key(emoji: discord.PartialEmoji | discord.Emoji | str) -> str:
    """How a Discord reaction is stored: the emoji, ``custom:ID`` for a server's emoji."""
    if isinstance(emoji, str):
        return emoji
    if emoji.id is not None:
        return f"custom:{emoji.id}"
    return emoji.name or "?"


def raw_event(
    payload: discord.RawReactionActionEvent
    | discord.RawReactionClearEvent
    | discord.RawReactionClearEmojiEvent,
) -> ReactionEvent:
    """A reaction event of the gateway (add, remove, remove all, remove one emoji)."""
    ref = MessageRef(Platform.DISCORD, str(payload.channel_id), str(payload.message_id))
    now = datetime.now(UTC)
    if isinstance(payload, discord.RawReactionActionEvent):
        op = ReactionOp.ADD if payload.event_type == "REACTION_ADD" else ReactionOp.REMOVE
        return ReactionEvent(ref, op, now, str(payload.user_id), (emoji_key(payload.emoji),))
    if isinstance(payload, discord.RawReactionClearEmojiEvent):
        return ReactionEvent(ref, ReactionOp.CLEAR_EMOJI, now, "", (emoji_key(payload.emoji),))
    return ReactionEvent(ref, ReactionOp.CLEAR, now)


def counts_event(message: discord.Message) -> ReactionEvent:
    """A message's reaction counts as read back: they include the readers already known."""
    ref = MessageRef(Platform.DISCORD, str(message.channel.id), str(message.id))
    counts = tuple((emoji_key(r.emoji), r.count - int(r.me)) for r in message.reactions)
    return ReactionEvent(
        ref, ReactionOp.COUNTS, datetime.now(UTC), counts=counts, includes_readers=True
    )


class ReactionIntake:
    """The adapter's reaction events (a part of ``DiscordAdapter``)."""

    service: NewsService
    _client: NewsClient | None

    def _bot_user_id(self) -> int | None:
        client = self._client
        return None if client is None or client.user is None else client.user.id

    async def reaction(
        self,
        payload: discord.RawReactionActionEvent
        | discord.RawReactionClearEvent
        | discord.RawReactionClearEmojiEvent,
    ) -> None:
        if isinstance(payload, discord.RawReactionActionEvent) and (
            payload.user_id == self._bot_user_id()
            or (payload.member is not None and payload.member.bot)
        ):
            return
        try:
            await self.service.reactions.record([raw_event(payload)])
        except Exception:
            log.exception(
                "cannot record a discord reaction",
                extra={"channel_id": payload.channel_id, "message_id": payload.message_id},
            )
