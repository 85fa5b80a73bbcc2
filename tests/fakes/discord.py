"""An honest fake of Discord's REST API (v10) and gateway, for the real discord.py client.

``FakeDiscord`` is an aiohttp server on 127.0.0.1 (random free port unless one is given). The
real discord.py 2.x client talks to it over HTTP and a WebSocket; nothing in discord.py is
patched except the two URLs (see ``point_discord_py_at``)::

    async with FakeDiscord(token="fake-token") as dc:
        gid = dc.add_guild("News", owner_id=1001)
        cid = dc.add_channel(gid, "news")
        with point_discord_py_at(dc):
            bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
            await bot.login("fake-token")
            task = asyncio.create_task(bot.connect())
            await asyncio.wait_for(bot.wait_until_ready(), 5)
            ...
            await bot.close()
            await task

What the fake enforces (like Discord does):

* Auth: ``Authorization: Bot <token>`` on bot routes (401 otherwise); the gateway closes with
  4004 on a wrong token, 4014 when a privileged intent (message content, members, presences) is
  requested but not allowed, 4013 on invalid intents, 4003/4005 on out-of-order IDENTIFY.
* Permissions: computed from @everyone + member roles + channel overwrites (@everyone, roles,
  member, in that order), owner and ADMINISTRATOR get everything, no VIEW_CHANNEL means no
  permission at all; threads use their parent's overwrites. Sending needs VIEW_CHANNEL +
  SEND_MESSAGES (SEND_MESSAGES_IN_THREADS in threads), threads need CREATE_PUBLIC_THREADS,
  forum posts SEND_MESSAGES, crossposting SEND_MESSAGES for own messages (MANAGE_MESSAGES for
  others), editing/deleting others' messages is refused/needs MANAGE_MESSAGES, thread edits need
  ownership or MANAGE_THREADS (locking always MANAGE_THREADS), fetching one message needs
  READ_MESSAGE_HISTORY (403 50001) while GET history without it answers ``[]`` (Discord's
  documented behaviour, not a 403). Errors carry Discord's JSON bodies and codes (50001 Missing
  Access, 50013 Missing Permissions, 10003 Unknown Channel, 10008 Unknown Message, 50035 Invalid
  Form Body with a nested ``errors`` tree, 50006 empty message, 50008 non-text channel, 50024
  wrong channel type, 40033 already crossposted, 160004 thread exists, 10062 unknown interaction,
  40060 already acknowledged, 10015 unknown webhook).
* Message limits: content <= 2000, <= 10 embeds, title <= 256, description <= 4096, <= 25
  fields (name <= 256, value <= 1024, both required), footer <= 2048, author name <= 256, all
  embeds together <= 6000 characters, an empty message is refused, nonce (str or int) <= 25
  characters; with ``enforce_nonce`` a nonce repeated in the same channel within
  ``nonce_window`` seconds (default 300) returns the existing message (200) and creates nothing.
* Mentions: ``mentions``/``mention_roles``/``mention_everyone`` are computed from the content
  and ``allowed_mentions`` (absent means "parse everything"; replies ping the replied author
  unless ``replied_user`` is false); @everyone/@here also needs MENTION_EVERYONE, role pings need a
  mentionable role or MENTION_EVERYONE. Every ping a message by the bot/application would send is
  appended to ``dc.pings`` as ``(message_id, "user:<id>" | "role:<id>" | "@everyone" |
  "@here")`` unless the message has SUPPRESS_NOTIFICATIONS; mentions in embeds never ping; edits
  update the mention fields but never ping (like Discord). The raw ``allowed_mentions`` sent by
  the client is kept on the stored message as ``msg["_allowed_mentions"]`` (None when absent).
* Message content intent: gateway MESSAGE_CREATE/UPDATE to a session without the intent carry
  empty content/embeds/attachments/components except for the bot's own messages, messages that
  mention the bot and DMs; when ``allow_message_content=False`` REST answers are stripped too.
* Intents gate dispatches (GUILDS for guild/channel/thread events, GUILD_MESSAGES for messages,
  GUILD_MEMBERS for member events and the member list in GUILD_CREATE).
* Interactions: the first response must come within ``interaction_timeout`` seconds (3 like
  Discord) and only once; the response type must suit the interaction type; follow-ups need an
  initial response; ephemeral messages (flag 64) are never in channel history nor dispatched.
* Rate limits (only when ``enforce_rate_limits=True`` or after ``set_limits``): a global limit
  (50 requests per second by default, interaction callbacks and interaction webhooks exempt) and
  per-route buckets: message create/edit/delete 5 per 5 s per channel, everything else 50 per
  second per major parameter. Buckets are fixed windows that start with the first request after
  the previous window expired (what Discord's headers describe). Every REST answer carries
  ``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket``; when limits are not enforced the
  headers describe a roomy 1000-per-second bucket so discord.py never waits. 429s carry ``Via``,
  ``Retry-After``, ``X-RateLimit-Scope`` (and ``X-RateLimit-Global`` for global ones) and the JSON
  body discord.py expects. The bucket hash is per route (not per channel), as on Discord:
  discord.py appends the major parameter itself and would mis-handle a per-channel hash.
* Gateway: HELLO, HEARTBEAT -> HEARTBEAT_ACK, IDENTIFY -> READY (+ one GUILD_CREATE per guild),
  RESUME (replays missed dispatches, then RESUMED; unknown session -> INVALID_SESSION false),
  REQUEST_GUILD_MEMBERS -> GUILD_MEMBERS_CHUNK. Frames are plain JSON text (discord.py asks for
  zlib-stream but parses text frames as JSON). A session whose socket closed with 1000/1001 is
  invalidated (that is what discord.py's ``close()`` sends); other closes keep it resumable for
  ``resume_window`` seconds, buffering dispatches. With no session at all, simulated user
  messages are stored (for a backfill through GET history) but not dispatched.

What it does not do: voice, DMs (no way to open one), reactions beyond recording PUT/DELETE,
pins, webhooks other than interaction webhooks, private-thread membership rules, audit logs,
heartbeat timeouts (the fake never drops a silent client), sharding (every session gets every
guild), Cloudflare's invalid-request ban, per-resource sub-limits (crossposts 10/hour, thread
creation), embed URL validation, attachment size limits, component validation beyond looking up
a pressed ``custom_id``. Archived threads are unarchived by a send unless locked (locked ones
need MANAGE_THREADS, answered 403 50013 here). Starting a thread without a message in a text
channel posts the type-18 "thread created" system message in the parent, like Discord.

* Link previews: a message without SUPPRESS_EMBEDS gets the http(s) links of its content
  (not wrapped in ``<...>``) recorded in ``msg["_link_previews"]``, the links Discord would
  unfurl into embeds (after the send, so they are not added to ``embeds``).
* Follow-ups: the first follow-up to a deferred answer (type 5) takes the place of the
  "thinking" message, as Discord documents; later ones are new messages.

Simulating users (each stores the message and dispatches to every gateway session):
``user_message``, ``user_edit``, ``user_delete``, ``slash_command``, ``autocomplete``,
``press_button``, ``submit_modal``; ``redeliver_interaction`` dispatches an interaction again
(a gateway replay). ``wait_for_answer`` returns what the user is shown (the message that
replaced "thinking" for a deferred answer). ``slow_next`` carries a request out at once but
holds its answer. Ids in payloads and stored message dicts are strings (as on the wire); ids
given to and returned by the Python API (``add_*``, ``interaction_responses`` keys, ...) are
ints.

Run by hand (demo guild with a text channel ``news``, an announcement channel
``announcements``, a forum ``discussions``, an admin user and a normal user; the ids are
printed)::

    python -m tests.fakes.discord --port 8082 --token T

Control API (JSON in, JSON out, no auth):

* ``GET  /_control/state`` -> bot/application ids, guilds, channels, users
* ``POST /_control/message`` ``{"channel_id", "author_id", "content", "reply_to"?}`` -> message
* ``POST /_control/edit`` ``{"channel_id", "message_id", "content"}`` -> message
* ``POST /_control/delete`` ``{"channel_id", "message_id"}`` -> ``{}``
* ``POST /_control/slash`` ``{"guild_id", "channel_id", "user_id", "name", "options"?}``
  -> the INTERACTION_CREATE payload
* ``GET  /_control/messages?channel_id=`` -> messages, oldest first
* ``GET  /_control/interactions`` -> recorded interaction responses and follow-ups

Outages: ``set_down(True)`` answers 502 to everything; discord.py retries a 502 five times
(1+3+5+7+9 s) before raising DiscordServerError and backs off up to ~60 s on the gateway, so keep
outage windows short or use ``fail_next`` for single failures (a 500/502 costs one 1 s retry).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import json
import math
import re
import secrets
import socket
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

JSON = dict[str, Any]

API_VERSION = 10
DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
# What @everyone gets in a new guild (1071698660929).
DEFAULT_EVERYONE_PERMISSIONS = 1071698660929
DEFAULT_BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | SEND_MESSAGES_IN_THREADS
    | CREATE_PUBLIC_THREADS
    | MANAGE_THREADS
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
)

# Gateway intents.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
VALID_INTENTS = (1 << 26) - 1

# Channel types.
GUILD_TEXT = 0
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5
ANNOUNCEMENT_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
GUILD_FORUM = 15
GUILD_MEDIA = 16
THREAD_TYPES = (ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
MESSAGEABLE_TYPES = (GUILD_TEXT, GUILD_ANNOUNCEMENT, 2, 13, *THREAD_TYPES)

# Message flags.
FLAG_CROSSPOSTED = 1 << 0
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
CHANNEL_MESSAGE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2
INTERACTION_MESSAGE_FLAGS = CHANNEL_MESSAGE_FLAGS | FLAG_EPHEMERAL

# Message types.
MSG_DEFAULT = 0
MSG_THREAD_CREATED = 18
MSG_REPLY = 19
MSG_CHAT_INPUT_COMMAND = 20
MSG_CONTEXT_MENU_COMMAND = 23

RATE_LIMIT_BODY_MESSAGE = "You are being rate limited."
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
_MENTION_RE = re.compile(r"<@(!?|&)(\d{1,20})>")
_COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")
# A link Discord unfurls into a preview: any http(s) URL in the content not wrapped in <...>.
_PREVIEWED_URL_RE = re.compile(r"(?<![<\\])https?://[^\s<>]+")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _err(code: str, message: str) -> JSON:
    return {"_errors": [{"code": code, "message": message}]}


def _public(obj: JSON) -> JSON:
    """A copy of a stored object without the fake's private ``_`` keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ApiError(Exception):
    """An error answer of the REST API, with Discord's status, code and message."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def _form_error(errors: JSON) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def _missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def _unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def _unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


class SnowflakeGenerator:
    """Discord-style 64-bit ids: milliseconds since 2015 << 22 | worker | process | increment.

    Strictly increasing, so a later id is always larger (even within one millisecond).
    """

    def __init__(self, worker: int = 1, process: int = 1) -> None:
        self._base = ((worker & 0x1F) << 17) | ((process & 0x1F) << 12)
        self._last = 0

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | self._base
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    bot_role_id: int
    joined_at: str
    roles: dict[int, JSON] = field(default_factory=dict)
    members: dict[int, JSON] = field(default_factory=dict)


@dataclass
class _Bucket:
    limit: int
    window: float
    remaining: int = 0
    reset_at: float = 0.0

    def take(self, now: float) -> bool:
        """Consume one request; False when the window is exhausted."""
        if now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = now + self.window
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def reset_after(self, now: float) -> float:
        return max(0.0, math.ceil((self.reset_at - now) * 1000) / 1000)


@dataclass
class _Injection:
    method: str
    pattern: re.Pattern[str]
    status: int
    count: int
    retry_after: float | None
    body: Any
    scope: str


@dataclass
class _Session:
    session_id: str
    intents: int
    ws: web.WebSocketResponse | None
    seq: int = 0
    log: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=2000))
    disconnected_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    user_id: int
    created: float
    name: str | None = None
    command_type: int | None = None
    message_id: int | None = None
    responded: bool = False
    responded_at: float | None = None
    response_type: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[_Request], Awaitable[Any]]
    name: str
    auth: bool = True
    global_exempt: bool = False
    bucket_kind: str = "default"

    @property
    def bucket_hash(self) -> str:
        return hashlib.sha1(self.name.encode()).hexdigest()[:32]


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[tuple[int, str, bytes, str]]


@dataclass
class _Result:
    status: int
    body: Any = None


class FakeDiscord:
    """A fake Discord (REST + gateway) for the real discord.py client. See the module docstring."""

    def __init__(
        self,
        token: str = "fake-token",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_id: int = 900000000000000001,
        application_id: int | None = None,
        bot_name: str = "newsbot",
        allow_message_content: bool = True,
        allow_members: bool = True,
        allow_presences: bool = True,
        enforce_rate_limits: bool = False,
        heartbeat_interval_ms: int = 41250,
        interaction_timeout: float = 3.0,
        nonce_window: float = 300.0,
        resume_window: float = 60.0,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.bot_id = bot_id
        self.application_id = application_id if application_id is not None else bot_id
        self.allow_message_content = allow_message_content
        self.allow_members = allow_members
        self.allow_presences = allow_presences
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_timeout = interaction_timeout
        self.nonce_window = nonce_window
        self.resume_window = resume_window

        self.new_id = SnowflakeGenerator()
        self.users: dict[int, JSON] = {}
        self.guilds: dict[int, _Guild] = {}
        self.channels: dict[int, JSON] = {}
        self.deleted_channels: set[int] = set()
        self.threads: dict[int, JSON] = {}
        self._send_revoked_threads: set[int] = set()
        self._store: dict[int, dict[int, JSON]] = {}
        self._all_messages: dict[int, JSON] = {}
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._files: dict[int, tuple[str, bytes, str]] = {}

        # Inspection.
        self.created: list[JSON] = []
        self.crossposted: set[int] = set()
        self.requests: list[tuple[str, str, Any]] = []
        self.pings: list[tuple[int, str]] = []
        self.reactions: list[tuple[str, int, int, str]] = []
        self.global_commands: dict[int, JSON] = {}
        self.guild_commands: dict[int, dict[int, JSON]] = {}
        self.interactions: dict[int, _Interaction] = {}
        self.interaction_payloads: dict[int, JSON] = {}
        self.interaction_responses: dict[int, JSON] = {}
        self.followups: dict[int, list[JSON]] = {}
        self.modals: list[tuple[int, JSON]] = []
        self.count_429 = 0
        self.count_429_global = 0
        self.count_429_route = 0
        self.count_429_injected = 0
        self.identify_count = 0
        self.resume_count = 0
        self.gateway_connections = 0

        # Failure / latency hooks and rate limits.
        self._injections: list[_Injection] = []
        self._slow: list[_Injection] = []
        self._down = False
        self._delay = 0.0
        self._enforce = enforce_rate_limits
        self._global_per_sec = 50
        self._per_channel: tuple[int, float] = (5, 5.0)
        self._default_route: tuple[int, float] = (50, 1.0)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._global_bucket: _Bucket | None = None

        self._sessions: dict[str, _Session] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._server_closed: set[web.WebSocketResponse] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes = self._build_routes()

        self.user = self._make_user(bot_id, bot_name, bot=True)
        self.user.update({"verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"})
        self.users[bot_id] = self.user

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._handle_api)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get("/gateway/", self._handle_gateway)
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment
        )
        app.router.add_get("/_control/state", self._control_state)
        app.router.add_get("/_control/messages", self._control_messages)
        app.router.add_get("/_control/interactions", self._control_interactions)
        app.router.add_post("/_control/message", self._control_message)
        app.router.add_post("/_control/edit", self._control_edit)
        app.router.add_post("/_control/delete", self._control_delete)
        app.router.add_post("/_control/slash", self._control_slash)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server stopping")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # ------------------------------------------------------------------ world building

    def _make_user(self, user_id: int, name: str, *, bot: bool = False) -> JSON:
        return {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": None if bot else name,
            "avatar": None,
            "bot": bot,
            "system": False,
            "public_flags": 0,
        }

    def add_user(self, user_id: int, name: str, *, bot: bool = False) -> int:
        """Register a user (no guild membership)."""
        self.users.setdefault(user_id, self._make_user(user_id, name, bot=bot))
        return user_id

    def add_guild(
        self,
        name: str,
        owner_id: int | None = None,
        *,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
    ) -> int:
        """Create a guild the bot is in: @everyone role (id == guild id), a managed bot role
        with ``bot_permissions`` and the bot member. The owner becomes a member too."""
        gid = self.new_id()
        bot_role = self.new_id()
        if owner_id is None:
            owner_id = self.new_id()
        guild = _Guild(id=gid, name=name, owner_id=owner_id, bot_role_id=bot_role, joined_at="")
        guild.joined_at = _now_iso()
        guild.roles[gid] = self._role_payload(gid, "@everyone", everyone_permissions, 0)
        role = self._role_payload(bot_role, self.user["username"], bot_permissions, 1)
        role["managed"] = True
        role["tags"] = {"bot_id": str(self.bot_id)}
        guild.roles[bot_role] = role
        self.guilds[gid] = guild
        guild.members[self.bot_id] = {"roles": [bot_role], "nick": None, "joined_at": _now_iso()}
        if owner_id not in self.users:
            self.add_user(owner_id, f"owner{owner_id % 10000}")
        guild.members[owner_id] = {"roles": [], "nick": None, "joined_at": _now_iso()}
        if self._sessions:
            self._spawn(self._dispatch_guild_create_all(gid))
        return gid

    def _role_payload(self, role_id: int, name: str, permissions: int, position: int) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def add_role(
        self, guild_id: int, name: str, permissions: int, *, mentionable: bool = False
    ) -> int:
        guild = self.guilds[guild_id]
        rid = self.new_id()
        role = self._role_payload(rid, name, permissions, len(guild.roles))
        role["mentionable"] = mentionable
        guild.roles[rid] = role
        self._spawn(
            self._dispatch(
                "GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role}, INTENT_GUILDS
            )
        )
        return rid

    def add_member(
        self,
        guild_id: int,
        user_id: int,
        name: str,
        roles: Sequence[int] = (),
        bot: bool = False,
        *,
        nick: str | None = None,
    ) -> int:
        guild = self.guilds[guild_id]
        self.add_user(user_id, name, bot=bot)
        guild.members[user_id] = {"roles": list(roles), "nick": nick, "joined_at": _now_iso()}
        event = {"guild_id": str(guild_id), **self._member_payload(guild, user_id)}
        self._spawn(self._dispatch("GUILD_MEMBER_ADD", event, INTENT_GUILD_MEMBERS))
        return user_id

    def add_channel(
        self,
        guild_id: int,
        name: str,
        type: int = GUILD_TEXT,
        *,
        parent_id: int | None = None,
        bot_can_send: bool = True,
        bot_can_view: bool = True,
        overwrites: Sequence[JSON] = (),
        topic: str | None = None,
        tags: Sequence[str] = (),
        require_tag: bool = False,
        owner_id: int | None = None,
    ) -> int:
        """Create a channel (0 text, 4 category, 5 announcement, 15 forum, 16 media) or, with
        ``parent_id`` and type 10/11/12, a thread. ``bot_can_send/view=False`` add a member
        overwrite denying the bot SEND_MESSAGES(+IN_THREADS) / VIEW_CHANNEL. ``overwrites`` are
        raw Discord overwrites ({"id", "type": 0 role | 1 member, "allow", "deny"})."""
        guild = self.guilds[guild_id]
        cid = self.new_id()
        if type in THREAD_TYPES:
            if parent_id is None:
                raise ValueError("a thread needs parent_id")
            thread = self._thread_payload(
                cid, guild_id, parent_id, name, type, owner_id or guild.owner_id
            )
            self.channels[cid] = thread
            self.threads[cid] = thread
            self._store[cid] = {}
            self._spawn(self._dispatch_thread_create(thread))
            return cid
        ows = [dict(o) for o in overwrites]
        deny = 0
        if not bot_can_send:
            deny |= SEND_MESSAGES | SEND_MESSAGES_IN_THREADS
        if not bot_can_view:
            deny |= VIEW_CHANNEL
        if deny:
            ows.append({"id": str(self.bot_id), "type": 1, "allow": "0", "deny": str(deny)})
        position = sum(1 for c in self.channels.values() if c.get("guild_id") == str(guild_id))
        channel: JSON = {
            "id": str(cid),
            "type": type,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": ows,
            "parent_id": str(parent_id) if parent_id else None,
            "topic": topic,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "default_auto_archive_duration": 1440,
            "default_thread_rate_limit_per_user": 0,
            "flags": 0,
        }
        if type in (GUILD_FORUM, GUILD_MEDIA):
            channel["available_tags"] = [
                {
                    "id": str(self.new_id()),
                    "name": tag,
                    "moderated": False,
                    "emoji_id": None,
                    "emoji_name": None,
                }
                for tag in tags
            ]
            channel["default_reaction_emoji"] = None
            channel["default_sort_order"] = None
            channel["default_forum_layout"] = 0
            channel["flags"] = 1 << 4 if require_tag else 0
        self.channels[cid] = channel
        self._store[cid] = {}
        self._spawn(self._dispatch("CHANNEL_CREATE", channel, INTENT_GUILDS))
        return cid

    def tag_id(self, channel_id: int, name: str) -> int:
        """The id of a forum tag by name."""
        for tag in self.channels[channel_id].get("available_tags", []):
            if tag["name"] == name:
                return int(tag["id"])
        raise KeyError(name)

    def channel(self, channel_id: int) -> JSON:
        return self.channels[channel_id]

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (and its threads): later REST calls get 404 Unknown Channel."""
        channel = self.channels[channel_id]
        self.deleted_channels.add(channel_id)
        for tid, thread in self.threads.items():
            if thread.get("parent_id") == str(channel_id):
                self.deleted_channels.add(tid)
        if int(channel["type"]) in THREAD_TYPES:
            self._spawn(self._dispatch("THREAD_DELETE", self._thread_delete_event(channel)))
        else:
            self._spawn(self._dispatch("CHANNEL_DELETE", channel, INTENT_GUILDS))

    def revoke_send(self, channel_id: int) -> None:
        """Take SEND_MESSAGES(+IN_THREADS) away from the bot in a channel: sends get 403 50013.

        For a channel this adds a member overwrite (and dispatches CHANNEL_UPDATE, so
        discord.py's permission view follows); for a thread it is recorded on the thread."""
        channel = self.channels[channel_id]
        if int(channel["type"]) in THREAD_TYPES:
            self._send_revoked_threads.add(channel_id)
            return
        deny = SEND_MESSAGES | SEND_MESSAGES_IN_THREADS
        for ow in channel["permission_overwrites"]:
            if ow["id"] == str(self.bot_id) and ow["type"] == 1:
                ow["deny"] = str(int(ow["deny"]) | deny)
                ow["allow"] = str(int(ow["allow"]) & ~deny)
                break
        else:
            channel["permission_overwrites"].append(
                {"id": str(self.bot_id), "type": 1, "allow": "0", "deny": str(deny)}
            )
        self._spawn(self._dispatch("CHANNEL_UPDATE", channel, INTENT_GUILDS))

    # ------------------------------------------------------------------ configuration hooks

    def set_limits(
        self,
        *,
        global_per_sec: int | None = None,
        per_channel: tuple[int, float] | None = None,
        default_route: tuple[int, float] | None = None,
    ) -> None:
        """Enforce rate limits (with the given values; the others keep Discord's defaults)."""
        if global_per_sec is not None:
            self._global_per_sec = global_per_sec
        if per_channel is not None:
            self._per_channel = per_channel
        if default_route is not None:
            self._default_route = default_route
        self._enforce = True
        self._buckets.clear()
        self._global_bucket = None

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        body: Any = None,
        scope: str = "user",
    ) -> None:
        """Answer the next ``count`` requests matching ``method`` (or "*") and ``path_regex``
        (``re.search`` on the path after /api/v10, e.g. ``r"/channels/\\d+/messages$"``) with
        ``status`` instead of handling them. 429s get ``Via``/``Retry-After`` and Discord's body
        (``retry_after`` defaults to 0.1 s); 502 gets Cloudflare's HTML page."""
        self._injections.append(
            _Injection(
                method.upper(), re.compile(path_regex), status, count, retry_after, body, scope
            )
        )

    def slow_next(self, method: str, path_regex: str, seconds: float, *, count: int = 1) -> None:
        """Carry out the next ``count`` requests matching ``method`` and ``path_regex`` at once
        (an interaction callback counts as acknowledged when it arrives) but hold each answer
        ``seconds`` before sending it: a slow answer, not a slow server."""
        self._slow.append(
            _Injection(method.upper(), re.compile(path_regex), 200, count, seconds, None, "")
        )

    def _slow_answer(self, method: str, path: str) -> float:
        for slow in self._slow:
            if slow.method in ("*", method) and slow.pattern.search(path):
                slow.count -= 1
                if slow.count <= 0:
                    self._slow.remove(slow)
                return slow.retry_after or 0.0
        return 0.0

    def set_down(self, down: bool) -> None:
        """While down, every REST call answers 502 and gateway connections are refused.
        Open gateway sessions are not dropped: use ``disconnect_gateway`` for that."""
        self._down = down

    def set_delay(self, seconds: float) -> None:
        """Extra latency before every REST answer."""
        self._delay = seconds

    # ------------------------------------------------------------------ inspection

    def messages(self, channel_id: int) -> list[JSON]:
        """Current messages of a channel or thread, oldest first (stored dicts, string ids)."""
        return list(self._store.get(channel_id, {}).values())

    def message(self, message_id: int) -> JSON:
        return self._all_messages[message_id]

    @property
    def commands(self) -> list[JSON]:
        """All synced application commands (global first, then per guild)."""
        result = list(self.global_commands.values())
        for cmds in self.guild_commands.values():
            result.extend(cmds.values())
        return result

    @property
    def connected(self) -> bool:
        return any(s.ws is not None for s in self._sessions.values())

    def permissions_for(self, user_id: int, channel_id: int) -> int:
        """The permission bits of a member in a channel (threads use their parent)."""
        channel = self.channels[channel_id]
        guild = self.guilds[int(channel["guild_id"])]
        if int(channel["type"]) in THREAD_TYPES:
            channel = self.channels[int(channel["parent_id"])]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        base = self._base_permissions(guild, user_id)
        if base & ADMINISTRATOR:
            return ALL_PERMISSIONS
        perms = base
        ows = channel.get("permission_overwrites", [])
        for ow in ows:
            if ow["type"] == 0 and int(ow["id"]) == guild.id:
                perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
        allow = deny = 0
        for ow in ows:
            if ow["type"] == 0 and int(ow["id"]) in member["roles"]:
                allow |= int(ow["allow"])
                deny |= int(ow["deny"])
        perms = (perms & ~deny) | allow
        for ow in ows:
            if ow["type"] == 1 and int(ow["id"]) == user_id:
                perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    def _base_permissions(self, guild: _Guild, user_id: int) -> int:
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        if member is None:
            return 0
        perms = int(guild.roles[guild.id]["permissions"])
        for rid in member["roles"]:
            role = guild.roles.get(rid)
            if role is not None:
                perms |= int(role["permissions"])
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = ""
    ) -> None:
        """Wait until ``predicate()`` holds: re-checked on every fake state change and at
        least every 20 ms (so predicates on client-side state work too)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.02))

    async def wait_for_response(self, interaction_id: int | str, timeout: float = 5.0) -> JSON:
        """The recorded initial response of an interaction, once the bot has sent it."""
        iid = int(interaction_id)
        await self.wait_until(
            lambda: iid in self.interaction_responses, timeout, f"response to {iid}"
        )
        return self.interaction_responses[iid]

    async def wait_for_answer(self, interaction_id: int | str, timeout: float = 10.0) -> JSON:
        """What the user sees in answer to an interaction, once it is there: the first
        response, or for a deferred one (type 5) the message that replaced "thinking",
        returned as ``{"type": 4, "data": <the message>}``."""
        iid = int(interaction_id)

        def shown() -> bool:
            response = self.interaction_responses.get(iid)
            if response is None:
                return False
            if response["type"] != 5:
                return True
            inter = self.interactions[iid]
            message = self._all_messages.get(inter.original_message_id or 0)
            return message is not None and not message["flags"] & FLAG_LOADING

        await self.wait_until(shown, timeout, f"answer to {iid}")
        response = self.interaction_responses[iid]
        if response["type"] != 5:
            return response
        message = self._all_messages[self.interactions[iid].original_message_id or 0]
        return {"type": 4, "data": _public(message)}

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a dispatch in the background (for the synchronous world-building methods)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Not in a loop (world built before start): nobody can be connected anyway.
            coro.close()
            return
        task: asyncio.Task[Any] = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ payload builders

    def _member_payload(self, guild: _Guild, user_id: int, *, with_user: bool = True) -> JSON:
        member = guild.members[user_id]
        data: JSON = {
            "roles": [str(r) for r in member["roles"]],
            "nick": member.get("nick"),
            "avatar": None,
            "banner": None,
            "joined_at": member["joined_at"],
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.users[user_id]
        return data

    def _guild_payload(self, guild: _Guild) -> JSON:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": list(guild.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "max_members": 500000,
            "max_video_channel_users": 25,
        }

    def _guild_create_payload(self, guild: _Guild, intents: int) -> JSON:
        data = self._guild_payload(guild)
        gid = str(guild.id)
        channels = [
            c
            for cid, c in self.channels.items()
            if c.get("guild_id") == gid
            and int(c["type"]) not in THREAD_TYPES
            and cid not in self.deleted_channels
        ]
        threads = [
            t
            for tid, t in self.threads.items()
            if t.get("guild_id") == gid
            and tid not in self.deleted_channels
            and not t["thread_metadata"]["archived"]
            and self.permissions_for(self.bot_id, tid) & VIEW_CHANNEL
        ]
        # Without GUILD_MEMBERS Discord only sends the bot's own member.
        member_ids = list(guild.members) if intents & INTENT_GUILD_MEMBERS else [self.bot_id]
        data.update(
            {
                "joined_at": guild.joined_at,
                "large": False,
                "unavailable": False,
                "member_count": len(guild.members),
                "members": [self._member_payload(guild, uid) for uid in member_ids],
                "channels": channels,
                "threads": threads,
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data

    def _thread_payload(
        self,
        thread_id: int,
        guild_id: int,
        parent_id: int,
        name: str,
        type: int,
        owner_id: int,
        *,
        auto_archive_duration: int = 1440,
        applied_tags: Sequence[str] = (),
        rate_limit_per_user: int = 0,
    ) -> JSON:
        now = _now_iso()
        thread: JSON = {
            "id": str(thread_id),
            "type": type,
            "guild_id": str(guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(owner_id),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "total_message_sent": 0,
            "member_count": 1,
            "rate_limit_per_user": rate_limit_per_user,
            "flags": 0,
            "applied_tags": list(applied_tags),
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": auto_archive_duration,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        if type == PRIVATE_THREAD:
            thread["thread_metadata"]["invitable"] = True
        if owner_id == self.bot_id:
            thread["member"] = {
                "id": str(thread_id),
                "user_id": str(self.bot_id),
                "join_timestamp": now,
                "flags": 1,
            }
        return thread

    def _thread_delete_event(self, thread: JSON) -> JSON:
        return {
            "id": thread["id"],
            "guild_id": thread["guild_id"],
            "parent_id": thread["parent_id"],
            "type": thread["type"],
        }

    def _application_payload(self) -> JSON:
        owner = self.user
        for guild in self.guilds.values():
            owner = self.users.get(guild.owner_id, owner)
            break
        flags = 0
        if self.allow_message_content:
            flags |= 1 << 19  # GATEWAY_MESSAGE_CONTENT_LIMITED
        if self.allow_members:
            flags |= 1 << 15  # GATEWAY_GUILD_MEMBERS_LIMITED
        if self.allow_presences:
            flags |= 1 << 13  # GATEWAY_PRESENCE_LIMITED
        return {
            "id": str(self.application_id),
            "name": self.user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": flags,
            "owner": owner,
            "team": None,
            "bot": self.user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
            "tags": [],
            "integration_types_config": {"0": {}},
        }

    # ------------------------------------------------------------------ messages

    def _channel_or_404(self, channel_id: int) -> JSON:
        channel = self.channels.get(channel_id)
        if channel is None or channel_id in self.deleted_channels:
            raise _unknown_channel()
        return channel

    def _message_or_404(self, channel_id: int, message_id: int) -> JSON:
        msg = self._store.get(channel_id, {}).get(message_id)
        if msg is None:
            raise _unknown_message()
        return msg

    def _require(self, user_id: int, channel_id: int, needed: int) -> int:
        perms = self.permissions_for(user_id, channel_id)
        if not perms & VIEW_CHANNEL:
            raise _missing_access()
        if needed & ~perms:
            raise _missing_permissions()
        return perms

    def _require_send(self, user_id: int, channel: JSON) -> int:
        cid = int(channel["id"])
        ctype = int(channel["type"])
        if ctype not in MESSAGEABLE_TYPES:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if ctype in THREAD_TYPES:
            perms = self._require(user_id, cid, SEND_MESSAGES_IN_THREADS)
            if user_id == self.bot_id and cid in self._send_revoked_threads:
                raise _missing_permissions()
            meta = channel["thread_metadata"]
            if meta["archived"]:
                if meta.get("locked") and not perms & MANAGE_THREADS:
                    raise _missing_permissions()
                meta["archived"] = False
                meta["archive_timestamp"] = _now_iso()
                self._spawn(self._dispatch("THREAD_UPDATE", channel, INTENT_GUILDS))
            return perms
        return self._require(user_id, cid, SEND_MESSAGES)

    def _validate_message(self, body: JSON, *, creating: bool) -> None:
        errors: JSON = {}
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            errors["content"] = _err("BASE_TYPE_STRING", "Must be a string.")
        elif isinstance(content, str) and len(content) > 2000:
            errors["content"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds")
        if embeds is not None:
            if not isinstance(embeds, list):
                errors["embeds"] = _err("LIST_TYPE_CONVERT", "Only iterables may be used.")
            elif len(embeds) > 10:
                errors["embeds"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
            else:
                embed_errors: JSON = {}
                total = 0
                for index, embed in enumerate(embeds):
                    e_errors, size = self._validate_embed(embed)
                    total += size
                    if e_errors:
                        embed_errors[str(index)] = e_errors
                if embed_errors:
                    errors["embeds"] = embed_errors
                elif total > 6000:
                    errors["embeds"] = _err(
                        "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
                    )
        if creating and "nonce" in body and body["nonce"] is not None:
            nonce = body["nonce"]
            if isinstance(nonce, bool) or not isinstance(nonce, str | int):
                errors["nonce"] = _err("NONCE_TYPE_INVALID", "Nonce must be a string or integer")
            elif isinstance(nonce, str) and len(nonce) > 25:
                errors["nonce"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            elif isinstance(nonce, int) and not -(2**63) <= nonce < 2**63:
                errors["nonce"] = _err("NUMBER_TYPE_MAX", "Int value should be <= 2^63.")
        components = body.get("components")
        if isinstance(components, list) and len(components) > 40:
            errors["components"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        if errors:
            raise _form_error(errors)

    def _validate_embed(self, embed: Any) -> tuple[JSON, int]:
        errors: JSON = {}
        if not isinstance(embed, dict):
            return {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dict."}]}, 0
        size = 0

        def check(path: list[str], value: Any, limit: int, *, required: bool = False) -> None:
            nonlocal size
            if value is None:
                if required:
                    _set_nested(errors, path, _err("BASE_TYPE_REQUIRED", "This field is required"))
                return
            text = str(value)
            size += len(text)
            if required and not text.strip():
                _set_nested(errors, path, _err("BASE_TYPE_REQUIRED", "This field is required"))
            elif len(text) > limit:
                _set_nested(
                    errors,
                    path,
                    _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."),
                )

        check(["title"], embed.get("title"), 256)
        check(["description"], embed.get("description"), 4096)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors["fields"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for i, fld in enumerate(fields[:25]):
            check(["fields", str(i), "name"], fld.get("name"), 256, required=True)
            check(["fields", str(i), "value"], fld.get("value"), 1024, required=True)
        footer = embed.get("footer")
        if isinstance(footer, dict):
            check(["footer", "text"], footer.get("text"), 2048, required=True)
        author = embed.get("author")
        if isinstance(author, dict):
            check(["author", "name"], author.get("name"), 256, required=True)
        return errors, size

    @staticmethod
    def _is_empty(msg: JSON) -> bool:
        return not (
            (msg.get("content") or "").strip()
            or msg.get("embeds")
            or msg.get("attachments")
            or msg.get("sticker_items")
            or msg.get("components")
            or msg.get("poll")
        )

    def _normalize_embeds(self, embeds: list[JSON] | None) -> list[JSON]:
        result = []
        for embed in embeds or []:
            embed = dict(embed)
            embed.setdefault("type", "rich")
            embed.setdefault("content_scan_version", 0)
            result.append(embed)
        return result

    def _make_attachments(
        self, channel_id: int, body: JSON, files: list[tuple[int, str, bytes, str]]
    ) -> list[JSON]:
        by_index = {index: (name, data, ctype) for index, name, data, ctype in files}
        wanted = body.get("attachments")
        if not isinstance(wanted, list):
            wanted = [{"id": index, "filename": name} for index, name, _, _ in files]
        result = []
        for item in wanted:
            index = _as_int(item.get("id"))
            if index is None or index not in by_index:
                continue
            name, data, ctype = by_index[index]
            aid = self.new_id()
            filename = item.get("filename") or name
            self._files[aid] = (filename, data, ctype)
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
            attachment: JSON = {
                "id": str(aid),
                "filename": filename,
                "size": len(data),
                "url": url,
                "proxy_url": url,
                "content_type": ctype,
            }
            if item.get("description"):
                attachment["description"] = item["description"]
            result.append(attachment)
        return result

    def _compute_mentions(
        self,
        msg: JSON,
        author_id: int,
        channel_id: int,
        allowed: JSON | None,
        replied_author: int | None,
    ) -> list[str]:
        """Fill mentions/mention_roles/mention_everyone; return the pings it would send."""
        content = msg.get("content") or ""
        guild = self.guilds[int(self.channels[channel_id]["guild_id"])]
        author_perms = self.permissions_for(author_id, channel_id)
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            allowed_users: set[int] = set()
            allowed_roles: set[int] = set()
            replied_ok = True
        else:
            parse = set(allowed.get("parse") or [])
            allowed_users = {int(u) for u in allowed.get("users") or []}
            allowed_roles = {int(r) for r in allowed.get("roles") or []}
            replied_ok = bool(allowed.get("replied_user", False))
        users: list[int] = []
        roles: list[int] = []
        for kind, raw_id in _MENTION_RE.findall(content):
            ident = int(raw_id)
            if kind == "&":
                role = guild.roles.get(ident)
                if role is None or ident in roles:
                    continue
                if "roles" in parse or ident in allowed_roles:
                    mentionable = role["mentionable"] or author_perms & MENTION_EVERYONE
                    if mentionable:
                        roles.append(ident)
            elif (
                ident in self.users
                and ident not in users
                and ("users" in parse or ident in allowed_users)
            ):
                users.append(ident)
        if replied_author is not None and replied_ok and replied_author not in users:
            users.append(replied_author)
        everyone_words = [w for w in ("@everyone", "@here") if w in content]
        mention_everyone = bool(
            everyone_words and "everyone" in parse and author_perms & MENTION_EVERYONE
        )
        msg["mentions"] = [self.users[u] for u in users]
        msg["mention_roles"] = [str(r) for r in roles]
        msg["mention_everyone"] = mention_everyone
        pings = [f"user:{u}" for u in users] + [f"role:{r}" for r in roles]
        if mention_everyone:
            pings.extend(everyone_words)
        return pings

    def _store_message(self, channel: JSON, msg: JSON) -> None:
        cid = int(channel["id"])
        mid = int(msg["id"])
        self._store.setdefault(cid, {})[mid] = msg
        self._all_messages[mid] = msg
        channel["last_message_id"] = msg["id"]
        if int(channel["type"]) in THREAD_TYPES:
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        elif int(channel["type"]) in (GUILD_FORUM, GUILD_MEDIA):
            pass
        parent_id = channel.get("parent_id")
        if int(channel["type"]) in THREAD_TYPES and parent_id:
            parent = self.channels.get(int(parent_id))
            if parent is not None and int(parent["type"]) in (GUILD_FORUM, GUILD_MEDIA):
                parent["last_message_id"] = channel["id"]

    def _new_message(
        self,
        *,
        channel: JSON,
        author_id: int,
        body: JSON,
        files: list[tuple[int, str, bytes, str]] | None = None,
        msg_type: int = MSG_DEFAULT,
        message_id: int | None = None,
        extra: JSON | None = None,
        allowed_flags: int = CHANNEL_MESSAGE_FLAGS,
        allow_empty: bool = False,
    ) -> tuple[JSON, list[str]]:
        """Build and store a message (ephemeral ones only in the id index); returns it and the
        pings it sends. The body must have been validated."""
        cid = int(channel["id"])
        mid = message_id if message_id is not None else self.new_id()
        flags = int(body.get("flags") or 0) & allowed_flags
        msg: JSON = {
            "id": str(mid),
            "channel_id": str(cid),
            "guild_id": channel["guild_id"],
            "author": self.users[author_id],
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._make_attachments(cid, body, files or []),
            "embeds": self._normalize_embeds(body.get("embeds")),
            "pinned": False,
            "type": msg_type,
            "flags": flags,
            "components": list(body.get("components") or []),
            "_author_id": author_id,
            "_allowed_mentions": body.get("allowed_mentions"),
        }
        if body.get("sticker_ids"):
            msg["sticker_items"] = [
                {"id": str(s), "name": "sticker", "format_type": 1} for s in body["sticker_ids"]
            ]
        if body.get("poll"):
            msg["poll"] = body["poll"]
        if extra:
            msg.update(extra)
        replied_author = None
        ref = body.get("message_reference")
        if isinstance(ref, dict) and ref.get("message_id") is not None:
            ref_cid = int(ref.get("channel_id") or cid)
            target = self._store.get(ref_cid, {}).get(int(ref["message_id"]))
            if target is None:
                if ref.get("fail_if_not_exists", True):
                    raise _form_error(
                        {
                            "message_reference": _err(
                                "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                            )
                        }
                    )
            else:
                msg["type"] = MSG_REPLY
                msg["message_reference"] = {
                    "type": 0,
                    "message_id": target["id"],
                    "channel_id": str(ref_cid),
                    "guild_id": (self.channels.get(ref_cid) or channel)["guild_id"],
                }
                replied_author = target["_author_id"]
                if replied_author == author_id:
                    replied_author = None
        if self._is_empty(msg) and not allow_empty:
            raise ApiError(400, 50006, "Cannot send an empty message")
        msg["_link_previews"] = self._link_previews(msg)
        pings = self._compute_mentions(
            msg, author_id, cid, body.get("allowed_mentions"), replied_author
        )
        if flags & FLAG_SUPPRESS_NOTIFICATIONS:
            pings = []
        if not flags & FLAG_EPHEMERAL:
            self._store_message(channel, msg)
        else:
            self._all_messages[mid] = msg
        return msg, pings

    @staticmethod
    def _link_previews(msg: JSON) -> list[str]:
        """The links Discord would unfurl into preview embeds (it does so after the send, so
        they are kept here rather than added to ``embeds``)."""
        if msg["flags"] & FLAG_SUPPRESS_EMBEDS:
            return []
        return _PREVIEWED_URL_RE.findall(msg.get("content") or "")

    def _record_bot_message(self, msg: JSON, pings: list[str]) -> None:
        self.created.append(msg)
        mid = int(msg["id"])
        self.pings.extend((mid, what) for what in pings)
        self._notify()

    def _apply_edit(self, msg: JSON, body: JSON, files: list[tuple[int, str, bytes, str]]) -> None:
        self._validate_message(body, creating=False)
        updated = dict(msg)
        if "content" in body:
            updated["content"] = body["content"] or ""
        if "embeds" in body:
            updated["embeds"] = self._normalize_embeds(body["embeds"])
        if "components" in body:
            updated["components"] = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = updated["flags"] & ~FLAG_SUPPRESS_EMBEDS & ~FLAG_LOADING
            updated["flags"] = keep | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        else:
            updated["flags"] = updated["flags"] & ~FLAG_LOADING
        if "attachments" in body or files:
            keep_ids = {
                str(a.get("id")) for a in body.get("attachments") or [] if isinstance(a, dict)
            }
            kept = [a for a in msg["attachments"] if a["id"] in keep_ids]
            updated["attachments"] = kept + self._make_attachments(
                int(msg["channel_id"]), body, files
            )
        if "allowed_mentions" in body:
            updated["_allowed_mentions"] = body["allowed_mentions"]
        if self._is_empty(updated):
            raise ApiError(400, 50006, "Cannot send an empty message")
        updated["_link_previews"] = self._link_previews(updated)
        if "content" in body or "allowed_mentions" in body:
            replied = None
            ref = updated.get("message_reference")
            if ref:
                target = self._all_messages.get(int(ref["message_id"]))
                replied = target["_author_id"] if target else None
            # Edits update the mention fields but never ping.
            self._compute_mentions(
                updated,
                updated["_author_id"],
                int(updated["channel_id"]),
                updated.get("_allowed_mentions"),
                replied,
            )
        updated["edited_timestamp"] = _now_iso()
        msg.clear()
        msg.update(updated)
        self._notify()

    def _delete_message_state(self, msg: JSON) -> None:
        cid = int(msg["channel_id"])
        mid = int(msg["id"])
        self._store.get(cid, {}).pop(mid, None)
        msg["_deleted"] = True
        channel = self.channels.get(cid)
        if channel is not None and int(channel["type"]) in THREAD_TYPES:
            channel["message_count"] = max(0, channel["message_count"] - 1)
        self._notify()

    def _out_message(
        self,
        msg: JSON,
        *,
        session: _Session | None = None,
        rest: bool = True,
        include_nonce: bool = False,
        nested: bool = False,
    ) -> JSON:
        """The wire form of a stored message (for a gateway session or a REST answer)."""
        out = _public(msg)
        if include_nonce and msg.get("_nonce") is not None:
            out["nonce"] = msg["_nonce"]
        tid = msg.get("_thread_id")
        if tid is not None and tid in self.threads and tid not in self.deleted_channels:
            out["thread"] = self.threads[tid]
        ref = msg.get("message_reference")
        if ref and msg.get("type") == MSG_REPLY and not nested:
            target = self._store.get(int(ref["channel_id"]), {}).get(int(ref["message_id"]))
            out["referenced_message"] = (
                None
                if target is None
                else self._out_message(target, session=session, rest=rest, nested=True)
            )
        if session is not None:
            guild_id = _as_int(msg.get("guild_id"))
            if guild_id in self.guilds:
                guild = self.guilds[guild_id]
                author_id = msg["_author_id"]
                if author_id in guild.members and not msg.get("webhook_id"):
                    out["member"] = self._member_payload(guild, author_id, with_user=False)
                out["mentions"] = [
                    {**u, "member": self._member_payload(guild, int(u["id"]), with_user=False)}
                    if int(u["id"]) in guild.members
                    else u
                    for u in out["mentions"]
                ]
            stripped = not session.intents & INTENT_MESSAGE_CONTENT
        else:
            stripped = rest and not self.allow_message_content
        if stripped and self._content_restricted(msg):
            out.update(content="", embeds=[], attachments=[], components=[])
            out.pop("poll", None)
        return out

    def _content_restricted(self, msg: JSON) -> bool:
        if msg["_author_id"] == self.bot_id:
            return False
        if msg.get("guild_id") is None:
            return False  # DMs are exempt
        return not any(int(u["id"]) == self.bot_id for u in msg.get("mentions", []))

    # ------------------------------------------------------------------ gateway

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.gateway_connections += 1
        session: _Session | None = None
        hello = {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        try:
            await ws.send_str(json.dumps({**hello, "s": None, "t": None}))
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    if frame.type == WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                try:
                    payload = json.loads(frame.data)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                data = payload.get("d")
                if op == 1:
                    await self._send_op(session, ws, {"op": 11, "d": None})
                elif op == 2:
                    if session is not None:
                        await ws.close(code=4005, message=b"Already authenticated.")
                        break
                    session = await self._identify(ws, data or {})
                    if session is None:
                        break
                elif op == 6:
                    session = await self._resume(ws, data or {})
                    if session is None and ws.closed:
                        break
                elif op in (3, 4, 8):
                    if session is None:
                        await ws.close(code=4003, message=b"Not authenticated.")
                        break
                    if op == 8:
                        await self._request_members(session, data or {})
                else:
                    await ws.close(code=4001, message=b"Unknown opcode.")
                    break
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                # A client close with 1000/1001 ends the session (discord.py's close() does
                # that); anything else, including our own closes, leaves it resumable.
                if ws not in self._server_closed and ws.close_code in (1000, 1001):
                    self._sessions.pop(session.session_id, None)
                else:
                    session.disconnected_at = asyncio.get_running_loop().time()
            self._server_closed.discard(ws)
            self._notify()
        return ws

    async def _send_op(
        self, session: _Session | None, ws: web.WebSocketResponse, op: JSON
    ) -> None:
        text = json.dumps({**op, "s": None, "t": None})
        if session is not None:
            async with session.lock:
                await ws.send_str(text)
        else:
            await ws.send_str(text)

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> _Session | None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~VALID_INTENTS:
            await ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        disallowed = (
            (intents & INTENT_MESSAGE_CONTENT and not self.allow_message_content)
            or (intents & INTENT_GUILD_MEMBERS and not self.allow_members)
            or (intents & INTENT_GUILD_PRESENCES and not self.allow_presences)
        )
        if disallowed:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        session = _Session(session_id=secrets.token_hex(16), intents=intents, ws=ws)
        self._sessions[session.session_id] = session
        self.identify_count += 1
        ready: JSON = {
            "v": API_VERSION,
            "user": self.user,
            "guilds": [{"id": str(gid), "unavailable": True} for gid in self.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "application": {"id": str(self.application_id), "flags": self._app_flags()},
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._send_dispatch(session, "READY", ready)
        for guild in list(self.guilds.values()):
            await self._send_dispatch(
                session, "GUILD_CREATE", self._guild_create_payload(guild, intents)
            )
        self._notify()
        return session

    def _app_flags(self) -> int:
        return int(self._application_payload()["flags"])

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> _Session | None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        self._expire_sessions()
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or (session.ws is not None and not session.ws.closed):
            await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return None
        seq = _as_int(data.get("seq")) or 0
        async with session.lock:
            session.ws = ws
            session.disconnected_at = None
            for entry_seq, text in list(session.log):
                if entry_seq > seq:
                    await ws.send_str(text)
        self.resume_count += 1
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})
        self._notify()
        return session

    async def _request_members(self, session: _Session, data: JSON) -> None:
        gid = _as_int(data.get("guild_id"))
        if isinstance(data.get("guild_id"), list):
            gids = [int(g) for g in data["guild_id"]]
        else:
            gids = [gid] if gid is not None else []
        for guild_id in gids:
            guild = self.guilds.get(guild_id)
            if guild is None:
                continue
            wanted = {int(u) for u in data.get("user_ids") or []}
            query = (data.get("query") or "").lower()
            members = [
                self._member_payload(guild, uid)
                for uid in guild.members
                if (not wanted or uid in wanted)
                and self.users[uid]["username"].lower().startswith(query)
            ]
            limit = data.get("limit") or 0
            if limit:
                members = members[:limit]
            chunk: JSON = {
                "guild_id": str(guild_id),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            if data.get("presences"):
                chunk["presences"] = []
            await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _expire_sessions(self) -> None:
        now = asyncio.get_running_loop().time()
        for sid, session in list(self._sessions.items()):
            if (
                session.ws is None
                and session.disconnected_at is not None
                and now - session.disconnected_at > self.resume_window
            ):
                del self._sessions[sid]

    async def _send_dispatch(self, session: _Session, event: str, data: JSON) -> None:
        async with session.lock:
            session.seq += 1
            text = json.dumps({"op": 0, "s": session.seq, "t": event, "d": data})
            session.log.append((session.seq, text))
            ws = session.ws
            if ws is not None and not ws.closed:
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    session.ws = None
                    session.disconnected_at = asyncio.get_running_loop().time()

    async def _dispatch(
        self,
        event: str,
        data: JSON | Callable[[_Session], JSON],
        intent: int | None = None,
    ) -> None:
        """Send a dispatch to every live or resumable session that has ``intent``."""
        self._expire_sessions()
        for session in list(self._sessions.values()):
            if intent is not None and not session.intents & intent:
                continue
            payload = data(session) if callable(data) else data
            await self._send_dispatch(session, event, payload)

    async def _dispatch_guild_create_all(self, guild_id: int) -> None:
        guild = self.guilds[guild_id]
        for session in list(self._sessions.values()):
            payload = self._guild_create_payload(guild, session.intents)
            await self._send_dispatch(session, "GUILD_CREATE", payload)

    async def _dispatch_thread_create(self, thread: JSON) -> None:
        await self._dispatch("THREAD_CREATE", {**thread, "newly_created": True}, INTENT_GUILDS)

    async def _dispatch_message(self, event: str, msg: JSON) -> None:
        if msg["flags"] & FLAG_EPHEMERAL:
            return
        intent = INTENT_GUILD_MESSAGES if msg.get("guild_id") else INTENT_DIRECT_MESSAGES
        include_nonce = event == "MESSAGE_CREATE"
        await self._dispatch(
            event,
            lambda s: self._out_message(msg, session=s, include_nonce=include_nonce),
            intent,
        )

    async def disconnect_gateway(self, code: int = 4000) -> None:
        """Close every gateway socket with ``code`` (4000 keeps sessions resumable)."""
        for ws in list(self._sockets):
            self._server_closed.add(ws)
            await ws.close(code=code, message=b"fake disconnect")

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every connected session (discord.py then RESUMEs)."""
        for session in list(self._sessions.values()):
            if session.ws is not None:
                await self._send_op(session, session.ws, {"op": 7, "d": None})

    # ------------------------------------------------------------------ simulated users

    def _guild_of_channel(self, channel: JSON) -> _Guild:
        return self.guilds[int(channel["guild_id"])]

    async def user_message(
        self,
        channel_id: int,
        author_id: int,
        content: str,
        *,
        reply_to: int | None = None,
        reply_in: int | None = None,
        embeds: Sequence[JSON] = (),
    ) -> JSON:
        """A user posts a message (MESSAGE_CREATE); returns the stored message.

        ``reply_in`` names the channel of the message replied to, as a client may in
        ``message_reference.channel_id`` (the same channel by default).
        """
        channel = self._channel_or_404(channel_id)
        guild = self._guild_of_channel(channel)
        if author_id not in guild.members:
            raise ValueError(f"user {author_id} is not a member of guild {guild.id}")
        try:
            self._require_send(author_id, channel)
        except ApiError as exc:
            raise PermissionError(f"user {author_id} cannot send here: {exc.message}") from exc
        body: JSON = {"content": content, "embeds": list(embeds)}
        if reply_to is not None:
            body["message_reference"] = {
                "message_id": str(reply_to),
                "channel_id": str(reply_in or channel_id),
            }
        self._validate_message(body, creating=True)
        msg, _pings = self._new_message(channel=channel, author_id=author_id, body=body)
        self._notify()
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    async def user_edit(self, channel_id: int, message_id: int, content: str) -> JSON:
        """The author edits a message (MESSAGE_UPDATE with the full message)."""
        msg = self._message_or_404(channel_id, message_id)
        self._apply_edit(msg, {"content": content}, [])
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return msg

    async def user_delete(self, channel_id: int, message_id: int) -> None:
        """A message is deleted by a user or moderator (MESSAGE_DELETE)."""
        msg = self._message_or_404(channel_id, message_id)
        self._delete_message_state(msg)
        event = {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg["guild_id"]}
        await self._dispatch("MESSAGE_DELETE", event, INTENT_GUILD_MESSAGES)

    def _find_command(self, guild_id: int, name: str, command_type: int) -> JSON:
        for cmd in self.guild_commands.get(guild_id, {}).values():
            if cmd["name"] == name and cmd.get("type", 1) == command_type:
                return cmd
        for cmd in self.global_commands.values():
            if cmd["name"] == name and cmd.get("type", 1) == command_type:
                return cmd
        raise ValueError(f"no synced command {name!r} (type {command_type}) for guild {guild_id}")

    def _interaction_base(
        self, itype: int, guild_id: int, channel_id: int, user_id: int
    ) -> tuple[_Interaction, JSON]:
        channel = self._channel_or_404(channel_id)
        guild = self.guilds[guild_id]
        if user_id not in guild.members:
            raise ValueError(f"user {user_id} is not a member of guild {guild_id}")
        iid = self.new_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        member_perms = self.permissions_for(user_id, channel_id)
        member = self._member_payload(guild, user_id)
        member["permissions"] = str(member_perms)
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": {**channel, "permissions": str(member_perms)},
            "member": member,
            "app_permissions": str(self.permissions_for(self.bot_id, channel_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        loop = asyncio.get_running_loop()
        inter = _Interaction(
            id=iid,
            token=token,
            type=itype,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            created=loop.time(),
        )
        return inter, payload

    async def _fire_interaction(self, inter: _Interaction, payload: JSON) -> JSON:
        self.interactions[inter.id] = inter
        self.interaction_payloads[inter.id] = payload
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload

    async def redeliver_interaction(self, interaction_id: int | str) -> JSON:
        """Dispatch an INTERACTION_CREATE again, byte for byte, to every session (live or
        resumable): what a client sees when a gateway RESUME replays events it had already
        received but whose sequence it had not yet recorded, or when it starts again and
        Discord delivers what it was sent before. Answering it counts against the same
        interaction: a second first answer gets 400 40060, as on Discord."""
        iid = int(interaction_id)
        payload = self.interaction_payloads[iid]
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload

    def _option_payloads(
        self, defs: list[JSON], values: dict[str, Any], guild: _Guild, resolved: JSON
    ) -> list[JSON]:
        by_name = {d["name"]: d for d in defs}
        result: list[JSON] = []
        for name, value in values.items():
            definition = by_name.get(name)
            if definition is None:
                raise ValueError(f"unknown option {name!r}")
            otype = definition["type"]
            if otype in (1, 2):
                sub = self._option_payloads(
                    definition.get("options") or [], dict(value or {}), guild, resolved
                )
                result.append({"name": name, "type": otype, "options": sub})
                continue
            if otype in (6, 9) and int(value) in self.users:
                uid = int(value)
                resolved.setdefault("users", {})[str(uid)] = self.users[uid]
                if uid in guild.members:
                    member = self._member_payload(guild, uid, with_user=False)
                    resolved.setdefault("members", {})[str(uid)] = member
                value = str(uid)
            elif otype == 7:
                ch = self._channel_or_404(int(value))
                resolved.setdefault("channels", {})[str(value)] = {
                    k: ch[k]
                    for k in ("id", "name", "type", "parent_id", "thread_metadata")
                    if k in ch
                } | {"permissions": str(ALL_PERMISSIONS)}
                value = str(value)
            elif otype in (8, 9) and int(value) in guild.roles:
                resolved.setdefault("roles", {})[str(value)] = guild.roles[int(value)]
                value = str(value)
            elif otype == 4:
                value = int(value)
            elif otype == 10:
                value = float(value)
            elif otype == 5:
                value = bool(value)
            elif otype == 3:
                value = str(value)
            result.append({"name": name, "type": otype, "value": value})
        for definition in defs:
            if definition.get("required") and definition["name"] not in values:
                raise ValueError(f"missing required option {definition['name']!r}")
        return result

    async def slash_command(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        command_type: int = 1,
        target_id: int | None = None,
    ) -> JSON:
        """A user invokes a synced application command (INTERACTION_CREATE type 2).

        ``options`` maps option names to values (a dict value for a subcommand); user, channel
        and role options are resolved. ``command_type`` 3 (message context menu) needs
        ``target_id`` (a message in ``channel_id``), 2 (user) a user id. Returns the payload;
        read the answer with ``wait_for_response(payload["id"])``."""
        cmd = self._find_command(guild_id, name, command_type)
        guild = self.guilds[guild_id]
        required = _as_int(cmd.get("default_member_permissions"))
        base = self._base_permissions(guild, user_id)
        if required and (base & required) != required:
            raise PermissionError(f"user {user_id} cannot use /{name}")
        inter, payload = self._interaction_base(2, guild_id, channel_id, user_id)
        inter.name = name
        inter.command_type = command_type
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": command_type}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        resolved: JSON = {}
        if command_type == 1:
            data["options"] = self._option_payloads(
                cmd.get("options") or [], dict(options or {}), guild, resolved
            )
        elif command_type == 3:
            if target_id is None:
                raise ValueError("a message command needs target_id")
            target = self._message_or_404(channel_id, target_id)
            data["target_id"] = str(target_id)
            resolved["messages"] = {str(target_id): self._out_message(target, rest=False)}
        elif command_type == 2:
            if target_id is None or target_id not in self.users:
                raise ValueError("a user command needs a known target_id")
            data["target_id"] = str(target_id)
            resolved["users"] = {str(target_id): self.users[target_id]}
            if target_id in guild.members:
                member = self._member_payload(guild, target_id, with_user=False)
                resolved["members"] = {str(target_id): member}
        if resolved:
            data["resolved"] = resolved
        payload["data"] = data
        return await self._fire_interaction(inter, payload)

    async def autocomplete(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: dict[str, Any],
        focused: str,
    ) -> JSON:
        """A user types into option ``focused`` of a synced command (INTERACTION type 4, the
        partly typed ``options`` so far); the answer (type 8) carries ``data.choices``."""
        cmd = self._find_command(guild_id, name, 1)
        definitions = {d["name"]: d for d in cmd.get("options") or []}
        if not definitions.get(focused, {}).get("autocomplete"):
            raise ValueError(f"option {focused!r} of /{name} has no autocomplete")
        inter, payload = self._interaction_base(4, guild_id, channel_id, user_id)
        inter.name = name
        typed = []
        for option, value in options.items():
            definition = definitions.get(option)
            if definition is None:
                raise ValueError(f"unknown option {option!r}")
            # Discord sends what is typed as a string, whatever the option's type.
            entry: JSON = {"name": option, "type": definition["type"], "value": str(value)}
            if option == focused:
                entry["focused"] = True
            typed.append(entry)
        payload["data"] = {"id": cmd["id"], "name": name, "type": 1, "options": typed}
        if cmd.get("guild_id"):
            payload["data"]["guild_id"] = cmd["guild_id"]
        return await self._fire_interaction(inter, payload)

    @staticmethod
    def _walk_components(components: list[JSON]) -> Iterator[JSON]:
        for comp in components or []:
            yield comp
            yield from FakeDiscord._walk_components(comp.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(comp.get(key), dict):
                    yield from FakeDiscord._walk_components([comp[key]])

    async def press_button(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        message_id: int,
        custom_id: str,
        *,
        values: Sequence[str] | None = None,
    ) -> JSON:
        """A user clicks a button / picks select ``values`` on a message (INTERACTION type 3).

        The component must exist on the message and not be disabled. Ephemeral messages (kept
        out of channel history) can be pressed too, by the user they were shown to."""
        msg = self._all_messages.get(message_id)
        if not (
            msg is not None
            and msg["flags"] & FLAG_EPHEMERAL
            and not msg.get("_deleted")
            and msg["channel_id"] == str(channel_id)
            and (msg.get("interaction_metadata") or {}).get("user", {}).get("id") == str(user_id)
        ):
            msg = self._message_or_404(channel_id, message_id)
        component = next(
            (
                c
                for c in self._walk_components(msg.get("components") or [])
                if c.get("custom_id") == custom_id
            ),
            None,
        )
        if component is None:
            raise ValueError(f"message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        inter, payload = self._interaction_base(3, guild_id, channel_id, user_id)
        inter.message_id = message_id
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        payload["data"] = data
        payload["message"] = self._out_message(msg, rest=False)
        return await self._fire_interaction(inter, payload)

    async def submit_modal(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        custom_id: str,
        values: dict[str, str],
    ) -> JSON:
        """A user submits a modal the bot showed (INTERACTION type 5).

        ``values`` maps text input custom_ids to text; the submitted component tree mirrors the
        modal's (action rows or labels)."""
        shown = next(
            ((iid, m) for iid, m in reversed(self.modals) if m.get("custom_id") == custom_id),
            None,
        )
        if shown is None:
            raise ValueError(f"no modal {custom_id!r} was shown")
        origin_id, modal = shown

        def mirror(comps: list[JSON]) -> list[JSON]:
            result = []
            for comp in comps:
                ctype = comp.get("type")
                if ctype == 1:
                    result.append({"type": 1, "components": mirror(comp.get("components", []))})
                elif ctype == 18 and isinstance(comp.get("component"), dict):
                    inner = mirror([comp["component"]])
                    if inner:
                        result.append({"type": 18, "id": comp.get("id"), "component": inner[0]})
                elif ctype == 4:
                    cid = comp["custom_id"]
                    result.append(
                        {
                            "type": 4,
                            "id": comp.get("id"),
                            "custom_id": cid,
                            "value": values.get(cid, ""),
                        }
                    )
                elif ctype in (3, 5, 6, 7, 8):
                    cid = comp["custom_id"]
                    chosen: Any = values.get(cid, [])
                    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
                    result.append({"type": ctype, "custom_id": cid, "values": chosen})
            return result

        inter, payload = self._interaction_base(5, guild_id, channel_id, user_id)
        payload["data"] = {"custom_id": custom_id, "components": mirror(modal["components"])}
        origin = self.interactions.get(origin_id)
        if origin is not None and origin.message_id is not None:
            inter.message_id = origin.message_id
            source = self._all_messages.get(origin.message_id)
            if source is not None:
                payload["message"] = self._out_message(source, rest=False)
        return await self._fire_interaction(inter, payload)

    # ------------------------------------------------------------------ REST plumbing

    def _build_routes(self) -> list[_Route]:
        c = r"(?P<channel_id>\d+)"
        m = r"(?P<message_id>\d+)"
        g = r"(?P<guild_id>\d+)"
        a = r"(?P<application_id>\d+)"
        cmd = r"(?P<command_id>\d+)"
        wh = r"(?P<webhook_id>\d+)/(?P<webhook_token>[^/]+)"
        wm = r"(?P<target>@original|\d+)"
        table: list[tuple[str, str, Callable[[_Request], Awaitable[Any]], str, JSON]] = [
            ("GET", "/users/@me", self._r_me, "users/@me", {}),
            ("GET", r"/users/(?P<user_id>\d+)", self._r_user, "users/{id}", {}),
            ("GET", "/oauth2/applications/@me", self._r_app, "oauth2/app", {}),
            ("GET", "/applications/@me", self._r_app, "applications/@me", {}),
            ("GET", "/gateway", self._r_gateway, "gateway", {"auth": False}),
            ("GET", "/gateway/bot", self._r_gateway_bot, "gateway/bot", {}),
            ("GET", f"/guilds/{g}", self._r_guild, "guilds/{id}", {}),
            ("GET", f"/guilds/{g}/channels", self._r_guild_channels, "guilds/channels", {}),
            ("GET", f"/guilds/{g}/threads/active", self._r_active_threads, "guild/threads", {}),
            (
                "GET",
                rf"/guilds/{g}/members/(?P<user_id>\d+)",
                self._r_member,
                "guilds/members/{id}",
                {},
            ),
            ("GET", f"/channels/{c}", self._r_get_channel, "channels/{id}", {}),
            ("PATCH", f"/channels/{c}", self._r_patch_channel, "patch channels/{id}", {}),
            ("DELETE", f"/channels/{c}", self._r_delete_channel, "delete channels/{id}", {}),
            ("POST", f"/channels/{c}/typing", self._r_typing, "typing", {}),
            (
                "POST",
                f"/channels/{c}/messages",
                self._r_create_message,
                "post messages",
                {"bucket_kind": "messages"},
            ),
            ("GET", f"/channels/{c}/messages", self._r_history, "get messages", {}),
            ("GET", f"/channels/{c}/messages/{m}", self._r_get_message, "get message", {}),
            (
                "PATCH",
                f"/channels/{c}/messages/{m}",
                self._r_edit_message,
                "patch message",
                {"bucket_kind": "messages"},
            ),
            (
                "DELETE",
                f"/channels/{c}/messages/{m}",
                self._r_delete_message,
                "delete message",
                {"bucket_kind": "messages"},
            ),
            (
                "POST",
                f"/channels/{c}/messages/{m}/crosspost",
                self._r_crosspost,
                "crosspost",
                {},
            ),
            (
                "POST",
                f"/channels/{c}/messages/{m}/threads",
                self._r_thread_from_message,
                "message threads",
                {},
            ),
            (
                "PUT",
                rf"/channels/{c}/messages/{m}/reactions/(?P<emoji>[^/]+)/@me",
                self._r_add_reaction,
                "reactions",
                {},
            ),
            (
                "DELETE",
                rf"/channels/{c}/messages/{m}/reactions/(?P<emoji>[^/]+)/@me",
                self._r_remove_reaction,
                "reactions delete",
                {},
            ),
            ("POST", f"/channels/{c}/threads", self._r_create_thread, "threads", {}),
            (
                "PUT",
                f"/channels/{c}/thread-members/@me",
                self._r_join_thread,
                "thread-members",
                {},
            ),
            ("GET", f"/applications/{a}/commands", self._r_get_commands, "global cmds", {}),
            ("PUT", f"/applications/{a}/commands", self._r_put_commands, "put global cmds", {}),
            ("POST", f"/applications/{a}/commands", self._r_post_command, "post global cmd", {}),
            (
                "GET",
                f"/applications/{a}/commands/{cmd}",
                self._r_get_command,
                "global cmd",
                {},
            ),
            (
                "DELETE",
                f"/applications/{a}/commands/{cmd}",
                self._r_delete_command,
                "delete global cmd",
                {},
            ),
            (
                "GET",
                f"/applications/{a}/guilds/{g}/commands",
                self._r_get_commands,
                "guild cmds",
                {},
            ),
            (
                "PUT",
                f"/applications/{a}/guilds/{g}/commands",
                self._r_put_commands,
                "put guild cmds",
                {},
            ),
            (
                "POST",
                f"/applications/{a}/guilds/{g}/commands",
                self._r_post_command,
                "post guild cmd",
                {},
            ),
            (
                "GET",
                f"/applications/{a}/guilds/{g}/commands/{cmd}",
                self._r_get_command,
                "guild cmd",
                {},
            ),
            (
                "DELETE",
                f"/applications/{a}/guilds/{g}/commands/{cmd}",
                self._r_delete_command,
                "delete guild cmd",
                {},
            ),
            (
                "POST",
                f"/interactions/{wh}/callback",
                self._r_interaction_callback,
                "interaction callback",
                {"auth": False, "global_exempt": True},
            ),
            (
                "POST",
                f"/webhooks/{wh}",
                self._r_webhook_execute,
                "webhook execute",
                {"auth": False, "global_exempt": True},
            ),
            (
                "GET",
                f"/webhooks/{wh}/messages/{wm}",
                self._r_webhook_get,
                "webhook message",
                {"auth": False, "global_exempt": True},
            ),
            (
                "PATCH",
                f"/webhooks/{wh}/messages/{wm}",
                self._r_webhook_edit,
                "webhook edit",
                {"auth": False, "global_exempt": True},
            ),
            (
                "DELETE",
                f"/webhooks/{wh}/messages/{wm}",
                self._r_webhook_delete,
                "webhook delete",
                {"auth": False, "global_exempt": True},
            ),
        ]
        return [
            _Route(method, re.compile(f"^{pattern}$"), handler, name, **opts)
            for method, pattern, handler, name, opts in table
        ]

    @staticmethod
    def _json_response(
        status: int, body: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        all_headers = dict(headers or {})
        if body is None:
            return web.Response(status=status, headers=all_headers)
        all_headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)

    async def _read_body(
        self, request: web.Request
    ) -> tuple[Any, list[tuple[int, str, bytes, str]]]:
        files: list[tuple[int, str, bytes, str]] = []
        if not request.can_read_body:
            return None, files
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name or ""
                data = await part.read()
                if name == "payload_json":
                    payload = json.loads(data.decode())
                elif name.startswith("files["):
                    index = int(name[6:-1])
                    filename = part.filename or f"file{index}"
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files.append((index, filename, bytes(data), content_type))
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode(errors="replace"), files

    def _bucket_limits(self, route: _Route) -> tuple[int, float]:
        if not self._enforce:
            return (1000, 1.0)
        if route.bucket_kind == "messages":
            return self._per_channel
        return self._default_route

    def _rate_headers(self, route: _Route, bucket: _Bucket, now: float) -> dict[str, str]:
        reset_after = bucket.reset_after(now)
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.remaining)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": route.bucket_hash,
        }

    def _too_many(
        self, retry_after: float, *, is_global: bool, scope: str, extra: dict[str, str]
    ) -> web.Response:
        self.count_429 += 1
        headers = {
            **extra,
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": RATE_LIMIT_BODY_MESSAGE,
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        self._notify()
        return self._json_response(429, body, headers)

    def _injected(self, method: str, path: str) -> web.Response | None:
        for injection in self._injections:
            if injection.method not in ("*", method) or not injection.pattern.search(path):
                continue
            injection.count -= 1
            if injection.count <= 0:
                self._injections.remove(injection)
            status = injection.status
            if status == 429:
                self.count_429_injected += 1
                retry_after = injection.retry_after if injection.retry_after is not None else 0.1
                if injection.body is not None:
                    self.count_429 += 1
                    headers = {
                        "Via": "1.1 google",
                        "Retry-After": str(max(1, math.ceil(retry_after))),
                        "X-RateLimit-Scope": injection.scope,
                    }
                    return self._json_response(429, injection.body, headers)
                return self._too_many(
                    retry_after,
                    is_global=injection.scope == "global",
                    scope=injection.scope,
                    extra={},
                )
            if status == 502 and injection.body is None:
                return web.Response(
                    status=502,
                    body=b"<html><head><title>502 Bad Gateway</title></head></html>",
                    headers={"Content-Type": "text/html"},
                )
            body = injection.body
            if body is None:
                body = {
                    403: {"message": "Missing Permissions", "code": 50013},
                    404: {"message": "404: Not Found", "code": 0},
                    500: {"message": "500: Internal Server Error", "code": 0},
                    503: {"message": "503: Service Unavailable", "code": 0},
                }.get(status, {"message": f"{status}: Error", "code": 0})
            return self._json_response(status, body)
        return None

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        self.requests.append((method, path, body))
        self._notify()
        if self._delay:
            await asyncio.sleep(self._delay)
        if self._down:
            return web.Response(
                status=502,
                body=b"<html><head><title>502 Bad Gateway</title></head></html>",
                headers={"Content-Type": "text/html"},
            )
        injected = self._injected(method, path)
        if injected is not None:
            return injected
        route: _Route | None = None
        match: re.Match[str] | None = None
        for candidate in self._routes:
            if candidate.method == method:
                match = candidate.pattern.match(path)
                if match:
                    route = candidate
                    break
        if route is None or match is None:
            return self._json_response(404, {"message": "404: Not Found", "code": 0})
        if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._json_response(401, {"message": "401: Unauthorized", "code": 0})
        loop_now = asyncio.get_running_loop().time()
        if self._enforce and not route.global_exempt:
            if self._global_bucket is None:
                self._global_bucket = _Bucket(self._global_per_sec, 1.0)
            if not self._global_bucket.take(loop_now):
                self.count_429_global += 1
                retry = max(0.001, self._global_bucket.reset_after(loop_now))
                return self._too_many(retry, is_global=True, scope="global", extra={})
        params = match.groupdict()
        major = (
            params.get("channel_id")
            or params.get("guild_id")
            or (params.get("webhook_id", "") + params.get("webhook_token", ""))
        )
        key = (route.bucket_hash, major)
        bucket = self._buckets.get(key)
        limit, window = self._bucket_limits(route)
        if bucket is None or (bucket.limit, bucket.window) != (limit, window):
            bucket = self._buckets[key] = _Bucket(limit, window)
        allowed = bucket.take(loop_now)
        headers = self._rate_headers(route, bucket, loop_now)
        if not allowed and self._enforce:
            self.count_429_route += 1
            return self._too_many(
                bucket.reset_after(loop_now), is_global=False, scope="user", extra=headers
            )
        req = _Request(
            method=method,
            path=path,
            params=params,
            query=dict(request.query),
            json=body,
            files=files,
        )
        hold = self._slow_answer(method, path)
        try:
            result = await route.handler(req)
        except ApiError as exc:
            if hold:
                await asyncio.sleep(hold)
            return self._json_response(exc.status, exc.body(), headers)
        if hold:
            await asyncio.sleep(hold)
        if isinstance(result, _Result):
            return self._json_response(result.status, result.body, headers)
        return self._json_response(200, result, headers)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        aid = _as_int(request.match_info["attachment_id"])
        if aid is None or aid not in self._files:
            return web.Response(status=404)
        _name, data, ctype = self._files[aid]
        return web.Response(body=data, headers={"Content-Type": ctype})

    # ------------------------------------------------------------------ REST handlers

    def _json_body(self, req: _Request) -> JSON:
        if req.json is None:
            return {}
        if not isinstance(req.json, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return req.json

    async def _r_me(self, req: _Request) -> JSON:
        return self.user

    async def _r_user(self, req: _Request) -> JSON:
        user = self.users.get(int(req.params["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return user

    async def _r_app(self, req: _Request) -> JSON:
        return self._application_payload()

    async def _r_gateway(self, req: _Request) -> JSON:
        return {"url": self.gateway_url}

    async def _r_gateway_bot(self, req: _Request) -> JSON:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000 - self.identify_count,
                "reset_after": 86400000,
                "max_concurrency": 1,
            },
        }

    def _guild_or_404(self, guild_id: int) -> _Guild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _r_guild(self, req: _Request) -> JSON:
        guild = self._guild_or_404(int(req.params["guild_id"]))
        return self._guild_payload(guild)

    async def _r_guild_channels(self, req: _Request) -> list[JSON]:
        gid = req.params["guild_id"]
        self._guild_or_404(int(gid))
        return [
            c
            for cid, c in self.channels.items()
            if c.get("guild_id") == gid
            and int(c["type"]) not in THREAD_TYPES
            and cid not in self.deleted_channels
        ]

    async def _r_active_threads(self, req: _Request) -> JSON:
        gid = req.params["guild_id"]
        self._guild_or_404(int(gid))
        threads = [
            t
            for tid, t in self.threads.items()
            if t["guild_id"] == gid
            and tid not in self.deleted_channels
            and not t["thread_metadata"]["archived"]
        ]
        return {"threads": threads, "members": []}

    async def _r_member(self, req: _Request) -> JSON:
        guild = self._guild_or_404(int(req.params["guild_id"]))
        uid = int(req.params["user_id"])
        if uid not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return self._member_payload(guild, uid)

    async def _r_get_channel(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        self._require(self.bot_id, cid, VIEW_CHANNEL)
        return channel

    async def _r_patch_channel(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        body = self._json_body(req)
        perms = self._require(self.bot_id, cid, 0)
        errors: JSON = {}
        if "name" in body and not 1 <= len(str(body["name"] or "")) <= 100:
            errors["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if errors:
            raise _form_error(errors)
        if int(channel["type"]) in THREAD_TYPES:
            is_owner = channel["owner_id"] == str(self.bot_id)
            manage = bool(perms & MANAGE_THREADS)
            if "locked" in body and not manage:
                raise _missing_permissions()
            if not (is_owner or manage):
                raise _missing_permissions()
            meta = channel["thread_metadata"]
            if meta.get("locked") and not manage:
                raise _missing_permissions()
            if "name" in body:
                channel["name"] = body["name"]
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body and body[key] is not None:
                    meta[key] = body[key]
            if "archived" in body:
                meta["archive_timestamp"] = _now_iso()
            if "applied_tags" in body:
                channel["applied_tags"] = [str(t) for t in body["applied_tags"] or []]
            if "rate_limit_per_user" in body and body["rate_limit_per_user"] is not None:
                channel["rate_limit_per_user"] = body["rate_limit_per_user"]
            self._notify()
            await self._dispatch("THREAD_UPDATE", channel, INTENT_GUILDS)
            return channel
        if not perms & MANAGE_CHANNELS:
            raise _missing_permissions()
        for key in ("name", "topic", "nsfw", "rate_limit_per_user", "position", "parent_id"):
            if key in body:
                channel[key] = body[key]
        if "permission_overwrites" in body:
            channel["permission_overwrites"] = body["permission_overwrites"]
        self._notify()
        await self._dispatch("CHANNEL_UPDATE", channel, INTENT_GUILDS)
        return channel

    async def _r_delete_channel(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        needed = MANAGE_THREADS if int(channel["type"]) in THREAD_TYPES else MANAGE_CHANNELS
        self._require(self.bot_id, cid, needed)
        self.delete_channel(cid)
        return channel

    async def _r_typing(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        self._require_send(self.bot_id, channel)
        return _Result(204)

    async def _r_create_message(self, req: _Request) -> Any:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        body = self._json_body(req)
        perms = self._require_send(self.bot_id, channel)
        if req.files and not perms & ATTACH_FILES:
            raise _missing_permissions()
        self._validate_message(body, creating=True)
        nonce = body.get("nonce")
        loop_now = asyncio.get_running_loop().time()
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get((cid, str(nonce)))
            if seen is not None and loop_now - seen[1] <= self.nonce_window:
                existing = self._all_messages.get(seen[0])
                if existing is not None and not existing.get("_deleted"):
                    return self._out_message(existing, include_nonce=True)
        msg, pings = self._new_message(
            channel=channel, author_id=self.bot_id, body=body, files=req.files
        )
        if nonce is not None:
            msg["_nonce"] = nonce
            self._nonces[(cid, str(nonce))] = (int(msg["id"]), loop_now)
        self._record_bot_message(msg, pings)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return self._out_message(msg, include_nonce=True)

    async def _r_history(self, req: _Request) -> list[JSON]:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        limit = _as_int(req.query.get("limit", "50"))
        if limit is None or not 1 <= limit <= 100:
            raise _form_error({"limit": _err("NUMBER_TYPE_MAX", "Int value should be <= 100.")})
        if not perms & READ_MESSAGE_HISTORY:
            return []  # Discord answers an empty list, not an error.
        msgs = self.messages(cid)
        before = _as_int(req.query.get("before"))
        after = _as_int(req.query.get("after"))
        around = _as_int(req.query.get("around"))
        if around is not None:
            older = [m for m in msgs if int(m["id"]) < around]
            newer = [m for m in msgs if int(m["id"]) >= around]
            half = limit // 2
            selected = older[len(older) - half :] if half else []
            selected += newer[: limit - len(selected)]
        elif before is not None:
            selected = [m for m in msgs if int(m["id"]) < before][-limit:]
        elif after is not None:
            selected = [m for m in msgs if int(m["id"]) > after][:limit]
        else:
            selected = msgs[-limit:]
        return [self._out_message(m) for m in reversed(selected)]

    async def _r_get_message(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        if not perms & READ_MESSAGE_HISTORY:
            raise _missing_access()
        return self._out_message(self._message_or_404(cid, int(req.params["message_id"])))

    async def _r_edit_message(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        self._require(self.bot_id, cid, 0)
        msg = self._message_or_404(cid, int(req.params["message_id"]))
        body = self._json_body(req)
        if msg["_author_id"] != self.bot_id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(msg, body, req.files)
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._out_message(msg)

    async def _r_delete_message(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        msg = self._message_or_404(cid, int(req.params["message_id"]))
        if msg["_author_id"] != self.bot_id and not perms & MANAGE_MESSAGES:
            raise _missing_permissions()
        self._delete_message_state(msg)
        event = {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg["guild_id"]}
        await self._dispatch("MESSAGE_DELETE", event, INTENT_GUILD_MESSAGES)
        return _Result(204)

    async def _r_crosspost(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        msg = self._message_or_404(cid, int(req.params["message_id"]))
        if int(channel["type"]) != GUILD_ANNOUNCEMENT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        needed = SEND_MESSAGES if msg["_author_id"] == self.bot_id else MANAGE_MESSAGES
        if needed & ~perms:
            raise _missing_permissions()
        if msg["flags"] & FLAG_CROSSPOSTED:
            raise ApiError(400, 40033, "This message has already been crossposted.")
        msg["flags"] |= FLAG_CROSSPOSTED
        self.crossposted.add(int(msg["id"]))
        self._notify()
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._out_message(msg)

    def _validate_thread_body(self, body: JSON) -> tuple[str, int]:
        errors: JSON = {}
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        duration = body.get("auto_archive_duration") or 1440
        if duration not in (60, 1440, 4320, 10080):
            errors["auto_archive_duration"] = _err(
                "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."
            )
        if errors:
            raise _form_error(errors)
        return str(name), int(duration)

    async def _r_thread_from_message(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        mid = int(req.params["message_id"])
        ctype = int(channel["type"])
        if ctype not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(self.bot_id, cid, CREATE_PUBLIC_THREADS)
        msg = self._message_or_404(cid, mid)
        body = self._json_body(req)
        name, duration = self._validate_thread_body(body)
        if msg.get("_thread_id") is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        ttype = ANNOUNCEMENT_THREAD if ctype == GUILD_ANNOUNCEMENT else PUBLIC_THREAD
        thread = self._thread_payload(
            mid,
            int(channel["guild_id"]),
            cid,
            name,
            ttype,
            self.bot_id,
            auto_archive_duration=duration,
            rate_limit_per_user=body.get("rate_limit_per_user") or 0,
        )
        self.channels[mid] = thread
        self.threads[mid] = thread
        self._store[mid] = {}
        msg["_thread_id"] = mid
        msg["flags"] |= FLAG_HAS_THREAD
        self._notify()
        await self._dispatch_thread_create(thread)
        return thread

    async def _r_create_thread(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        body = self._json_body(req)
        ctype = int(channel["type"])
        gid = int(channel["guild_id"])
        if ctype in (GUILD_FORUM, GUILD_MEDIA):
            return await self._create_forum_post(channel, body, req.files)
        if ctype not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        name, duration = self._validate_thread_body(body)
        ttype = body.get("type", PRIVATE_THREAD)
        if ctype == GUILD_ANNOUNCEMENT:
            ttype = ANNOUNCEMENT_THREAD
        if ttype not in THREAD_TYPES:
            raise _form_error({"type": _err("BASE_TYPE_CHOICES", "Value must be 10, 11 or 12.")})
        needed = CREATE_PRIVATE_THREADS if ttype == PRIVATE_THREAD else CREATE_PUBLIC_THREADS
        self._require(self.bot_id, cid, needed)
        tid = self.new_id()
        thread = self._thread_payload(
            tid,
            gid,
            cid,
            name,
            ttype,
            self.bot_id,
            auto_archive_duration=duration,
            rate_limit_per_user=body.get("rate_limit_per_user") or 0,
        )
        self.channels[tid] = thread
        self.threads[tid] = thread
        self._store[tid] = {}
        await self._dispatch_thread_create(thread)
        if ttype != PRIVATE_THREAD:
            # Discord posts a "started a thread" system message in the parent.
            system, _ = self._new_message(
                channel=channel,
                author_id=self.bot_id,
                body={"content": name},
                msg_type=MSG_THREAD_CREATED,
            )
            system["message_reference"] = {"channel_id": str(tid), "guild_id": str(gid)}
            system["_thread_id"] = tid
            await self._dispatch_message("MESSAGE_CREATE", system)
        self._notify()
        return thread

    async def _create_forum_post(
        self, forum: JSON, body: JSON, files: list[tuple[int, str, bytes, str]]
    ) -> JSON:
        fid = int(forum["id"])
        perms = self._require(self.bot_id, fid, SEND_MESSAGES)
        if files and not perms & ATTACH_FILES:
            raise _missing_permissions()
        name, duration = self._validate_thread_body(body)
        message_body = body.get("message")
        if not isinstance(message_body, dict):
            raise _form_error({"message": _err("BASE_TYPE_REQUIRED", "This field is required")})
        try:
            self._validate_message(message_body, creating=True)
        except ApiError as exc:
            raise _form_error({"message": exc.errors or {}}) from None
        tags = [str(t) for t in body.get("applied_tags") or []]
        known = {t["id"] for t in forum.get("available_tags", [])}
        if len(tags) > 5 or any(t not in known for t in tags):
            raise _form_error({"applied_tags": _err("INVALID_TAG", "Unknown forum tag.")})
        if forum.get("flags", 0) & (1 << 4) and not tags:
            raise ApiError(400, 40067, "A tag is required to create a forum post in this channel")
        tid = self.new_id()
        thread = self._thread_payload(
            tid,
            int(forum["guild_id"]),
            fid,
            name,
            PUBLIC_THREAD,
            self.bot_id,
            auto_archive_duration=duration,
            applied_tags=tags,
            rate_limit_per_user=body.get("rate_limit_per_user") or 0,
        )
        self.channels[tid] = thread
        self.threads[tid] = thread
        self._store[tid] = {}
        try:
            msg, pings = self._new_message(
                channel=thread,
                author_id=self.bot_id,
                body=message_body,
                files=files,
                message_id=tid,
                extra={"position": 0},
            )
        except ApiError:
            del self.channels[tid], self.threads[tid], self._store[tid]
            raise
        self._record_bot_message(msg, pings)
        await self._dispatch_thread_create(thread)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return {**thread, "message": self._out_message(msg)}

    async def _r_add_reaction(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        self._require(self.bot_id, cid, READ_MESSAGE_HISTORY | ADD_REACTIONS)
        mid = int(req.params["message_id"])
        self._message_or_404(cid, mid)
        self.reactions.append(("add", cid, mid, req.params["emoji"]))
        self._notify()
        return _Result(204)

    async def _r_remove_reaction(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        mid = int(req.params["message_id"])
        self._message_or_404(cid, mid)
        self.reactions.append(("remove", cid, mid, req.params["emoji"]))
        return _Result(204)

    async def _r_join_thread(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        if int(channel["type"]) not in THREAD_TYPES:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(self.bot_id, cid, 0)
        return _Result(204)

    # ------------------------------------------------------------------ application commands

    def _command_scope(self, req: _Request) -> tuple[dict[int, JSON], int | None]:
        if int(req.params["application_id"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        gid = req.params.get("guild_id")
        if gid is None:
            return self.global_commands, None
        guild = self.guilds.get(int(gid))
        if guild is None:
            raise ApiError(403, 50001, "Missing Access")
        return self.guild_commands.setdefault(int(gid), {}), int(gid)

    def _validate_command(self, data: Any, index: int | None) -> JSON:
        errors: JSON = {}
        if not isinstance(data, dict):
            raise _form_error({str(index or 0): _err("DICT_TYPE_CONVERT", "Only dictionaries.")})
        ctype = data.get("type", 1)
        name = data.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 32:
            errors["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        elif ctype == 1 and (not _COMMAND_NAME_RE.match(name) or name != name.lower()):
            errors["name"] = _err("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        description = data.get("description") or ""
        if ctype == 1 and not 1 <= len(description) <= 100:
            errors["description"] = _err(
                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        options = data.get("options") or []
        if len(options) > 25:
            errors["options"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        seen_optional = False
        for i, opt in enumerate(options):
            if opt.get("type") in (1, 2):
                continue
            if opt.get("required"):
                if seen_optional:
                    errors.setdefault("options", {})[str(i)] = _err(
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
        if errors:
            raise _form_error({str(index): errors} if index is not None else errors)
        return data

    def _command_payload(self, data: JSON, guild_id: int | None, cmd_id: int) -> JSON:
        cmd: JSON = {
            "id": str(cmd_id),
            "application_id": str(self.application_id),
            "version": str(self.new_id()),
            "type": data.get("type", 1),
            "name": data["name"],
            "description": data.get("description") or "",
            "options": data.get("options") or [],
            "default_member_permissions": data.get("default_member_permissions"),
            "dm_permission": data.get("dm_permission", True),
            "nsfw": bool(data.get("nsfw", False)),
            "contexts": data.get("contexts"),
            "integration_types": data.get("integration_types") or [0],
            "name_localizations": data.get("name_localizations"),
            "description_localizations": data.get("description_localizations"),
        }
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    async def _r_get_commands(self, req: _Request) -> list[JSON]:
        scope, _gid = self._command_scope(req)
        return list(scope.values())

    async def _r_put_commands(self, req: _Request) -> list[JSON]:
        scope, gid = self._command_scope(req)
        body = req.json if isinstance(req.json, list) else None
        if body is None:
            raise _form_error({"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "List."}]})
        if len(body) > 100:
            raise _form_error(_err("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
        validated = [self._validate_command(d, i) for i, d in enumerate(body)]
        keys = [(d["name"], d.get("type", 1)) for d in validated]
        if len(set(keys)) != len(keys):
            raise _form_error(
                _err(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            )
        existing = {(c["name"], c["type"]): int(c["id"]) for c in scope.values()}
        scope.clear()
        for data in validated:
            cmd_id = existing.get((data["name"], data.get("type", 1))) or self.new_id()
            scope[cmd_id] = self._command_payload(data, gid, cmd_id)
        self._notify()
        return list(scope.values())

    async def _r_post_command(self, req: _Request) -> _Result:
        scope, gid = self._command_scope(req)
        data = self._validate_command(req.json, None)
        key = (data["name"], data.get("type", 1))
        for cmd_id, cmd in scope.items():
            if (cmd["name"], cmd["type"]) == key:
                scope[cmd_id] = self._command_payload(data, gid, cmd_id)
                self._notify()
                return _Result(200, scope[cmd_id])
        cmd_id = self.new_id()
        scope[cmd_id] = self._command_payload(data, gid, cmd_id)
        self._notify()
        return _Result(201, scope[cmd_id])

    async def _r_get_command(self, req: _Request) -> JSON:
        scope, _gid = self._command_scope(req)
        cmd = scope.get(int(req.params["command_id"]))
        if cmd is None:
            raise ApiError(404, 10063, "Unknown application command")
        return cmd

    async def _r_delete_command(self, req: _Request) -> _Result:
        scope, _gid = self._command_scope(req)
        if scope.pop(int(req.params["command_id"]), None) is None:
            raise ApiError(404, 10063, "Unknown application command")
        self._notify()
        return _Result(204)

    # ------------------------------------------------------------------ interactions

    def _interaction_message(
        self,
        inter: _Interaction,
        body: JSON,
        files: list[tuple[int, str, bytes, str]],
        *,
        loading: bool = False,
    ) -> tuple[JSON, list[str]]:
        channel = self._channel_or_404(inter.channel_id)
        user = self.users[inter.user_id]
        metadata: JSON = {
            "id": str(inter.id),
            "type": inter.type,
            "user": user,
            "authorizing_integration_owners": {"0": str(inter.guild_id)},
        }
        if inter.name:
            metadata["name"] = inter.name
        extra: JSON = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": metadata,
            "interaction": {
                "id": str(inter.id),
                "type": inter.type,
                "name": inter.name or "",
                "user": user,
            },
        }
        if inter.type == 2:
            msg_type = (
                MSG_CHAT_INPUT_COMMAND if inter.command_type == 1 else MSG_CONTEXT_MENU_COMMAND
            )
        else:
            msg_type = MSG_DEFAULT
        if loading:
            msg, _ = self._new_message(
                channel=channel,
                author_id=self.bot_id,
                body={"content": "", "flags": int(body.get("flags") or 0) & FLAG_EPHEMERAL},
                msg_type=msg_type,
                extra=extra,
                allowed_flags=FLAG_EPHEMERAL,
                allow_empty=True,
            )
            msg["flags"] |= FLAG_LOADING
            return msg, []
        self._validate_message(body, creating=True)
        return self._new_message(
            channel=channel,
            author_id=self.bot_id,
            body=body,
            files=files,
            msg_type=msg_type,
            extra=extra,
            allowed_flags=INTERACTION_MESSAGE_FLAGS,
        )

    def _interaction_by_token(self, app_id: str, token: str) -> _Interaction:
        if int(app_id) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        for inter in self.interactions.values():
            if inter.token == token:
                loop_now = asyncio.get_running_loop().time()
                if loop_now - inter.created > 15 * 60:
                    raise ApiError(401, 50027, "Invalid Webhook Token")
                if not inter.responded:
                    raise ApiError(404, 10015, "Unknown Webhook")
                return inter
        raise ApiError(404, 10015, "Unknown Webhook")

    async def _r_interaction_callback(self, req: _Request) -> Any:
        iid = int(req.params["webhook_id"])
        inter = self.interactions.get(iid)
        if inter is None or inter.token != req.params["webhook_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        loop_now = asyncio.get_running_loop().time()
        if inter.responded:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if loop_now - inter.created > self.interaction_timeout:
            raise ApiError(404, 10062, "Unknown interaction")
        body = self._json_body(req)
        rtype = body.get("type")
        data = body.get("data") or {}
        allowed = {
            2: (4, 5, 9),
            3: (4, 5, 6, 7, 9),
            4: (8,),
            5: (4, 5, 6, 7) if inter.message_id is not None else (4, 5),
        }.get(inter.type, (1,))
        if rtype not in allowed:
            raise _form_error(
                {"type": _err("INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")}
            )
        resource: JSON | None = {"type": rtype}
        message: JSON | None = None
        if rtype == 4:
            message, pings = self._interaction_message(inter, data, req.files)
            inter.original_message_id = int(message["id"])
            self._record_bot_message(message, pings)
        elif rtype == 5:
            message, _ = self._interaction_message(inter, data, [], loading=True)
            inter.original_message_id = int(message["id"])
            self._record_bot_message(message, [])
        elif rtype in (6, 7):
            target = self._all_messages.get(inter.message_id or 0)
            if target is None:
                raise _unknown_message()
            inter.original_message_id = int(target["id"])
            if rtype == 7:
                self._apply_edit(target, data, req.files)
                message = target
            else:
                resource = None
        elif rtype == 8:
            choices = data.get("choices")
            errors: JSON = {}
            if not isinstance(choices, list) or len(choices) > 25:
                errors["choices"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            else:
                for i, choice in enumerate(choices):
                    name = str(choice.get("name") or "")
                    value = choice.get("value")
                    if not 1 <= len(name) <= 100 or (isinstance(value, str) and len(value) > 100):
                        errors.setdefault("choices", {})[str(i)] = _err(
                            "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                        )
            if errors:
                raise _form_error({"data": errors})
            resource = None
        elif rtype == 9:
            errors = {}
            if not data.get("custom_id"):
                errors["custom_id"] = _err("BASE_TYPE_REQUIRED", "This field is required")
            if not 1 <= len(str(data.get("title") or "")) <= 45:
                errors["title"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45.")
            if not 1 <= len(data.get("components") or []) <= 5:
                errors["components"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5.")
            if errors:
                raise _form_error({"data": errors})
            self.modals.append((iid, data))
        inter.responded = True
        inter.responded_at = loop_now
        inter.response_type = rtype
        self.interaction_responses[iid] = {"type": rtype, "data": data}
        self._notify()
        if message is not None:
            event = "MESSAGE_UPDATE" if rtype == 7 else "MESSAGE_CREATE"
            await self._dispatch_message(event, message)
        if req.query.get("with_response") not in ("1", "true", "True"):
            return _Result(204)
        info: JSON = {"id": str(iid), "type": inter.type}
        if message is not None:
            info["response_message_id"] = message["id"]
            info["response_message_loading"] = bool(message["flags"] & FLAG_LOADING)
            info["response_message_ephemeral"] = bool(message["flags"] & FLAG_EPHEMERAL)
        result: JSON = {"interaction": info}
        if resource is not None:
            if message is not None:
                resource["message"] = self._out_message(message)
            result["resource"] = resource
        return result

    def _webhook_target(self, inter: _Interaction, target: str) -> JSON:
        if target == "@original":
            if inter.original_message_id is None:
                raise _unknown_message()
            mid = inter.original_message_id
        else:
            mid = int(target)
            if mid not in inter.followup_ids and mid != inter.original_message_id:
                raise _unknown_message()
        msg = self._all_messages.get(mid)
        if msg is None or msg.get("_deleted"):
            raise _unknown_message()
        return msg

    async def _r_webhook_execute(self, req: _Request) -> Any:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        body = self._json_body(req)
        loading = self._all_messages.get(inter.original_message_id or 0)
        if (
            inter.response_type == 5
            and not inter.followup_ids
            and loading is not None
            and loading["flags"] & FLAG_LOADING
        ):
            # Discord: the first follow-up to a deferred answer takes the place of "thinking"
            # (its ephemeral flag ignored for the acknowledgement's).
            await self._r_webhook_edit(
                dataclasses.replace(req, params={**req.params, "target": "@original"})
            )
            inter.followup_ids.append(int(loading["id"]))
            self.followups.setdefault(inter.id, []).append(loading)
            if req.query.get("wait") in ("1", "true", "True"):
                return self._out_message(loading)
            return _Result(204)
        message, pings = self._interaction_message(inter, body, req.files)
        inter.followup_ids.append(int(message["id"]))
        self.followups.setdefault(inter.id, []).append(message)
        self._record_bot_message(message, pings)
        await self._dispatch_message("MESSAGE_CREATE", message)
        if req.query.get("wait") in ("1", "true", "True"):
            return self._out_message(message)
        return _Result(204)

    async def _r_webhook_get(self, req: _Request) -> JSON:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        return self._out_message(self._webhook_target(inter, req.params["target"]))

    async def _r_webhook_edit(self, req: _Request) -> JSON:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        msg = self._webhook_target(inter, req.params["target"])
        was_loading = bool(msg["flags"] & FLAG_LOADING)
        self._apply_edit(msg, self._json_body(req), req.files)
        if was_loading:
            # The deferred answer now becomes a real message: it may ping now.
            pings = self._compute_mentions(
                msg, self.bot_id, int(msg["channel_id"]), msg.get("_allowed_mentions"), None
            )
            if not msg["flags"] & FLAG_SUPPRESS_NOTIFICATIONS:
                self.pings.extend((int(msg["id"]), p) for p in pings)
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._out_message(msg)

    async def _r_webhook_delete(self, req: _Request) -> _Result:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        msg = self._webhook_target(inter, req.params["target"])
        self._delete_message_state(msg)
        if not msg["flags"] & FLAG_EPHEMERAL:
            event = {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg["guild_id"]}
            await self._dispatch("MESSAGE_DELETE", event, INTENT_GUILD_MESSAGES)
        return _Result(204)

    # ------------------------------------------------------------------ control API

    async def _control_json(self, request: web.Request) -> JSON:
        try:
            data = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return data

    async def _control_call(self, coro: Awaitable[Any]) -> web.Response:
        try:
            result = await coro
        except (ValueError, KeyError, PermissionError, ApiError) as exc:
            return self._json_response(400, {"error": str(exc)})
        return self._json_response(200, result if result is not None else {})

    async def _control_state(self, request: web.Request) -> web.Response:
        state = {
            "bot_id": str(self.bot_id),
            "application_id": str(self.application_id),
            "api_url": self.api_url,
            "gateway_url": self.gateway_url,
            "connected": self.connected,
            "guilds": [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "owner_id": str(g.owner_id),
                    "members": [
                        {"id": str(uid), "name": self.users[uid]["username"]} for uid in g.members
                    ],
                    "channels": [
                        {"id": c["id"], "name": c["name"], "type": c["type"]}
                        for cid, c in self.channels.items()
                        if c.get("guild_id") == str(g.id) and cid not in self.deleted_channels
                    ],
                }
                for g in self.guilds.values()
            ],
            "commands": self.commands,
        }
        return self._json_response(200, state)

    async def _control_message(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        reply_to = _as_int(data.get("reply_to"))
        return await self._control_call(
            self.user_message(
                int(data["channel_id"]),
                int(data["author_id"]),
                str(data["content"]),
                reply_to=reply_to,
            )
        )

    async def _control_edit(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        return await self._control_call(
            self.user_edit(int(data["channel_id"]), int(data["message_id"]), str(data["content"]))
        )

    async def _control_delete(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        return await self._control_call(
            self.user_delete(int(data["channel_id"]), int(data["message_id"]))
        )

    async def _control_slash(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        guild_id = _as_int(data.get("guild_id"))
        channel_id = int(data["channel_id"])
        if guild_id is None:
            guild_id = int(self.channels[channel_id]["guild_id"])
        return await self._control_call(
            self.slash_command(
                guild_id,
                channel_id,
                int(data["user_id"]),
                str(data["name"]),
                dict(data.get("options") or {}),
                command_type=int(data.get("command_type", 1)),
                target_id=_as_int(data.get("target_id")),
            )
        )

    async def _control_messages(self, request: web.Request) -> web.Response:
        cid = _as_int(request.query.get("channel_id"))
        if cid is None or cid not in self.channels:
            return self._json_response(400, {"error": "unknown channel_id"})
        return self._json_response(200, self.messages(cid))

    async def _control_interactions(self, request: web.Request) -> web.Response:
        return self._json_response(
            200,
            {
                "responses": {str(k): v for k, v in self.interaction_responses.items()},
                "followups": {str(k): v for k, v in self.followups.items()},
            },
        )


def _set_nested(target: JSON, path: list[str], value: JSON) -> None:
    node = target
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


@contextlib.contextmanager
def point_discord_py_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base URL and default gateway at ``fake``; restore on exit.

    ``Route.BASE`` is read whenever a Route is built and ``DEFAULT_GATEWAY`` on every (re)connect,
    so keep this active for the whole life of the client."""
    import yarl

    with warnings.catch_warnings():
        # discord.py imports the deprecated audioop module (Python 3.11-3.12).
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord.gateway
        import discord.http

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@dataclass
class DemoWorld:
    guild_id: int
    text_channel_id: int
    announcement_channel_id: int
    forum_channel_id: int
    admin_id: int
    user_id: int


def build_demo(fake: FakeDiscord) -> DemoWorld:
    """A guild with a text, an announcement and a forum channel, an admin and a normal user."""
    admin_id = fake.add_user(fake.new_id(), "admin")
    user_id = fake.add_user(fake.new_id(), "reader")
    gid = fake.add_guild("Newsroom", owner_id=admin_id)
    admin_role = fake.add_role(gid, "admin", ADMINISTRATOR)
    fake.add_member(gid, admin_id, "admin", roles=[admin_role])
    fake.add_member(gid, user_id, "reader")
    text = fake.add_channel(gid, "news", GUILD_TEXT)
    announcements = fake.add_channel(gid, "announcements", GUILD_ANNOUNCEMENT)
    forum = fake.add_channel(gid, "discussions", GUILD_FORUM, tags=["article", "meta"])
    return DemoWorld(gid, text, announcements, forum, admin_id, user_id)


async def _serve(host: str, port: int, token: str) -> None:
    fake = FakeDiscord(token=token, host=host, port=port)
    world = build_demo(fake)
    await fake.start()
    lines = [
        f"fake Discord on {fake.base_url}",
        f"  REST:    discord.http.Route.BASE = {fake.api_url!r}",
        f"  gateway: DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL({fake.gateway_url!r})",
        f"  token {token!r}, bot id {fake.bot_id}, application id {fake.application_id}",
        f"  guild {world.guild_id}: news {world.text_channel_id},"
        f" announcements {world.announcement_channel_id}, discussions {world.forum_channel_id}",
        f"  admin user {world.admin_id}, normal user {world.user_id}",
        f"  control API: {fake.base_url}/_control/state (see the module docstring)",
    ]
    print("\n".join(lines), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Discord API + gateway.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--token", default="fake-token")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
