"""What the bot does with each kind of update: commands, dialogues, comments, membership."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Chat,
    ChatMemberAdministrator,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    MessageOriginChannel,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.telegram.fastpath import PlainReply, names_of
from adapters.telegram.publisher import NO_PREVIEW, chat_key, photo_key, redact
from adapters.telegram.render import (
    Rendered,
    entities_to_markdown,
    plain,
    render_article,
    render_list,
    render_post,
    render_thread,
    shown_name,
    split_article,
    split_command,
    tail,
    with_inert,
)
from newsbot.errors import (
    DeliveryError,
    DomainError,
    InvalidInput,
    NewsBotError,
    NotFound,
    PermissionDenied,
    StorageError,
)
from newsbot.feeds import FeedService, feed_page, poll_summary
from newsbot.models import (
    Actor,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    CommentId,
    CommentStatus,
    Destination,
    DestinationKind,
    MessageRef,
    NewDestination,
    NewFeed,
    Platform,
)
from newsbot.service import NewsService, clean_draft
from newsbot.threads import PAGE_COMMENTS

log = logging.getLogger("newsbot.telegram")

Context = ContextTypes.DEFAULT_TYPE
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]

ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
GONE_STATUSES = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
TRY_AGAIN = (
    "Sorry, my database is not answering right now, so I could not do that. "
    "Please send it again in a minute."
)
STALE_BUTTON = "This button no longer works. Send the command again."
THREAD_PAGE = 8
FEED_LIST_BUDGET = 3900  # of a message's 4096 UTF-16 units, the rest for the heading
DIALOGUE_TTL = 3600.0
LINK_WAIT = 10.0
NOTICES_PER_HOUR = 3  # approval notices to admins, per person asking
PENDING_SHOWN = 30
# Telegram's own service message moves a subscription to a supergroup's new id: nobody can
# forge it, so the move carries the operator's earlier approval (or the pending request).
MIGRATION = Actor(Platform.CLI, "telegram-migration", "Telegram group migration")
MIGRATION_REQUEST = Actor(
    Platform.TELEGRAM, "telegram-migration", "Telegram group migration", chat_admin=True
)

PUBLIC_COMMANDS = (
    ("latest", "The latest articles"),
    ("article", "Show an article: /article ID"),
    ("comments", "Read an article's comments: /comments ID"),
    ("subscribe", "Send new articles to this chat (chat admins)"),
    ("unsubscribe", "Stop sending articles to this chat (chat admins)"),
    ("help", "What I can do"),
)
ADMIN_COMMANDS = (
    ("publish", "Publish an article: title on the first line, Markdown body below"),
    ("edit", "Edit an article: /edit ID, then title and body"),
    ("retract", "Retract an article everywhere: /retract ID"),
    ("cancel", "Cancel the article being written"),
    ("delete", "Reply to a comment with /delete to remove it"),
    ("ban", "Reply to a comment with /ban to stop storing its author's comments"),
    ("approve", "Subscriptions waiting for approval; /approve CHAT_ID approves one"),
    ("feed", "Follow a site's feed: /feed add URL [tags], list, remove URL, poll URL"),
)

HELP = """I publish the news here and collect your replies as comments.

/latest — the latest articles
/article ID — one article
/comments ID — its comments
/subscribe — send new articles to this group (group admins; a newsbot admin approves it); \
for a channel, send me /subscribe @channel in private
/unsubscribe — stop sending them

Reply to an article's post to comment on it; reply to a comment to answer it."""

ADMIN_HELP = """

For newsbot admins:
/publish Title, then the body (Markdown) on the next lines; send a photo with a /publish \
caption for an article with an image; /publish alone starts a short dialogue (/cancel ends it)
/edit ID Title, then the new body · /retract ID
Reply to a comment with /delete to remove it, or /ban to stop storing its author's comments.
/approve lists the chats waiting for approval to receive articles; /approve CHAT_ID \
approves one.
/feed add URL [tags] · /feed list · /feed remove URL · /feed poll URL — publish a site's feed"""


class Sightings(Protocol):
    """What the handlers ask of the publisher about posts it just made."""

    def expecting(self, chat_id: str, message_id: str) -> bool:
        """Whether a post of this id in this chat may still be being recorded."""
        ...


@dataclass(slots=True)
class Dialogue:
    """An article being written step by step in a private chat (kept in memory only)."""

    step: str  # "title", "body" or "confirm"
    started: float
    title: str = ""
    body: str = ""
    image_url: str | None = None


async def run_guarded(
    handlers: Handlers,
    action: str,
    update_id: int,
    fields: dict[str, Any],
    call: Callable[[], Awaitable[None]],
    answer: Callable[[str], Awaitable[None]] | None,
) -> None:
    """Run one update's handling so that it cannot crash the bot (see ``guarded``); with no
    ``answer``, refusals and failures are only logged."""
    try:
        await call()
    except DomainError as error:
        if answer is not None:
            await answer(str(error))
        else:
            log.debug("refused", extra={**fields, "error": str(error)})
    except StorageError:
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
        await answer(TRY_AGAIN)
    except DeliveryError as error:
        # Our own answer could not be sent (flood control, a gone chat): nothing to tell the
        # user through the same channel.
        log.warning("could not answer", extra={**fields, "error": str(error)})
    except Exception as error:  # the bot must outlive any single update
        log.exception(
            "handler failed",
            extra={**fields, "action": action, "error": redact(str(error), handlers.token)},
        )
        if answer is not None:
            await answer(APOLOGY)


def guarded(
    action: str, *, answer_errors: bool = True
) -> Callable[[Callable[[Any, Update, Context], Awaitable[None]]], Callable[..., Any]]:
    """Wrap a handler so that no update can crash the bot.

    Refusals (``DomainError``) are shown to the user; a storage failure is answered with a
    request to try again or, when nobody waits for an answer (``answer_errors=False``: comments,
    membership), marks the update for redelivery (its offset is not saved); anything else is
    logged with context and answered with a short apology.
    """

    def decorate(
        handler: Callable[[Any, Update, Context], Awaitable[None]],
    ) -> Callable[..., Any]:
        @functools.wraps(handler)
        async def wrapper(self: Handlers, update: Update, context: Context) -> None:
            async def answer(text: str) -> None:
                await self.answer_quietly(update, text)

            await run_guarded(
                self,
                action,
                update.update_id,
                describe(update),
                lambda: handler(self, update, context),
                answer if answer_errors else None,
            )

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


def message_text(message: Message) -> str:
    """The text of a message, its caption, or a placeholder naming its media."""
    text = message.text or message.caption
    if text:
        return text
    if message.sticker is not None:
        return f"[sticker {message.sticker.emoji or ''}]".replace(" ]", "]")
    if message.poll is not None:
        return f"[poll: {message.poll.question}]"
    if message.document is not None and message.document.file_name:
        return f"[file: {message.document.file_name}]"
    for attribute, label in (
        ("photo", "photo"),
        ("animation", "GIF"),
        ("video", "video"),
        ("video_note", "video message"),
        ("voice", "voice message"),
        ("audio", "audio"),
        ("document", "file"),
        ("location", "location"),
        ("venue", "place"),
        ("contact", "contact"),
        ("dice", "dice"),
        ("story", "story"),
    ):
        if getattr(message, attribute, None):
            return f"[{label}]"
    return "[message]"


def author_of(message: Message) -> Author | None:
    """Who wrote a message, or ``None`` for bots (whose messages are ignored).

    Someone posting as a chat (an anonymous group admin, or a channel) is named after it.
    """
    if message.sender_chat is not None:
        sender = message.sender_chat
        name = sender.title or sender.username or str(sender.id)
        return Author(name, Platform.TELEGRAM, str(sender.id))
    user = message.from_user
    if user is None or user.is_bot:
        return None
    return Author(user.full_name or user.username or str(user.id), Platform.TELEGRAM, str(user.id))


# ASCII digits only: str.isdigit() accepts "²" and other digits that int() refuses.
_ID = re.compile(r"#?([0-9]{1,12})")
_CHAT = re.compile(r"-?[0-9]{1,19}|@[A-Za-z][A-Za-z0-9_]{2,31}")
_TOPIC = re.compile(r"[0-9]{1,12}")
_USER = re.compile(r"[0-9]{1,19}")
_THREAD_BUTTON = re.compile(r"cm:([0-9]{1,12}):(~[A-Za-z0-9_-]{1,16}|[A-Za-z0-9_-]{0,60})")
_PUBLISH_BUTTONS = {"pub:yes": True, "pub:no": False}
_FEED_LIST_BUTTON = re.compile(r"fl:([0-9]{1,18})")


def parse_id(args: Sequence[str], usage: str) -> int:
    """The numeric id that must follow a command (``5`` or ``#5``).

    Raises:
        InvalidInput: ``usage``, when the argument is missing or not ASCII digits.
    """
    match = _ID.fullmatch(args[0]) if args else None
    if match is None:
        raise InvalidInput(usage)
    return int(match.group(1))


def parse_chat(raw: str, usage: str) -> str:
    """A chat named by its numeric id or ``@username``, as typed after a command.

    Raises:
        InvalidInput: ``usage``, when it is neither.
    """
    name = raw.strip()
    if _CHAT.fullmatch(name) is None:
        raise InvalidInput(usage)
    return name


def parse_topic(args: Sequence[str], usage: str) -> str | None:
    """An optional forum topic id after a chat id."""
    if not args:
        return None
    if _TOPIC.fullmatch(args[0]) is None:
        raise InvalidInput(usage)
    return args[0]


def parse_button(data: str) -> tuple[ArticleId, str] | bool | None:
    """What an inline button asks: a thread page (article id and cursor), the publishing
    dialogue's answer (``True``/``False``), or ``None`` for data this bot never made."""
    if data in _PUBLISH_BUTTONS:
        return _PUBLISH_BUTTONS[data]
    match = _THREAD_BUTTON.fullmatch(data)
    if match is None:
        return None
    return ArticleId(int(match.group(1))), match.group(2)


def parse_feed_list_button(data: str) -> int | None:
    """The feed id after which a ``/feed list`` button's page starts (0 for the first page),
    or ``None`` when the data is not such a button's."""
    match = _FEED_LIST_BUTTON.fullmatch(data)
    return None if match is None else int(match.group(1))


def request_key(update: Update) -> str:
    """The idempotency key of the command an update carries: its chat and message, or the
    callback query of a button. Telegram delivers the same update with the same ids."""
    if update.callback_query is not None:
        return f"telegram:callback:{update.callback_query.id}"
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        raise InvalidInput("I cannot tell which message this is.")
    return f"telegram:{chat.id}:{message.message_id}"


def parse_tags(words: Sequence[str]) -> tuple[str, ...]:
    """Tags given after a command, as ``#tag`` or ``tag``."""
    return tuple(word.lstrip("#") for word in words if word.strip("#"))


class Handlers:
    """The update handlers of the Telegram adapter.

    Args:
        service: the use cases.
        sightings: the publisher, asked whether a channel post was just made by the bot.
        failed: update ids whose effects could not be stored; the poll loop redelivers them.
        token: only to keep it out of logs.
    """

    def __init__(
        self, service: NewsService, sightings: Sightings, failed: set[int], token: str = ""
    ) -> None:
        self.service = service
        self.sightings = sightings
        self.failed = failed
        self.token = token
        self.dialogues: dict[int, Dialogue] = {}
        self._cursors: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self.bot_id = 0
        self.sees_all = False

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register every handler; commands first, then comments in a later group."""
        new = filters.UpdateType.MESSAGE
        private = filters.ChatType.PRIVATE
        groups = filters.ChatType.GROUPS
        commands: list[tuple[str, Callback]] = [
            ("start", self.help),
            ("help", self.help),
            ("latest", self.latest),
            ("article", self.article),
            ("comments", self.comments),
            ("publish", self.publish),
            ("cancel", self.cancel),
            ("edit", self.edit),
            ("retract", self.retract),
            ("subscribe", self.subscribe),
            ("unsubscribe", self.unsubscribe),
            ("delete", self.delete),
            ("ban", self.ban),
            ("approve", self.approve),
            ("feed", self.feed),
        ]
        for name, callback in commands:
            application.add_handler(CommandHandler(name, callback, filters=new))
        photo_command = filters.CaptionRegex(r"^/(publish|edit)(@\w+)?(\s|$)")
        application.add_handler(
            MessageHandler(new & private & filters.PHOTO & photo_command, self.publish_photo)
        )
        application.add_handler(
            MessageHandler(
                new & private & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND, self.dialogue
            )
        )
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_handler(
            ChatMemberHandler(self.membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.migrated))
        # Comments: a command that replies to a comment (/delete) is not a comment itself.
        application.add_handler(
            MessageHandler(new & groups & filters.IS_AUTOMATIC_FORWARD, self.discussion_copy),
            group=1,
        )
        application.add_handler(
            MessageHandler(
                new & groups & filters.REPLY & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
                self.reply,
            ),
            group=1,
        )
        application.add_handler(
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & groups, self.edited), group=1
        )

    async def register_commands(
        self, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> None:
        """Publish the command list (setMyCommands); admins see theirs in private chats."""
        bot = application.bot
        public = [BotCommand(name, text) for name, text in PUBLIC_COMMANDS]
        await bot.set_my_commands(public, scope=BotCommandScopeDefault())
        admin = public + [BotCommand(name, text) for name, text in ADMIN_COMMANDS]
        for user_id in self.admin_ids():
            try:
                await bot.set_my_commands(admin, scope=BotCommandScopeChat(user_id))
            except TelegramError as error:
                # An admin who never wrote to the bot has no chat with it yet.
                log.info(
                    "admin commands not registered for a user",
                    extra={"user_id": user_id, "error": str(error)},
                )

    def admin_ids(self) -> list[int]:
        """The configured newsbot admins' Telegram user ids (their private chats' ids)."""
        ids = self.service.admins.get(Platform.TELEGRAM, ())
        return [int(u) for u in sorted(ids) if _USER.fullmatch(u)]

    # -- answering ------------------------------------------------------------------------

    async def send(
        self,
        update: Update,
        reply: Rendered | str,
        *,
        markup: InlineKeyboardMarkup | None = None,
    ) -> Message | None:
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

    def actor(self, update: Update, *, chat_admin: bool = False) -> Actor:
        """The sender as the service sees them."""
        user = update.effective_user
        if user is None:
            raise PermissionDenied("I cannot tell who sent this.")
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

    # -- everyone -------------------------------------------------------------------------

    @guarded("help")
    async def help(self, update: Update, context: Context) -> None:
        """``/start`` and ``/help``."""
        text = HELP
        user = update.effective_user
        chat = update.effective_chat
        if user is not None and chat is not None and chat.type == ChatType.PRIVATE:
            if self.service.is_admin(self.actor(update)):
                text += ADMIN_HELP
            # Operators need this id for NEWSBOT_TELEGRAM_ADMINS.
            text += f"\n\nYour Telegram user id is {user.id}."
        await self.send(update, text)

    @guarded("latest")
    async def latest(self, update: Update, context: Context) -> None:
        """``/latest``: the last five articles, with links."""
        page = await self.service.latest(5)
        if not page.articles:
            await self.send(update, "Nothing has been published yet.")
            return
        items = [(f"#{a.id} {a.title}", self.service.article_url(a.id)) for a in page.articles]
        await self.send(update, render_list(items, "Latest articles"))

    @guarded("article")
    async def article(self, update: Update, context: Context) -> None:
        """``/article ID``."""
        article_id = ArticleId(parse_id(context.args or [], "Usage: /article ID"))
        article = await self.service.article(article_id)
        if article.status != "published":
            raise NotFound(f"There is no article {article_id}.")
        count = await self.service.comment_count(article_id)
        rendered = render_article(
            article, article_url=self.service.article_url(article_id), comment_count=count
        )
        await self.send(update, rendered)

    @guarded("comments")
    async def comments(self, update: Update, context: Context) -> None:
        """``/comments ID``: the thread, nested, with buttons for the next pages."""
        article_id = ArticleId(parse_id(context.args or [], "Usage: /comments ID"))
        rendered, markup = await self.thread_page(article_id, None, self.viewer(update))
        await self.send(update, rendered, markup=markup)

    def viewer(self, update: Update) -> Actor | None:
        """Who reads a thread; a retracted article's thread is gone for all but admins."""
        return self.actor(update) if update.effective_user is not None else None

    async def thread_page(
        self, article_id: ArticleId, cursor: str | None, viewer: Actor | None
    ) -> tuple[Rendered, InlineKeyboardMarkup | None]:
        """One page of a thread and the buttons to move on.

        Raises:
            NotFound: no such article, or one ``viewer`` may not read (retracted).
        """
        article = await self.service.readable_article(article_id, viewer)
        title = article.title
        if article.status is not ArticleStatus.PUBLISHED:
            title = f"[{article.status}] {title}"  # only admins get this far
        size = PAGE_COMMENTS
        for _ in range(4):
            page = await self.service.thread(
                article_id, cursor=cursor, limit=THREAD_PAGE, viewer=viewer, size=size
            )
            rendered = render_thread(
                title,
                page.comments,
                total=page.total,
                article_url=self.service.article_url(article_id),
            )
            if not rendered.truncated or size <= 1:
                break
            # The message holds fewer comments than the page: ask for a page of those only,
            # so that "Next" goes on from the first one left out instead of skipping it.
            size = max(1, min(size - 1, rendered.shown))
        buttons = []
        if cursor is not None:
            buttons.append(InlineKeyboardButton("« First", callback_data=f"cm:{article_id}:"))
        if page.next_cursor is not None:
            data = f"cm:{article_id}:{page.next_cursor}"
            if len(data.encode()) > 64:
                data = f"cm:{article_id}:~{self.remember_cursor(article_id, page.next_cursor)}"
            buttons.append(InlineKeyboardButton("Next ›", callback_data=data))
        return rendered, InlineKeyboardMarkup([buttons]) if buttons else None

    def remember_cursor(self, article_id: int, cursor: str) -> str:
        """A short token for a cursor too long for callback data (kept in memory)."""
        token = secrets.token_urlsafe(6)
        self._cursors[token] = (article_id, cursor)
        while len(self._cursors) > 5000:
            self._cursors.popitem(last=False)
        return token

    @guarded("button")
    async def button(self, update: Update, context: Context) -> None:
        """Inline buttons: thread pages, feed list pages and the publishing dialogue's
        confirmation."""
        query = update.callback_query
        assert query is not None
        feed_list = parse_feed_list_button(query.data or "")
        if feed_list is not None:
            await self.feed_list_button(update, feed_list)
            return
        wanted = parse_button(query.data or "")
        if wanted is None:
            # An old bot's buttons, or data made up by a client: nothing to do.
            log.info("unknown button data", extra=describe(update))
            await query.answer(STALE_BUTTON)
            return
        if isinstance(wanted, bool):
            await query.answer()
            await self.confirm(update, wanted)
            return
        article_id, cursor = wanted
        if cursor.startswith("~"):
            remembered = self._cursors.get(cursor[1:])
            if remembered is None or remembered[0] != article_id:
                await query.answer("This list has expired; send /comments again.")
                return
            cursor = remembered[1]
        try:
            rendered, markup = await self.thread_page(
                article_id, cursor or None, self.viewer(update)
            )
        except InvalidInput as error:
            if error.field != "cursor":
                raise
            # A page of an older bot, or data made up by a client: the cursor is refused
            # before it reaches the store.
            log.info("button with a cursor this bot never made", extra=describe(update))
            await query.answer(STALE_BUTTON)
            return
        await query.answer()
        if query.message is not None and isinstance(query.message, Message):
            try:
                await query.message.edit_text(
                    rendered.text,
                    entities=rendered.entities,
                    link_preview_options=NO_PREVIEW,
                    reply_markup=markup,
                )
            except BadRequest as error:
                if "not modified" not in str(error).lower():
                    raise

    # -- admins: articles -----------------------------------------------------------------

    async def private_only(self, update: Update, command: str) -> bool:
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            return True
        await self.send(update, f"Send {command} to me in a private chat.")
        return False

    @guarded("publish")
    async def publish(self, update: Update, context: Context) -> None:
        """``/publish``: title on the first line, Markdown body below; alone, a dialogue."""
        if not await self.private_only(update, "/publish"):
            return
        actor = self.actor(update)
        self.service.require_admin(actor, "publish")
        message = update.effective_message
        assert message is not None
        rest, entities = split_command(message.text or "", message.entities)
        title, body = split_article(rest, entities)
        if not title:
            self.dialogues[int(actor.user_id)] = Dialogue("title", time.monotonic())
            await self.send(update, "Send me the title of the article (or /cancel).")
            return
        if not body:
            self.dialogues[int(actor.user_id)] = Dialogue("body", time.monotonic(), title)
            await self.send(update, "Now send the body, in Markdown (or /cancel).")
            return
        await self.do_publish(update, ArticleDraft(title=title, body=body))

    async def do_publish(self, update: Update, draft: ArticleDraft) -> None:
        """Publish once per command: the same update (fetched again after a restart, say)
        finds its article instead of publishing another."""
        actor = self.actor(update)
        change = await self.service.publish(actor, draft, request=request_key(update))
        self.dialogues.pop(int(actor.user_id), None)
        article = change.article
        if change.repeated:
            where = "button" if update.callback_query is not None else "message"
            await self.send(
                update,
                f"Article {article.id} was already published from this {where}: "
                f"{article.title}\nPage: {self.service.article_url(article.id)}",
            )
            return
        await self.send(
            update,
            f"Published article {article.id}: {article.title}\n"
            f"Queued for {change.queued} destination(s). "
            f"Page: {self.service.article_url(article.id)}",
        )

    @guarded("publish photo")
    async def publish_photo(self, update: Update, context: Context) -> None:
        """A photo captioned ``/publish Title`` (body below) or ``/edit ID Title``."""
        message = update.effective_message
        assert message is not None
        assert message.photo
        actor = self.actor(update)
        caption = message.caption or ""
        editing = caption.startswith("/edit")
        self.service.require_admin(actor, "edit articles" if editing else "publish")
        image_url = await self.remember_photo(message)
        rest, entities = split_command(caption, message.caption_entities)
        if editing:
            await self.do_edit(update, rest, entities, image_url)
            return
        title, body = split_article(rest, entities)
        if not title or not body:
            self.dialogues[int(actor.user_id)] = Dialogue(
                "body" if title else "title", time.monotonic(), title, image_url=image_url
            )
            ask = "the body, in Markdown" if title else "the title"
            await self.send(update, f"Got the photo. Now send {ask} (or /cancel).")
            return
        await self.do_publish(update, ArticleDraft(title=title, body=body, image_url=image_url))

    async def remember_photo(self, message: Message) -> str:
        """Keep an uploaded photo's file id; the article refers to it by a stable address."""
        largest = message.photo[-1]
        await self.service.save_state(photo_key(largest.file_unique_id), largest.file_id)
        return f"{self.service.public_url}/media/telegram/{largest.file_unique_id}"

    @guarded("dialogue")
    async def dialogue(self, update: Update, context: Context) -> None:
        """The next answer in a publishing dialogue."""
        user = update.effective_user
        message = update.effective_message
        if user is None or message is None:
            return
        state = self.dialogues.get(user.id)
        if state is not None and time.monotonic() - state.started > DIALOGUE_TTL:
            del self.dialogues[user.id]
            state = None
        if state is None:
            await self.send(update, "Send /help to see what I can do.")
            return
        if message.photo:
            state.image_url = await self.remember_photo(message)
        text = message.text or message.caption or ""
        entities = message.entities if message.text else message.caption_entities
        if state.step == "title":
            title = " ".join(text.split())
            if not title:
                await self.send(update, "Got the photo. Now send the title (or /cancel).")
                return
            clean_draft(ArticleDraft(title=title, body="-"))  # refuse a bad title right away
            state.title, state.step = title, "body"
            await self.send(update, "Now send the body, in Markdown (or /cancel).")
        elif state.step == "body":
            body = entities_to_markdown(text, entities).strip()
            if not body:
                await self.send(update, "Send the body as text (or /cancel).")
                return
            clean_draft(ArticleDraft(title=state.title, body=body))
            state.body, state.step = body, "confirm"
            preview = render_post(
                state.title,
                state.body,
                article_url=self.service.public_url,
                comment_count=0,
            )
            await self.send(update, preview)
            buttons = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("Publish", callback_data="pub:yes"),
                        InlineKeyboardButton("Cancel", callback_data="pub:no"),
                    ]
                ]
            )
            await self.send(update, "Publish this article?", markup=buttons)
        else:
            answer = text.strip().lower()
            if answer in ("yes", "y", "publish", "ok"):
                await self.confirm(update, True)
            elif answer in ("no", "n", "cancel"):
                await self.confirm(update, False)
            else:
                await self.send(update, "Answer yes to publish or no to cancel.")

    async def confirm(self, update: Update, publish: bool) -> None:
        user = update.effective_user
        state = self.dialogues.get(user.id) if user else None
        if user is None or state is None or state.step != "confirm":
            await self.send(update, "There is no article waiting to be published.")
            return
        if not publish:
            del self.dialogues[user.id]
            await self.send(update, "Cancelled; nothing was published.")
            return
        # The dialogue ends once the article is stored (do_publish): after a storage failure
        # the admin can confirm again.
        await self.do_publish(
            update, ArticleDraft(title=state.title, body=state.body, image_url=state.image_url)
        )

    @guarded("cancel")
    async def cancel(self, update: Update, context: Context) -> None:
        """``/cancel``: end the publishing dialogue."""
        user = update.effective_user
        if user is not None and self.dialogues.pop(user.id, None) is not None:
            await self.send(update, "Cancelled; nothing was published.")
        else:
            await self.send(update, "There is nothing to cancel.")

    @guarded("edit")
    async def edit(self, update: Update, context: Context) -> None:
        """``/edit ID Title`` with the new body below (without a body, the body stays)."""
        if not await self.private_only(update, "/edit"):
            return
        self.service.require_admin(self.actor(update), "edit articles")
        message = update.effective_message
        assert message is not None
        rest, entities = split_command(message.text or "", message.entities)
        await self.do_edit(update, rest, entities, None)

    async def do_edit(
        self,
        update: Update,
        rest: str,
        entities: Sequence[MessageEntity],
        image_url: str | None,
    ) -> None:
        usage = "Usage: /edit ID New title, then the new body on the next lines."
        words = rest.split(maxsplit=1)
        article_id = ArticleId(parse_id(words[:1], usage))
        after_id = rest.find(words[0]) + len(words[0])
        remainder, remainder_entities = tail(rest, entities, after_id)
        title, body = split_article(remainder, remainder_entities)
        current = await self.service.article(article_id)
        if not title and not body and image_url is None:
            raise InvalidInput(usage)
        draft = ArticleDraft(
            title=title or current.title,
            body=body or current.body,
            summary=current.summary,
            url=current.url,
            image_url=image_url or current.image_url,
            tags=current.tags,
        )
        change = await self.service.edit(
            self.actor(update), article_id, draft, request=request_key(update)
        )
        if change.repeated:
            await self.send(update, f"This edit of article {article_id} was already made.")
            return
        await self.send(
            update,
            f"Edited article {article_id} (revision {change.article.revision}); "
            f"{change.queued} message(s) will be updated.",
        )

    @guarded("retract")
    async def retract(self, update: Update, context: Context) -> None:
        """``/retract ID``: delete every message posted for the article."""
        if not await self.private_only(update, "/retract"):
            return
        article_id = ArticleId(parse_id(context.args or [], "Usage: /retract ID"))
        actor = self.actor(update)
        self.service.require_admin(actor, "retract articles")
        # Retracting again changes nothing; say so rather than "0 messages will be deleted".
        if (await self.service.article(article_id)).status is ArticleStatus.RETRACTED:
            await self.send(update, f"Article {article_id} was already retracted.")
            return
        change = await self.service.retract(actor, article_id)
        await self.send(
            update,
            f"Retracted article {article_id}; {change.queued} message(s) will be deleted.",
        )

    # -- feeds ----------------------------------------------------------------------------

    @guarded("feed")
    async def feed(self, update: Update, context: Context) -> None:
        """``/feed add URL [tags]``, ``/feed list``, ``/feed remove URL``, ``/feed poll URL``."""
        if not await self.private_only(update, "/feed"):
            return
        actor = self.actor(update)
        self.service.require_admin(actor, "manage feeds")
        feeds = self.service.feeds
        if feeds is None:
            raise InvalidInput("Feeds are not available in this newsbot.")
        args = list(context.args or [])
        action = args.pop(0).lower() if args else ""
        if action == "list":
            text, markup = await self.feed_list_page(feeds, 0)
            await self.send(update, text, markup=markup)
        elif action == "add" and args:
            feed, result = await feeds.add(actor, NewFeed(args[0], parse_tags(args[1:])))
            if result is None:
                await self.send(update, f"{feed.url} is already followed.")
            else:
                await self.send(
                    update,
                    f"Following {feed.url} ({feed.title or 'untitled'}): new items will be "
                    f"published; {result.recorded} already there were recorded as seen.",
                )
        elif action == "remove" and args:
            feed = await feeds.remove(actor, args[0])
            await self.send(update, f"No longer following {feed.url}; its articles stay.")
        elif action == "poll" and args:
            await self.send(update, poll_summary(await feeds.poll_now(actor, args[0])))
        else:
            raise InvalidInput(
                "Usage: /feed add URL [tags], /feed list, /feed remove URL, /feed poll URL"
            )

    async def feed_list_page(
        self, feeds: FeedService, after: int
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """A page of ``/feed list``, saying how many feeds there are, and its buttons."""
        page = feed_page(await feeds.feeds(), after, budget=FEED_LIST_BUDGET)
        if not page.total:
            return "No feeds yet: /feed add URL", None
        text = "\n\n".join((f"{page.heading}:", *page.lines))
        buttons = []
        if after:
            buttons.append(InlineKeyboardButton("« First", callback_data="fl:0"))
        if page.next_after is not None:
            buttons.append(InlineKeyboardButton("Next ›", callback_data=f"fl:{page.next_after}"))
        return text, InlineKeyboardMarkup([buttons]) if buttons else None

    async def feed_list_button(self, update: Update, after: int) -> None:
        """A ``/feed list`` button: the page it asks for, in place of the one shown."""
        query = update.callback_query
        assert query is not None
        message = query.message
        if not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
            await query.answer(STALE_BUTTON)
            return
        self.service.require_admin(self.actor(update), "manage feeds")
        feeds = self.service.feeds
        if feeds is None:
            raise InvalidInput("Feeds are not available in this newsbot.")
        text, markup = await self.feed_list_page(feeds, after)
        await query.answer()
        rendered = plain(text)
        try:
            await message.edit_text(
                rendered.text,
                entities=rendered.entities,
                link_preview_options=NO_PREVIEW,
                reply_markup=markup,
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise

    # -- subscriptions --------------------------------------------------------------------

    @guarded("subscribe")
    async def subscribe(self, update: Update, context: Context) -> None:
        """``/subscribe`` in a group, or ``/subscribe @channel|-100…`` in private."""
        chat = update.effective_chat
        assert chat is not None
        args = list(context.args or [])
        if chat.type == ChatType.PRIVATE:
            if not args:
                raise InvalidInput(
                    "Usage: /subscribe @channel (or its -100… id). Make me an administrator "
                    "there with the right to post messages first."
                )
            target = await self.resolve_chat(update, args[0])
            await self.check_can_post(update, target)
            chat_admin = await self.is_chat_admin(update, target.id)
            tags = parse_tags(args[1:])
        else:
            target = chat
            chat_admin = await self.is_chat_admin(update, chat.id)
            tags = parse_tags(args)
        kind = destination_kind(target)
        message = update.effective_message
        thread = None
        if kind is DestinationKind.FORUM and message is not None and message.is_topic_message:
            thread = str(message.message_thread_id)
        result = await self.service.subscribe(
            self.actor(update, chat_admin=chat_admin),
            NewDestination(
                Platform.TELEGRAM,
                str(target.id),
                kind,
                title=target.title or target.username or "",
                thread_id=thread,
                tags=tags,
            ),
        )
        destination = result.destination
        name = shown_name(target.title or "") or str(target.id)
        if destination.pending:
            text = (
                f"{name} is waiting for a newsbot admin's approval; new articles will be "
                "posted there once it is approved."
                if result.created
                else f"{name} is still waiting for a newsbot admin's approval."
            )
        elif result.created:
            text = f"Subscribed {name}: new articles will be posted there."
        else:
            text = f"{name} was already subscribed."
        warning = await self.visibility_warning(update, target)
        await self.send(update, text + (f"\n\n{warning}" if warning else ""))
        if result.created and destination.pending:
            await self.tell_admins(update, destination)

    async def tell_admins(self, update: Update, destination: Destination) -> None:
        """Tell the newsbot admins, in their private chats, that a chat waits for approval.

        At most one notice per chat per hour and ``NOTICES_PER_HOUR`` per person asking, so
        a chat admin subscribing and unsubscribing in a loop, or asking for many chats, cannot
        flood the admins nor use up notices that others' requests need. The chat's title and
        the person's name are shown as code: inert, whatever links they hold. Best effort: the
        subscription is stored whatever happens here.
        """
        admins = self.admin_ids()
        if not admins:
            return
        user = update.effective_user
        message = update.effective_message
        # An anonymous group admin writes as the group: one requester per group, not the one
        # account all anonymous admins share.
        sender = message.sender_chat if message is not None else None
        requester = f"chat:{sender.id}" if sender is not None else str(user.id if user else "")
        try:
            if await self.service.rate_slot(
                f"telegram.approval-notice:{destination.chat_id}", 1, 3600
            ) or await self.service.rate_slot(
                f"telegram.approval-notices:{requester}", NOTICES_PER_HOUR, 3600
            ):
                log.info("approval notice skipped: too many", extra=describe(update))
                return
        except StorageError:
            log.warning("approval notice skipped: storage failed", extra=describe(update))
            return
        name = shown_name(destination.title) or destination.chat_id
        topic = destination.thread_id
        target = f"{destination.chat_id} {topic}" if topic else destination.chat_id
        where = f", topic {topic}" if topic else ""
        who: list[tuple[str, bool]] = [("someone", False)]
        if user is not None:
            who = [(shown_name(user.full_name) or "someone", True), (f" ({user.id})", False)]
        notice = with_inert(
            [
                (name, True),
                (f" ({destination.chat_id}{where}) asks to receive articles: ", False),
                *who,
                (
                    f" sent /subscribe. Approve it with /approve {target}, or see every chat "
                    "waiting with /approve.",
                    False,
                ),
            ]
        )
        bot = update.get_bot()
        for admin in admins:
            try:
                await bot.send_message(
                    admin, notice.text, entities=notice.entities, link_preview_options=NO_PREVIEW
                )
            except (TelegramError, DeliveryError) as error:
                # An admin who never wrote to the bot has no private chat with it yet.
                log.info(
                    "could not tell an admin about a subscription",
                    extra={"user_id": admin, "error": redact(str(error), self.token)},
                )

    async def resolve_chat(self, update: Update, raw: str) -> Chat:
        """The chat named by ``@username`` or a numeric id, as the bot can see it."""
        name = parse_chat(raw, "Name the chat as @username or by its numeric id (-100…).")
        try:
            found = await update.get_bot().get_chat(chat_key(name))
        except (BadRequest, Forbidden) as error:
            raise InvalidInput(
                f"I cannot see {name}. Add me there as an administrator first. ({error})"
            ) from None
        if found.type == ChatType.PRIVATE:
            raise InvalidInput("That is a private chat; name a channel or a group.")
        return Chat(found.id, found.type, title=found.title, username=found.username)

    async def check_can_post(self, update: Update, target: Chat) -> None:
        """Refuse to subscribe a chat the bot cannot post in."""
        bot = update.get_bot()
        try:
            member = await bot.get_chat_member(target.id, bot.id)
        except (BadRequest, Forbidden):
            member = None
        if target.type == ChatType.CHANNEL:
            if not (
                isinstance(member, ChatMemberAdministrator) and member.can_post_messages
            ) and not (member is not None and member.status == ChatMemberStatus.OWNER):
                raise InvalidInput(
                    f"Make me an administrator of {target.title or target.id} with the right "
                    "to post messages, then send /subscribe again."
                )
        elif member is None or member.status in GONE_STATUSES:
            raise InvalidInput(f"Add me to {target.title or target.id} first.")

    async def visibility_warning(self, update: Update, target: Chat) -> str:
        """Why comments in a chat (or its discussion group) may stay invisible to the bot."""
        bot = update.get_bot()
        group_id: int | None = target.id
        where = "this group"
        if target.type == ChatType.CHANNEL:
            try:
                info = await bot.get_chat(target.id)
            except TelegramError:
                return ""
            group_id = info.linked_chat_id
            where = "the channel's discussion group"
            if group_id is None:
                return (
                    "The channel has no discussion group, so readers cannot comment there. "
                    "Link one in the channel settings and make me an administrator of it."
                )
        assert group_id is not None
        try:
            member = await bot.get_chat_member(group_id, bot.id)
        except (BadRequest, Forbidden):
            member = None
        if member is None or member.status in GONE_STATUSES:
            problem = f"I am not a member of {where}, so I cannot see readers' comments there"
        elif member.status in ADMIN_STATUSES or self.sees_all:
            return ""
        elif target.type == ChatType.CHANNEL:
            problem = (
                f"I am not an administrator of {where} and my privacy mode is on, so I "
                "cannot see readers' comments there"
            )
        else:
            problem = (
                f"I am not an administrator of {where} and my privacy mode is on, so I see "
                "only direct replies to my posts, not replies to other comments"
            )
        log.warning(
            "cannot see comments",
            extra={"chat_id": target.id, "group_id": group_id, "problem": problem},
        )
        return (
            f"Note: {problem}. Make me an administrator of it (or turn privacy mode off "
            "with @BotFather's /setprivacy)."
        )

    @guarded("unsubscribe")
    async def unsubscribe(self, update: Update, context: Context) -> None:
        """``/unsubscribe`` in a group, or ``/unsubscribe @channel|-100…`` in private."""
        chat = update.effective_chat
        assert chat is not None
        args = list(context.args or [])
        thread = None
        if chat.type == ChatType.PRIVATE:
            usage = "Usage: /unsubscribe @channel (or its -100… id)."
            chat_id = parse_chat(args[0] if args else "", usage)
            if chat_id.startswith("@"):
                chat_id = str((await self.resolve_chat(update, chat_id)).id)
            chat_admin = await self.is_chat_admin(update, chat_key(chat_id))
        else:
            chat_id = str(chat.id)
            chat_admin = await self.is_chat_admin(update, chat.id)
            message = update.effective_message
            if chat.is_forum and message is not None and message.is_topic_message:
                thread = str(message.message_thread_id)
        destination = await self.service.unsubscribe(
            self.actor(update, chat_admin=chat_admin), Platform.TELEGRAM, chat_id, thread
        )
        name = shown_name(destination.title) or destination.chat_id
        await self.send(update, f"Unsubscribed {name}: no more articles.")

    @guarded("approve")
    async def approve(self, update: Update, context: Context) -> None:
        """``/approve`` lists the subscriptions waiting; ``/approve CHAT_ID [TOPIC]`` approves
        one (newsbot admins, in private)."""
        if not await self.private_only(update, "/approve"):
            return
        actor = self.actor(update)
        self.service.require_admin(actor, "approve subscriptions")
        args = list(context.args or [])
        usage = "Usage: /approve CHAT_ID (and the topic id for a forum topic), or /approve alone."
        if not args:
            await self.send(update, await self.pending_list())
            return
        chat_id = parse_chat(args[0], usage)
        thread = parse_topic(args[1:], usage)
        destination = await self.service.approve(actor, Platform.TELEGRAM, chat_id, thread)
        name = shown_name(destination.title) or destination.chat_id
        await self.send(update, f"Approved {name}: new articles will be posted there.")

    async def pending_list(self) -> Rendered:
        """The Telegram subscriptions waiting for approval, as the answer to ``/approve``
        (titles shown as code, inert)."""
        pending = [
            d for d in await self.service.pending_destinations() if d.platform is Platform.TELEGRAM
        ]
        if not pending:
            return plain("No subscription is waiting for approval.")
        parts = [("Waiting for approval:", False)]
        for destination in pending[:PENDING_SHOWN]:
            topic = f" {destination.thread_id}" if destination.thread_id else ""
            name = shown_name(destination.title) or destination.chat_id
            parts += [("\n• ", False), (name, True)]
            parts.append((f": /approve {destination.chat_id}{topic}", False))
        if len(pending) > PENDING_SHOWN:
            more = len(pending) - PENDING_SHOWN
            parts.append((f"\n… and {more} more (python bot.py destinations)", False))
        return with_inert(parts)

    # -- moderation -----------------------------------------------------------------------

    async def replied_comment(self, update: Update, command: str) -> CommentId:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or message.reply_to_message is None:
            raise InvalidInput(f"Send {command} as a reply to the comment.")
        link = None
        for name in chat_names(chat):
            ref = MessageRef(Platform.TELEGRAM, name, str(message.reply_to_message.message_id))
            link = await self.service.resolve(ref)
            if link is not None:
                break
        if link is None:
            raise NotFound("That message is not a comment I know.")
        if link.comment_id is None:
            raise InvalidInput("That is an article; retract it with /retract ID in private.")
        return link.comment_id

    @guarded("delete comment")
    async def delete(self, update: Update, context: Context) -> None:
        """``/delete`` as a reply to a comment: remove it from the thread, everywhere."""
        comment_id = await self.replied_comment(update, "/delete")
        actor = self.actor(update)
        self.service.require_admin(actor, "delete comments")
        if (await self.service.comment(comment_id)).status is CommentStatus.DELETED:
            # Done before (this very command, fetched again after a restart, say): the
            # reader's message is gone too, or could not be deleted then either.
            await self.send(update, f"Comment {comment_id} was already deleted.")
            return
        comment = await self.service.delete_comment(actor, comment_id)
        message = update.effective_message
        assert message is not None
        assert message.reply_to_message is not None
        replied = message.reply_to_message
        if comment.source == MessageRef(
            Platform.TELEGRAM, str(replied.chat.id), str(replied.message_id)
        ):
            try:
                await replied.delete()  # needs the right to delete messages; best effort
            except TelegramError as error:
                log.info("could not delete the comment's message", extra={"error": str(error)})
        await self.send(update, f"Deleted comment {comment.id}.")

    @guarded("ban")
    async def ban(self, update: Update, context: Context) -> None:
        """``/ban`` as a reply to a comment: stop storing its author's comments."""
        comment_id = await self.replied_comment(update, "/ban")
        comment = await self.service.comment(comment_id)
        author = comment.author
        count = await self.service.ban(self.actor(update), author.platform, author.user_id)
        name = shown_name(author.name) or author.user_id
        await self.send(update, f"Banned {name}; deleted {count} comment(s).")

    # -- comments -------------------------------------------------------------------------

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

    # -- membership -----------------------------------------------------------------------

    @guarded("membership", answer_errors=False)
    async def membership(self, update: Update, context: Context) -> None:
        """The bot was added, promoted, restricted or removed somewhere."""
        change = update.my_chat_member
        assert change is not None
        chat = change.chat
        member = change.new_chat_member
        reason = ""
        if member.status in GONE_STATUSES:
            reason = f"the bot was removed ({member.status})"
        elif chat.type == ChatType.CHANNEL and not (
            isinstance(member, ChatMemberAdministrator) and member.can_post_messages
        ):
            reason = "the bot may no longer post in the channel"
        elif isinstance(member, ChatMemberRestricted) and not member.can_send_messages:
            reason = "the bot may no longer send messages"
        if reason:
            count = await self.service.destination_gone(Platform.TELEGRAM, str(chat.id), reason)
            log.warning(
                "removed from a chat",
                extra={"chat_id": chat.id, "status": member.status, "deactivated": count},
            )
            return
        log.info(
            "membership changed",
            extra={"chat_id": chat.id, "chat_type": chat.type, "status": member.status},
        )
        if (
            chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
            and member.status == ChatMemberStatus.MEMBER
            and not self.sees_all
        ):
            log.warning(
                "privacy mode: only commands and direct replies to the bot's posts will be "
                "seen in this group; make the bot an administrator to see every reply",
                extra={"chat_id": chat.id},
            )

    @guarded("migration", answer_errors=False)
    async def migrated(self, update: Update, context: Context) -> None:
        """A group became a supergroup: move its subscription to the new chat id."""
        message = update.effective_message
        assert message is not None
        if message.migrate_to_chat_id is None:
            return
        old, new = str(message.chat.id), str(message.migrate_to_chat_id)
        for destination in await self.service.destinations(Platform.TELEGRAM):
            if destination.chat_id != old or not (destination.active or destination.pending):
                continue
            moved = NewDestination(
                Platform.TELEGRAM,
                new,
                destination.kind,
                destination.title,
                destination.thread_id,
                destination.tags,
            )
            if destination.active:
                # Approved before, under the chat's old id: no new approval is needed.
                await self.service.subscribe(MIGRATION, moved)
            else:
                # Still a request: it keeps waiting, under the new id only.
                await self.service.subscribe(MIGRATION_REQUEST, moved, moved=True)
                await self.service.unsubscribe(
                    MIGRATION_REQUEST, Platform.TELEGRAM, old, destination.thread_id
                )
        await self.service.destination_gone(
            Platform.TELEGRAM, old, f"the group became supergroup {new}"
        )


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
