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
* Reactions (``user_reacts``): emoji only, at most three per user; ``message_reaction`` in
  groups and ``message_reaction_count`` for channel posts, only where the bot is an
  administrator; counts are sent at once (Telegram sends them late).
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

from ..wait import wait_for
from .limits import RateLimits
from .markup import _autodetect as _autodetect
from .markup import entity_text, utf16_len
from .parse_modes import parse_html, parse_markdown, parse_markdown_v2
from .process import SubprocessFake, run_in_subprocess
from .server import FakeTelegram, loopback_request
from .wire import DEFAULT_TOKEN, TELEGRAM_SERVICE_USER_ID, ApiError, EntityParseError

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
