"""The demo world and ``python -m tests.fakes.discord``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from .server import FakeDiscord
from .wire import ADMINISTRATOR, GUILD_ANNOUNCEMENT, GUILD_FORUM, GUILD_TEXT


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
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.discord", description="Run the fake Discord API + gateway."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--token", default="fake-token")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token))
