"""What the handlers read from updates: message text, authors, and command arguments,
each checked before use (an id of ASCII digits, a chat name, a button's data)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import Message, Update

from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import ArticleId, Author, Platform


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
        raise InvalidInput(N_("I cannot tell which message this is."))
    return f"telegram:{chat.id}:{message.message_id}"


def parse_tags(words: Sequence[str]) -> tuple[str, ...]:
    """Tags given after a command, as ``#tag`` or ``tag``."""
    return tuple(word.lstrip("#") for word in words if word.strip("#"))
