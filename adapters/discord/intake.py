"""Comments from chat: the gateway's message events, and turning a message into a comment."""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import UTC, datetime

import discord

from newsbot.errors import DomainError, StorageError
from newsbot.models import Author, Comment, MessageRef, Platform
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")
_COMMENT_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def message_text(message: discord.Message) -> str:
    """The text a comment stores for a message: its clean content, or placeholders for what
    carries no text (an image, a file, a sticker)."""
    # clean_content shows user, role and channel mentions by name; it also puts a zero-width
    # space into @everyone and @here, which every renderer neutralises anyway: store the text.
    text = message.clean_content.replace("@\u200beveryone", "@everyone")
    text = text.replace("@\u200bhere", "@here").strip()
    if text:
        return text
    parts = []
    for attachment in message.attachments:
        kind = (attachment.content_type or "").split("/")[0]
        if kind in ("image", "video", "audio"):
            parts.append(f"[{kind}]")
        else:
            parts.append(f"[file: {attachment.filename}]")
    parts += [f"[sticker: {sticker.name}]" for sticker in message.stickers]
    if message.poll is not None:
        parts.append("[poll]")
    return " ".join(parts)


class CommentIntake:
    """The adapter's gateway message events and comment intake (a part of ``DiscordAdapter``)."""

    service: NewsService
    guild_ids: frozenset[int]
    _backfill_again: asyncio.Event
    _channel_locks: weakref.WeakValueDictionary[int, asyncio.Lock]

    # -- gateway events -------------------------------------------------------------------

    def _lock(self, channel_id: int) -> asyncio.Lock:
        lock = self._channel_locks.get(channel_id)
        if lock is None:
            lock = self._channel_locks[channel_id] = asyncio.Lock()
        return lock

    async def message(self, message: discord.Message) -> None:
        try:
            async with self._lock(message.channel.id):
                await self.ingest(message)
        except StorageError:
            # The backfill's watermark has not passed this message: the next backfill, which
            # this asks for, reads it again once the store works.
            log.exception(
                "cannot store a discord message; the backfill will fetch it again",
                extra={"channel_id": message.channel.id, "message_id": message.id},
            )
            self._backfill_again.set()
        except Exception:
            log.exception(
                "cannot store a discord message",
                extra={"channel_id": message.channel.id, "message_id": message.id},
            )

    async def message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if message.author.bot or "content" not in payload.data:
            return
        source = MessageRef(Platform.DISCORD, str(payload.channel_id), str(payload.message_id))
        try:
            text = message_text(message)
            if text:
                async with self._lock(payload.channel_id):
                    await self.service.edit_comment(source, text)
        except Exception:
            log.exception("cannot apply a discord edit", extra={"source": str(source)})

    async def message_delete(self, channel_id: int, message_id: int) -> None:
        source = MessageRef(Platform.DISCORD, str(channel_id), str(message_id))
        try:
            async with self._lock(channel_id):
                await self.service.delete_comment_by_source(source)
        except Exception:
            log.exception("cannot apply a discord deletion", extra={"source": str(source)})

    # -- comments -------------------------------------------------------------------------

    async def ingest(self, message: discord.Message) -> Comment | None:
        """Store a chat message as a comment if it answers an article or a comment.

        A message counts when it is in an article's thread or forum post, or replies to an
        article post or to a comment, and (when any server is named) is written in a named
        server: a reply elsewhere may name one of our posts in its ``message_reference``. Bots
        (this one included) and system messages are ignored. Storing is idempotent on the
        message, so live events and the backfill may both see it.
        """
        if message.author.bot or message.webhook_id is not None:
            return None
        if message.type not in _COMMENT_TYPES:
            return None
        channel = message.channel
        channel_id = str(channel.id)
        targets: list[MessageRef] = []
        reference = message.reference
        if (
            reference is not None
            and reference.message_id is not None
            and reference.type is discord.MessageReferenceType.reply
        ):
            parent_channel = str(reference.channel_id or channel.id)
            targets.append(MessageRef(Platform.DISCORD, parent_channel, str(reference.message_id)))
        # Threads the bot started are linked under (thread id, thread id); a channel the cache
        # does not know yet may be one of them.
        in_thread = not isinstance(channel, discord.TextChannel | discord.DMChannel)
        if in_thread:
            targets.append(MessageRef(Platform.DISCORD, channel_id, channel_id))
        if not targets:
            return None
        if self.guild_ids and (message.guild is None or message.guild.id not in self.guild_ids):
            log.debug(
                "discord message not stored: not from a named server",
                extra={"guild_id": message.guild and message.guild.id, "message_id": message.id},
            )
            return None
        text = message_text(message)
        if not text:
            return None
        source = MessageRef(Platform.DISCORD, channel_id, str(message.id))
        author = Author(message.author.display_name, Platform.DISCORD, str(message.author.id))
        for target in targets:
            try:
                comment = await self.service.record_reply(
                    reply_to=target,
                    source=source,
                    author=author,
                    text=text,
                    sent_at=_utc(message.created_at),
                )
            except DomainError as exc:
                log.info("message not stored", extra={"source": str(source), "why": str(exc)})
                return None
            if comment is not None:
                if in_thread:
                    await self._link_in_thread(source, channel_id)
                return comment
        return None

    async def _link_in_thread(self, source: MessageRef, channel_id: str) -> None:
        """Tie a comment written in an article's thread to that thread's destination, so
        replies to it are not mirrored back into the very channel they were written in."""
        thread = await self.service.resolve(MessageRef(Platform.DISCORD, channel_id, channel_id))
        if thread is not None and thread.destination_id is not None:
            await self.service.link_copy(source, source, thread.destination_id)


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
