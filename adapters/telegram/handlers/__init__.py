"""What the bot does with each kind of update, in groups by concern (reading, publishing,
subscriptions, moderation, feeds, comments, membership); this module registers them."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    MessageReactionHandler,
    filters,
)

from adapters.i18n import ChatSpeech, Speech, translations
from adapters.telegram.fastpath import PlainReply
from adapters.telegram.handlers.base import (
    APOLOGY,
    STALE_BUTTON,
    TRY_AGAIN,
    Callback,
    Context,
    HandlerGroup,
    Shared,
    Sightings,
    chat_names,
    describe,
    destination_kind,
    guarded,
    run_guarded,
)
from adapters.telegram.handlers.comments import LINK_WAIT, Comments
from adapters.telegram.handlers.feeds import Feeds
from adapters.telegram.handlers.figures import Figures
from adapters.telegram.handlers.membership import Membership
from adapters.telegram.handlers.moderation import Moderation
from adapters.telegram.handlers.parsing import (
    author_of,
    message_text,
    parse_button,
    parse_chat,
    parse_feed_list_button,
    parse_id,
    parse_topic,
)
from adapters.telegram.handlers.people import People
from adapters.telegram.handlers.publishing import Publishing
from adapters.telegram.handlers.reactions import Reactions
from adapters.telegram.handlers.reading import THREAD_PAGE, Reading
from adapters.telegram.handlers.scheduling import Scheduling
from adapters.telegram.handlers.subscriptions import NOTICES_PER_HOUR, Subscriptions
from adapters.telegram.staffchat import staff_press
from newsbot.i18n import N_, languages
from newsbot.people import sign_in_payload
from newsbot.service import NewsService
from newsbot.staffchat import DATA_PREFIX as STAFF_DATA

__all__ = [
    "APOLOGY",
    "LINK_WAIT",
    "NOTICES_PER_HOUR",
    "STALE_BUTTON",
    "THREAD_PAGE",
    "TRY_AGAIN",
    "Handlers",
    "Sightings",
    "author_of",
    "chat_names",
    "describe",
    "destination_kind",
    "message_text",
    "parse_button",
    "parse_chat",
    "parse_id",
    "parse_topic",
    "run_guarded",
]

log = logging.getLogger("newsbot.telegram")

PUBLIC_COMMANDS = (
    ("latest", N_("The latest articles")),
    ("article", N_("Show an article: /article ID")),
    ("comments", N_("Read an article's comments: /comments ID")),
    ("subscribe", N_("Send new articles to this chat (chat admins)")),
    ("unsubscribe", N_("Stop sending articles to this chat (chat admins)")),
    ("link", N_("Link this account to the web site (private chat)")),
    ("notifications", N_("Replies to your comments here: /notifications on|off (private chat)")),
    ("report", N_("Reply to a comment with /report [reason] to ask a moderator to look")),
    ("help", N_("What I can do")),
)
ADMIN_COMMANDS = (
    ("publish", N_("Publish an article: title on the first line, Markdown body below")),
    ("scheduled", N_("Scheduled articles; /scheduled move ID in=2h, /scheduled cancel ID")),
    ("edit", N_("Edit an article: /edit ID, then title and body")),
    ("retract", N_("Retract an article everywhere: /retract ID")),
    ("cancel", N_("Cancel the article being written")),
    ("delete", N_("Reply to a comment with /delete to remove it")),
    ("ban", N_("Reply to a comment with /ban to stop storing its author's comments")),
    ("approve", N_("Subscriptions waiting for approval; /approve CHAT_ID approves one")),
    ("feed", N_("Follow a site's feed: /feed add URL [tags], list, remove URL, poll URL")),
    ("stats", N_("An article's figures: /stats [ID]")),
    (
        "policy",
        N_("A story's comments: /policy ID [open|premoderated|closed|default] [slow SECONDS|off]"),
    ),
)


class Handlers(HandlerGroup):
    """The update handlers of the Telegram adapter: the groups, registered together.

    Args:
        service: the use cases.
        sightings: the publisher, asked whether a channel post was just made by the bot.
        failed: update ids whose effects could not be stored; the poll loop redelivers them.
        token: only to keep it out of logs.
        speech: the language of answers (English by default).
        languages: each chat's own language, where one is set (the publisher's).
    """

    def __init__(
        self,
        service: NewsService,
        sightings: Sightings,
        failed: set[int],
        token: str = "",
        speech: Speech | None = None,
        languages: ChatSpeech | None = None,
    ) -> None:
        speech = speech or Speech()
        super().__init__(
            Shared(service, sightings, failed, token, speech=speech, languages=languages)
        )
        self.reading = Reading(self.shared)
        self.publishing = Publishing(self.shared)
        self.scheduling = Scheduling(self.shared)
        self.subscriptions = Subscriptions(self.shared)
        self.moderation = Moderation(self.shared)
        self.feeds = Feeds(self.shared)
        self.comments = Comments(self.shared)
        self.members = Membership(self.shared)
        self.people = People(self.shared)
        self.reactions = Reactions(self.shared)
        self.figures = Figures(self.shared)
        self.bot_id = 0

    async def start(self, update: Update, context: Context) -> None:
        """``/start``: the user started the bot (it may write to them), then the help; with a
        sign-in's parameter (``t.me/BOT?start=signin-TOKEN``), that sign-in proven instead."""
        await self.people.started(update)
        token = sign_in_payload(context.args[0]) if context.args else None
        if token is not None:
            await self.people.sign_in(update, context)
            return
        await self.reading.help(update, context)

    @property
    def sees_all(self) -> bool:
        """Whether the bot sees every group message (privacy mode off)."""
        return self.shared.sees_all

    @sees_all.setter
    def sees_all(self, value: bool) -> None:
        self.shared.sees_all = value

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register every handler; commands first, then comments in a later group."""
        new = filters.UpdateType.MESSAGE
        private = filters.ChatType.PRIVATE
        groups = filters.ChatType.GROUPS
        reading, publishing, subscriptions = self.reading, self.publishing, self.subscriptions
        commands: list[tuple[str, Callback]] = [
            ("start", self.start),
            ("help", reading.help),
            ("latest", reading.latest),
            ("article", reading.article),
            ("comments", reading.comments),
            ("publish", publishing.publish),
            ("scheduled", self.scheduling.scheduled),
            ("cancel", publishing.cancel),
            ("edit", publishing.edit),
            ("retract", publishing.retract),
            ("subscribe", subscriptions.subscribe),
            ("unsubscribe", subscriptions.unsubscribe),
            ("delete", self.moderation.delete),
            ("ban", self.moderation.ban),
            ("report", self.moderation.report),
            ("policy", self.moderation.policy),
            ("approve", subscriptions.approve),
            ("feed", self.feeds.feed),
            ("link", self.people.link),
            ("notifications", self.people.notifications),
            ("stats", self.figures.stats),
        ]
        for name, callback in commands:
            application.add_handler(CommandHandler(name, callback, filters=new))
        photo_command = filters.CaptionRegex(r"^/(publish|edit)(@\w+)?(\s|$)")
        application.add_handler(
            MessageHandler(new & private & filters.PHOTO & photo_command, publishing.publish_photo)
        )
        application.add_handler(
            MessageHandler(
                new & private & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND,
                publishing.dialogue,
            )
        )
        application.add_handler(CallbackQueryHandler(self.button))
        application.add_handler(
            ChatMemberHandler(self.members.membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        application.add_handler(
            MessageHandler(filters.StatusUpdate.MIGRATE, self.members.migrated)
        )
        for kind, callback in (
            (MessageReactionHandler.MESSAGE_REACTION_UPDATED, self.reactions.reaction),
            (MessageReactionHandler.MESSAGE_REACTION_COUNT_UPDATED, self.reactions.reaction_count),
        ):
            application.add_handler(MessageReactionHandler(callback, message_reaction_types=kind))
        # Comments: a command that replies to a comment (/delete) is not a comment itself.
        comments = self.comments
        application.add_handler(
            MessageHandler(new & groups & filters.IS_AUTOMATIC_FORWARD, comments.discussion_copy),
            group=1,
        )
        application.add_handler(
            MessageHandler(
                new & groups & filters.REPLY & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
                comments.reply,
            ),
            group=1,
        )
        application.add_handler(
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & groups, comments.edited), group=1
        )

    async def register_commands(
        self, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> None:
        """Publish the command list (setMyCommands); admins see theirs in private chats."""
        # Described in NEWSBOT_LANGUAGE for everyone, and in each shipped language for the
        # users whose Telegram speaks it (language_code).
        bot = application.bot
        default = self.shared.speech.language
        for code in ("", *languages()):
            tr = translations(code or default)
            public = [BotCommand(name, tr.gettext(text)) for name, text in PUBLIC_COMMANDS]
            await bot.set_my_commands(
                public, scope=BotCommandScopeDefault(), language_code=code or None
            )
            admin = public + [BotCommand(name, tr.gettext(text)) for name, text in ADMIN_COMMANDS]
            for user_id in self.admin_ids():
                try:
                    await bot.set_my_commands(
                        admin, scope=BotCommandScopeChat(user_id), language_code=code or None
                    )
                except TelegramError as error:
                    # An admin who never wrote to the bot has no chat with it yet.
                    log.info(
                        "admin commands not registered for a user",
                        extra={"user_id": user_id, "error": str(error)},
                    )

    async def plain_reply(self, reply: PlainReply) -> None:
        """A reply read straight from the JSON (``fastpath``), stored as ``Comments.reply``
        stores one read through the library."""
        await self.comments.plain_reply(reply)

    @guarded("button")
    async def button(self, update: Update, context: Context) -> None:
        """Inline buttons: thread pages, feed list pages and the publishing dialogue's
        confirmation."""
        query = update.callback_query
        assert query is not None
        if (query.data or "").startswith(STAFF_DATA + ":"):
            await staff_press(self.service, update, self.actor(update))
            return
        feed_list = parse_feed_list_button(query.data or "")
        if feed_list is not None:
            await self.feeds.feed_list_button(update, feed_list)
            return
        wanted = parse_button(query.data or "")
        if wanted is None:
            # An old bot's buttons, or data made up by a client: nothing to do.
            log.info("unknown button data", extra=describe(update))
            await query.answer((await self.speech(update)).gettext(STALE_BUTTON))
            return
        if isinstance(wanted, bool):
            await query.answer()
            await self.publishing.confirm(update, wanted)
            return
        await self.reading.thread_button(update, *wanted)
