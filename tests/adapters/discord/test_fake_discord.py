"""The fake Discord (tests/fakes/discord/) driven by the real discord.py client."""

from __future__ import annotations

import asyncio
import io
import warnings

import pytest

from tests.adapters.discord.fake_discord_helpers import (
    TOKEN,
    bot,
    dc,
    make_intents,
    posts,
    text_channel,
    world,
)
from tests.fakes.discord import (
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

__all__ = ["bot", "dc", "world"]


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


async def test_slowmode_slows_members_not_moderators_nor_bots(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    from tests.fakes.discord.wire import SlowmodeLimited

    post = await text_channel(bot, world).send("an article")
    thread = await post.create_thread(name="Comments", slowmode_delay=30)
    assert thread.slowmode_delay == 30
    assert dc.channels[thread.id]["rate_limit_per_user"] == 30
    await dc.user_message(thread.id, world.user_id, "first")
    with pytest.raises(SlowmodeLimited) as refused:
        await dc.user_message(thread.id, world.user_id, "second")
    assert refused.value.status == 429 and refused.value.code == 20016
    assert refused.value.body()["retry_after"] <= 30
    for n in range(3):  # an administrator, and the bot, are not slowed
        await dc.user_message(thread.id, world.admin_id, f"admin {n}")
        await thread.send(f"bot {n}")
    dc.slowmode_passes(30)
    await dc.user_message(thread.id, world.user_id, "after the wait")
    edited = await thread.edit(slowmode_delay=0)
    assert edited.slowmode_delay == 0
    await dc.user_message(thread.id, world.user_id, "free again")
