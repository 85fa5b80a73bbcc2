"""What every group of Telegram handlers shares: the guard that applies newsbot's
error-to-answer policy (``newsbot.answers``) to each update, answering, and who is asking."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram import (
    Chat,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram import (
    Message as TgMessage,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from adapters.i18n import ChatSpeech, Speech, speech_for
from adapters.telegram.fastpath import names_of
from adapters.telegram.publisher import NO_PREVIEW, chat_key, redact
from adapters.telegram.render import Rendered, plain
from newsbot.answers import APOLOGY, TRY_AGAIN, AnswerKind, answer_to
from newsbot.errors import NewsBotError, PermissionDenied, StorageError
from newsbot.i18n import N_, Message
from newsbot.models import Actor, DestinationKind, Platform
from newsbot.service import NewsService

__all__ = ["APOLOGY", "TRY_AGAIN"]

log = logging.getLogger("newsbot.telegram")

Context = ContextTypes.DEFAULT_TYPE
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]
Handler = Callable[[Any, Update, Context], Awaitable[None]]

ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
GONE_STATUSES = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
STALE_BUTTON = N_("This button no longer works. Send the command again.")
_USER = re.compile(r"[0-9]{1,19}")


class Sightings(Protocol):
    """What the handlers ask of the publisher about posts it just made."""

    def expecting(self, chat_id: str, message_id: str) -> bool:
        """Whether a post of this id in this chat may still be being recorded."""
        ...


class Guarded(Protocol):
    """What ``run_guarded`` needs of the handlers it runs for."""

    failed: set[int]
    token: str
    shared: Shared


@dataclass(slots=True)
class Shared:
    """The state every handler group reads.

    Attributes:
        service: the use cases.
        sightings: the publisher, asked whether a channel post was just made by the bot.
        failed: update ids whose effects could not be stored; the poll loop redelivers them.
        token: only to keep it out of logs.
        sees_all: whether the bot sees every group message (privacy mode off), once known.
        reactions_unseen: the chats already logged as hiding their reactions from the bot.
        speech: the language answers are given in (``NEWSBOT_LANGUAGE``).
        languages: each chat's own language, where one is set (the publisher's).
    """

    service: NewsService
    sightings: Sightings
    failed: set[int]
    token: str = ""
    sees_all: bool = False
    reactions_unseen: set[int] = field(default_factory=set)  # chats already logged
    speech: Speech = field(default_factory=Speech)
    languages: ChatSpeech | None = None


async def run_guarded(
    handlers: Guarded,
    action: str,
    update_id: int,
    fields: dict[str, Any],
    call: Callable[[], Awaitable[None]],
    answer: Callable[[str], Awaitable[None]] | None,
    speak: Callable[[], Awaitable[Speech]] | None = None,
) -> None:
    """Run one update's handling so that it cannot crash the bot (see ``guarded``); with no
    ``answer``, refusals and failures are only logged. ``speak`` gives the language of the
    answer (``HandlerGroup.speech``); without it, the chat's own or the default."""
    try:
        await call()
    except Exception as error:  # the bot must outlive any single update
        chat = fields.get("chat_id")
        languages = handlers.shared.languages
        speech = handlers.shared.speech
        if isinstance(error, StorageError):
            pass  # the store is not answering: no chat's language is looked up
        elif speak is not None:
            speech = await speak()
        elif languages is not None and chat is not None:
            speech = await languages.refresh(str(chat))  # a chat with a language of its own
        reply = answer_to(error, speech.tr)
        if reply.kind is AnswerKind.SHOW:
            if answer is None:
                log.debug("refused", extra={**fields, "error": str(error)})
        elif reply.kind is AnswerKind.RETRY:
            if answer is None:
                # Nobody waits for a comment: fetch it again until it is stored.
                handlers.failed.add(update_id)
                log.exception(
                    "storage failed; the update will be processed again",
                    extra={**fields, "action": action},
                )
                return
            # Someone waits for this answer. Carried out later, unannounced, a command would
            # surprise its sender (who may have sent it again, or changed their mind); they
            # are told at once instead, and the chat's next updates do not wait behind it.
            log.exception(
                "storage failed; the sender was asked to try again",
                extra={**fields, "action": action},
            )
        elif reply.kind is AnswerKind.SILENT:
            # Our own answer could not be sent (flood control, a gone chat): nothing to tell
            # the user through the same channel.
            log.warning("could not answer", extra={**fields, "error": str(error)})
        else:
            log.exception(
                "handler failed",
                extra={**fields, "action": action, "error": redact(str(error), handlers.token)},
            )
        if answer is not None and reply.text is not None:
            await answer(reply.text)


def guarded(
    action: str, *, answer_errors: bool = True
) -> Callable[[Handler], Callable[[Any, Update, Context], Coroutine[Any, Any, None]]]:
    """Wrap a handler so that no update can crash the bot.

    Refusals (``DomainError``) are shown to the user; a storage failure is answered with a
    request to try again or, when nobody waits for an answer (``answer_errors=False``: comments,
    membership), marks the update for redelivery (its offset is not saved); anything else is
    logged with context and answered with a short apology.
    """

    def decorate(
        handler: Handler,
    ) -> Callable[[Any, Update, Context], Coroutine[Any, Any, None]]:
        async def wrapper(self: HandlerGroup, update: Update, context: Context) -> None:
            async def answer(text: str) -> None:
                await self.answer_quietly(update, text)

            await run_guarded(
                self,
                action,
                update.update_id,
                describe(update),
                lambda: handler(self, update, context),
                answer if answer_errors else None,
                lambda: self.speech(update),
            )

        wrapper.__name__ = getattr(handler, "__name__", action)
        wrapper.__qualname__ = getattr(handler, "__qualname__", action)
        wrapper.__doc__ = handler.__doc__
        return wrapper

    return decorate


def describe(update: Update) -> dict[str, Any]:
    """Log fields that locate an update without its content."""
    chat = update.effective_chat
    user = update.effective_user
    message = update.effective_message
    return {
        "update_id": update.update_id,
        "chat_id": chat.id if chat else None,
        "user_id": user.id if user else None,
        "message_id": message.message_id if message else None,
    }


def chat_names(chat: Chat) -> list[str]:
    """How a chat may be named in a subscription: its id, and its ``@username`` if public."""
    return names_of(chat.id, chat.username)


def destination_kind(chat: Chat) -> DestinationKind:
    """How a Telegram chat is subscribed."""
    if chat.type == ChatType.CHANNEL:
        return DestinationKind.CHANNEL
    if chat.type == ChatType.PRIVATE:
        return DestinationKind.PRIVATE
    if getattr(chat, "is_forum", False):
        return DestinationKind.FORUM
    return DestinationKind.GROUP


class HandlerGroup:
    """A group of handlers: answering, and who is asking.

    Args:
        shared: the state every group reads (the service, the failed updates, ...).
    """

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.service = shared.service
        self.sightings = shared.sightings
        self.failed = shared.failed
        self.token = shared.token

    @property
    def sees_all(self) -> bool:
        """Whether the bot sees every group message (privacy mode off)."""
        return self.shared.sees_all

    def admin_ids(self) -> list[int]:
        """The configured newsbot admins' Telegram user ids (their private chats' ids)."""
        ids = self.service.admins.get(Platform.TELEGRAM, ())
        return [int(u) for u in sorted(ids) if _USER.fullmatch(u)]

    async def send(
        self,
        update: Update,
        reply: Rendered | str,
        *,
        markup: InlineKeyboardMarkup | None = None,
    ) -> TgMessage | None:
        """Answer in the chat of the update (replying to its message in groups)."""
        message = update.effective_message
        chat = update.effective_chat
        if chat is None:
            return None
        rendered = plain(reply) if isinstance(reply, str) else reply
        reply_to = None
        thread = None
        if message is not None and chat.type != ChatType.PRIVATE:
            reply_to = ReplyParameters(message.message_id, allow_sending_without_reply=True)
            thread = message.message_thread_id if message.is_topic_message else None
        bot = update.get_bot()
        return await bot.send_message(
            chat.id,
            rendered.text,
            entities=rendered.entities,
            link_preview_options=NO_PREVIEW,
            reply_parameters=reply_to,
            reply_markup=markup,
            message_thread_id=thread,
        )

    async def answer_quietly(self, update: Update, text: str) -> None:
        """Answer, or log when even that fails; used from error paths."""
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(text[:200], show_alert=True)
            else:
                await self.send(update, text)
        except (TelegramError, NewsBotError) as error:
            log.warning(
                "could not answer", extra={**describe(update), "error": redact(str(error), "")}
            )

    # -- who is asking --------------------------------------------------------------------

    async def speech(self, update: Update) -> Speech:
        """The language to answer in: in a private chat the sender's Telegram language when
        newsbot speaks it; elsewhere (and failing that) the chat's own where one is set
        (``bot.py language``), else the default (``NEWSBOT_LANGUAGE``)."""
        chat = update.effective_chat
        languages = self.shared.languages
        speech = self.shared.speech
        if chat is not None and languages is not None:
            speech = await languages.refresh(str(chat.id))
        user = update.effective_user
        if chat is not None and chat.type == ChatType.PRIVATE and user is not None:
            return speech_for(user.language_code, speech)
        return speech

    async def say(
        self,
        update: Update,
        message: str | Message,
        /,
        *,
        markup: InlineKeyboardMarkup | None = None,
        **values: object,
    ) -> TgMessage | None:
        """Answer with ``message`` (marked ``N_``, its ``%(name)s`` filled from ``values``, or
        a ``Message``) in the language of the chat (``speech``)."""
        text = await self.words(update, message, **values)
        return await self.send(update, text, markup=markup)

    async def words(self, update: Update, message: str | Message, /, **values: object) -> str:
        """``message`` with its values, in the language of the update's chat."""
        said = message if isinstance(message, Message) else Message(message, values=values)
        return said.render((await self.speech(update)).tr)

    def actor(self, update: Update, *, chat_admin: bool = False) -> Actor:
        """The sender as the service sees them."""
        user = update.effective_user
        if user is None:
            raise PermissionDenied(N_("I cannot tell who sent this."))
        return Actor(Platform.TELEGRAM, str(user.id), user.full_name, chat_admin=chat_admin)

    async def is_chat_admin(self, update: Update, chat_id: int | str) -> bool:
        """Whether the sender administers the chat (an anonymous admin of it counts)."""
        message = update.effective_message
        if message is not None and message.sender_chat is not None:
            return message.sender_chat.id == chat_id
        user = update.effective_user
        if user is None:
            return False
        try:
            member = await update.get_bot().get_chat_member(chat_key(str(chat_id)), user.id)
        except (BadRequest, Forbidden):
            return False
        return member.status in ADMIN_STATUSES

    async def private_only(self, update: Update, command: str) -> bool:
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            return True
        await self.say(update, N_("Send %(command)s to me in a private chat."), command=command)
        return False
