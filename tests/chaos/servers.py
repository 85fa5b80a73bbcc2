"""The fakes of ``tests/fakes`` in a process of their own, with a chaos world and a sidecar.

``python -m tests.chaos.servers telegram --destinations N`` or
``python -m tests.chaos.servers discord --destinations N`` builds the world inside the fake
(no thousands of control calls), starts it, and prints one line ``FAKE_READY {json}``
with its addresses. It exits on SIGTERM or when its standard input closes, so a test that
dies never leaves a server behind.

The world, per platform, for N destinations:

* Telegram: N channels, each linked to a discussion supergroup (the bot administers both,
  so the fake copies every channel post into the group and the bot sees the replies there);
  an owner (the newsbot admin, with a private chat for commands) and a few readers.
* Discord: N text channels spread over guilds of at most 400; an owner and a few readers.

Next to the fake runs a *sidecar* HTTP server (same process, same event loop) with what the
suites need and the fakes' control APIs do not offer; nothing in ``tests/fakes`` is changed,
the subclasses below only observe:

* ``GET /world``: the ids of the world.
* ``POST /reply {"count", "where"?, "post"?}``: readers reply to random posts of the bot (or
  to ``"post": "<chat>/<message>"``) as a person would (Telegram: to the post's copy in the
  discussion group; Discord: ``"thread"`` in the post's thread, or ``"channel"`` as a native
  reply to the post). Returns what was sent.
* ``POST /command {"text"}`` (Telegram, in the owner's private chat) or ``POST /slash
  {"name"}`` (Discord): a user command, timed here until the bot's answer arrives; ``GET
  /command?id=`` / ``GET /slash?id=`` give the latency (``null`` while unanswered).
* ``POST /fault`` (Discord only; Telegram's control API has ``fail_next``, ``down`` and
  ``delay`` already): ``{"down"?, "delay"?, "disconnect"?, "fail"?: {"method", "path",
  "status", "count"?, "retry_after"?}, "hold"?: {"method", "path"}, "release"?}``. A
  held request (method and ``re.search`` on the path after /api/v10) waits, unanswered and
  not yet carried out, until ``release``: a test orders the bot's steps without timing.
* ``GET /stats``: every post of the bot per destination, threads, 429s, update queue,
  requests held, and history reads (``GET .../messages``) per channel.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import re
import time
from collections import Counter
from typing import Any

from aiohttp import web

from tests.fakes.discord import FakeDiscord
from tests.fakes.process import serve
from tests.fakes.telegram import ApiError, FakeTelegram

JSON = dict[str, Any]

TELEGRAM_CHANNEL_BASE = -1002000000000
TELEGRAM_GROUP_BASE = -1003000000000
TELEGRAM_OWNER = 5_000_000
TELEGRAM_READERS = [5_000_001 + n for n in range(5)]
DISCORD_PER_GUILD = 400
DISCORD_READERS = 5
_HISTORY = re.compile(r"^/channels/(\d+)/messages$")


class _Timings:
    """Commands sent by users and when the bot's answer arrived (server clock)."""

    def __init__(self) -> None:
        self.queued: dict[int, float] = {}
        self.answered: dict[int, float] = {}

    def start(self, key: int) -> None:
        self.queued[key] = time.monotonic()

    def answer(self, key: int) -> None:
        if key in self.queued and key not in self.answered:
            self.answered[key] = time.monotonic()

    def latency(self, key: int) -> float | None:
        if key not in self.answered:
            return None
        return round(self.answered[key] - self.queued[key], 3)


# --------------------------------------------------------------------------------------------
# Telegram
# --------------------------------------------------------------------------------------------


class ChaosTelegram(FakeTelegram):
    """FakeTelegram that records the bot's posts per chat and times commands."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channels: list[int] = []
        self.groups: list[int] = []
        self.posts: dict[int, list[int]] = {}
        self.private_sends: Counter[int] = Counter()
        self.timings = _Timings()
        self.pending_command: int | None = None
        self.commands_sent = 0
        self.replies_sent = 0
        self.count_409 = 0  # getUpdates refused because another poll started meanwhile

    async def _m_get_updates(self, params: Any) -> list[JSON]:
        try:
            return await super()._m_get_updates(params)
        except ApiError as error:
            self.count_409 += error.status == 409
            raise

    def _finish_bot_send(self, chat: Any, message: JSON) -> JSON:
        result = super()._finish_bot_send(chat, message)
        if chat.type == "channel":
            self.posts.setdefault(chat.id, []).append(int(message["message_id"]))
        elif chat.type == "private":
            self.private_sends[chat.id] += 1
            if chat.id == TELEGRAM_OWNER and self.pending_command is not None:
                self.timings.answer(self.pending_command)
        return result

    def build(self, destinations: int) -> None:
        self.add_user(TELEGRAM_OWNER, "Olga", "olga_owner")
        self.add_chat(TELEGRAM_OWNER, "private")
        for reader in TELEGRAM_READERS:
            self.add_user(reader, f"Reader {reader % 100}", f"reader_{reader % 100}")
        for n in range(destinations):
            channel, group = TELEGRAM_CHANNEL_BASE - n, TELEGRAM_GROUP_BASE - n
            self.add_chat(
                channel, "channel", f"News {n}", admins=[TELEGRAM_OWNER], owner=TELEGRAM_OWNER
            )
            self.add_chat(
                group,
                "supergroup",
                f"News {n} chat",
                admins=[TELEGRAM_OWNER],
                owner=TELEGRAM_OWNER,
                members=TELEGRAM_READERS,
            )
            self.link_discussion(channel, group)
            self.channels.append(channel)
            self.groups.append(group)

    def reply(self, count: int, rng: random.Random, post: str | None = None) -> list[JSON]:
        copies = list(self._auto_forwards.items())
        if post is not None:
            copies = [c for c in copies if f"{c[0][0]}/{c[0][1]}" == post]
        made: list[JSON] = []
        if not copies:
            return made
        for _ in range(count):
            (channel, target), (group, copy_id) = rng.choice(copies)
            self.replies_sent += 1
            text = f"chaos reply tg-{self.replies_sent}"
            message = self.user_sends(group, rng.choice(TELEGRAM_READERS), text, reply_to=copy_id)
            made.append(
                {
                    "platform": "telegram",
                    "chat_id": str(group),
                    "message_id": str(message["message_id"]),
                    "reply_to": str(copy_id),
                    "destination": str(channel),
                    "post": str(target),
                    "text": text,
                }
            )
        return made

    def command(self, text: str) -> int:
        self.commands_sent += 1
        key = self.commands_sent
        self.pending_command = key
        self.timings.start(key)
        self.user_sends(TELEGRAM_OWNER, TELEGRAM_OWNER, text)
        return key

    def stats(self) -> JSON:
        return {
            "posts": {str(c): ids for c, ids in self.posts.items()},
            "pending_updates": self.pending_updates(),
            "confirmed_offset": self.confirmed_offset,
            "count_429": self.count_429,
            "count_409": self.count_409,
            "bot_sends": len(self.sent),
            "calls": dict(Counter(name for name, _ in self.calls)),
        }


def _telegram_sidecar(fake: ChaosTelegram, rng: random.Random) -> web.Application:
    async def world(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "channels": [str(c) for c in fake.channels],
                "groups": [str(g) for g in fake.groups],
                "owner": str(TELEGRAM_OWNER),
                "readers": [str(r) for r in TELEGRAM_READERS],
            }
        )

    async def reply(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(fake.reply(int(body["count"]), rng, body.get("post")))

    async def command(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await request.json()
            return web.json_response({"id": fake.command(str(body["text"]))})
        key = int(request.query["id"])
        return web.json_response({"latency": fake.timings.latency(key)})

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(fake.stats())

    app = web.Application()
    app.router.add_get("/world", world)
    app.router.add_post("/reply", reply)
    app.router.add_route("*", "/command", command)
    app.router.add_get("/stats", stats)
    return app


# --------------------------------------------------------------------------------------------
# Discord
# --------------------------------------------------------------------------------------------


class ChaosDiscord(FakeDiscord):
    """FakeDiscord with a world of text channels, replies by readers and timed commands."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chaos_guilds: list[int] = []
        self.chaos_channels: list[int] = []
        self.owner = 0
        self.readers: list[int] = []
        self.timings = _Timings()
        self.replies_sent = 0
        self._background: set[asyncio.Task[None]] = set()
        self._holds: list[tuple[str, re.Pattern[str]]] = []
        self._released = asyncio.Event()
        self.held = 0

    def hold(self, method: str, path_regex: str) -> None:
        self._holds.append((method.upper(), re.compile(path_regex)))
        self._released.clear()

    def release(self) -> None:
        self._holds.clear()
        self._released.set()

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        if any(m == request.method and p.search(path) for m, p in self._holds):
            self.held += 1
            await self._released.wait()
        return await super()._handle_api(request)

    def build(self, destinations: int) -> None:
        self.owner = self.add_user(self.new_id(), "olga")
        self.readers = [self.add_user(self.new_id(), f"reader{n}") for n in range(DISCORD_READERS)]
        made = 0
        while made < destinations or not self.chaos_guilds:
            guild = self.add_guild(f"Newsroom {len(self.chaos_guilds)}", owner_id=self.owner)
            self.chaos_guilds.append(guild)
            for reader in self.readers:
                self.add_member(guild, reader, self.users[reader]["username"])
            for _ in range(min(DISCORD_PER_GUILD, destinations - made)):
                self.chaos_channels.append(self.add_channel(guild, f"news-{made}"))
                made += 1

    def bot_posts(self, channel_id: int) -> list[JSON]:
        return [
            m
            for m in self.messages(channel_id)
            if int(m["_author_id"]) == self.bot_id and m["type"] == 0
        ]

    async def reply(
        self, count: int, where: str, rng: random.Random, post: str | None = None
    ) -> list[JSON]:
        posts = [(c, int(m["id"])) for c in self.chaos_channels for m in self.bot_posts(c)]
        if post is not None:
            posts = [p for p in posts if f"{p[0]}/{p[1]}" == post]
        if where == "thread":
            posts = [(c, p) for c, p in posts if p in self.threads]
        sent: list[JSON] = []
        for _ in range(count if posts else 0):
            channel, target = rng.choice(posts)
            self.replies_sent += 1
            text = f"chaos reply dc-{self.replies_sent}"
            # In the post's thread (the thread's id is the post's), or a native reply to it.
            chat, reply_to = (target, None) if where == "thread" else (channel, target)
            message = await self.user_message(
                chat, rng.choice(self.readers), text, reply_to=reply_to
            )
            sent.append(
                {
                    "platform": "discord",
                    "chat_id": str(chat),
                    "message_id": str(message["id"]),
                    "reply_to": str(target),
                    "destination": str(channel),
                    "post": str(target),
                    "text": text,
                }
            )
        return sent

    async def slash(self, name: str) -> int:
        payload = await self.slash_command(
            self.chaos_guilds[0], self.chaos_channels[0], self.owner, name
        )
        key = int(payload["id"])
        self.timings.start(key)

        async def watch() -> None:
            with contextlib.suppress(AssertionError):
                await self.wait_for_response(key, timeout=120.0)
                self.timings.answer(key)

        task = asyncio.create_task(watch())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return key

    def stats(self) -> JSON:
        threads: Counter[int] = Counter()
        for thread in self.threads.values():
            if thread.get("parent_id"):
                threads[int(thread["parent_id"])] += 1
        return {
            "posts": {str(c): [m["id"] for m in self.bot_posts(c)] for c in self.chaos_channels},
            "threads": {str(c): threads[c] for c in self.chaos_channels},
            "count_429": self.count_429,
            "requests": len(self.requests),
            # Recorded when a request arrives, before any injected delay answers it.
            "thread_requests": sum(
                1
                for method, path, _ in self.requests
                if method == "POST" and path.endswith("/threads")
            ),
            "connected": self.connected,
            "identify_count": self.identify_count,
            "held": self.held,
            "history_reads": Counter(
                found.group(1)
                for method, path, _ in self.requests
                if method == "GET" and (found := _HISTORY.match(path))
            ),
        }


def _discord_sidecar(fake: ChaosDiscord, rng: random.Random) -> web.Application:
    async def world(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "guilds": [str(g) for g in fake.chaos_guilds],
                "channels": [str(c) for c in fake.chaos_channels],
                "owner": str(fake.owner),
                "readers": [str(r) for r in fake.readers],
                "bot_id": str(fake.bot_id),
            }
        )

    async def reply(request: web.Request) -> web.Response:
        body = await request.json()
        where = str(body.get("where", "thread"))
        count = int(body["count"])
        return web.json_response(await fake.reply(count, where, rng, body.get("post")))

    async def slash(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await request.json()
            return web.json_response({"id": str(await fake.slash(str(body["name"])))})
        key = int(request.query["id"])
        return web.json_response({"latency": fake.timings.latency(key)})

    async def fault(request: web.Request) -> web.Response:
        body = await request.json()
        if "down" in body:
            fake.set_down(bool(body["down"]))
        if "delay" in body:
            fake.set_delay(float(body["delay"]))
        if body.get("disconnect"):
            await fake.disconnect_gateway()
        if "hold" in body:
            fake.hold(str(body["hold"]["method"]), str(body["hold"]["path"]))
        if body.get("release"):
            fake.release()
        fail = body.get("fail")
        if fail:
            fake.fail_next(
                str(fail.get("method", "*")),
                str(fail["path"]),
                int(fail["status"]),
                count=int(fail.get("count", 1)),
                retry_after=fail.get("retry_after"),
            )
        return web.json_response({"ok": True})

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(fake.stats())

    app = web.Application()
    app.router.add_get("/world", world)
    app.router.add_post("/reply", reply)
    app.router.add_route("*", "/slash", slash)
    app.router.add_post("/fault", fault)
    app.router.add_get("/stats", stats)
    return app


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    ready: JSON
    fake: ChaosTelegram | ChaosDiscord
    if args.platform == "telegram":
        fake = ChaosTelegram(token=args.token, enforce_rate_limits=args.enforce_rate_limits)
        fake.build(args.destinations)
        await fake.start()
        sidecar_app = _telegram_sidecar(fake, rng)
        ready = {"url": fake.url, "base_url": fake.base_url}
    else:
        fake = ChaosDiscord(token=args.token, enforce_rate_limits=args.enforce_rate_limits)
        fake.build(args.destinations)
        await fake.start()
        sidecar_app = _discord_sidecar(fake, rng)
        ready = {"url": fake.base_url, "api_url": fake.api_url, "gateway_url": fake.gateway_url}
    await serve(fake, sidecar_app, ready)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.servers")
    parser.add_argument("platform", choices=["telegram", "discord"])
    parser.add_argument("--token", default="123456:CHAOS")
    parser.add_argument("--destinations", type=int, default=10)
    parser.add_argument("--enforce-rate-limits", action="store_true")
    parser.add_argument("--seed", type=int, default=0, help="for the choice of replied posts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
