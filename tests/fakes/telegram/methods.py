"""The Bot API methods and the checks they share."""

from __future__ import annotations

import copy
import re

from .limits import MAX_CALLBACK_ANSWER, MAX_CAPTION_UTF16, MAX_ENTITIES, MAX_TEXT_UTF16
from .markup import (
    _autodetect,
    _checked_link,
    _sort_entities,
    _trim,
    _validate_entities,
    utf16_len,
)
from .parse_modes import parse_html, parse_markdown, parse_markdown_v2
from .updates import Updates
from .wire import EntityParseError, JSONDict, _bad_request, _coerce, _forbidden, _Params
from .world import _admin_rights, _Chat, _member, _now

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


class BotMethods(Updates):
    """The Bot API methods the bot calls (send, edit, delete, chats, commands, callbacks)."""

    def _resolve_chat(self, params: _Params, name: str = "chat_id") -> _Chat:
        chat_id = params.values.get(name)
        if chat_id is None or chat_id == "":
            raise _bad_request(f"{name} is empty")
        if isinstance(chat_id, str):
            username = chat_id.lstrip("@").lower()
            for candidate in self._chats.values():
                if (
                    candidate.username
                    and candidate.username.lower() == username
                    and candidate.type != "private"
                ):
                    return candidate
            raise _bad_request("chat not found")
        found = self._chats.get(chat_id)
        if found is None:
            raise _bad_request("chat not found")
        return found

    def _send_target(self, params: _Params) -> _Chat:
        chat_id = params.values.get("chat_id")
        if isinstance(chat_id, int) and chat_id not in self._chats and chat_id in self._users:
            if self._users[chat_id]["is_bot"]:
                raise _forbidden("bot can't send messages to bots")
            raise _forbidden("bot can't initiate conversation with a user")
        return self._resolve_chat(params)

    def _check_member(self, chat: _Chat) -> None:
        if chat.type == "private":
            if chat.bot_status == "kicked":
                raise _forbidden("bot was blocked by the user")
            return
        if chat.bot_status == "kicked":
            raise _forbidden(f"bot was kicked from the {chat.kind_name} chat")
        if chat.bot_status == "left":
            raise _forbidden(f"bot is not a member of the {chat.kind_name} chat")

    def _check_can_send(self, chat: _Chat) -> None:
        self._check_member(chat)
        if chat.type == "channel" and not chat.bot_can_post:
            raise _bad_request("need administrator rights in the channel chat")

    def _format(
        self, text: str | None, parse_mode: str | None, raw_entities: object, *, caption: bool
    ) -> tuple[str, list[JSONDict]]:
        text = text or ""
        try:
            if raw_entities is not None:
                plain, entities = text, _validate_entities(text, raw_entities)
            elif parse_mode:
                mode = parse_mode.lower()
                if mode == "html":
                    plain, entities = parse_html(text, strict_ampersand=self.strict_html_ampersand)
                elif mode == "markdownv2":
                    plain, entities = parse_markdown_v2(text)
                elif mode == "markdown":
                    plain, entities = parse_markdown(text)
                else:
                    raise _bad_request("unsupported parse_mode")
            else:
                plain, entities = text, []
            if len(entities) > MAX_ENTITIES:
                raise EntityParseError(
                    f"too many entities: {len(entities)}, at most {MAX_ENTITIES} are allowed"
                )
        except EntityParseError as error:
            raise _bad_request(f"can't parse entities: {error}") from None
        plain, entities = _trim(plain, entities)
        length = utf16_len(plain)
        if caption:
            if length > MAX_CAPTION_UTF16:
                raise _bad_request("message caption is too long")
        elif length == 0:
            raise _bad_request("message text is empty")
        elif length > MAX_TEXT_UTF16:
            raise _bad_request("message is too long")
        for entity in entities:
            if entity["type"] == "text_mention":
                user_id = entity["user"]["id"]
                entity["user"] = copy.deepcopy(
                    self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": ""})
                )
        if self.autodetect_entities:
            entities = _autodetect(plain, entities)
        return plain, _sort_entities(entities)

    @staticmethod
    def _validate_markup(markup: object) -> JSONDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
                return None  # reply keyboards are not part of the Message object
            raise _bad_request("can't parse reply keyboard markup JSON object")
        keyboard = markup["inline_keyboard"]
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        actions = (
            "url",
            "callback_data",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "web_app",
            "login_url",
            "callback_game",
            "pay",
            "copy_text",
        )
        for row in keyboard:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request(
                        "can't parse inline keyboard button: Text must be non-empty"
                    )
                if sum(1 for key in actions if key in button) != 1:
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                data = button.get("callback_data")
                if "callback_data" in button and (
                    not isinstance(data, str) or not 1 <= len(data.encode()) <= 64
                ):
                    raise _bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in button and (not isinstance(url, str) or _checked_link(url) is None):
                    raise _bad_request("BUTTON_URL_INVALID")
        return {"inline_keyboard": copy.deepcopy(keyboard)}

    def _reply_target(
        self, chat: _Chat, params: _Params
    ) -> tuple[JSONDict | None, JSONDict | None]:
        """(same-chat replied message, external_reply) for a send."""
        reply_parameters = params.obj("reply_parameters")
        allow = params.flag("allow_sending_without_reply")
        target_chat = chat
        if reply_parameters is not None:
            if not isinstance(reply_parameters, dict) or not isinstance(
                reply_parameters.get("message_id"), int
            ):
                raise _bad_request("can't parse reply parameters JSON object")
            message_id = reply_parameters["message_id"]
            allow = bool(reply_parameters.get("allow_sending_without_reply", allow))
            if reply_parameters.get("chat_id") is not None:
                target_chat = self._resolve_chat(
                    _Params({"chat_id": _coerce("chat_id", reply_parameters["chat_id"])}, {})
                )
        else:
            message_id = params.integer("reply_to_message_id")
            if message_id is None:
                return None, None
        target = target_chat.messages.get(message_id)
        if target is None:
            if allow:
                return None, None
            raise _bad_request("message to be replied not found")
        if target_chat is chat:
            return target, None
        origin: JSONDict
        if target_chat.type == "channel":
            origin = {"type": "channel", "chat": target_chat.public(), "message_id": message_id}
        elif "from" in target:
            origin = {"type": "user", "sender_user": copy.deepcopy(target["from"])}
        else:
            origin = {"type": "chat", "sender_chat": target_chat.public()}
        origin["date"] = target["date"]
        external: JSONDict = {
            "origin": origin,
            "chat": target_chat.public(),
            "message_id": message_id,
        }
        if "photo" in target:
            external["photo"] = copy.deepcopy(target["photo"])
        return None, external

    def _thread_param(self, chat: _Chat, params: _Params) -> int | None:
        thread_id = params.integer("message_thread_id")
        if thread_id is None or chat.type != "supergroup":
            return None
        if thread_id not in chat.messages:
            raise _bad_request("message thread not found")
        return thread_id

    def _find_for_edit(self, params: _Params) -> tuple[_Chat, JSONDict]:
        if params.has("inline_message_id"):
            raise _bad_request("inline messages are not supported by the fake")
        chat = self._resolve_chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        self._check_member(chat)
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request("message to edit not found")
        is_own = message.get("from", {}).get("id") == self.bot_id
        if chat.type == "channel":
            is_own = chat.bot_status == "administrator"
        if not is_own:
            raise _bad_request("message can't be edited")
        return chat, message

    def _finish_bot_send(self, chat: _Chat, message: JSONDict) -> JSONDict:
        self._rate_record(chat)
        self.sent.append(copy.deepcopy(message))
        if chat.type == "channel":
            self._auto_forward(chat, message)
        return copy.deepcopy(message)

    async def _m_ok(self, params: _Params) -> bool:
        return True

    async def _m_get_me(self, params: _Params) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_send_message(self, params: _Params) -> JSONDict:
        chat = self._send_target(params)
        self._check_can_send(chat)
        if not params.has("text"):
            raise _bad_request("message text is empty")
        text, entities = self._format(
            params.text("text"), params.text("parse_mode"), params.obj("entities"), caption=False
        )
        markup = self._validate_markup(params.obj("reply_markup"))
        reply, external = self._reply_target(chat, params)
        thread_id = self._thread_param(chat, params)
        self._rate_check(chat)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        if markup is not None:
            content["reply_markup"] = markup
        if params.flag("protect_content"):
            content["has_protected_content"] = True
        message = self._store_message(
            chat,
            from_user=None if chat.type == "channel" else self.bot_user,
            content=content,
            reply=reply,
            external_reply=external,
            thread_id=thread_id,
        )
        return self._finish_bot_send(chat, message)

    async def _m_send_photo(self, params: _Params) -> JSONDict:
        chat = self._send_target(params)
        self._check_can_send(chat)
        upload = params.files.get("photo")
        sizes: list[JSONDict] | None = None
        if upload is None:
            photo = params.text("photo")
            if not photo:
                raise _bad_request("there is no photo in the request")
            if photo in self._files:
                sizes = self._files[photo]["sizes"]
            elif not re.match(r"https?://[^\s/]+", photo, re.IGNORECASE):
                raise _bad_request("wrong file identifier/HTTP URL specified")
        elif not upload[1]:
            raise _bad_request("file must be non-empty")
        caption, entities = self._format(
            params.text("caption"),
            params.text("parse_mode"),
            params.obj("caption_entities"),
            caption=True,
        )
        markup = self._validate_markup(params.obj("reply_markup"))
        reply, external = self._reply_target(chat, params)
        thread_id = self._thread_param(chat, params)
        self._rate_check(chat)
        content = self._photo_content(upload, caption, entities, f"bot:{chat.id}", sizes)
        if markup is not None:
            content["reply_markup"] = markup
        if params.flag("has_spoiler"):
            content["has_media_spoiler"] = True
        if params.flag("show_caption_above_media"):
            content["show_caption_above_media"] = True
        message = self._store_message(
            chat,
            from_user=None if chat.type == "channel" else self.bot_user,
            content=content,
            reply=reply,
            external_reply=external,
            thread_id=thread_id,
        )
        return self._finish_bot_send(chat, message)

    def _apply_edit(
        self,
        chat: _Chat,
        message: JSONDict,
        new_content: JSONDict,
        markup: JSONDict | None,
        *,
        counted: bool,
    ) -> JSONDict:
        current = {key: message.get(key) for key in new_content}
        if current == new_content and message.get("reply_markup") == markup:
            raise _bad_request(_NOT_MODIFIED)
        if counted:
            self._rate_check(chat)
        for key, value in new_content.items():
            if value in (None, [], ""):
                message.pop(key, None)
            else:
                message[key] = value
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = _now()
        if counted:
            self._rate_record(chat)
        self.edits.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    async def _m_edit_message_text(self, params: _Params) -> JSONDict:
        chat, message = self._find_for_edit(params)
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        if not params.has("text"):
            raise _bad_request("text must be non-empty")
        text, entities = self._format(
            params.text("text"), params.text("parse_mode"), params.obj("entities"), caption=False
        )
        markup = self._validate_markup(params.obj("reply_markup"))
        new_content = {"text": text, "entities": entities or None}
        return self._apply_edit(chat, message, new_content, markup, counted=True)

    async def _m_edit_message_caption(self, params: _Params) -> JSONDict:
        chat, message = self._find_for_edit(params)
        if "photo" not in message:
            raise _bad_request("there is no caption in the message to edit")
        caption, entities = self._format(
            params.text("caption"),
            params.text("parse_mode"),
            params.obj("caption_entities"),
            caption=True,
        )
        markup = self._validate_markup(params.obj("reply_markup"))
        new_content = {"caption": caption or None, "caption_entities": entities or None}
        return self._apply_edit(chat, message, new_content, markup, counted=True)

    async def _m_edit_message_reply_markup(self, params: _Params) -> JSONDict:
        chat, message = self._find_for_edit(params)
        markup = self._validate_markup(params.obj("reply_markup"))
        return self._apply_edit(chat, message, {}, markup, counted=False)

    async def _m_delete_message(self, params: _Params) -> bool:
        chat = self._resolve_chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        self._check_member(chat)
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request("message to delete not found")
        is_own = message.get("from", {}).get("id") == self.bot_id
        if not (is_own or chat.type == "private" or chat.bot_status == "administrator"):
            raise _bad_request("message can't be deleted")
        del chat.messages[message_id]
        self.deleted.append((chat.id, message_id))
        return True

    async def _m_get_chat(self, params: _Params) -> JSONDict:
        chat = self._resolve_chat(params)
        if chat.bot_status == "kicked" and chat.type != "private":
            raise _forbidden(f"bot was kicked from the {chat.kind_name} chat")
        info: JSONDict = {
            **chat.public(),
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.linked_chat_id is not None:
            info["linked_chat_id"] = chat.linked_chat_id
        return info

    def _member_of(self, chat: _Chat, user_id: int) -> JSONDict:
        if user_id == self.bot_id:
            return self._bot_member(chat)
        user = self._users.get(user_id)
        if user is None:
            raise _bad_request("user not found")
        if chat.type == "private":
            return _member("member" if user_id == chat.id else "left", user)
        if user_id == chat.owner:
            return _member("creator", user)
        if user_id in chat.admins:
            return {
                "status": "administrator",
                "user": copy.deepcopy(user),
                **_admin_rights(chat.type),
            }
        return _member("member" if user_id in chat.members else "left", user)

    async def _m_get_chat_member(self, params: _Params) -> JSONDict:
        chat = self._resolve_chat(params)
        user_id = params.integer("user_id")
        if user_id is None:
            raise _bad_request("user_id is empty")
        if chat.type != "private":
            self._check_member(chat)
        return self._member_of(chat, user_id)

    async def _m_get_chat_administrators(self, params: _Params) -> list[JSONDict]:
        chat = self._resolve_chat(params)
        if chat.type == "private":
            raise _bad_request("there are no administrators in the private chat")
        self._check_member(chat)
        admins = []
        if chat.owner is not None:
            admins.append(self._member_of(chat, chat.owner))
        admins.extend(self._member_of(chat, user_id) for user_id in sorted(chat.admins))
        if chat.bot_status == "administrator":
            admins.append(self._bot_member(chat))
        return admins

    async def _m_set_my_commands(self, params: _Params) -> bool:
        commands = params.obj("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._commands_key(params.obj("scope"), params.text("language_code"))
        self._commands[key] = cleaned
        return True

    async def _m_get_my_commands(self, params: _Params) -> list[JSONDict]:
        key = self._commands_key(params.obj("scope"), params.text("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    async def _m_delete_my_commands(self, params: _Params) -> bool:
        key = self._commands_key(params.obj("scope"), params.text("language_code"))
        self._commands.pop(key, None)
        return True

    async def _m_answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id")
        entry = self._callback_queries.get(query_id or "")
        if entry is None or entry["answered"]:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.text("text") or ""
        if len(text) > MAX_CALLBACK_ANSWER:
            raise _bad_request("MESSAGE_TOO_LONG")
        entry["answered"] = True
        self.callback_answers.append(
            {
                "callback_query_id": query_id,
                "text": text or None,
                "show_alert": params.flag("show_alert"),
                "url": params.text("url"),
            }
        )
        return True

    async def _m_send_chat_action(self, params: _Params) -> bool:
        chat = self._send_target(params)
        self._check_can_send(chat)
        action = params.text("action")
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self.chat_actions.append((chat.id, action))
        return True

    async def _m_get_file(self, params: _Params) -> JSONDict:
        file_id = params.text("file_id") or ""
        info = self._files.get(file_id)
        if info is None:
            raise _bad_request("invalid file_id")
        size = info["size"]
        return {
            "file_id": file_id,
            "file_unique_id": size["file_unique_id"],
            "file_size": len(info["content"]),
            "file_path": info["path"],
        }
