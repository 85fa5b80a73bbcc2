"""Comment intake: replies in groups, their edits, and channel posts copied into
discussion groups."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from telegram import (
    Chat,
    Message,
    MessageOriginChannel,
    Update,
)

from adapters.telegram.fastpath import PlainReply
from adapters.telegram.handlers.base import (
    Context,
    HandlerGroup,
    chat_names,
    guarded,
    run_guarded,
)
from adapters.telegram.handlers.parsing import (
    author_of,
    message_text,
)
from newsbot.models import (
    Author,
    MessageRef,
    Platform,
)

log = logging.getLogger("newsbot.telegram")

LINK_WAIT = 10.0


class Comments(HandlerGroup):
    """Group messages that become comments; nobody waits for an answer to them."""

    @guarded("comment", answer_errors=False)
    async def reply(self, update: Update, context: Context) -> None:
        """A reply in a group: a comment when it answers an article post or a comment."""
        message = update.effective_message
        chat = update.effective_chat
        assert message is not None
        assert chat is not None
        replied = message.reply_to_message
        if replied is None or message.is_automatic_forward:
            return
        author = author_of(message)
        if author is None:
            return
        await self.store_reply(
            chat_names(chat),
            MessageRef(Platform.TELEGRAM, str(chat.id), str(message.message_id)),
            str(replied.message_id),
            author,
            message_text(message),
            message.date,
        )

    async def plain_reply(self, reply: PlainReply) -> None:
        """``reply`` for a reply read straight from the JSON (``fastpath``), guarded alike."""
        await run_guarded(
            self,
            "comment",
            reply.update_id,
            {"update_id": reply.update_id, "chat_id": reply.chat_id},
            lambda: self.store_reply(
                reply.chat_names,
                MessageRef(Platform.TELEGRAM, str(reply.chat_id), str(reply.message_id)),
                str(reply.replied_id),
                reply.author,
                reply.text,
                reply.sent_at,
            ),
            None,
        )

    async def store_reply(
        self,
        names: list[str],
        source: MessageRef,
        replied_id: str,
        author: Author,
        text: str,
        sent_at: datetime,
    ) -> None:
        """Store a group message as a comment if it answers a post or comment we know."""
        for chat_name in names:
            stored = await self.service.record_reply(
                reply_to=MessageRef(Platform.TELEGRAM, chat_name, replied_id),
                source=source,
                author=author,
                text=text,
                sent_at=sent_at,
            )
            if stored is not None:
                return

    @guarded("comment edit", answer_errors=False)
    async def edited(self, update: Update, context: Context) -> None:
        """An edited message: update the comment written as it, if there is one."""
        message = update.edited_message
        if message is None:
            return
        source = MessageRef(Platform.TELEGRAM, str(message.chat.id), str(message.message_id))
        await self.service.edit_comment(source, message_text(message))

    @guarded("discussion copy", answer_errors=False)
    async def discussion_copy(self, update: Update, context: Context) -> None:
        """A channel post copied into its discussion group: replies to it are comments."""
        message = update.effective_message
        assert message is not None
        origin = message.forward_origin
        if not isinstance(origin, MessageOriginChannel):
            return
        post = str(origin.message_id)
        copy = MessageRef(Platform.TELEGRAM, str(message.chat.id), str(message.message_id))
        if await self.link_copy(origin.chat, post, copy) or await self.link_by_address(
            message, origin.chat, copy
        ):
            log.debug("discussion copy linked", extra={"channel": origin.chat.id, "post": post})
            return
        deadline = time.monotonic() + LINK_WAIT
        while not await self.link_copy(origin.chat, post, copy):
            # The bot's own post may still be being recorded by the dispatcher; anything
            # else posted in the channel is not an article.
            expected = any(self.sightings.expecting(n, post) for n in chat_names(origin.chat))
            if not expected or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)
        log.debug("discussion copy linked", extra={"channel": origin.chat.id, "post": post})

    async def link_by_address(self, message: Message, channel: Chat, copy: MessageRef) -> bool:
        """Link a copy by the article address its title links to.

        A post sent just before a crash is never recorded and is sent again after the restart;
        readers still see and answer the first one, whose copy names its article this way.
        """
        for entity in (*(message.entities or ()), *(message.caption_entities or ())):
            article_id = self.service.article_in_url(entity.url or "")
            if article_id is None:
                continue
            for name in chat_names(channel):
                if await self.service.link_article_copy(copy, article_id, name):
                    return True
        return False

    async def link_copy(self, channel: Chat, post: str, copy: MessageRef) -> bool:
        for name in chat_names(channel):
            if await self.service.link_copy(MessageRef(Platform.TELEGRAM, name, post), copy):
                return True
        return False
