"""The fake's state (users, guilds, channels, messages, sessions), what tests inspect and the payloads built from it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .limits import _Bucket  # a type only: limits.py builds on this module

from .wire import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    API_VERSION,
    FLAG_LOADING,
    INTENT_GUILD_MEMBERS,
    JSON,
    PRIVATE_THREAD,
    THREAD_TYPES,
    VIEW_CHANNEL,
    SnowflakeGenerator,
    _now_iso,
    _public,
)


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    bot_role_id: int
    joined_at: str
    roles: dict[int, JSON] = field(default_factory=dict)
    members: dict[int, JSON] = field(default_factory=dict)
    preferred_locale: str = "en-US"  # a community server's language (guild_locale)


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


class World:
    """The state of the fake Discord, what tests inspect in it, and its payloads."""

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
        # When each member last wrote in each channel, for slowmode (users.Users._slowmode).
        self.slowmode_sent: dict[tuple[int, int], float] = {}
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

        self.user = self._make_user(bot_id, bot_name, bot=True)
        self.user.update({"verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"})
        self.users[bot_id] = self.user

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

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
