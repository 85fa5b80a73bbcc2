"""Users, chats and messages: the fake's state, and the people who act in it."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

from .limits import FloodControl, RateLimits, _SlidingWindow, _TokenBucket
from .markup import _autodetect, _sort_entities, _validate_entities, entity_text, utf16_len
from .wire import DEFAULT_TOKEN, TELEGRAM_SERVICE_USER_ID, JSONDict

_TELEGRAM_SERVICE_USER: JSONDict = {
    "id": TELEGRAM_SERVICE_USER_ID,
    "is_bot": False,
    "first_name": "Telegram",
}
_CHAT_TYPES = frozenset({"private", "group", "supergroup", "channel"})


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    owner: int | None = None
    admins: set[int] = field(default_factory=set)
    members: set[int] = field(default_factory=set)
    bot_status: str = "member"  # administrator | member | left | kicked
    bot_can_post: bool = True
    linked_chat_id: int | None = None
    next_message_id: int = 1
    messages: dict[int, JSONDict] = field(default_factory=dict)

    def public(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @property
    def kind_name(self) -> str:
        return {"channel": "channel", "supergroup": "supergroup"}.get(self.type, "group")


@dataclass
class _Injection:
    method: str  # lower-case method name or "*"
    status: int
    retry_after: int | None
    description: str | None
    remaining: int
    chat_id: int | str | None


@dataclass
class _Delay:
    method: str  # lower-case method name or "*"
    seconds: float
    remaining: int
    chat_id: int | str | None


@dataclass
class _Poll:
    conflict: bool = False


def _member(status: str, user: JSONDict) -> JSONDict:
    data: JSONDict = {"status": status, "user": copy.deepcopy(user)}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "kicked":
        data["until_date"] = 0
    return data


def _admin_rights(chat_type: str, *, can_post: bool = True) -> JSONDict:
    rights: JSONDict = {
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": True,
        "can_edit_stories": True,
        "can_delete_stories": True,
    }
    if chat_type == "channel":
        rights["can_post_messages"] = can_post
        rights["can_edit_messages"] = True
    else:
        rights["can_pin_messages"] = True
        if chat_type == "supergroup":
            rights["can_manage_topics"] = False
    return rights


def _now() -> int:
    return int(time.time())


def _file_unique_id(seed: str) -> str:
    return "AQAD" + hashlib.sha1(seed.encode()).hexdigest()[:12]


class World(FloodControl):
    """The fake's state: users, chats, messages, the update queue, and the people in them."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        enforce_rate_limits: bool = False,
        bot_id: int | None = None,
        bot_username: str = "newsbot_test_bot",
        bot_first_name: str = "Newsbot Test",
        privacy_mode: bool = True,
        autodetect_entities: bool = True,
        strict_html_ampersand: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.clock = clock  # the flood limits' time source; tests may pass a manual clock
        prefix = token.split(":", 1)[0]
        self.bot_id = (
            bot_id if bot_id is not None else (int(prefix) if prefix.isdigit() else 123456)
        )
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.privacy_mode = privacy_mode
        self.autodetect_entities = autodetect_entities
        self.strict_html_ampersand = strict_html_ampersand
        self.host = host
        self.port = port
        self.enforce_rate_limits = enforce_rate_limits
        self.limits = RateLimits()

        # Records for assertions.
        self.calls: list[tuple[str, JSONDict]] = []
        self.sent: list[JSONDict] = []
        self.edits: list[JSONDict] = []
        self.deleted: list[tuple[int, int]] = []
        self.callback_answers: list[JSONDict] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.enqueued: list[JSONDict] = []
        self.count_429 = 0
        self.count_429_by_chat: dict[int | str, int] = {}
        self.confirmed_offset = 0

        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, _Chat] = {}
        self._updates: deque[JSONDict] = deque()
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._updates_changed = asyncio.Event()
        self._polls: list[_Poll] = []
        self._injections: list[_Injection] = []
        self._delays: list[_Delay] = []
        self._delay = 0.0
        self._down = False
        self._closing = False
        self._global_window = _SlidingWindow()
        self._chat_windows: dict[int, _SlidingWindow] = {}
        self._private_buckets: dict[int, _TokenBucket] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._callback_queries: dict[str, JSONDict] = {}
        self._next_callback_id = 1
        self._files: dict[str, JSONDict] = {}
        self._auto_forwards: dict[tuple[int, int], tuple[int, int]] = {}
        self._runner: web.AppRunner | None = None

    @property
    def bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        is_bot: bool = False,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> JSONDict:
        """Create or replace a user; returns the Bot API User dict."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        return copy.deepcopy(user)

    def add_chat(
        self,
        chat_id: int,
        type: str,
        title: str | None = None,
        username: str | None = None,
        admins: Iterable[int] = (),
        bot_is_admin: bool = True,
        bot_can_post: bool = True,
        linked_chat_id: int | None = None,
        *,
        owner: int | None = None,
        members: Iterable[int] = (),
    ) -> JSONDict:
        """Create a chat the bot is in; returns the Bot API Chat dict.

        Private chats use the user's id (the user is created if unknown) and count as started.
        Channels, groups and supergroups use negative ids (-100... for channels/supergroups).
        A bot that is not admin of a channel is not in it ("left"); in groups it is a member.
        """
        if type not in _CHAT_TYPES:
            raise ValueError(f"unknown chat type {type!r}")
        if type == "private":
            if chat_id <= 0:
                raise ValueError("private chat ids are the (positive) user id")
            user = self._users.get(chat_id) or self.add_user(chat_id, title or f"User {chat_id}")
            chat = _Chat(
                id=chat_id,
                type="private",
                first_name=user["first_name"],
                last_name=user.get("last_name"),
                username=user.get("username"),
                members={chat_id},
            )
        else:
            if chat_id >= 0:
                raise ValueError("group and channel ids are negative")
            admin_ids = set(admins)
            for user_id in {*admin_ids, *members, *([owner] if owner is not None else [])}:
                if user_id not in self._users:
                    self.add_user(user_id, f"User {user_id}")
            if bot_is_admin:
                bot_status = "administrator"
            else:
                bot_status = "left" if type == "channel" else "member"
            chat = _Chat(
                id=chat_id,
                type=type,
                title=title if title is not None else f"Chat {chat_id}",
                username=username,
                owner=owner,
                admins=admin_ids - {owner} if owner is not None else admin_ids,
                members={*admin_ids, *members, *([owner] if owner is not None else [])},
                bot_status=bot_status,
                bot_can_post=bot_can_post,
            )
        self._chats[chat_id] = chat
        if linked_chat_id is not None and linked_chat_id in self._chats:
            if type == "channel":
                self.link_discussion(chat_id, linked_chat_id)
            else:
                self.link_discussion(linked_chat_id, chat_id)
        elif linked_chat_id is not None:
            chat.linked_chat_id = linked_chat_id  # completed when the other chat is added
        for other in self._chats.values():
            if other.linked_chat_id == chat_id and other.id != chat_id:
                chat.linked_chat_id = other.id
        return chat.public()

    def link_discussion(self, channel_id: int, group_id: int) -> None:
        """Make supergroup ``group_id`` the discussion group of channel ``channel_id``."""
        channel = self._chat_or_raise(channel_id)
        group = self._chat_or_raise(group_id)
        if channel.type != "channel" or group.type != "supergroup":
            raise ValueError("link_discussion needs a channel and a supergroup")
        channel.linked_chat_id = group.id
        group.linked_chat_id = channel.id

    def setup_demo(self) -> None:
        """The demo world of ``python -m tests.fakes.telegram``."""
        self.add_user(1001, "Alice", "alice")
        self.add_user(1002, "Bob", "bob")
        self.add_chat(-1001, "channel", "Demo channel", "demo_channel", admins=[1001], owner=1001)
        self.add_chat(-1002, "supergroup", "Demo channel chat", admins=[1001], owner=1001)
        self.link_discussion(-1001, -1002)
        self.add_chat(-1003, "group", "Demo group", admins=[1001], owner=1001, members=[1002])

    def user(self, user_id: int) -> JSONDict:
        return copy.deepcopy(self._users[user_id])

    def chat(self, chat_id: int) -> JSONDict:
        return self._chat_or_raise(chat_id).public()

    def messages(self, chat_id: int) -> list[JSONDict]:
        """Current state of every message in the chat, oldest first (deleted ones removed)."""
        return [copy.deepcopy(m) for m in self._chat_or_raise(chat_id).messages.values()]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        found = self._chat_or_raise(chat_id).messages.get(message_id)
        return copy.deepcopy(found) if found is not None else None

    def discussion_copy(self, channel_id: int, post_id: int) -> JSONDict | None:
        """The automatic forward of a channel post in the linked discussion group."""
        where = self._auto_forwards.get((channel_id, post_id))
        return self.message(*where) if where else None

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    def mentioned_users(self, message: JSONDict) -> set[int]:
        """The users a message notifies by mentioning them: known users named by its
        ``mention`` entities (``@username``, compared case-insensitively, as Telegram does)
        and those of its ``text_mention`` entities. The entities are the ones stored, auto-
        detected ones included, so a plain ``@username`` in a bot's text counts."""
        text = message.get("text") or message.get("caption") or ""
        entities = message.get("entities") or message.get("caption_entities") or []
        by_name = {
            str(u["username"]).lower(): user_id
            for user_id, u in self._users.items()
            if u.get("username")
        }
        found: set[int] = set()
        for entity in entities:
            if entity["type"] == "mention":
                user_id = by_name.get(entity_text(text, entity)[1:].lower())
                if user_id is not None:
                    found.add(user_id)
            elif entity["type"] == "text_mention":
                found.add(int(entity["user"]["id"]))
        return found

    def calls_to(self, method: str) -> list[JSONDict]:
        """Parameters of every call of ``method`` (case-insensitive)."""
        return [params for name, params in self.calls if name.lower() == method.lower()]

    def pending_updates(self) -> int:
        """Updates not yet confirmed by a getUpdates offset."""
        return len(self._updates)

    @property
    def active_polls(self) -> int:
        """getUpdates requests currently waiting."""
        return len(self._polls)

    def user_sends(
        self,
        chat_id: int,
        user_id: int,
        text: str = "",
        *,
        reply_to: int | None = None,
        command: bool | None = None,
        photo: bool = False,
        caption: str | None = None,
        entities: list[JSONDict] | None = None,
    ) -> JSONDict:
        """A user writes in a chat (private chats are created on demand); returns the message.

        A leading "/word" (optionally "/word@bot") gets a bot_command entity unless
        ``command=False``; ``command=True`` insists the text is a command. With ``photo=True``
        the message is a photo with ``caption`` (or ``text``) as caption.
        """
        user = self._users.get(user_id) or self.add_user(user_id, f"User {user_id}")
        if chat_id not in self._chats and chat_id == user_id:
            self.add_chat(user_id, "private")
        chat = self._chat_or_raise(chat_id)
        if chat.type == "channel":
            raise ValueError("users cannot write in channels: use channel_post()")
        if chat.type == "private" and chat.id != user_id:
            raise ValueError("in a private chat only its user can write")
        chat.members.add(user_id)
        body = caption if (photo and caption is not None) else text
        if command and not body.startswith("/"):
            raise ValueError("command=True needs a text starting with '/'")
        ents = _validate_entities(body, entities) if entities else []
        if self.autodetect_entities or command:
            ents = _autodetect(body, ents)
        if command is False:
            ents = [e for e in ents if not (e["type"] == "bot_command" and e["offset"] == 0)]
        elif command and not any(e["type"] == "bot_command" and e["offset"] == 0 for e in ents):
            word = body.split()[0]
            ents.append({"type": "bot_command", "offset": 0, "length": utf16_len(word)})
        ents = _sort_entities(ents)
        content = self._photo_content(None, body, ents, f"user:{user_id}") if photo else {}
        if not photo:
            if not text:
                raise ValueError("a text message needs text")
            content = {"text": text}
            if ents:
                content["entities"] = ents
        reply = None
        if reply_to is not None:
            reply = chat.messages.get(reply_to)
            if reply is None:
                raise ValueError(f"message {reply_to} not found in chat {chat_id}")
        message = self._store_message(chat, from_user=user, content=content, reply=reply)
        if self._bot_sees(chat, message):
            self._enqueue("message", message)
        return copy.deepcopy(message)

    def user_edits(self, chat_id: int, message_id: int, new_text: str) -> JSONDict:
        """A user (or, in a channel, its admin) edits a message's text/caption."""
        chat = self._chat_or_raise(chat_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise ValueError(f"message {message_id} not found in chat {chat_id}")
        if message.get("from", {}).get("id") == self.bot_id:
            raise ValueError("that message was sent by the bot; edit it through the API")
        ents = _autodetect(new_text, []) if self.autodetect_entities else []
        key, ents_key = (
            ("caption", "caption_entities") if "photo" in message else ("text", "entities")
        )
        message[key] = new_text
        message.pop(ents_key, None)
        if ents:
            message[ents_key] = _sort_entities(ents)
        message["edit_date"] = _now()
        if self._bot_sees(chat, message):
            kind = "edited_channel_post" if chat.type == "channel" else "edited_message"
            self._enqueue(kind, message)
        return copy.deepcopy(message)

    def channel_post(
        self,
        channel_id: int,
        text: str,
        *,
        photo: bool = False,
        author_signature: str | None = None,
    ) -> JSONDict:
        """An admin posts in the channel: a ``channel_post`` update, then the automatic
        forward into the linked discussion group (a ``message`` update)."""
        chat = self._chat_or_raise(channel_id)
        if chat.type != "channel":
            raise ValueError("channel_post needs a channel")
        ents = _sort_entities(_autodetect(text, [])) if self.autodetect_entities else []
        if photo:
            content = self._photo_content(None, text, ents, f"channel:{channel_id}")
        else:
            content = {"text": text, **({"entities": ents} if ents else {})}
        if author_signature is not None:
            content["author_signature"] = author_signature
        post = self._store_message(chat, from_user=None, content=content, reply=None)
        if self._bot_sees(chat, post):
            self._enqueue("channel_post", post)
        self._auto_forward(chat, post)
        return copy.deepcopy(post)

    def kick_bot(
        self, chat_id: int, *, by_user_id: int | None = None, status: str = "kicked"
    ) -> JSONDict:
        """Remove the bot (or, in a private chat, the user blocks it): a ``my_chat_member``
        update; afterwards sends to the chat answer 403."""
        if status not in ("kicked", "left"):
            raise ValueError("status must be 'kicked' or 'left'")
        chat = self._chat_or_raise(chat_id)
        return self._change_bot_status(chat, status, by_user_id)

    def add_bot_to_chat(
        self,
        chat_id: int,
        admin: bool = True,
        *,
        can_post: bool = True,
        by_user_id: int | None = None,
    ) -> JSONDict:
        """(Re-)add the bot to a chat: a ``my_chat_member`` update."""
        chat = self._chat_or_raise(chat_id)
        chat.bot_can_post = can_post
        if chat.type == "private":
            new_status = "member"
        elif admin:
            new_status = "administrator"
        else:
            new_status = "left" if chat.type == "channel" else "member"
        return self._change_bot_status(chat, new_status, by_user_id)

    def callback_press(self, chat_id: int, message_id: int, user_id: int, data: str) -> JSONDict:
        """A user presses an inline button whose callback_data is ``data``."""
        chat = self._chat_or_raise(chat_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise ValueError(f"message {message_id} not found in chat {chat_id}")
        buttons = [
            button
            for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
        ]
        if not any(button.get("callback_data") == data for button in buttons):
            raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
        user = self._users.get(user_id) or self.add_user(user_id, f"User {user_id}")
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        query: JSONDict = {
            "id": query_id,
            "from": copy.deepcopy(user),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash((chat_id, self.bot_id))) % 10**18),
            "data": data,
        }
        self._callback_queries[query_id] = {"answered": False, "query": query}
        self._enqueue("callback_query", query)
        return copy.deepcopy(query)

    def seconds_until_allowed(self, chat_id: int) -> float:
        """How long until a send to ``chat_id`` passes the flood limits (0.0 = now)."""
        if not self.enforce_rate_limits:
            return 0.0
        return self._rate_wait(self._chat_or_raise(chat_id), self.clock())

    def _chat_or_raise(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"unknown chat {chat_id}")
        return chat

    def _store_message(
        self,
        chat: _Chat,
        *,
        from_user: JSONDict | None,
        content: JSONDict,
        reply: JSONDict | None,
        sender_chat: JSONDict | None = None,
        extra: JSONDict | None = None,
        external_reply: JSONDict | None = None,
        thread_id: int | None = None,
    ) -> JSONDict:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JSONDict = {"message_id": message_id}
        if from_user is not None:
            message["from"] = copy.deepcopy(from_user)
        if chat.type == "channel":
            sender_chat = chat.public()
        if sender_chat is not None:
            message["sender_chat"] = sender_chat
        message["date"] = _now()
        message["chat"] = chat.public()
        if reply is not None:
            snapshot = copy.deepcopy(reply)
            snapshot.pop("reply_to_message", None)
            message["reply_to_message"] = snapshot
            if chat.type == "supergroup":
                thread_id = reply.get("message_thread_id", reply["message_id"])
        if external_reply is not None:
            message["external_reply"] = external_reply
        if thread_id is not None:
            message["message_thread_id"] = thread_id
        message.update(copy.deepcopy(extra or {}))
        message.update(copy.deepcopy(content))
        chat.messages[message_id] = message
        return message

    def _photo_content(
        self,
        upload: tuple[str, bytes, str] | None,
        caption: str,
        entities: list[JSONDict],
        seed: str,
        sizes: list[JSONDict] | None = None,
    ) -> JSONDict:
        if sizes is None:
            unique = secrets.token_hex(8)
            content_bytes = upload[1] if upload else f"fake-jpeg:{seed}:{unique}".encode()
            sizes = []
            for width, height in ((90, 60), (320, 213), (800, 533)):
                file_id = f"AgACAgIAAx{unique}{width}"
                size: JSONDict = {
                    "file_id": file_id,
                    "file_unique_id": _file_unique_id(file_id),
                    "file_size": max(1, len(content_bytes) * width // 800),
                    "width": width,
                    "height": height,
                }
                sizes.append(size)
            for size in sizes:
                self._files[size["file_id"]] = {
                    "size": size,
                    "sizes": sizes,
                    "content": content_bytes,
                    "path": f"photos/file_{len(self._files)}.jpg",
                }
        content: JSONDict = {"photo": copy.deepcopy(sizes)}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def _enqueue(self, kind: str, payload: JSONDict) -> None:
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self.enqueued.append(copy.deepcopy(update))
        self._wake()

    def _wake(self) -> None:
        event, self._updates_changed = self._updates_changed, asyncio.Event()
        event.set()

    def _bot_sees(self, chat: _Chat, message: JSONDict) -> bool:
        if chat.bot_status not in ("administrator", "member"):
            return False
        if chat.type in ("private", "channel"):
            return True
        if chat.bot_status == "administrator" or not self.privacy_mode:
            return True
        entities = message.get("entities") or message.get("caption_entities") or []
        text = message.get("text") or message.get("caption") or ""
        first = entities[0] if entities else None
        if first and first["type"] == "bot_command" and first["offset"] == 0:
            command = entity_text(text, first)
            if "@" not in command:
                return True
            return command.split("@", 1)[1].lower() == self.bot_username.lower()
        replied = message.get("reply_to_message") or {}
        return bool(replied.get("from", {}).get("id") == self.bot_id)

    def _bot_member(self, chat: _Chat, status: str | None = None) -> JSONDict:
        status = status or chat.bot_status
        if status == "administrator":
            return {
                "status": "administrator",
                "user": self.bot_user,
                **_admin_rights(chat.type, can_post=chat.bot_can_post),
            }
        return _member(status, self.bot_user)

    def _change_bot_status(self, chat: _Chat, new_status: str, by_user_id: int | None) -> JSONDict:
        old = self._bot_member(chat)
        chat.bot_status = new_status
        performer_id = by_user_id or chat.owner or (min(chat.admins) if chat.admins else None)
        if chat.type == "private":
            performer_id = chat.id
        performer = self._users.get(performer_id or 0, _TELEGRAM_SERVICE_USER)
        update = {
            "chat": chat.public(),
            "from": copy.deepcopy(performer),
            "date": _now(),
            "old_chat_member": old,
            "new_chat_member": self._bot_member(chat),
        }
        self._enqueue("my_chat_member", update)
        return copy.deepcopy(update)

    def _auto_forward(self, channel: _Chat, post: JSONDict) -> None:
        if channel.linked_chat_id is None:
            return
        group = self._chats.get(channel.linked_chat_id)
        if group is None:
            return
        content: JSONDict = {
            key: post[key]
            for key in ("text", "entities", "caption", "caption_entities", "photo")
            if key in post
        }
        origin: JSONDict = {
            "type": "channel",
            "chat": channel.public(),
            "message_id": post["message_id"],
            "date": post["date"],
        }
        extra: JSONDict = {
            "is_automatic_forward": True,
            "forward_origin": origin,
            "forward_from_chat": channel.public(),
            "forward_from_message_id": post["message_id"],
            "forward_date": post["date"],
        }
        if "author_signature" in post:
            origin["author_signature"] = post["author_signature"]
            extra["forward_signature"] = post["author_signature"]
        copy_message = self._store_message(
            group,
            from_user=_TELEGRAM_SERVICE_USER,
            sender_chat=channel.public(),
            content=content,
            reply=None,
            extra=extra,
        )
        self._auto_forwards[(channel.id, post["message_id"])] = (
            group.id,
            copy_message["message_id"],
        )
        if self._bot_sees(group, copy_message):
            self._enqueue("message", copy_message)

    @staticmethod
    def _commands_key(scope: object, language_code: str | None) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code or ""
