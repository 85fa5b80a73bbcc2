"""The fake Discord (tests/fakes/discord/) driven by the real discord.py client."""

from __future__ import annotations

import warnings

import pytest

from tests.adapters.discord.fake_discord_helpers import (
    bot,
    collect,
    dc,
    make_intents,
    running_bot,
    text_channel,
    world,
)
from tests.fakes.discord import (
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


async def test_localized_names_are_checked_like_names(
    dc: FakeDiscord, world: DemoWorld, bot: commands.Bot
) -> None:
    assert bot.application_id is not None
    menu = {"name": "Report", "type": 3, "name_localizations": {"de": "Melden"}}
    synced = await bot.http.bulk_upsert_guild_commands(bot.application_id, world.guild_id, [menu])
    assert synced[0]["name_localizations"] == {"de": "Melden"}
    slash = {"name": "latest", "description": "Latest", "type": 1}
    for bad in (
        {**menu, "name_localizations": {"de": "M" * 33}},
        {**menu, "name_localizations": {"xx": "Melden"}},
        {**slash, "name_localizations": {"de": "Neueste Artikel"}},  # a slash name: lowercase
    ):
        with pytest.raises(discord.HTTPException) as refused:
            await bot.http.bulk_upsert_guild_commands(bot.application_id, world.guild_id, [bad])
        assert refused.value.status == 400 and refused.value.code == 50035
