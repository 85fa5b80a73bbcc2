"""The Telegram ``Publisher``: posts, edits and deletes articles and mirrored comments."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from telegram import LinkPreviewOptions, Message, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from adapters.i18n import ChatSpeech, Speech, closed_line
from adapters.telegram.limiter import FANOUT, retry_seconds
from adapters.telegram.render import (
    CAPTION_LIMIT,
    Rendered,
    plain,
    render_article,
    render_comment,
)
from adapters.telegram.render.notices import render_notice
from adapters.telegram.render.templated import render_templated
from adapters.templates import TemplateBook
from adapters.templates import render as render_template
from newsbot.errors import DeliveryError, DestinationGone, InvalidInput, RateLimited
from newsbot.i18n import N_
from newsbot.models import DestinationKind, Job, MessageRef, Platform, Posted
from newsbot.notifications import NoticeJob
from newsbot.service import NewsService

log = logging.getLogger("newsbot.telegram")

T = TypeVar("T")

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
FANOUT_ARGS = {"lane": FANOUT}
NOTICE_ARGS = {"lane": FANOUT}  # paced with the fan-out; claimed only after it
# A mirrored comment that has nowhere to go (a channel without a discussion group): the
# delivery completes with this id, and edits and deletes of it do nothing.
NOT_POSTED = "-"
MEDIA_PATH = "/media/telegram/"
RETRACTED_TEXT = N_("This article was retracted.")
COMMENT_DELETED = N_("(comment deleted)")

_GONE = (
    "chat not found",
    "bot was kicked",
    "bot was blocked",
    "bot is not a member",
    "not enough rights",
    "need administrator rights",
    "have no rights to send",
    "chat_write_forbidden",
    "user is deactivated",
    "group chat was deactivated",
    "message thread not found",
    "topic_closed",
    "topic_deleted",
)
_PHOTO = (
    "photo",
    "file identifier",
    "http url",
    "web page content",
    "image_process",
    "wrong file",
)
_NOT_MODIFIED = "message is not modified"
_EDIT_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")
_DELETE_GONE = "message to delete not found"
_CANT_DELETE = "message can't be deleted"
# ASCII digits: "\d" and str.isdigit() accept digits such as "²" that int() refuses.
_NUMERIC = re.compile(r"-?[0-9]{1,19}")
_MESSAGE_ID = re.compile(r"[0-9]{1,19}")


def chat_key(chat_id: str) -> int | str:
    """A chat id as the Bot API wants it: an integer, or an ``@username``."""
    return int(chat_id) if _NUMERIC.fullmatch(chat_id) else chat_id


def translate(error: Exception, *, token: str = "") -> DeliveryError:
    """The newsbot ``DeliveryError`` for an SDK exception (never leaks the token)."""
    if isinstance(error, DeliveryError):
        return error
    text = redact(str(error), token)
    if isinstance(error, RetryAfter):
        return RateLimited(retry_seconds(error), scope="chat")
    if isinstance(error, ChatMigrated):
        return DestinationGone(f"the group became supergroup {error.new_chat_id}")
    if isinstance(error, Forbidden):
        return DestinationGone(f"forbidden: {text}")
    if isinstance(error, BadRequest):
        if any(marker in text.lower() for marker in _GONE):
            return DestinationGone(text)
        return DeliveryError(f"bad request: {text}")
    if isinstance(error, InvalidToken):
        return DeliveryError("the bot token was refused")
    if isinstance(error, NetworkError | TelegramError):
        return DeliveryError(f"{type(error).__name__}: {text}")
    return DeliveryError(f"{type(error).__name__}: {text}")


def redact(text: str, token: str) -> str:
    """``text`` with the token (and its secret half) replaced."""
    if token:
        text = text.replace(token, "***")
        secret = token.partition(":")[2]
        if len(secret) >= 8:
            text = text.replace(secret, "***")
    return text


def split_message_id(destination_chat: str, message_id: str) -> tuple[str, int]:
    """The chat and message of a delivery's message id.

    A mirrored comment redirected to a channel's discussion group is recorded as
    ``"group_chat_id:message_id"``; every other message lives in the destination's chat.
    """
    chat, sep, message = message_id.rpartition(":")
    if sep:
        return chat, int(message)
    return destination_chat, int(message_id)


class TelegramPublisher:
    """Delivers articles and mirrored comments through the Bot API.

    Args:
        bot: the application's bot (its rate limiter paces every send).
        service: for the file ids of photos uploaded by admins.
        ready: set once the bot has been initialised; calls before then give the delivery
            back with ``RateLimited`` instead of failing it.
        token: only to keep it out of error messages.
    """

    def __init__(
        self,
        bot: ExtBot[Any],
        service: NewsService,
        *,
        ready: asyncio.Event,
        token: str = "",
        ready_wait: float = 5.0,
        speech: Speech | None = None,
    ) -> None:
        self.speech = speech or Speech()
        self.languages = ChatSpeech(
            lambda chat: service.chat_language(Platform.TELEGRAM, chat), self.speech
        )
        service.on_chat_language(
            lambda platform, chat: (
                self.languages.forget(chat) if platform is Platform.TELEGRAM else None
            )
        )
        self.bot = bot
        self.service = service
        self.ready = ready
        self.token = token
        self.ready_wait = ready_wait
        self._linked: dict[str, tuple[float, str | None]] = {}
        self._recent: dict[tuple[str, str], float] = {}
        self._sending: dict[str, int] = {}
        self.templates = TemplateBook(service)  # each chat's own template, if it has one

    @property
    def platform(self) -> Platform:
        """Always ``Platform.TELEGRAM``."""
        return Platform.TELEGRAM

    async def post(self, job: Job) -> Posted:
        await self._wait_ready()
        chat = job.destination.chat_id
        await self.languages.refresh(chat)
        if job.comment is not None:
            return await self._call(self._post_comment(job), job)
        self._sending[chat] = self._sending.get(chat, 0) + 1
        try:
            message = await self._call(self._post_article(job, chat), job)
        finally:
            self._sending[chat] -= 1
            if not self._sending[chat]:
                del self._sending[chat]
        message_id = str(message.message_id)
        self._recent[(str(message.chat.id), message_id)] = time.monotonic()
        return Posted(message_id, links=_refs(chat, message))

    async def edit(self, job: Job) -> None:
        await self._wait_ready()
        message_id = job.delivery.message_id
        if message_id is None or message_id == NOT_POSTED:
            return
        await self.languages.refresh(job.destination.chat_id)
        await self._call(self._edit(job, message_id), job)

    async def delete(self, job: Job) -> None:
        await self._wait_ready()
        message_id = job.delivery.message_id
        if message_id is None or message_id == NOT_POSTED:
            return
        await self._call(self._delete(job, message_id), job)

    async def notify(self, job: NoticeJob) -> None:
        """Send a reply notice to the user's private chat (the chat id is the user id);
        Telegram refuses a chat the user never started (``DestinationGone``)."""
        await self._wait_ready()
        # The recipient's private chat: NEWSBOT_LANGUAGE (its own language, were one set).
        rendered = render_notice(job, tr=(await self.languages.refresh(job.account_id)).tr)
        try:
            await self.bot.send_message(
                int(job.account_id),
                rendered.text,
                entities=rendered.entities,
                link_preview_options=NO_PREVIEW,
                rate_limit_args=NOTICE_ARGS,
            )
        except TelegramError as error:
            translated = translate(error, token=self.token)
            log.info(
                "telegram refused a notice",
                extra={"notice_id": job.id, "error": str(translated)},
            )
            raise translated from None

    def expecting(self, chat_id: str, message_id: str) -> bool:
        """Whether a post in this chat may still be being recorded: it was sent moments ago,
        or a send to the chat is in flight (its answer not yet read)."""
        now = time.monotonic()
        if len(self._recent) > 1000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < 60}
        sent = self._recent.get((chat_id, message_id))
        return self._sending.get(chat_id, 0) > 0 or (sent is not None and now - sent < 60)

    # -- internals ------------------------------------------------------------------------

    async def _wait_ready(self) -> None:
        if self.ready.is_set():
            return
        try:
            async with asyncio.timeout(self.ready_wait):
                await self.ready.wait()
        except TimeoutError:
            raise RateLimited(
                5.0, scope="global", message="telegram is not connected yet"
            ) from None

    async def _call(self, operation: Awaitable[T], job: Job) -> T:
        try:
            return await operation
        except DeliveryError:
            raise
        except TelegramError as error:
            translated = translate(error, token=self.token)
            log.info(
                "telegram refused a delivery",
                extra={
                    "delivery_id": job.delivery.id,
                    "chat_id": job.destination.chat_id,
                    "error": str(translated),
                    "outcome": type(translated).__name__,
                },
            )
            raise translated from None

    def _thread(self, job: Job) -> int | None:
        thread = job.destination.thread_id
        return int(thread) if thread and _MESSAGE_ID.fullmatch(thread) else None

    def _article_text(self, job: Job, limit: int = 4096, template: object = None) -> Rendered:
        tr = self.languages.of(job.destination.chat_id).tr
        if template is not None:  # the chat's own template (adapters/templates.py)
            try:
                out = render_template(
                    template, job.article, link=job.article_url, comment_count=job.comment_count
                )
            except InvalidInput as error:  # checked when set; this article broke it anyway
                log.warning("template failed, built-in layout used", extra={"error": str(error)})
            else:
                return render_templated(out, limit, closed_line(tr) if job.comments_closed else "")
        return render_article(
            job.article,
            article_url=job.article_url,
            comment_count=job.comment_count,
            limit=limit,
            reaction_count=job.reaction_count,
            tr=tr,
            comments_closed=job.comments_closed,
        )

    async def _photo(self, image_url: str) -> str:
        """The photo to send: the Telegram file an admin uploaded, or the image address."""
        prefix = self.service.public_url + MEDIA_PATH
        if image_url.startswith(prefix):
            file_id = await self.service.last_state(photo_key(image_url[len(prefix) :]))
            if file_id:
                return file_id
        return image_url

    async def _post_article(self, job: Job, chat: str) -> Message:
        image = job.article.image_url
        template = await self.templates.get(job.destination.id)
        if image:
            caption = self._article_text(job, CAPTION_LIMIT, template)
            try:
                return await self.bot.send_photo(
                    chat_key(chat),
                    await self._photo(image),
                    caption=caption.text,
                    caption_entities=caption.entities,
                    message_thread_id=self._thread(job),
                    rate_limit_args=FANOUT_ARGS,
                    disable_notification=_notify(job),
                )
            except BadRequest as error:
                if not any(marker in str(error).lower() for marker in _PHOTO):
                    raise
                log.warning(
                    "photo refused, posting the article as text",
                    extra={"article_id": job.article.id, "chat_id": chat, "error": str(error)},
                )
        rendered = self._article_text(job, template=template)
        return await self.bot.send_message(
            chat_key(chat),
            rendered.text,
            entities=rendered.entities,
            link_preview_options=NO_PREVIEW,
            message_thread_id=self._thread(job),
            rate_limit_args=FANOUT_ARGS,
            disable_notification=_notify(job),
        )

    async def _post_comment(self, job: Job) -> Posted:
        assert job.comment is not None
        chat = job.destination.chat_id
        reply_to = job.reply_to
        thread = self._thread(job)
        redirected = False
        if job.discussion is not None:
            # A channel's comments live under the post's copy in its discussion group; the
            # core then points reply_to into that group.
            chat, thread, redirected = job.discussion.chat_id, None, True
        elif job.destination.kind is DestinationKind.CHANNEL:
            # Never in the channel itself, where each comment would reach every subscriber.
            await self._await_discussion_copy(job)
            log.info(
                "comment not mirrored: the channel has no discussion group",
                extra={"chat_id": chat, "comment_id": job.comment.id},
            )
            return Posted(NOT_POSTED)
        if reply_to and ":" in reply_to:
            reply_to = reply_to.rpartition(":")[2]  # a mirror recorded as "chat:message"
        tr = self.languages.of(job.destination.chat_id).tr
        rendered = render_comment(job.comment, None if reply_to else job.parent, tr=tr)
        reply = (
            ReplyParameters(int(reply_to), allow_sending_without_reply=True)
            if reply_to and _MESSAGE_ID.fullmatch(reply_to)
            else None
        )
        message = await self.bot.send_message(
            chat_key(chat),
            rendered.text,
            entities=rendered.entities,
            link_preview_options=NO_PREVIEW,
            reply_parameters=reply,
            message_thread_id=thread,
            rate_limit_args=FANOUT_ARGS,
        )
        message_id = str(message.message_id)
        posted_id = f"{chat}:{message_id}" if redirected else message_id
        return Posted(posted_id, links=_refs(chat, message))

    async def _await_discussion_copy(self, job: Job) -> None:
        """Give a young channel post time to be copied into its discussion group.

        Raises:
            RateLimited: the channel has a discussion group and the copy may still come.
        """
        if await self._linked_chat(job.destination.chat_id) is None:
            return
        published = job.article.published_at or job.article.created_at
        if datetime.now(UTC) - published < timedelta(minutes=2):
            raise RateLimited(3.0, scope="chat", message="waiting for the discussion copy")

    async def _linked_chat(self, channel: str) -> str | None:
        now = time.monotonic()
        cached = self._linked.get(channel)
        if cached is not None and now - cached[0] < 600:
            return cached[1]
        chat = await self.bot.get_chat(chat_key(channel))
        linked = str(chat.linked_chat_id) if chat.linked_chat_id else None
        self._linked[channel] = (now, linked)
        return linked

    async def _edit(self, job: Job, message_id: str) -> None:
        chat, message = split_message_id(job.destination.chat_id, message_id)
        if job.comment is not None:
            rendered = render_comment(
                job.comment, None, tr=self.languages.of(job.destination.chat_id).tr
            )
            await self._edit_text(job, chat, message, rendered)
            return
        template = await self.templates.get(job.destination.id)
        if job.article.image_url:
            caption = self._article_text(job, CAPTION_LIMIT, template)
            try:
                await self._quietly(
                    lambda: self.bot.edit_message_caption(
                        chat_key(chat),
                        message,
                        caption=caption.text,
                        caption_entities=caption.entities,
                        rate_limit_args=FANOUT_ARGS,
                    ),
                    job,
                )
            except BadRequest as error:
                if "no caption" not in str(error).lower():
                    raise
                # The photo was refused when posting, so the post is text.
            else:
                return
        try:
            await self._edit_text(job, chat, message, self._article_text(job, template=template))
        except BadRequest as error:
            if "no text" not in str(error).lower():
                raise
            caption = self._article_text(job, CAPTION_LIMIT, template)  # the image was removed
            await self._quietly(
                lambda: self.bot.edit_message_caption(
                    chat_key(chat),
                    message,
                    caption=caption.text,
                    caption_entities=caption.entities,
                    rate_limit_args=FANOUT_ARGS,
                ),
                job,
            )

    async def _edit_text(self, job: Job, chat: str, message: int, rendered: Rendered) -> None:
        await self._quietly(
            lambda: self.bot.edit_message_text(
                rendered.text,
                chat_key(chat),
                message,
                entities=rendered.entities,
                link_preview_options=NO_PREVIEW,
                rate_limit_args=FANOUT_ARGS,
            ),
            job,
        )

    async def _quietly(self, edit: Callable[[], Awaitable[object]], job: Job) -> None:
        """Run an edit; an unchanged or vanished message counts as done."""
        try:
            await edit()
        except BadRequest as error:
            text = str(error).lower()
            if _NOT_MODIFIED in text:
                return
            if any(marker in text for marker in _EDIT_GONE):
                log.warning(
                    "message to edit is gone",
                    extra={
                        "delivery_id": job.delivery.id,
                        "chat_id": job.destination.chat_id,
                        "message_id": job.delivery.message_id,
                    },
                )
                return
            raise

    async def _delete(self, job: Job, message_id: str) -> None:
        chat, message = split_message_id(job.destination.chat_id, message_id)
        try:
            await self.bot.delete_message(chat_key(chat), message, rate_limit_args=FANOUT_ARGS)
        except BadRequest as error:
            text = str(error).lower()
            if _DELETE_GONE in text:
                return
            if _CANT_DELETE not in text:
                raise
            # Telegram refuses deleting messages older than 48 hours: blank it out instead.
            log.warning(
                "message can't be deleted, replacing its text",
                extra={"delivery_id": job.delivery.id, "chat_id": chat, "message_id": message},
            )
            tr = self.languages.of(job.destination.chat_id).tr  # the chat's, as its posts
            notice = plain(tr.gettext(RETRACTED_TEXT if job.comment is None else COMMENT_DELETED))
            try:
                await self._edit_text(job, chat, message, notice)
            except BadRequest as again:
                if "no text" not in str(again).lower():
                    raise
                await self._quietly(
                    lambda: self.bot.edit_message_caption(
                        chat_key(chat), message, caption=notice.text, rate_limit_args=FANOUT_ARGS
                    ),
                    job,
                )


def _refs(chat: str, message: Message) -> tuple[MessageRef, ...]:
    """The key a posted message is recorded under: the destination's own spelling of the
    chat, which the core compares with the destination (an ``@username`` stays one; the
    handlers try it when a numeric id is unknown)."""
    return (MessageRef(Platform.TELEGRAM, chat, str(message.message_id)),)


def photo_key(unique_id: str) -> str:
    """The state key of an uploaded photo's file id."""
    return f"telegram.photo.{unique_id}"


def _notify(job: Job) -> bool | None:
    """A breaking-news post always notifies its readers (``disable_notification`` false,
    whatever the chat's defaults); others keep Telegram's default (``None``: not sent)."""
    return False if job.delivery.lane > 0 else None
