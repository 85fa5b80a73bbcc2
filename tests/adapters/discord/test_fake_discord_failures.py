"""The fake Discord (tests/fakes/discord/) driven by the real discord.py client."""

from __future__ import annotations

import asyncio
import time
import warnings

import aiohttp
import pytest

from tests.adapters.discord.fake_discord_helpers import (
    TOKEN,
    bot,
    dc,
    posts,
    text_channel,
    world,
)
from tests.fakes.discord import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    GUILD_TEXT,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    DemoWorld,
    FakeDiscord,
)
from tests.fakes.wait import wait_for

with warnings.catch_warnings():
    # discord.py imports the deprecated audioop module (Python 3.11/3.12).
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord.ext import commands

__all__ = ["bot", "dc", "world"]


# --------------------------------------------------------------------------- failures


async def test_429_is_retried_transparently(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    dc.fail_next("POST", r"^/channels/\d+/messages$", 429, retry_after=0.2)
    started = time.monotonic()
    msg = await text_channel(bot, world).send("once")
    assert time.monotonic() - started >= 0.2
    assert [m["id"] for m in dc.messages(world.text_channel_id)] == [str(msg.id)]
    assert dc.count_429 == 1 and dc.count_429_injected == 1
    assert len(posts(dc, f"/channels/{world.text_channel_id}/messages")) == 2


async def test_500_is_retried(dc: FakeDiscord, world: DemoWorld, bot: commands.Bot) -> None:
    dc.fail_next("POST", r"^/channels/\d+/messages$", 500)
    msg = await text_channel(bot, world).send("after a 500")
    assert [m["id"] for m in dc.messages(world.text_channel_id)] == [str(msg.id)]
    assert len(posts(dc, f"/channels/{world.text_channel_id}/messages")) == 2


async def test_forbidden_and_unknown_channel(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    dc.revoke_send(world.text_channel_id)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("nope")
    assert forbidden.value.code == 50013
    await wait_for(
        lambda: not channel.permissions_for(channel.guild.me).send_messages, what="CHANNEL_UPDATE"
    )

    announcements = bot.get_channel(world.announcement_channel_id)
    assert isinstance(announcements, discord.TextChannel)
    dc.delete_channel(world.announcement_channel_id)
    with pytest.raises(discord.NotFound) as gone:
        await announcements.send("into the void")
    assert gone.value.code == 10003
    assert dc.created == []


async def test_permission_computation(dc: FakeDiscord, world: DemoWorld) -> None:
    hidden = dc.add_channel(
        world.guild_id,
        "staff",
        GUILD_TEXT,
        overwrites=[
            {"id": str(world.guild_id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}
        ],
    )
    no_history = dc.add_channel(world.guild_id, "drop-box", bot_can_send=True)
    dc.channel(no_history)["permission_overwrites"].append(
        {"id": str(dc.bot_id), "type": 1, "allow": "0", "deny": str(READ_MESSAGE_HISTORY)}
    )
    assert dc.permissions_for(world.user_id, hidden) == 0
    assert dc.permissions_for(world.admin_id, hidden) == ALL_PERMISSIONS  # owner + admin role
    mod_role = dc.add_role(world.guild_id, "mod", ADMINISTRATOR)
    mod = dc.add_member(world.guild_id, dc.new_id(), "mod", roles=[mod_role])
    assert dc.permissions_for(mod, hidden) == ALL_PERMISSIONS
    assert dc.permissions_for(dc.bot_id, world.text_channel_id) & SEND_MESSAGES
    assert not dc.permissions_for(dc.bot_id, no_history) & READ_MESSAGE_HISTORY
    with pytest.raises(PermissionError):
        await dc.user_message(hidden, world.user_id, "can't see this channel")


# --------------------------------------------------------------------------- rate limits


async def test_rate_limit_headers_and_exact_content_type(
    dc: FakeDiscord, world: DemoWorld
) -> None:
    auth = {"Authorization": f"Bot {TOKEN}"}
    url = f"{dc.api_url}/channels/{world.text_channel_id}/messages"
    dc.set_limits(per_channel=(1, 10.0))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{dc.api_url}/users/@me", headers=auth) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{name}" in resp.headers
        async with http.get(f"{dc.api_url}/users/@me", headers={"Authorization": "Bot x"}) as resp:
            assert resp.status == 401
        async with http.post(url, json={"content": "one"}, headers=auth) as resp:
            assert resp.status == 200
            assert resp.headers["X-RateLimit-Limit"] == "1"
            assert resp.headers["X-RateLimit-Remaining"] == "0"
            assert 9.0 < float(resp.headers["X-RateLimit-Reset-After"]) <= 10.0
        async with http.post(url, json={"content": "two"}, headers=auth) as resp:
            assert resp.status == 429
            assert resp.headers["Via"] and resp.headers["Retry-After"] == "10"
            assert resp.headers["X-RateLimit-Scope"] == "user"
            body = await resp.json()
            assert body["global"] is False and 9.0 < body["retry_after"] <= 10.0
    assert dc.count_429 == dc.count_429_route == 1
    assert len(dc.messages(world.text_channel_id)) == 1


async def test_burst_is_paced_by_discord_py(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    dc.set_limits(per_channel=(5, 1.0))
    channel = text_channel(bot, world)
    started = time.monotonic()
    sent = await asyncio.gather(*(channel.send(f"burst {i}") for i in range(6)))
    elapsed = time.monotonic() - started
    assert len({m.id for m in sent}) == 6 == len(dc.messages(world.text_channel_id))
    # discord.py reads the bucket headers and waits for the window instead of hitting 429s.
    assert dc.count_429 == 0
    assert elapsed >= 0.8


async def test_global_limit_is_retried(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    dc.set_limits(global_per_sec=3)
    channels = await asyncio.gather(*(bot.fetch_channel(world.text_channel_id) for _ in range(5)))
    assert {c.id for c in channels} == {world.text_channel_id}
    assert dc.count_429_global >= 1 and dc.count_429_route == 0


# --------------------------------------------------------------------------- control API


async def test_control_api(dc: FakeDiscord, world: DemoWorld) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{dc.base_url}/_control/message",
            json={
                "channel_id": world.text_channel_id,
                "author_id": world.user_id,
                "content": "hi",
            },
        ) as resp:
            assert resp.status == 200
            created = await resp.json()
        async with http.get(
            f"{dc.base_url}/_control/messages", params={"channel_id": world.text_channel_id}
        ) as resp:
            listed = await resp.json()
        async with http.get(f"{dc.base_url}/_control/state") as resp:
            state = await resp.json()
    assert [m["id"] for m in listed] == [created["id"]]
    names = {c["name"] for c in state["guilds"][0]["channels"]}
    assert names == {"news", "announcements", "discussions"}


async def test_a_redelivered_interaction_is_answered_once_like_discord(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    guild = discord.Object(world.guild_id)
    errors: list[int | None] = []

    @bot.tree.command(name="once", description="Answers each delivery", guild=guild)
    async def once(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            errors.append(exc.code)
            await interaction.followup.send("seen before", ephemeral=True)
            return
        await interaction.followup.send("first: see https://example.com/x")

    await bot.tree.sync(guild=guild)
    call = await dc.slash_command(world.guild_id, world.text_channel_id, world.user_id, "once")
    answer = await dc.wait_for_answer(call["id"])
    # The first follow-up took the place of "thinking", ephemeral like the acknowledgement.
    assert answer["data"]["content"] == "first: see https://example.com/x"
    assert answer["data"]["flags"] & 64 and not answer["data"]["flags"] & 128
    assert dc.message(int(answer["data"]["id"]))["_link_previews"] == ["https://example.com/x"]

    await dc.redeliver_interaction(call["id"])
    await wait_for(lambda: errors == [40060], what="already acknowledged")
    iid = int(call["id"])
    await wait_for(lambda: len(dc.followups[iid]) == 2, what="second follow-up")
    assert dc.followups[iid][1]["content"] == "seen before"


async def test_suppressed_embeds_unfurl_nothing(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    plain = await channel.send("look https://a.example/1 and <https://b.example/2>")
    quiet = await channel.send("look https://a.example/1", suppress_embeds=True)
    assert dc.message(plain.id)["_link_previews"] == ["https://a.example/1"]
    assert dc.message(quiet.id)["_link_previews"] == []
    assert dc.message(quiet.id)["flags"] & 4


async def test_a_slow_answer_is_carried_out_at_once(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    dc.slow_next("POST", rf"/channels/{world.text_channel_id}/messages$", 0.5)
    task = asyncio.create_task(channel.send("slow"))
    await wait_for(lambda: len(dc.messages(world.text_channel_id)) == 1, what="stored")
    assert not task.done()  # stored on arrival, answered later
    sent = await task
    assert dc.message(sent.id)["content"] == "slow"


async def test_autocomplete_choices_are_validated(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    guild = discord.Object(world.guild_id)

    async def suggest(
        interaction: discord.Interaction, current: str
    ) -> list[discord.app_commands.Choice[str]]:
        return [discord.app_commands.Choice(name=f"{current}!", value=current)]

    @bot.tree.command(name="pick", description="Pick one", guild=guild)
    @discord.app_commands.autocomplete(item=suggest)
    async def pick(interaction: discord.Interaction, item: str) -> None:
        await interaction.response.send_message(item)

    await bot.tree.sync(guild=guild)
    call = await dc.autocomplete(
        world.guild_id, world.text_channel_id, world.user_id, "pick", {"item": "ab"}, "item"
    )
    answer = await dc.wait_for_response(call["id"])
    assert answer == {"type": 8, "data": {"choices": [{"name": "ab!", "value": "ab"}]}}
