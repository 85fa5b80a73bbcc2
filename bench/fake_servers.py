"""The fakes of ``tests/fakes`` in a process of their own, set up for the fan-out benchmarks.

``python -m bench.fake_servers telegram --channels N --users U`` or
``python -m bench.fake_servers discord --channels N --per-guild 500`` builds the world inside
the fake (no thousands of control calls), enforces the platform limits, starts the server and
prints one line ``FAKE_READY {json}`` with its addresses (``tests.fakes.process``). The
process exits when its standard input closes, so a benchmark that dies never leaves a server
behind.

Next to each fake runs a small *sidecar* HTTP server (same process, same event loop) with what
the benchmarks need and the fakes' control APIs do not offer: server-side timestamps of every
send, per-chat counts, and for Telegram a command endpoint that records when a user's command
was queued. Nothing in ``tests/fakes`` is modified; the subclasses below only observe.

Rate limits, as sliding windows:

* Telegram: the fake's own ``--enforce-rate-limits`` windows (30 per second overall, 20 per
  60 s per channel or group, 1 per second with bursts of 3 per private chat).
* Discord: the fake enforces fixed windows that start with the first request after the last
  one expired; here its ``_Bucket`` is replaced (in this process only) by ``SlidingBucket``:
  50 requests in any 1 s for the global limit and 5 in any 5 s per channel for messages.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web

from tests.fakes import discord as fake_discord
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord import rest as fake_discord_rest
from tests.fakes.process import serve
from tests.fakes.telegram import FakeTelegram

JSON = dict[str, Any]

TELEGRAM_CHANNEL_BASE = -1002000000000
TELEGRAM_USER_BASE = 5_000_000
TELEGRAM_GROUP_BASE = -1003000000000


# --------------------------------------------------------------------------------------------
# Telegram
# --------------------------------------------------------------------------------------------


class BenchTelegram(FakeTelegram):
    """FakeTelegram that timestamps every accepted bot send and every benchmark command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.send_log: list[tuple[float, int]] = []
        self.command_at: dict[int, float] = {}
        self.answer_at: dict[int, float] = {}
        self.fanout_sends = 0
        self.service_times: list[float] = []
        self.poll_times: list[float] = []

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await super()._handle_api(request)
        finally:
            if not request.match_info.get("method", "").lower().startswith("getupdates"):
                self.service_times.append(time.perf_counter() - started)
            else:
                self.poll_times.append(time.perf_counter() - started)

    def _finish_bot_send(self, chat: Any, message: JSON) -> JSON:
        result = super()._finish_bot_send(chat, message)
        now = time.monotonic()
        self.send_log.append((now, chat.id))
        if chat.type == "private":
            if chat.id in self.command_at and chat.id not in self.answer_at:
                self.answer_at[chat.id] = now
        else:
            self.fanout_sends += 1
        return result


def _telegram_world(fake: BenchTelegram, channels: int, users: int, groups: int = 0) -> None:
    owner = TELEGRAM_USER_BASE - 1
    fake.add_user(owner, "Olga", "olga_owner")
    for n in range(channels):
        chat_id = TELEGRAM_CHANNEL_BASE - n
        fake.add_chat(chat_id, "channel", f"News channel {n}", admins=[owner], owner=owner)
    for n in range(groups):
        chat_id = TELEGRAM_GROUP_BASE - n
        fake.add_chat(chat_id, "supergroup", f"Readers {n}", admins=[owner], owner=owner)
    for n in range(users):
        user_id = TELEGRAM_USER_BASE + n
        fake.add_user(user_id, f"Reader{n}", f"reader_{n}")
        fake.add_chat(user_id, "private")


def _telegram_sidecar(fake: BenchTelegram) -> web.Application:
    async def progress(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "fanout_sends": fake.fanout_sends,
                "sends": len(fake.send_log),
                "count_429": fake.count_429,
                "active_polls": fake.active_polls,
                "answers": len(fake.answer_at),
                "pending": fake.pending_updates(),
            }
        )

    async def command(request: web.Request) -> web.Response:
        body = await request.json()
        user_id = int(body["user_id"])
        fake.user_sends(user_id, user_id, str(body["text"]))
        fake.command_at[user_id] = time.monotonic()
        return web.json_response({"ok": True})

    async def stats(_request: web.Request) -> web.Response:
        per_chat = Counter(chat for _, chat in fake.send_log)
        return web.json_response(
            {
                "sends": fake.send_log,
                "per_chat": {str(chat): count for chat, count in per_chat.items()},
                "count_429": fake.count_429,
                "count_429_by_chat": {str(k): v for k, v in fake.count_429_by_chat.items()},
                "commands": {str(k): v for k, v in fake.command_at.items()},
                "answers": {str(k): v for k, v in fake.answer_at.items()},
                "service_times": fake.service_times,
                "poll_times": fake.poll_times,
            }
        )

    async def replies(request: web.Request) -> web.Response:
        """Readers answer the bot's last post in each group: ``count`` replies, round robin
        over the groups and the users, all queued before the response (one loop step)."""
        body = await request.json()
        groups = [int(g) for g in body["groups"]]
        users = [int(u) for u in body["users"]]
        posts = {}
        for group in groups:
            mine = [m for m in fake.messages(group) if m.get("from", {}).get("is_bot")]
            if not mine:
                return web.json_response({"error": f"no bot post in {group}"}, status=409)
            posts[group] = mine[-1]["message_id"]
        for n in range(int(body["count"])):
            group = groups[n % len(groups)]
            fake.user_sends(
                group, users[n % len(users)], f"Reply {n}: thanks!", reply_to=posts[group]
            )
        return web.json_response({"queued": fake.pending_updates()})

    app = web.Application()
    app.router.add_get("/progress", progress)
    app.router.add_post("/command", command)
    app.router.add_post("/replies", replies)
    app.router.add_get("/stats", stats)
    return app


# --------------------------------------------------------------------------------------------
# Discord
# --------------------------------------------------------------------------------------------


class SlidingBucket(fake_discord._Bucket):
    """At most ``limit`` requests in any ``window`` seconds (the fake's buckets are fixed
    windows). ``remaining`` and ``reset_after`` keep the meaning the headers give them:
    requests left now, and seconds until the next request is admitted (when none is left) or
    until the window is empty (when some are)."""

    def __init__(self, limit: int, window: float, remaining: int = 0, reset_at: float = 0.0):
        super().__init__(limit, window, limit, reset_at)
        self.events: deque[float] = deque()

    def _prune(self, now: float) -> None:
        events = self.events
        while events and events[0] <= now - self.window:
            events.popleft()

    def take(self, now: float) -> bool:
        self._prune(now)
        if len(self.events) >= self.limit:
            self.remaining = 0
            return False
        self.events.append(now)
        self.remaining = self.limit - len(self.events)
        return True

    def reset_after(self, now: float) -> float:
        self._prune(now)
        if not self.events:
            return 0.0
        if len(self.events) >= self.limit:
            return max(0.001, round(self.events[0] + self.window - now, 3))
        return max(0.0, round(self.events[-1] + self.window - now, 3))


class BenchDiscord(FakeDiscord):
    """FakeDiscord that timestamps every REST answer (status, route kind)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answer_log: list[tuple[float, int, str]] = []
        self.useful = 0
        self.bench_channels: list[int] = []
        self.bench_guilds: list[int] = []
        self.service_times: list[float] = []

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response = await super()._handle_api(request)
        self.service_times.append(time.perf_counter() - started)
        path = "/" + request.match_info["tail"]
        if request.method == "POST" and path.endswith("/messages"):
            kind = "post"
        elif request.method == "POST" and path.endswith("/threads"):
            kind = "thread"
        else:
            kind = f"{request.method} other"
        self.answer_log.append((time.monotonic(), response.status, kind))
        if response.status < 300 and kind in ("post", "thread"):
            self.useful += 1
        return response


def _discord_world(fake: BenchDiscord, channels: int, per_guild: int) -> None:
    owner = fake.add_user(fake.new_id(), "Olga Owner")
    made = 0
    while made < channels:
        guild = fake.add_guild(f"Newsroom {len(fake.bench_guilds)}", owner_id=owner)
        fake.bench_guilds.append(guild)
        for _ in range(min(per_guild, channels - made)):
            fake.bench_channels.append(fake.add_channel(guild, f"news-{made}"))
            made += 1


def _discord_sidecar(fake: BenchDiscord) -> web.Application:
    async def world(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "guilds": [str(g) for g in fake.bench_guilds],
                "channels": [str(c) for c in fake.bench_channels],
            }
        )

    async def progress(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "useful": fake.useful,
                "requests": len(fake.answer_log),
                "count_429": fake.count_429,
                "connected": fake.connected,
            }
        )

    async def stats(_request: web.Request) -> web.Response:
        threads_by_parent = Counter(
            int(t["parent_id"]) for t in fake.threads.values() if t.get("parent_id")
        )
        posts: dict[int, int] = {}
        for cid in fake.bench_channels:
            posts[cid] = sum(
                1
                for m in fake.messages(cid)
                if int(m["_author_id"]) == fake.bot_id and m["type"] == 0
            )
        duplicated = [
            str(c) for c in fake.bench_channels if posts[c] > 1 or threads_by_parent[c] > 1
        ]
        missing = [
            str(c) for c in fake.bench_channels if posts[c] == 0 or threads_by_parent[c] == 0
        ]
        return web.json_response(
            {
                "answers": fake.answer_log,
                "posts": sum(posts.values()),
                "threads": sum(threads_by_parent[c] for c in fake.bench_channels),
                "duplicated": duplicated,
                "missing": missing,
                "count_429": fake.count_429,
                "count_429_global": fake.count_429_global,
                "count_429_route": fake.count_429_route,
                "service_times": fake.service_times,
            }
        )

    app = web.Application()
    app.router.add_get("/world", world)
    app.router.add_get("/progress", progress)
    app.router.add_get("/stats", stats)
    return app


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    ready: JSON
    fake: BenchTelegram | BenchDiscord
    if args.platform == "telegram":
        fake = BenchTelegram(token=args.token, enforce_rate_limits=True)
        _telegram_world(fake, args.channels, args.users, args.groups)
        await fake.start()
        sidecar_app = _telegram_sidecar(fake)
        ready = {"url": fake.url, "base_url": fake.base_url}
    else:
        # The REST pipeline (tests/fakes/discord/rest.py) makes the buckets; this process only.
        fake_discord_rest._Bucket = SlidingBucket  # type: ignore[attr-defined]  # private
        fake = BenchDiscord(token=args.token)
        fake.set_limits(global_per_sec=50, per_channel=(5, 5.0))
        _discord_world(fake, args.channels, args.per_guild)
        await fake.start()
        sidecar_app = _discord_sidecar(fake)
        ready = {"api_url": fake.api_url, "gateway_url": fake.gateway_url}
    await serve(fake, sidecar_app, ready)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_servers")
    parser.add_argument("platform", choices=["telegram", "discord"])
    parser.add_argument("--token", default="123456:BENCH")
    parser.add_argument("--channels", type=int, default=300)
    parser.add_argument("--users", type=int, default=0, help="Telegram private chats")
    parser.add_argument("--groups", type=int, default=0, help="Telegram supergroups")
    parser.add_argument("--per-guild", type=int, default=500, help="Discord channels per guild")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
