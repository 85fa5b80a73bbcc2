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
* Slowmode: a channel's or thread's ``rate_limit_per_user`` (set on create or PATCH) lets a
  member post one message per that many seconds (``user_message``); a second one sooner gets
  ``SlowmodeLimited`` (429, code 20016, ``retry_after``). Bots and members with Manage
  Messages, Manage Channels or (in threads) Manage Threads are not slowed.
  ``slowmode_passes(seconds)`` lets the time pass without waiting.
* Gateway: HELLO, HEARTBEAT -> HEARTBEAT_ACK, IDENTIFY -> READY (+ one GUILD_CREATE per guild),
  RESUME (replays missed dispatches, then RESUMED; unknown session -> INVALID_SESSION false),
  REQUEST_GUILD_MEMBERS -> GUILD_MEMBERS_CHUNK. Frames are plain JSON text (discord.py asks for
  zlib-stream but parses text frames as JSON). A session whose socket closed with 1000/1001 is
  invalidated (that is what discord.py's ``close()`` sends); other closes keep it resumable for
  ``resume_window`` seconds, buffering dispatches. With no session at all, simulated user
  messages are stored (for a backfill through GET history) but not dispatched.

* Reactions (``user_reacts``, ``user_unreacts``, ``moderator_clears``): the permissions
  Discord asks (READ_MESSAGE_HISTORY, ADD_REACTIONS for a new emoji, MANAGE_MESSAGES to clear),
  20 distinct emoji per message, MESSAGE_REACTION_ADD/REMOVE/REMOVE_ALL/REMOVE_EMOJI only to
  sessions with the GUILD_MESSAGE_REACTIONS intent, and ``reactions`` counts on messages.

DMs: ``POST /users/@me/channels`` opens a DM channel; the bot's message there is refused
(403 50007) to a user sharing no guild with it or who closed DMs (``close_dms``); sent DMs
are in ``dms[user_id]``.

What it does not do: voice, DMs from users, custom emoji reactions, burst reactions,
pins, webhooks other than interaction webhooks, private-thread membership rules, audit logs,
heartbeat timeouts (the fake never drops a silent client), sharding (every session gets every
guild), Cloudflare's invalid-request ban, per-resource sub-limits (crossposts 10/hour, thread
creation), embed URL validation, attachment size limits, component validation beyond looking up
a pressed ``custom_id``. Archived threads are unarchived by a send; only members with
MANAGE_THREADS may send into a locked thread, archived or not (others get 403 50013). Starting a thread without a message in a text
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

from .demo import DemoWorld, build_demo, main
from .limits import RATE_LIMIT_BODY_MESSAGE
from .limits import _Bucket as _Bucket
from .messages import ATTACHMENT_SIZE_LIMIT
from .server import FakeDiscord, point_discord_py_at
from .wire import (
    ADD_REACTIONS,
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ANNOUNCEMENT_THREAD,
    API_VERSION,
    ATTACH_FILES,
    CHANNEL_MESSAGE_FLAGS,
    CREATE_INSTANT_INVITE,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DISCORD_EPOCH_MS,
    EMBED_LINKS,
    FLAG_COMPONENTS_V2,
    FLAG_CROSSPOSTED,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    GUILD_ANNOUNCEMENT,
    GUILD_CATEGORY,
    GUILD_FORUM,
    GUILD_MEDIA,
    GUILD_TEXT,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILD_PRESENCES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    INTERACTION_MESSAGE_FLAGS,
    JSON,
    MANAGE_CHANNELS,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    MENTION_EVERYONE,
    MESSAGEABLE_TYPES,
    MSG_CHAT_INPUT_COMMAND,
    MSG_CONTEXT_MENU_COMMAND,
    MSG_DEFAULT,
    MSG_REPLY,
    MSG_THREAD_CREATED,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_TYPES,
    USE_APPLICATION_COMMANDS,
    USE_EXTERNAL_EMOJIS,
    VALID_INTENTS,
    VIEW_CHANNEL,
    ApiError,
    SnowflakeGenerator,
)

__all__ = [
    "ADD_REACTIONS",
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "ANNOUNCEMENT_THREAD",
    "API_VERSION",
    "ATTACHMENT_SIZE_LIMIT",
    "ATTACH_FILES",
    "CHANNEL_MESSAGE_FLAGS",
    "CREATE_INSTANT_INVITE",
    "CREATE_PRIVATE_THREADS",
    "CREATE_PUBLIC_THREADS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "DISCORD_EPOCH_MS",
    "EMBED_LINKS",
    "FLAG_COMPONENTS_V2",
    "FLAG_CROSSPOSTED",
    "FLAG_EPHEMERAL",
    "FLAG_HAS_THREAD",
    "FLAG_LOADING",
    "FLAG_SUPPRESS_EMBEDS",
    "FLAG_SUPPRESS_NOTIFICATIONS",
    "GUILD_ANNOUNCEMENT",
    "GUILD_CATEGORY",
    "GUILD_FORUM",
    "GUILD_MEDIA",
    "GUILD_TEXT",
    "INTENT_DIRECT_MESSAGES",
    "INTENT_GUILDS",
    "INTENT_GUILD_MEMBERS",
    "INTENT_GUILD_MESSAGES",
    "INTENT_GUILD_PRESENCES",
    "INTENT_MESSAGE_CONTENT",
    "INTERACTION_MESSAGE_FLAGS",
    "JSON",
    "MANAGE_CHANNELS",
    "MANAGE_MESSAGES",
    "MANAGE_THREADS",
    "MENTION_EVERYONE",
    "MESSAGEABLE_TYPES",
    "MSG_CHAT_INPUT_COMMAND",
    "MSG_CONTEXT_MENU_COMMAND",
    "MSG_DEFAULT",
    "MSG_REPLY",
    "MSG_THREAD_CREATED",
    "PRIVATE_THREAD",
    "PUBLIC_THREAD",
    "RATE_LIMIT_BODY_MESSAGE",
    "READ_MESSAGE_HISTORY",
    "SEND_MESSAGES",
    "SEND_MESSAGES_IN_THREADS",
    "THREAD_TYPES",
    "USE_APPLICATION_COMMANDS",
    "USE_EXTERNAL_EMOJIS",
    "VALID_INTENTS",
    "VIEW_CHANNEL",
    "ApiError",
    "DemoWorld",
    "FakeDiscord",
    "SnowflakeGenerator",
    "build_demo",
    "main",
    "point_discord_py_at",
]
