"""An honest fake of the Telegram Bot API, served over real HTTP for the real PTB client.

``FakeTelegram`` is an aiohttp server on 127.0.0.1 (a random free port by default) that speaks
the Bot API wire protocol well enough for the unmodified ``python-telegram-bot`` client::

    async with FakeTelegram(token="123456:TEST") as tg:
        tg.add_chat(-1001, "channel", title="News", admins=[42])
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()

Requests go to ``{base_url}{token}/{method}`` (method names are case-insensitive, as in
Telegram) with parameters as a query string, a JSON body, a urlencoded form or
multipart/form-data (nested objects such as ``entities`` or ``reply_markup`` arrive as JSON
strings inside forms and are decoded). Answers are ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`` with the same HTTP
status, so PTB raises the same exceptions (BadRequest, Forbidden, RetryAfter, InvalidToken,
Conflict, NetworkError) that it raises against Telegram.

What it enforces (as Telegram does)
-----------------------------------
* Token (401 "Unauthorized"), unknown methods (404 "Not Found").
* Chats must exist (400 "Bad Request: chat not found"); a bot cannot start a private chat
  (403 "Forbidden: bot can't initiate conversation with a user") until the user wrote to it.
* Channel posting needs admin rights with can_post_messages (403 "Forbidden: bot is not a member
  of the channel chat" / 400 "Bad Request: need administrator rights in the channel chat");
  after ``kick_bot`` every send/edit/delete answers 403 "Forbidden: bot was kicked from the
  supergroup chat" (or channel/group chat; "bot was blocked by the user" in private chats).
* Text 1..4096 and caption 0..1024 UTF-16 code units, measured after entity parsing and after
  trimming leading/trailing whitespace ("message is too long", "message text is empty",
  "message caption is too long"); at most 100 entities; explicit entities must lie inside the
  text (UTF-16 offsets) with a positive length, else "can't parse entities: ...".
* ``parse_mode`` HTML, MarkdownV2 and legacy Markdown are parsed into plain text + entities
  with tdlib's rules and error texts (unsupported/unclosed/unmatched tags, reserved
  MarkdownV2 characters that are not escaped, unclosed entities). The stored message keeps
  the plain text and entities, i.e. what a reader sees.
* Replies: ``reply_parameters``/``reply_to_message_id`` must name an existing message unless
  ``allow_sending_without_reply`` (400 "Bad Request: message to be replied not found"); the
  stored reply carries the replied message one level deep. In supergroups a reply belongs to
  the thread of the message it answers (``message_thread_id``).
* Edits: 400 "message to edit not found", "message can't be edited" (not the bot's message),
  "there is no text in the message to edit", and "message is not modified: ..." when text,
  entities and inline keyboard are unchanged; editing without ``reply_markup`` drops the
  inline keyboard, as Telegram does. Deletes: "message to delete not found", "message can't
  be deleted" (others' messages without admin rights).
* Inline keyboards: non-empty button text, exactly one action, callback_data 1..64 bytes
  ("BUTTON_DATA_INVALID"), valid button URLs ("BUTTON_URL_INVALID").
* Automatic forwards: a post in a channel with a linked discussion group (by a user or by the
  bot) is copied into the group with ``is_automatic_forward``, ``sender_chat``,
  ``forward_origin`` (and the legacy ``forward_from_chat``/``forward_from_message_id``),
  ``from`` = the Telegram service user 777000, and delivered as a ``message`` update.
* Group privacy mode (on by default, like a new bot): a bot that is not an admin of a group
  only receives commands (not addressed to another bot), replies to its own messages and
  service updates. Admin bots see everything.
* getUpdates: monotonically increasing update_id; ``offset`` confirms and drops updates
  forever (negative offsets keep the last N); unconfirmed updates are redelivered; ``limit``
  is clamped to 1..100; long polling waits on an asyncio.Event (no sleep loop) up to
  ``timeout`` seconds; the last non-null ``allowed_updates`` is remembered (the default
  excludes chat_member and message reactions); a second concurrent getUpdates ends the first
  with 409 "Conflict: terminated by other getUpdates request; ...".
* Flood limits (only with ``enforce_rate_limits=True`` or after ``set_limits``): sliding
  windows of 30 messages per second overall and 20 per 60 s per group/supergroup/channel; a
  token bucket per private chat (1 per second, bursts of 3). sendMessage, sendPhoto,
  editMessageText and editMessageCaption count. Over a limit: HTTP 429 with
  "Too Many Requests: retry after N" and ``parameters.retry_after`` = N = ceil(seconds until
  the window admits one more), at least 1. Only successful calls use up the limits. The
  time source is ``FakeTelegram(clock=...)`` (``time.monotonic`` by default), so tests can
  drive the windows with a manual clock instead of waiting.

What it approximates or omits
-----------------------------
* HTML: stricter than Telegram about ``&``: every ``&`` must start ``&lt;``, ``&gt;``,
  ``&amp;``, ``&quot;`` or a numeric reference, with the ``;`` (Telegram keeps a stray ``&``
  literally); pass ``strict_html_ampersand=False`` for Telegram's leniency. Stray ``>`` is
  accepted like in Telegram.
* MarkdownV2 follows tdlib's parse_markdown_v2 but without the "___" italic/underline
  disambiguation and with simplified URL checks. Link checks: http(s)/ftp/tg/ton/mailto
  schemes, or a bare host (gets "http://"); other URLs drop the text_link (as tdlib does).
* Explicit entities out of bounds are rejected (Telegram sometimes silently drops them).
* Auto-detected entities (on by default; ``autodetect_entities=False`` turns it off):
  bot_command, mention, hashtag, cashtag, email and URLs with a scheme or "www." - bare
  domains such as "example.com" and phone numbers are not detected.
* Whitespace trimming uses ASCII whitespace only.
* Message ids are per chat for every chat type. No media other than photos; URL photos are
  never downloaded (any http(s) URL works); uploaded photos are served back via getFile. No
  size checks on photo dimensions or bytes (uploads over 64 MiB are refused by aiohttp).
* allowed_updates filters at delivery time (Telegram filters when updates are created).
* Edits of a channel post are not propagated to its discussion-group copy; no forum topics,
  no group-to-supergroup migration, no webhooks (deleteWebhook/getWebhookInfo are minimal),
  no inline mode, no time limits on editing/deleting old messages.
* ``fail_next`` injects JSON errors; ``delay_next`` answers chosen calls late (carrying them
  out when answered, as a slow Telegram does); ``set_down(True)`` answers 502 with an
  nginx-like HTML body for every Bot API request, as a reverse proxy would.
* Notifications are not modelled beyond ``mentioned_users(message)``: whom a message's
  ``mention`` and ``text_mention`` entities (auto-detected ones included) would notify.
* All state lives on the event loop that runs the server: call the test API (``user_sends``
  etc.) from that loop's thread. ``loopback_request()`` builds a PTB request object that skips
  loading the CA bundle (plain HTTP on loopback), which makes creating a Bot ~0.1 s faster. ``run_in_subprocess`` runs the server in its own OS process,
  driven through the control endpoints below.

Running by hand
---------------
``python -m tests.fakes.telegram --port 8081 --token 123:ABC`` starts the server with a demo
setup: channel -1001 "Demo channel" (@demo_channel, bot admin) linked to the discussion
supergroup -1002, a basic group -1003, admin user 1001 (Alice, owner of the channel and group)
and regular user 1002 (Bob). Options: ``--host``, ``--no-demo``, ``--enforce-rate-limits``,
``--no-privacy-mode``. Point the bot at ``http://127.0.0.1:8081/bot`` and simulate people with
the control endpoints (JSON in, JSON out; errors are 400 ``{"error": "..."}``)::

    POST /_control/send          {"chat_id", "user_id", "text", "reply_to"?, "photo"?, "caption"?}
    POST /_control/edit          {"chat_id", "message_id", "text"}
    POST /_control/channel_post  {"channel_id", "text"}
    POST /_control/callback      {"chat_id", "message_id", "user_id", "data"}
    POST /_control/kick_bot      {"chat_id"}
    POST /_control/add_bot       {"chat_id", "admin"?}
    POST /_control/user          {"user_id", "first_name", "username"?, "is_bot"?}
    POST /_control/chat          {"chat_id", "type", "title"?, "username"?, "admins"?, ...}
    POST /_control/link          {"channel_id", "group_id"}
    POST /_control/fail_next     {"method", "status", "retry_after"?, "description"?, "count"?}
    POST /_control/delay         {"seconds"}
    POST /_control/down          {"down": true|false}
    POST /_control/limits        {"global_per_sec"?, "group_per_min"?, "group_window"?, ...}
    GET  /_control/messages?chat_id=-1002
    GET  /_control/sent | /_control/calls | /_control/state

e.g. ``curl -d '{"chat_id":-1002,"user_id":1002,"text":"hi","reply_to":1}'
http://127.0.0.1:8081/_control/send``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import hashlib
import json
import math
import os
import re
import secrets
import selectors
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from .wait import wait_for

if TYPE_CHECKING:
    from telegram.request import HTTPXRequest

__all__ = [
    "DEFAULT_TOKEN",
    "TELEGRAM_SERVICE_USER_ID",
    "ApiError",
    "EntityParseError",
    "FakeTelegram",
    "RateLimits",
    "SubprocessFake",
    "entity_text",
    "loopback_request",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "run_in_subprocess",
    "utf16_len",
    "wait_for",
]

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:TEST"
TELEGRAM_SERVICE_USER_ID = 777000
MAX_TEXT_UTF16 = 4096
MAX_CAPTION_UTF16 = 1024
MAX_ENTITIES = 100
MAX_CALLBACK_ANSWER = 200

_TELEGRAM_SERVICE_USER: JSONDict = {
    "id": TELEGRAM_SERVICE_USER_ID,
    "is_bot": False,
    "first_name": "Telegram",
}
_CHAT_TYPES = frozenset({"private", "group", "supergroup", "channel"})
_DEFAULT_EXCLUDED_UPDATES = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
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
_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status == error_code, plus a description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class EntityParseError(ValueError):
    """Formatting could not be parsed; the API answers "Bad Request: can't parse entities: ..."."""


def _bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def _forbidden(message: str) -> ApiError:
    return ApiError(403, f"Forbidden: {message}")


# --------------------------------------------------------------------------------------------
# UTF-16 helpers
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _u16(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _u16_offsets(text: str) -> list[int]:
    """offsets[i] = UTF-16 offset of text[i]; offsets[len(text)] = utf16_len(text)."""
    offsets = [0] * (len(text) + 1)
    total = 0
    for index, char in enumerate(text):
        offsets[index] = total
        total += _u16(char)
    offsets[len(text)] = total
    return offsets


def entity_text(text: str, entity: JSONDict) -> str:
    """The part of ``text`` that ``entity`` (UTF-16 offset/length) covers."""
    raw = text.encode("utf-16-le", "surrogatepass")
    start = entity["offset"] * 2
    return raw[start : start + entity["length"] * 2].decode("utf-16-le", "surrogatepass")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------------------------
# Formatting: HTML, MarkdownV2, Markdown, explicit entities, auto-detection
# --------------------------------------------------------------------------------------------

_ENTITY_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "mention": 50,
    "hashtag": 50,
    "cashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "phone_number": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_ENTITY_TYPES = frozenset(_ENTITY_PRIORITY)
# Entities that auto-detected ones must not overlap.
_ATOMIC_ENTITY_TYPES = frozenset(
    {
        "pre",
        "code",
        "text_link",
        "text_mention",
        "custom_emoji",
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
    }
)
_LINK_SCHEMES = frozenset({"http", "https", "ftp", "tg", "ton", "mailto"})
_USER_LINK_RE = re.compile(r"tg://user\?id=(\d{1,20})", re.IGNORECASE)
_EMOJI_LINK_RE = re.compile(r"tg://emoji\?id=(\d{1,20})", re.IGNORECASE)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_HTML_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#x([0-9a-fA-F]{1,8})|([A-Za-z]+))(;?)")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TDLIB_SPACES = " \t\r\n\x00\x0b\x0c"
_TRIM_CHARS = " \t\r\n\x0b\x0c"
_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!\n")
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(
        entities,
        key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50)),
    )


def _link_user_id(url: str) -> int | None:
    match = _USER_LINK_RE.fullmatch(url.strip())
    return int(match.group(1)) if match else None


def _checked_link(url: str) -> str | None:
    """A usable link, or None (tdlib then drops the text_link entity)."""
    url = url.strip()
    if not url or any(char.isspace() for char in url):
        return None
    match = _SCHEME_RE.match(url)
    if match and (url[match.end() :].startswith("//") or match.group(1).lower() == "mailto"):
        scheme = match.group(1).lower()
        if scheme not in _LINK_SCHEMES or len(url) == match.end() + 2:
            return None
        return url
    if "." in url.split("/", 1)[0] and not url.startswith((".", "/")):
        return "http://" + url
    return None


def _link_entity(offset: int, length: int, url: str) -> JSONDict | None:
    user_id = _link_user_id(url)
    if user_id is not None:
        return {
            "type": "text_mention",
            "offset": offset,
            "length": length,
            "user": {"id": user_id},
        }
    checked = _checked_link(url)
    if checked is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


def _decode_html_entity(src: str, pos: int, *, strict: bool) -> tuple[str, int] | None:
    match = _HTML_ENTITY_RE.match(src, pos)
    if match is None:
        return None
    decimal, hexadecimal, name, semicolon = match.groups()
    if strict and not semicolon:
        return None
    if name is not None:
        if name not in _HTML_NAMED:
            return None
        return _HTML_NAMED[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code >= 0x10FFFF:
        return None
    if 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    return chr(code), match.end()


def parse_html(src: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse Bot API HTML into (plain text, entities); raise EntityParseError like tdlib."""
    out: list[str] = []
    u16 = 0
    entities: list[JSONDict] = []
    # (tag, argument, UTF-16 offset at start, index into ``out`` at start)
    stack: list[tuple[str, str, int, int]] = []
    n = len(src)
    i = 0

    def unescaped_ampersand(at: int) -> EntityParseError:
        return EntityParseError(
            f"Unescaped '&' at byte offset {_byte_offset(src, at)}: an '&' must start one of "
            "&lt; &gt; &amp; &quot; or a numeric character reference ending with ';'"
        )

    while i < n:
        char = src[i]
        if char == "&":
            decoded = _decode_html_entity(src, i, strict=strict_ampersand)
            if decoded is not None:
                text, i = decoded
                out.append(text)
                u16 += _u16(text)
                continue
            if strict_ampersand:
                raise unescaped_ampersand(i)
        if char != "<":
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue

        begin = i
        i += 1
        if i < n and src[i] == "/":
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(src, begin)}"
                )
            j = i + 1
            while j < n and src[j] not in _TDLIB_SPACES and src[j] != ">":
                j += 1
            end_name = src[i + 1 : j].lower()
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n or src[j] != ">":
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(src, begin)}"
                )
            tag, argument, start, out_start = stack[-1]
            if end_name and end_name != tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            stack.pop()
            i = j + 1
            if u16 > start:
                _close_html_entity(
                    entities, tag, argument, start, u16 - start, "".join(out[out_start:])
                )
            continue

        j = i
        while j < n and src[j] not in _TDLIB_SPACES and src[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        tag = src[i:j].lower()
        if tag not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
            )
        argument = ""
        expandable = False
        while True:
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(src, begin)}"
                )
            if src[j] == ">":
                break
            attr_begin = j
            while j < n and src[j] not in _TDLIB_SPACES and src[j] not in "=>":
                j += 1
            attr = src[attr_begin:j].lower()
            if not attr:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{_byte_offset(src, begin)}"
                )
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n or src[j] != "=":
                if tag == "blockquote" and attr == "expandable":
                    expandable = True
                    continue
                raise EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {_byte_offset(src, begin)}'
                )
            j += 1
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n:
                raise EntityParseError(
                    f'Unclosed start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                )
            if src[j] in "'\"":
                quote = src[j]
                j += 1
                value_chars: list[str] = []
                while j < n and src[j] != quote:
                    if src[j] == "&":
                        decoded = _decode_html_entity(src, j, strict=strict_ampersand)
                        if decoded is not None:
                            value_chars.append(decoded[0])
                            j = decoded[1]
                            continue
                        if strict_ampersand:
                            raise unescaped_ampersand(j)
                    value_chars.append(src[j])
                    j += 1
                if j >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(src, begin)}"
                    )
                j += 1
                value = "".join(value_chars)
            else:
                token_begin = j
                while j < n and ((src[j].isascii() and src[j].isalnum()) or src[j] in ".-"):
                    j += 1
                value = src[token_begin:j].lower()
                if j < n and src[j] not in _TDLIB_SPACES and src[j] != ">":
                    raise EntityParseError(
                        "Unexpected end of name token at byte offset "
                        f"{_byte_offset(src, token_begin)}"
                    )
            if tag == "a" and attr == "href":
                argument = value
            elif tag == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif tag == "tg-emoji" and attr == "emoji-id":
                argument = value
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(src, begin)}"
            )
        if tag == "blockquote":
            argument = "expandable" if expandable else ""
        stack.append((tag, argument, u16, len(out)))
        i = j + 1

    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    for entity in entities:
        entity.pop("_language", None)
    return "".join(out), _sort_entities(entities)


def _close_html_entity(
    entities: list[JSONDict], tag: str, argument: str, offset: int, length: int, inner: str
) -> None:
    if tag in _HTML_SIMPLE_TAGS:
        entities.append({"type": _HTML_SIMPLE_TAGS[tag], "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": argument,
            }
        )
    elif tag == "a":
        link = _link_entity(offset, length, argument or inner)
        if link is not None:
            entities.append(link)
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (offset, length)
            and last.get("_language")
        ):
            last["type"] = "pre"
            last["language"] = last.pop("_language")
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and (last["offset"], last["length"]) == (offset, length)
            and argument
        ):
            last["language"] = argument
        else:
            entities.append(
                {"type": "code", "offset": offset, "length": length, "_language": argument}
            )
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument == "expandable" else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


def _reserved(char: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _read_md_url(src: str, i: int) -> tuple[str, int]:
    """Read a MarkdownV2 URL starting at ``i`` (after '('); returns (url, index of ')')."""
    chars: list[str] = []
    n = len(src)
    while i < n and src[i] != ")":
        if src[i] == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            chars.append(src[i + 1])
            i += 2
            continue
        chars.append(src[i])
        i += 1
    return "".join(chars), i


def parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 into (plain text, entities); raise EntityParseError like tdlib."""
    out: list[str] = []
    u16 = 0
    entities: list[JSONDict] = []
    # [type, argument, UTF-16 offset, byte offset of the opening mark, index into ``out``]
    stack: list[tuple[str, str, int, int, int]] = []
    have_blockquote = False
    n = len(src)
    i = 0

    def at(k: int) -> str:
        return src[k] if k < n else ""

    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        top = stack[-1][0] if stack else None
        reserved = frozenset("`") if top in ("code", "pre", "pre_code") else _MD2_RESERVED
        if char not in reserved:
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue

        is_end = False
        if top is not None:
            if have_blockquote and char == "\n" and at(i + 1) != ">":
                is_end = True
            elif top == "bold":
                is_end = char == "*"
            elif top == "italic":
                is_end = char == "_" and at(i + 1) != "_"
            elif top == "code":
                is_end = char == "`"
            elif top in ("pre", "pre_code"):
                is_end = char == "`" and at(i + 1) == "`" and at(i + 2) == "`"
            elif top in ("text_link", "custom_emoji"):
                is_end = char == "]"
            elif top == "underline":
                is_end = char == "_" and at(i + 1) == "_"
            elif top == "strikethrough":
                is_end = char == "~"
            elif top == "spoiler":
                is_end = char == "|" and at(i + 1) == "|"

        if not is_end:
            mark_offset = _byte_offset(src, i)
            argument = ""
            if char == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif char == "*":
                kind = "bold"
            elif char == "~":
                kind = "strikethrough"
            elif char == "|":
                if at(i + 1) != "|":
                    raise _reserved(char)
                i += 1
                kind = "spoiler"
            elif char == "[":
                kind = "text_link"
            elif char == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    language_end = i
                    while language_end < n and src[language_end] not in _TDLIB_SPACES + "`":
                        language_end += 1
                    if i != language_end and language_end < n and src[language_end] != "`":
                        kind = "pre_code"
                        argument = src[i:language_end]
                        i = language_end
                    if at(i) in ("\n", "\r"):
                        if at(i + 1) in ("\n", "\r") and src[i] != src[i + 1]:
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif char == "!":
                if at(i + 1) != "[":
                    raise _reserved(char)
                i += 1
                kind = "custom_emoji"
            elif char == "\n":
                out.append("\n")
                u16 += 1
                if at(i + 1) == ">":
                    i += 1
                    if have_blockquote:
                        i += 1
                        continue
                    kind = "blockquote"
                    have_blockquote = True
                else:
                    i += 1
                    continue
            elif char == ">" and i == 0:
                kind = "blockquote"
                have_blockquote = True
            else:
                raise _reserved(char)
            stack.append((kind, argument, u16, mark_offset, len(out)))
            i += 1
            continue

        kind, argument, start, mark_offset, out_start = stack[-1]
        if char == "\n" and kind != "blockquote":
            raise EntityParseError(
                f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {mark_offset}"
            )
        skip = u16 == start
        entity: JSONDict | None = None
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
        elif kind == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[out_start:])
            else:
                url_begin = i + 2
                url, i = _read_md_url(src, url_begin)
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(src, url_begin)}"
                    )
            entity = _link_entity(start, u16 - start, url)
            if entity is None:
                skip = True
        elif kind == "custom_emoji":
            if at(i + 1) != "(":
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            url_begin = i + 2
            url, i = _read_md_url(src, url_begin)
            if i >= n:
                raise EntityParseError(
                    "Can't find end of a custom emoji URL at byte offset "
                    f"{_byte_offset(src, url_begin)}"
                )
            match = _EMOJI_LINK_RE.fullmatch(url)
            if match is None or int(match.group(1)) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity = {"type": "custom_emoji", "custom_emoji_id": match.group(1)}
        elif kind == "blockquote":
            have_blockquote = False
            out.append(char)
            u16 += 1
        if not skip:
            if entity is None:
                entity = {"type": "pre" if kind == "pre_code" else kind}
                if kind == "pre_code":
                    entity["language"] = argument
            entity["offset"] = start
            entity["length"] = u16 - start
            entities.append(entity)
        stack.pop()
        i += 1

    if have_blockquote and stack and stack[-1][0] == "blockquote":
        start = stack.pop()[2]
        if u16 > start:
            entities.append({"type": "blockquote", "offset": start, "length": u16 - start})
    if stack:
        kind, _, _, mark_offset, _ = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {mark_offset}"
        )
    return "".join(out), _sort_entities(entities)


def parse_markdown(src: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Markdown (parse_mode "Markdown") like tdlib's parse_markdown."""
    out: list[str] = []
    u16 = 0
    entities: list[JSONDict] = []
    n = len(src)
    i = 0
    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        i += 1
        is_pre = False
        language = ""
        if char == "`" and src[i : i + 2] == "``":
            i += 2
            is_pre = True
            language_end = i
            while language_end < n and src[language_end] not in _TDLIB_SPACES + "`":
                language_end += 1
            if i != language_end and language_end < n and src[language_end] != "`":
                language = src[i:language_end]
                i = language_end
            if i < n and src[i] in "\r\n":
                i += 2 if i + 1 < n and src[i + 1] in "\r\n" and src[i] != src[i + 1] else 1
        start = u16
        out_start = len(out)
        while i < n and (src[i] != end_char or (is_pre and src[i + 1 : i + 3] != "``")):
            out.append(src[i])
            u16 += _u16(src[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(src, begin)}"
            )
        if u16 != start:
            length = u16 - start
            entity: JSONDict | None
            if char == "_":
                entity = {"type": "italic", "offset": start, "length": length}
            elif char == "*":
                entity = {"type": "bold", "offset": start, "length": length}
            elif char == "[":
                if i + 1 < n and src[i + 1] == "(":
                    close = src.find(")", i + 2)
                    close = n if close < 0 else close
                    url = src[i + 2 : close]
                    i = close
                else:
                    url = "".join(out[out_start:])
                entity = _link_entity(start, length, url)
            elif is_pre:
                entity = {"type": "pre", "offset": start, "length": length}
                if language:
                    entity["language"] = language
            else:
                entity = {"type": "code", "offset": start, "length": length}
            if entity is not None:
                entities.append(entity)
        i += 3 if is_pre else 1
    return "".join(out), _sort_entities(entities)


def _validate_entities(text: str, raw: object) -> list[JSONDict]:
    """Check client-provided entities against ``text`` (UTF-16 units) and normalise them."""
    if not isinstance(raw, list):
        raise EntityParseError("entities must be an Array of MessageEntity objects")
    total = utf16_len(text)
    result: list[JSONDict] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise EntityParseError(f"entity #{index} must be a MessageEntity object")
        kind = item.get("type")
        offset = item.get("offset")
        length = item.get("length")
        if kind not in _ENTITY_TYPES:
            raise EntityParseError(f'Unsupported entity type "{kind}" in entity #{index}')
        if not isinstance(offset, int) or not isinstance(length, int):
            raise EntityParseError(f"entity #{index} must have integer offset and length")
        if offset < 0 or length <= 0 or offset + length > total:
            raise EntityParseError(
                f'entity #{index} of type "{kind}" with UTF-16 offset {offset} and length {length}'
                f" does not fit in the text of UTF-16 length {total}"
            )
        entity: JSONDict = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            url = item.get("url")
            checked = _checked_link(url) if isinstance(url, str) else None
            if checked is None:
                raise EntityParseError(f"entity #{index}: wrong HTTP URL {url!r}")
            entity["url"] = checked
        elif kind == "text_mention":
            user = item.get("user")
            if not isinstance(user, dict) or not isinstance(user.get("id"), int):
                raise EntityParseError(f"entity #{index}: text_mention needs a user")
            entity["user"] = {"id": user["id"]}
        elif kind == "pre" and item.get("language"):
            entity["language"] = str(item["language"])
        elif kind == "custom_emoji":
            emoji_id = str(item.get("custom_emoji_id", ""))
            if not emoji_id.isdigit() or int(emoji_id) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity["custom_emoji_id"] = emoji_id
        result.append(entity)
    return result


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip leading/trailing whitespace as Telegram does and clip the entities."""
    stripped = text.strip(_TRIM_CHARS)
    if stripped == text:
        return text, entities
    lead = len(text) - len(text.lstrip(_TRIM_CHARS))  # whitespace is BMP: chars == units
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


_AUTO_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])"),
    ),
    ("url", re.compile(r"(?<![\w@/.])(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)),
    (
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
        ),
    ),
    ("mention", re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w\u200c])#[\w\u200c]{1,256}(?![\w\u200c]*#)")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{1,8}(?![\w$])")),
]
_URL_TRAILING = ".,:;!?'\")]}"


def _autodetect(text: str, entities: list[JSONDict]) -> list[JSONDict]:
    """Add the entities Telegram detects by itself (commands, links, mentions, hashtags...)."""
    offsets: list[int] | None = None
    taken = [
        (e["offset"], e["offset"] + e["length"])
        for e in entities
        if e["type"] in _ATOMIC_ENTITY_TYPES
    ]
    found: list[JSONDict] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                while end > start and text[end - 1] in _URL_TRAILING:
                    if text[end - 1] == ")" and text[start:end].count("(") >= text[
                        start:end
                    ].count(")"):
                        break
                    end -= 1
                if end - start < 5:
                    continue
            if kind == "hashtag" and not re.search(r"[^\W\d_]", text[start + 1 : end]):
                continue
            if offsets is None:
                offsets = _u16_offsets(text)
            u_start, u_end = offsets[start], offsets[end]
            if any(u_start < t_end and t_start < u_end for t_start, t_end in taken):
                continue
            taken.append((u_start, u_end))
            found.append({"type": kind, "offset": u_start, "length": u_end - u_start})
    return entities + found


# --------------------------------------------------------------------------------------------
# Flood limits
# --------------------------------------------------------------------------------------------


@dataclass
class RateLimits:
    """Flood-control settings. ``*_per_sec``/``*_per_min`` are counts per ``*_window`` seconds."""

    global_per_sec: int = 30
    global_window: float = 1.0
    group_per_min: int = 20
    group_window: float = 60.0
    private_per_sec: float = 1.0
    private_window: float = 1.0
    private_burst: int = 3


class _SlidingWindow:
    def __init__(self) -> None:
        self.events: deque[float] = deque()

    def wait(self, now: float, limit: int, window: float) -> float:
        while self.events and self.events[0] <= now - window:
            self.events.popleft()
        if len(self.events) < limit:
            return 0.0
        return self.events[len(self.events) - limit] + window - now

    def record(self, now: float) -> None:
        self.events.append(now)


class _TokenBucket:
    def __init__(self, capacity: int) -> None:
        self.tokens = float(capacity)
        self.last: float | None = None

    def _refill(self, now: float, rate: float, capacity: int) -> None:
        if self.last is not None:
            self.tokens = min(float(capacity), self.tokens + (now - self.last) * rate)
        self.last = now

    def wait(self, now: float, rate: float, capacity: int) -> float:
        self._refill(now, rate, capacity)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / rate

    def record(self, now: float, rate: float, capacity: int) -> None:
        self._refill(now, rate, capacity)
        self.tokens -= 1.0


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


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


@dataclass
class _Params:
    values: JSONDict
    files: dict[str, tuple[str, bytes, str]]

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_request(f"invalid {name} specified")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _bad_request(f"invalid {name} specified") from None
        return float(value)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name))

    def obj(self, name: str) -> Any:
        return self.values.get(name)


_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "user_id",
        "reply_to_message_id",
        "message_thread_id",
        "cache_time",
        "from_chat_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "drop_pending_updates",
        "show_alert",
        "has_spoiler",
        "show_caption_above_media",
        "only_if_banned",
        "revoke_messages",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "entities",
        "caption_entities",
        "reply_markup",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "message_ids",
    }
)


def _coerce(name: str, value: Any) -> Any:
    """Turn form/query strings into the types the Bot API documents for ``name``."""
    if not isinstance(value, str):
        return value
    if name in _INT_PARAMS:
        try:
            return int(value)
        except ValueError:
            if name in ("chat_id", "from_chat_id"):
                return value  # "@channelusername"
            raise _bad_request(f"invalid {name} specified") from None
    if name in _BOOL_PARAMS:
        return value.strip().lower() in ("true", "1")
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {name} JSON object") from None
    return value


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


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------

_MethodHandler = Callable[[_Params], Awaitable[Any]]


class FakeTelegram:
    """A Bot API server for tests; see the module docstring for what it enforces.

    Records for assertions (plain JSON-like dicts, as the Bot API shows them):

    * ``calls``: every Bot API call as (canonical method name, decoded parameters); uploaded
      files appear as ``{"file_name", "size", "content_type"}``.
    * ``sent``: each message the bot sent, as stored at send time (a snapshot).
    * ``edits``: each successfully edited message after the edit; ``deleted``: (chat, id).
    * ``callback_answers``, ``chat_actions``, ``enqueued`` (every update ever queued).
    * ``count_429`` / ``count_429_by_chat``: 429 answers (flood limits and injected ones).
    * ``confirmed_offset``: the highest getUpdates offset that confirmed updates.
    """

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
        self._methods: dict[str, tuple[str, _MethodHandler]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._m_get_me,
                "getUpdates": self._m_get_updates,
                "deleteWebhook": self._m_delete_webhook,
                "getWebhookInfo": self._m_get_webhook_info,
                "logOut": self._m_ok,
                "close": self._m_ok,
                "sendMessage": self._m_send_message,
                "sendPhoto": self._m_send_photo,
                "editMessageText": self._m_edit_message_text,
                "editMessageCaption": self._m_edit_message_caption,
                "editMessageReplyMarkup": self._m_edit_message_reply_markup,
                "deleteMessage": self._m_delete_message,
                "getChat": self._m_get_chat,
                "getChatMember": self._m_get_chat_member,
                "getChatAdministrators": self._m_get_chat_administrators,
                "setMyCommands": self._m_set_my_commands,
                "getMyCommands": self._m_get_my_commands,
                "deleteMyCommands": self._m_delete_my_commands,
                "answerCallbackQuery": self._m_answer_callback_query,
                "sendChatAction": self._m_send_chat_action,
                "getFile": self._m_get_file,
            }.items()
        }

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> Self:
        """Start serving on ``host``/``port`` (port 0 picks a free port)."""
        if self._runner is not None:
            return self
        self._closing = False
        self._updates_changed = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", r"/bot{token:[^/]+}/{method:[^/]+}", self._handle_api)
        app.router.add_route("GET", r"/file/bot{token:[^/]+}/{path:.+}", self._handle_file)
        app.router.add_route("*", r"/_control/{action:[a-z_]+}", self._handle_control)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop serving; pending long polls return an empty list."""
        if self._runner is None:
            return
        self._closing = True
        self._wake()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_url(...)`` / ``Bot(base_url=...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @property
    def bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ---------------------------------------------------------------- world setup

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

    # ---------------------------------------------------------------- simulating people

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

    # ---------------------------------------------------------------- failure injection

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        count: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` ("*" = any) with an error.

        429 answers carry ``retry_after`` (default 1). ``chat_id`` restricts the match.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._injections.append(
            _Injection(method.lower(), status, retry_after, description, count, chat_id)
        )

    def delay_next(
        self,
        method: str,
        seconds: float,
        *,
        count: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` ("*" = any) ``seconds`` late.

        The call takes effect when it is answered, as a slow Telegram would carry it out: a
        client that gave up waiting (or crashed) meanwhile still finds the message sent.
        ``chat_id`` restricts the match.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        self._delays.append(_Delay(method.lower(), max(0.0, seconds), count, chat_id))

    def set_delay(self, seconds: float) -> None:
        """Answer every Bot API request ``seconds`` late."""
        self._delay = max(0.0, seconds)

    def set_down(self, down: bool = True) -> None:
        """While down, every Bot API request gets a 502 HTML page from a "reverse proxy"."""
        self._down = down

    def set_limits(
        self,
        *,
        global_per_sec: int | None = None,
        global_window: float | None = None,
        group_per_min: int | None = None,
        group_window: float | None = None,
        private_per_sec: float | None = None,
        private_window: float | None = None,
        private_burst: int | None = None,
        enabled: bool = True,
    ) -> None:
        """Change the flood limits (and turn enforcement on); resets the windows."""
        changes = {
            "global_per_sec": global_per_sec,
            "global_window": global_window,
            "group_per_min": group_per_min,
            "group_window": group_window,
            "private_per_sec": private_per_sec,
            "private_window": private_window,
            "private_burst": private_burst,
        }
        for name, value in changes.items():
            if value is not None:
                if value <= 0:
                    raise ValueError(f"{name} must be positive")
                setattr(self.limits, name, value)
        self.enforce_rate_limits = enabled
        self._global_window = _SlidingWindow()
        self._chat_windows.clear()
        self._private_buckets.clear()

    def seconds_until_allowed(self, chat_id: int) -> float:
        """How long until a send to ``chat_id`` passes the flood limits (0.0 = now)."""
        if not self.enforce_rate_limits:
            return 0.0
        return self._rate_wait(self._chat_or_raise(chat_id), self.clock())

    # ---------------------------------------------------------------- internals: state

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

    # ---------------------------------------------------------------- internals: rate limits

    def _rate_wait(self, chat: _Chat, now: float) -> float:
        limits = self.limits
        waits = [self._global_window.wait(now, limits.global_per_sec, limits.global_window)]
        if chat.type == "private":
            bucket = self._private_buckets.setdefault(chat.id, _TokenBucket(limits.private_burst))
            rate = limits.private_per_sec / limits.private_window
            waits.append(bucket.wait(now, rate, limits.private_burst))
        else:
            window = self._chat_windows.setdefault(chat.id, _SlidingWindow())
            waits.append(window.wait(now, limits.group_per_min, limits.group_window))
        return max(waits)

    def _rate_check(self, chat: _Chat) -> None:
        if not self.enforce_rate_limits:
            return
        wait = self._rate_wait(chat, self.clock())
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )

    def _rate_record(self, chat: _Chat) -> None:
        if not self.enforce_rate_limits:
            return
        now = self.clock()
        limits = self.limits
        self._global_window.record(now)
        if chat.type == "private":
            rate = limits.private_per_sec / limits.private_window
            self._private_buckets.setdefault(chat.id, _TokenBucket(limits.private_burst)).record(
                now, rate, limits.private_burst
            )
        else:
            self._chat_windows.setdefault(chat.id, _SlidingWindow()).record(now)

    # ---------------------------------------------------------------- internals: HTTP

    @staticmethod
    def _json(status: int, body: JSONDict) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> _Params:
        values: JSONDict = dict(request.query)
        files: dict[str, tuple[str, bytes, str]] = {}
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise _bad_request("JSON body must be an object")
                values.update(body)
            elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        files[name] = (
                            value.filename,
                            value.file.read(),
                            value.content_type,
                        )
                    else:
                        values[name] = value
        return _Params({name: _coerce(name, value) for name, value in values.items()}, files)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
        if request.match_info["token"] != self.token:
            return self._json(401, ApiError(401, "Unauthorized").payload())
        method = request.match_info["method"]
        found = self._methods.get(method.lower())
        try:
            params = await self._read_params(request)
        except ApiError as error:
            return self._json(error.status, error.payload())
        recorded = dict(params.values)
        for name, (filename, content, content_type) in params.files.items():
            recorded[name] = {
                "file_name": filename,
                "size": len(content),
                "content_type": content_type,
            }
        self.calls.append((found[0] if found else method, recorded))
        delay = self._delay + self._take_delay(found[0] if found else method, params)
        if delay:
            await asyncio.sleep(delay)
        if found is None:
            return self._json(404, ApiError(404, "Not Found").payload())
        name, handler = found
        try:
            injected = self._take_injection(name, params)
            if injected is not None:
                raise injected
            result = await handler(params)
        except ApiError as error:
            if error.status == 429:
                self.count_429 += 1
                chat_key = params.values.get("chat_id")
                if isinstance(chat_key, int | str):
                    self.count_429_by_chat[chat_key] = self.count_429_by_chat.get(chat_key, 0) + 1
            return self._json(error.status, error.payload())
        return self._json(200, {"ok": True, "result": result})

    def _take_delay(self, method: str, params: _Params) -> float:
        for delay in self._delays:
            if delay.method not in ("*", method.lower()):
                continue
            if delay.chat_id is not None and params.values.get("chat_id") != delay.chat_id:
                continue
            delay.remaining -= 1
            if delay.remaining <= 0:
                self._delays.remove(delay)
            return delay.seconds
        return 0.0

    def _take_injection(self, method: str, params: _Params) -> ApiError | None:
        for injection in self._injections:
            if injection.method not in ("*", method.lower()):
                continue
            if injection.chat_id is not None and params.values.get("chat_id") != injection.chat_id:
                continue
            injection.remaining -= 1
            if injection.remaining <= 0:
                self._injections.remove(injection)
            status = injection.status
            if injection.description is not None:
                description = injection.description
            elif status == 429:
                description = f"Too Many Requests: retry after {injection.retry_after}"
            else:
                try:
                    description = HTTPStatus(status).phrase
                except ValueError:
                    description = "Error"
            return ApiError(status, description, retry_after=injection.retry_after)
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        for info in self._files.values():
            if info["path"] == path:
                return web.Response(body=info["content"], content_type="image/jpeg")
        return web.Response(status=404, text="Not Found")

    # ---------------------------------------------------------------- internals: helpers

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

    @staticmethod
    def _commands_key(scope: object, language_code: str | None) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code or ""

    # ---------------------------------------------------------------- Bot API methods

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

    async def _m_delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            if self._updates:
                self.confirmed_offset = self._updates[-1]["update_id"] + 1
            self._updates.clear()
        return True

    async def _m_get_webhook_info(self, params: _Params) -> JSONDict:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
            self.confirmed_offset = max(self.confirmed_offset, offset)
            return
        while len(self._updates) > -offset:
            self._updates.popleft()
        if self._updates:
            self.confirmed_offset = max(self.confirmed_offset, self._updates[0]["update_id"])

    def _deliverable(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed_updates
        batch: list[JSONDict] = []
        for update in self._updates:
            kind = next(key for key in update if key != "update_id")
            if allowed:
                if kind not in allowed:
                    continue
            elif kind in _DEFAULT_EXCLUDED_UPDATES:
                continue
            # A snapshot taken when it was queued, serialized as soon as it is returned: no
            # copy needed (copying cost more than the rest of a busy getUpdates).
            batch.append(update)
            if len(batch) >= limit:
                break
        return batch

    async def _m_get_updates(self, params: _Params) -> list[JSONDict]:
        offset = params.integer("offset")
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(0.0, params.number("timeout", 0.0))
        allowed = params.obj("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(k, str) for k in allowed):
                raise _bad_request("can't parse allowed_updates JSON object")
            self._allowed_updates = list(allowed)
        self._confirm(offset)
        poll = _Poll()
        for other in self._polls:
            other.conflict = True
        self._polls.append(poll)
        self._wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if poll.conflict:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                batch = self._deliverable(limit)
                remaining = deadline - loop.time()
                if batch or self._closing or remaining <= 0:
                    return batch
                event = self._updates_changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            self._polls.remove(poll)

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

    # ---------------------------------------------------------------- control endpoints

    async def _handle_control(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        try:
            body: JSONDict = {}
            if request.method == "POST" and request.can_read_body:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            result = self._control(action, request.method, body, dict(request.query))
        except (ValueError, KeyError, TypeError) as error:
            return self._json(400, {"error": str(error)})
        if result is None:
            return self._json(404, {"error": f"unknown control action {action!r}"})
        return self._json(200, {"ok": True, "result": result})

    def _control(
        self, action: str, http_method: str, body: JSONDict, query: dict[str, str]
    ) -> Any:
        if http_method == "GET":
            if action == "messages":
                return self.messages(int(query["chat_id"]))
            if action == "sent":
                return self.sent
            if action == "calls":
                return [{"method": name, "params": params} for name, params in self.calls]
            if action == "state":
                return {
                    "base_url": self.base_url,
                    "users": list(self._users.values()),
                    "chats": [
                        {
                            **chat.public(),
                            "bot_status": chat.bot_status,
                            "linked_chat_id": chat.linked_chat_id,
                            "messages": len(chat.messages),
                        }
                        for chat in self._chats.values()
                    ],
                    "pending_updates": self.pending_updates(),
                    "confirmed_offset": self.confirmed_offset,
                    "count_429": self.count_429,
                    "down": self._down,
                }
            return None
        actions: dict[str, Callable[[], Any]] = {
            "send": lambda: self.user_sends(
                int(body["chat_id"]),
                int(body["user_id"]),
                body.get("text", ""),
                reply_to=body.get("reply_to"),
                command=body.get("command"),
                photo=bool(body.get("photo", False)),
                caption=body.get("caption"),
            ),
            "edit": lambda: self.user_edits(
                int(body["chat_id"]), int(body["message_id"]), body["text"]
            ),
            "channel_post": lambda: self.channel_post(int(body["channel_id"]), body["text"]),
            "callback": lambda: self.callback_press(
                int(body["chat_id"]), int(body["message_id"]), int(body["user_id"]), body["data"]
            ),
            "kick_bot": lambda: self.kick_bot(int(body["chat_id"])),
            "add_bot": lambda: self.add_bot_to_chat(
                int(body["chat_id"]), bool(body.get("admin", True))
            ),
            "user": lambda: self.add_user(
                int(body["user_id"]),
                body["first_name"],
                body.get("username"),
                bool(body.get("is_bot", False)),
            ),
            "chat": lambda: self.add_chat(
                int(body["chat_id"]),
                body["type"],
                body.get("title"),
                body.get("username"),
                admins=body.get("admins", ()),
                bot_is_admin=bool(body.get("bot_is_admin", True)),
                bot_can_post=bool(body.get("bot_can_post", True)),
                linked_chat_id=body.get("linked_chat_id"),
                owner=body.get("owner"),
                members=body.get("members", ()),
            ),
            "link": lambda: self.link_discussion(int(body["channel_id"]), int(body["group_id"])),
            "fail_next": lambda: self.fail_next(
                body["method"],
                int(body["status"]),
                retry_after=body.get("retry_after"),
                description=body.get("description"),
                count=int(body.get("count", 1)),
                chat_id=body.get("chat_id"),
            ),
            "delay": lambda: self.set_delay(float(body["seconds"])),
            "down": lambda: self.set_down(bool(body.get("down", True))),
            "limits": lambda: self.set_limits(**body),
        }
        handler = actions.get(action)
        if handler is None:
            return None
        result = handler()
        return True if result is None else result


def loopback_request(**kwargs: Any) -> HTTPXRequest:
    """A PTB request object for talking to the fake over plain HTTP on loopback.

    It skips loading the CA bundle (unused without TLS), which saves about 0.1 s per Bot:
    ``Bot(token, base_url=tg.base_url, request=loopback_request(),
    get_updates_request=loopback_request())``.
    """
    from telegram.request import HTTPXRequest  # imported late: the fake itself needs no PTB

    return HTTPXRequest(httpx_kwargs={"verify": False}, **kwargs)


# --------------------------------------------------------------------------------------------
# Running in another process
# --------------------------------------------------------------------------------------------

_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SubprocessFake:
    """A FakeTelegram in its own OS process, driven through the /_control endpoints."""

    process: subprocess.Popen[str]
    url: str
    token: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def control(self, action: str, payload: JSONDict | None = None, **query: Any) -> Any:
        """POST ``payload`` to /_control/<action> (GET with ``query`` when payload is None).

        Blocking; from async code use ``await asyncio.to_thread(fake.control, ...)``.
        """
        url = f"{self.url}/_control/{action}"
        if payload is None:
            if query:
                url += "?" + urllib.parse.urlencode(query)
            request = urllib.request.Request(url)
        else:
            request = urllib.request.Request(
                url,
                data=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
            )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["result"]

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_in_subprocess(
    *,
    token: str = DEFAULT_TOKEN,
    demo: bool = True,
    enforce_rate_limits: bool = False,
    startup_timeout: float = 15.0,
) -> SubprocessFake:
    """Start ``python -m tests.fakes.telegram`` on a free port; returns a handle to stop it."""
    command = [sys.executable, "-m", "tests.fakes.telegram", "--port", "0", "--token", token]
    if not demo:
        command.append("--no-demo")
    if enforce_rate_limits:
        command.append("--enforce-rate-limits")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=_REPO_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + startup_timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                process.kill()
                process.wait()
                raise RuntimeError("the fake Telegram server did not start in time")
            line = process.stdout.readline()
            if not line:
                process.wait()
                raise RuntimeError(f"the fake Telegram server exited with {process.returncode}")
            if line.startswith("FAKE_TELEGRAM_READY "):
                fields = dict(part.split("=", 1) for part in line.split()[1:])
                return SubprocessFake(process=process, url=fields["url"], token=token)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTelegram(
        token=args.token,
        host=args.host,
        port=args.port,
        enforce_rate_limits=args.enforce_rate_limits,
        privacy_mode=not args.no_privacy_mode,
    )
    if not args.no_demo:
        fake.setup_demo()
    await fake.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"FAKE_TELEGRAM_READY url={fake.url} base_url={fake.base_url}", flush=True)
    print(f"token={fake.token}  control: {fake.url}/_control/state", flush=True)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server for manual tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--no-demo", action="store_true", help="start without the demo chats")
    parser.add_argument("--enforce-rate-limits", action="store_true")
    parser.add_argument("--no-privacy-mode", action="store_true")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
