"""Plain replies straight from getUpdates' JSON, without the library's objects.

A busy discussion brings replies by the thousand, and python-telegram-bot builds each update
into objects at about 0.5 ms apiece (a ``Message`` sets some 130 attributes, twice per reply
with the message it answers): more than everything else a reply costs, and a ceiling of
under 2,000 updates a second on a whole core. The one kind of update that comes in such
numbers, a text message in a group that replies to another and is nothing else, is read here
from the JSON. Everything else (commands, media, edits, forwards, bots, any field we do not
expect) goes the library's way, unchanged.

``plain_reply`` must agree with what ``Comments.reply`` (``handlers/comments.py``) reads through
the library objects (``author_of``, ``message_text``, the chat's names, the date);
``tests/adapters/telegram/test_telegram_fastpath.py`` checks that they agree on fuzzed messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram.request import HTTPXRequest

from newsbot.models import Author, Platform

# What the handlers read of the message a message replies to. Telegram sends that message in
# full (an article post with its text and entities), and nothing uses the rest.
REPLIED_FIELDS = frozenset(
    {
        "message_id",
        "date",
        "chat",
        "from",
        "sender_chat",
        "message_thread_id",
        "is_topic_message",
        "is_automatic_forward",
        "forward_origin",
    }
)
MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")
# A plain reply has these fields and no other: anything else (media, a forward, a service
# message, a field newer than this code) goes the library's way.
PLAIN_FIELDS = frozenset(
    {
        "message_id",
        "from",
        "sender_chat",
        "chat",
        "date",
        "text",
        "entities",
        "reply_to_message",
        "message_thread_id",
        "is_topic_message",
        "link_preview_options",
        "quote",
        "author_signature",
        "has_protected_content",
    }
)
GROUP_TYPES = ("group", "supergroup")


@dataclass(frozen=True, slots=True)
class PlainReply:
    """A group text message that replies to another, as ``Comments.reply`` needs it."""

    update_id: int
    chat_id: int
    chat_username: str | None
    message_id: int
    replied_id: int
    author: Author
    text: str
    sent_at: datetime

    @property
    def chat_names(self) -> list[str]:
        """As ``handlers.base.chat_names``: the id, and ``@username`` for a public chat."""
        return names_of(self.chat_id, self.chat_username)


def names_of(chat_id: int, username: str | None) -> list[str]:
    """How a chat may be named in a subscription: its id, and its ``@username`` if public."""
    return [str(chat_id), f"@{username}"] if username else [str(chat_id)]


def _author(message: dict[str, Any]) -> Author | None:
    """As ``handlers.parsing.author_of``; ``None`` for a bot or no sender (the library path
    decides)."""
    sender = message.get("sender_chat")
    if sender is not None:
        name = sender.get("title") or sender.get("username") or str(sender["id"])
        return Author(name, Platform.TELEGRAM, str(int(sender["id"])))
    user = message.get("from")
    if not isinstance(user, dict) or user.get("is_bot") is not False:
        return None
    first, last = user["first_name"], user.get("last_name")
    full = f"{first} {last}" if last else first
    name = full or user.get("username") or str(user["id"])
    return Author(name, Platform.TELEGRAM, str(user["id"]))


def plain_reply(raw: Any) -> PlainReply | None:
    """The update as a ``PlainReply``, or ``None`` when the library should handle it."""
    try:
        if not isinstance(raw, dict) or raw.keys() != {"update_id", "message"}:
            return None
        message = raw["message"]
        chat = message["chat"]
        replied = message.get("reply_to_message")
        text = message.get("text")
        if (
            not PLAIN_FIELDS.issuperset(message)
            or chat.get("type") not in GROUP_TYPES
            or not isinstance(replied, dict)
            or not isinstance(text, str)
            or not text
            or message.get("is_automatic_forward")
            or any(
                e.get("type") == "bot_command" and e.get("offset") == 0
                for e in message.get("entities") or ()
            )
        ):
            return None
        author = _author(message)
        if author is None:
            return None
        username = chat.get("username")
        return PlainReply(
            update_id=int(raw["update_id"]),
            chat_id=int(chat["id"]),
            chat_username=username if isinstance(username, str) else None,
            message_id=int(message["message_id"]),
            replied_id=int(replied["message_id"]),
            author=author,
            text=text,
            sent_at=datetime.fromtimestamp(int(message["date"]), UTC),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError):
        return None  # anything unexpected: the library path, which validates properly


class UpdatesRequest(HTTPXRequest):
    """The getUpdates connection: takes the plain replies out of each answer (``take``
    returns them), and trims every other message's ``reply_to_message`` to
    ``REPLIED_FIELDS`` before the library builds objects from what is left."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: list[PlainReply] = []

    def take(self) -> list[PlainReply]:
        """The plain replies of the last answer (each is returned once)."""
        plain, self._plain = self._plain, []
        return plain

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        parsed: dict[str, Any] = HTTPXRequest.parse_json_payload(payload)
        result = parsed.get("result")
        if not isinstance(result, list):
            return parsed
        rest = []
        for update in result:
            reply = plain_reply(update)
            if reply is not None:
                self._plain.append(reply)
                continue
            rest.append(update)
            for kind in MESSAGE_KINDS:
                message = update.get(kind) if isinstance(update, dict) else None
                if not isinstance(message, dict):
                    continue
                replied = message.get("reply_to_message")
                if isinstance(replied, dict):
                    message["reply_to_message"] = {
                        k: v for k, v in replied.items() if k in REPLIED_FIELDS
                    }
        parsed["result"] = rest
        return parsed
