"""The fake Discord (tests/fakes/discord/) driven by the real discord.py client."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    GUILD_TEXT,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    DemoWorld,
    FakeDiscord,
    build_demo,
    point_discord_py_at,
)
from tests.fakes.wait import wait_for

with warnings.catch_warnings():
    # discord.py imports the deprecated audioop module (Python 3.11/3.12).
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord.ext import commands

TOKEN = "fake-token"


def make_intents(*, message_content: bool = True) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = message_content
    return intents


@contextlib.asynccontextmanager
async def running_bot(
    dc: FakeDiscord,
    *,
    intents: discord.Intents | None = None,
    setup: Callable[[commands.Bot], Awaitable[None]] | None = None,
) -> AsyncIterator[commands.Bot]:
    """A real commands.Bot logged in and connected to the fake, closed on exit."""
    with point_discord_py_at(dc):
        bot = commands.Bot(
            command_prefix="!", intents=intents or make_intents(), guild_ready_timeout=0.1
        )
        task: asyncio.Task[None] | None = None
        try:
            await bot.login(TOKEN)
            if setup is not None:
                await setup(bot)
            task = asyncio.create_task(bot.connect())
            await asyncio.wait_for(bot.wait_until_ready(), 5)
            yield bot
        finally:
            await bot.close()
            if task is not None:
                await asyncio.wait_for(task, 5)


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def world(dc: FakeDiscord) -> DemoWorld:
    return build_demo(dc)


@pytest.fixture
async def bot(dc: FakeDiscord, world: DemoWorld) -> AsyncIterator[commands.Bot]:
    async with running_bot(dc) as client:
        yield client


def text_channel(bot: commands.Bot, world: DemoWorld) -> discord.TextChannel:
    channel = bot.get_channel(world.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def collect(bot: commands.Bot, event: str) -> list[Any]:
    """Record the first argument of every ``event`` the bot dispatches."""
    seen: list[Any] = []

    async def listener(arg: Any, *_: Any) -> None:
        seen.append(arg)

    bot.add_listener(listener, event)
    return seen


def posts(dc: FakeDiscord, path_suffix: str) -> list[Any]:
    return [
        body
        for method, path, body in dc.requests
        if method == "POST" and path.endswith(path_suffix)
    ]


# --------------------------------------------------------------------------- connect and login


async def test_ready_shows_guild_channels_and_permissions(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    guild = bot.get_guild(world.guild_id)
    assert guild is not None and guild.name == "Newsroom"
    assert bot.user is not None and bot.user.id == dc.bot_id
    assert bot.application_id == dc.application_id
    kinds = {c.name: c.type for c in guild.channels}
    assert kinds == {
        "news": discord.ChannelType.text,
        "announcements": discord.ChannelType.news,
        "discussions": discord.ChannelType.forum,
    }
    perms = text_channel(bot, world).permissions_for(guild.me)
    assert perms.send_messages and perms.create_public_threads and not perms.manage_messages
    assert guild.default_role.id == guild.id
    routes = {(method, path) for method, path, _ in dc.requests}
    assert {("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")} <= routes
    assert dc.identify_count == 1 and dc.connected


async def test_wrong_token_is_a_login_failure(dc: FakeDiscord) -> None:
    with point_discord_py_at(dc):
        client = discord.Client(intents=make_intents())
        try:
            with pytest.raises(discord.LoginFailure):
                await client.login("not-the-token")
        finally:
            await client.close()


async def test_message_content_intent_refused_closes_with_4014() -> None:
    async with FakeDiscord(token=TOKEN, allow_message_content=False) as fake:
        build_demo(fake)
        with point_discord_py_at(fake):
            client = discord.Client(intents=make_intents(), guild_ready_timeout=0.1)
            try:
                await client.login(TOKEN)
                with pytest.raises(discord.PrivilegedIntentsRequired):
                    await asyncio.wait_for(client.connect(), 5)
            finally:
                await client.close()
        assert fake.identify_count == 0


# --------------------------------------------------------------------------- sending


async def test_send_records_allowed_mentions_and_pings_nobody(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    content = f"Breaking @everyone <@{world.user_id}>"
    embed = discord.Embed(title="Headline", description="Body")
    msg = await channel.send(
        content, embed=embed, nonce="art-1", allowed_mentions=discord.AllowedMentions.none()
    )
    assert msg.content == content and msg.embeds[0].title == "Headline"
    assert not msg.mention_everyone and msg.mentions == []
    stored = dc.messages(world.text_channel_id)[-1]
    assert stored["id"] == str(msg.id)
    assert stored["_allowed_mentions"] == {"parse": []}
    assert dc.pings == []
    body = posts(dc, f"/channels/{world.text_channel_id}/messages")[-1]
    assert body["nonce"] == "art-1" and body["enforce_nonce"] is True

    # Without allowed_mentions Discord parses everything: the fake records the pings.
    loud = await channel.send(content)
    assert loud.mention_everyone
    assert dc.pings == [(loud.id, f"user:{world.user_id}"), (loud.id, "@everyone")]


async def test_enforce_nonce_returns_the_existing_message(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    first = await channel.send("Article 1", nonce="article-1")
    again = await channel.send("Article 1 (retry)", nonce="article-1")
    assert again.id == first.id and again.content == "Article 1"
    assert len(dc.messages(world.text_channel_id)) == 1

    # The raw-route path an adapter can use to control enforce_nonce explicitly.
    route = discord.http.Route(
        "POST", "/channels/{channel_id}/messages", channel_id=world.text_channel_id
    )
    payload = {"content": "raw", "nonce": "article-2", "enforce_nonce": True}
    raw1 = await bot.http.request(route, json=payload)
    raw2 = await bot.http.request(route, json=payload)
    assert raw1["id"] == raw2["id"] and raw1["nonce"] == "article-2"
    # Without enforce_nonce a repeated nonce creates a new message, like Discord.
    unenforced = {"content": "raw", "nonce": "article-2"}
    raw3 = await bot.http.request(route, json=unenforced)
    assert raw3["id"] != raw1["id"]
    assert len(dc.messages(world.text_channel_id)) == 3


async def test_invalid_messages_are_rejected_like_discord(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    await channel.send("x" * 2000)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.status == 400 and too_long.value.code == 50035
    assert "content" in too_long.value.text

    big = [discord.Embed(title=f"part {i}", description="d" * 3500) for i in range(2)]
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(embeds=big)
    assert too_big.value.status == 400 and too_big.value.code == 50035
    assert "6000" in too_big.value.text

    with pytest.raises(discord.HTTPException) as empty:
        await channel.send("   ")
    assert empty.value.code == 50006
    with pytest.raises(discord.HTTPException) as long_nonce:
        await channel.send("ok", nonce="n" * 26)
    assert long_nonce.value.code == 50035
    assert len(dc.messages(world.text_channel_id)) == 1


# --------------------------------------------------------------------------- threads and forum


async def test_thread_on_a_message(dc: FakeDiscord, world: DemoWorld, bot: commands.Bot) -> None:
    article = await text_channel(bot, world).send("Article")
    thread = await article.create_thread(name="Comments: Article")
    assert thread.id == article.id and thread.parent_id == world.text_channel_id
    assert dc.threads[article.id]["type"] == 11
    await wait_for(lambda: bot.get_channel(article.id) is not None, what="THREAD_CREATE")
    reply = await thread.send("first comment")
    assert [m["content"] for m in dc.messages(article.id)] == ["first comment"]
    assert reply.channel.id == article.id
    with pytest.raises(discord.HTTPException) as twice:
        await article.create_thread(name="again")
    assert twice.value.code == 160004


async def test_forum_post_with_tag(dc: FakeDiscord, world: DemoWorld, bot: commands.Bot) -> None:
    forum = bot.get_channel(world.forum_channel_id)
    assert isinstance(forum, discord.ForumChannel)
    tag = forum.get_tag(dc.tag_id(world.forum_channel_id, "article"))
    assert tag is not None
    created = await forum.create_thread(
        name="Article 1", content="Body", embed=discord.Embed(title="T"), applied_tags=[tag]
    )
    assert created.thread.id == created.message.id
    assert created.message.content == "Body"
    assert dc.messages(created.thread.id)[0]["embeds"][0]["title"] == "T"
    assert dc.threads[created.thread.id]["applied_tags"] == [str(tag.id)]
    body = posts(dc, f"/channels/{world.forum_channel_id}/threads")[-1]
    assert body["name"] == "Article 1" and body["message"]["content"] == "Body"


async def test_crosspost_only_in_announcement_channels(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    announcements = bot.get_channel(world.announcement_channel_id)
    assert isinstance(announcements, discord.TextChannel) and announcements.is_news()
    msg = await announcements.send("Big news")
    await msg.publish()
    assert msg.id in dc.crossposted
    assert dc.messages(world.announcement_channel_id)[0]["flags"] & 1
    with pytest.raises(discord.HTTPException) as twice:
        await msg.publish()
    assert twice.value.code == 40033
    plain = await text_channel(bot, world).send("Not news")
    with pytest.raises(discord.HTTPException) as wrong_type:
        await plain.publish()
    assert wrong_type.value.status == 400 and wrong_type.value.code == 50024


async def test_edit_delete_attachment_and_thread_lock(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    upload = discord.File(io.BytesIO(b"hello"), filename="article.txt")
    msg = await channel.send("with a file", file=upload)  # multipart payload_json + files[0]
    assert [(a.filename, a.size) for a in msg.attachments] == [("article.txt", 5)]
    assert await msg.attachments[0].read() == b"hello"
    edited = await msg.edit(content="edited", attachments=[])
    assert edited.content == "edited" and edited.attachments == [] and edited.edited_at
    thread = await msg.create_thread(name="Comments")
    locked = await thread.edit(archived=True, locked=True)
    assert locked.archived and locked.locked
    assert dc.threads[msg.id]["thread_metadata"]["locked"] is True
    await msg.delete()
    assert dc.messages(world.text_channel_id) == [] and dc.created[0]["_deleted"]

    theirs = await dc.user_message(world.text_channel_id, world.user_id, "mine")
    fetched = await channel.fetch_message(int(theirs["id"]))
    with pytest.raises(discord.Forbidden) as not_author:
        await fetched.edit(content="rewritten")
    assert not_author.value.code == 50005
    with pytest.raises(discord.Forbidden) as no_manage:
        await fetched.delete()
    assert no_manage.value.code == 50013


# --------------------------------------------------------------------------- gateway events


async def test_user_reply_reaches_on_message(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    received = collect(bot, "on_message")
    article = await text_channel(bot, world).send("Article")
    sent = await dc.user_message(
        world.text_channel_id, world.user_id, "Nice article!", reply_to=article.id
    )
    await wait_for(lambda: any(m.id == int(sent["id"]) for m in received), what="on_message")
    msg = next(m for m in received if m.id == int(sent["id"]))
    assert msg.content == "Nice article!" and msg.type is discord.MessageType.reply
    assert isinstance(msg.author, discord.Member) and msg.author.id == world.user_id
    assert msg.reference is not None and msg.reference.message_id == article.id
    assert isinstance(msg.reference.resolved, discord.Message)


async def test_without_message_content_intent_content_is_empty(
    dc: FakeDiscord, world: DemoWorld
) -> None:
    async with running_bot(dc, intents=make_intents(message_content=False)) as client:
        received = collect(client, "on_message")
        hidden = await dc.user_message(world.text_channel_id, world.user_id, "secret")
        shown = await dc.user_message(world.text_channel_id, world.user_id, f"<@{dc.bot_id}> hi")
        await wait_for(lambda: len(received) == 2, what="two messages")
        by_id = {m.id: m.content for m in received}
        assert by_id == {int(hidden["id"]): "", int(shown["id"]): f"<@{dc.bot_id}> hi"}


async def test_user_edit_and_delete_raw_events(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    edits = collect(bot, "on_raw_message_edit")
    deletes = collect(bot, "on_raw_message_delete")
    sent = await dc.user_message(world.text_channel_id, world.user_id, "typo")
    mid = int(sent["id"])
    await dc.user_edit(world.text_channel_id, mid, "fixed")
    await wait_for(lambda: len(edits) == 1, what="raw edit")
    assert edits[0].message_id == mid and edits[0].data["content"] == "fixed"
    assert edits[0].message.edited_at is not None
    await dc.user_delete(world.text_channel_id, mid)
    await wait_for(lambda: len(deletes) == 1, what="raw delete")
    assert deletes[0].message_id == mid and deletes[0].channel_id == world.text_channel_id
    assert dc.messages(world.text_channel_id) == []


async def test_resume_replays_what_was_missed(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    received = collect(bot, "on_message")
    await dc.disconnect_gateway(code=4000)
    await dc.user_message(world.text_channel_id, world.user_id, "while away")
    await wait_for(lambda: any(m.content == "while away" for m in received), what="replay")
    assert dc.resume_count == 1 and dc.identify_count == 1


async def test_messages_posted_while_offline_are_backfilled(
    dc: FakeDiscord, world: DemoWorld
) -> None:
    early = await dc.user_message(world.text_channel_id, world.user_id, "posted while offline")
    async with running_bot(dc) as client:
        received = collect(client, "on_message")
        history = [m async for m in text_channel(client, world).history(limit=10)]
        assert [m.id for m in history] == [int(early["id"])]
        assert received == []


async def test_history_after_is_oldest_first(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    channel = text_channel(bot, world)
    sent = [await channel.send(f"m{i}") for i in range(5)]
    after = [m async for m in channel.history(after=sent[1], limit=None)]
    assert [m.id for m in after] == [m.id for m in sent[2:]]
    latest = [m async for m in channel.history(limit=2)]
    assert [m.content for m in latest] == ["m4", "m3"]
    raw = await bot.http.logs_from(world.text_channel_id, 100, after=sent[3].id)
    assert [int(m["id"]) for m in raw] == [sent[4].id]


# --------------------------------------------------------------------------- interactions


async def test_slash_command_synced_and_answered(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    guild = discord.Object(world.guild_id)

    @bot.tree.command(name="latest", description="Latest articles", guild=guild)
    async def latest(interaction: discord.Interaction, topic: str, count: int = 1) -> None:
        text = f"{count} on {topic} for {interaction.user.id}"
        await interaction.response.send_message(text, ephemeral=True)

    @bot.tree.command(name="slow", description="Slow answer", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="Done thinking")
        await interaction.followup.send("And a follow-up")

    synced = await bot.tree.sync(guild=guild)
    assert sorted(c.name for c in synced) == ["latest", "slow"]
    assert {c["name"] for c in dc.guild_commands[world.guild_id].values()} == {"latest", "slow"}

    call = await dc.slash_command(
        world.guild_id,
        world.text_channel_id,
        world.user_id,
        "latest",
        {"topic": "rust", "count": 3},
    )
    answer = await dc.wait_for_response(call["id"])
    assert answer["type"] == 4 and answer["data"]["flags"] & 64
    assert answer["data"]["content"] == f"3 on rust for {world.user_id}"
    assert dc.messages(world.text_channel_id) == []  # ephemeral: not in the channel

    slow_call = await dc.slash_command(
        world.guild_id, world.text_channel_id, world.user_id, "slow"
    )
    deferred = await dc.wait_for_response(slow_call["id"])
    assert deferred["type"] == 5
    iid = int(slow_call["id"])
    await wait_for(lambda: len(dc.followups.get(iid, [])) == 1, what="follow-up")
    contents = [m["content"] for m in dc.messages(world.text_channel_id)]
    assert contents == ["Done thinking", "And a follow-up"]
    assert not dc.messages(world.text_channel_id)[0]["flags"] & 128  # no longer loading


async def test_button_opens_modal_and_submit_is_answered(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    class CommentModal(discord.ui.Modal, title="Comment"):
        comment: discord.ui.TextInput[CommentModal] = discord.ui.TextInput(
            label="Your comment", custom_id="comment"
        )

        async def on_submit(self, interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"thanks: {self.comment.value}")

    class ArticleView(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Comment", custom_id="comment-button")
        async def open_modal(
            self, interaction: discord.Interaction, button: discord.ui.Button[ArticleView]
        ) -> None:
            await interaction.response.send_modal(CommentModal())

    article = await text_channel(bot, world).send("Article", view=ArticleView())
    press = await dc.press_button(
        world.guild_id, world.text_channel_id, world.user_id, article.id, "comment-button"
    )
    modal = await dc.wait_for_response(press["id"])
    assert modal["type"] == 9 and modal["data"]["title"] == "Comment"
    submit = await dc.submit_modal(
        world.guild_id,
        world.text_channel_id,
        world.user_id,
        modal["data"]["custom_id"],
        {"comment": "great piece"},
    )
    answer = await dc.wait_for_response(submit["id"])
    assert answer["type"] == 4 and answer["data"]["content"] == "thanks: great piece"


async def test_component_update_defer_and_context_menu(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    class Buttons(discord.ui.View):
        @discord.ui.button(label="Mark read", custom_id="mark")
        async def mark(
            self, interaction: discord.Interaction, button: discord.ui.Button[Buttons]
        ) -> None:
            await interaction.response.edit_message(content="marked")

        @discord.ui.button(label="Later", custom_id="later")
        async def later(
            self, interaction: discord.Interaction, button: discord.ui.Button[Buttons]
        ) -> None:
            await interaction.response.defer()
            await interaction.followup.send("noted", ephemeral=True)

    @bot.tree.context_menu(name="Quote", guild=discord.Object(world.guild_id))
    async def quote(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"> {message.content}")

    await bot.tree.sync(guild=discord.Object(world.guild_id))
    card = await text_channel(bot, world).send("Article", view=Buttons())
    press = await dc.press_button(
        world.guild_id, world.text_channel_id, world.user_id, card.id, "mark"
    )
    assert (await dc.wait_for_response(press["id"]))["type"] == 7
    assert dc.message(card.id)["content"] == "marked"

    later = await dc.press_button(
        world.guild_id, world.text_channel_id, world.user_id, card.id, "later"
    )
    assert (await dc.wait_for_response(later["id"]))["type"] == 6
    await wait_for(lambda: int(later["id"]) in dc.followups, what="ephemeral follow-up")
    assert dc.followups[int(later["id"])][0]["flags"] & 64

    user_msg = await dc.user_message(world.text_channel_id, world.user_id, "quotable")
    call = await dc.slash_command(
        world.guild_id,
        world.text_channel_id,
        world.user_id,
        "Quote",
        command_type=3,
        target_id=int(user_msg["id"]),
    )
    answer = await dc.wait_for_response(call["id"])
    assert answer["type"] == 4 and answer["data"]["content"] == "> quotable"
    with pytest.raises(ValueError):
        await dc.press_button(world.guild_id, world.text_channel_id, world.user_id, card.id, "x")


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
