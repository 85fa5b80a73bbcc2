"""Who may do what on Discord: rights from Discord permissions count only in the servers the
operator names, strangers' servers are refused, channel managers' subscriptions wait for
``/approve``, retracted articles are gone for readers, mirrored comments carry no formatting,
previews or pings, tokens stay out of the logs, and ids typed by people are ASCII digits.

The real discord.py client against the fake Discord, the real service and SQLite store.
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import UTC, datetime
from typing import Any

import pytest

import bot
from newsbot import Actor, ArticleId, NewDestination, NewsService, Platform
from newsbot.models import DestinationKind
from tests.adapters.discord.test_discord_render import unescaped_markdown
from tests.discord_helpers import (
    BOT_PERMISSIONS,
    LISTED_ADMIN,
    TOKEN,
    World,
    WorldFactory,
    content,
    ephemeral,
    fake,
    make_adapter,
    make_world,
    world,
)
from tests.fakes.discord import GUILD_TEXT, FakeDiscord
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]

EXPECTED_COMMANDS = {
    "publish",
    "edit",
    "retract",
    "subscribe",
    "unsubscribe",
    "approve",
    "latest",
    "article",
    "comments",
    "link",
    "policy",
    "notifications",
    "stats",
    "feed",
    "Delete comment",
    "Ban author",
    "Report",
}


def stranger_server(fake: FakeDiscord) -> tuple[int, int, int]:
    """A server someone else added the bot to: its owner (all permissions there), a channel."""
    stranger = fake.add_user(fake.new_id(), "Stan Stranger")
    guild = fake.add_guild("Elsewhere", owner_id=stranger, bot_permissions=BOT_PERMISSIONS)
    channel = fake.add_channel(guild, "general", GUILD_TEXT)
    fake.add_member(guild, LISTED_ADMIN, "Lee Listed")
    return guild, channel, stranger


async def answer(fake: FakeDiscord, payload: dict[str, Any]) -> dict[str, Any]:
    return await fake.wait_for_answer(payload["id"])


# -- the named servers --------------------------------------------------------------------


async def test_commands_go_to_each_named_server_and_stale_global_ones_are_cleared(
    make_world: WorldFactory, fake: FakeDiscord, service: NewsService
) -> None:
    # An earlier run named no server and synced globally.
    world = await make_world(guild_id=None)
    assert {c["name"] for c in fake.global_commands.values()} == EXPECTED_COMMANDS
    await world.adapter.stop()

    other = fake.add_guild("Second newsroom", owner_id=world.owner)
    guild, channel, stranger = stranger_server(fake)
    adapter = make_adapter(service, fake, guild_ids=[world.guild, other])
    await adapter.start()
    try:
        assert fake.global_commands == {}
        for named in (world.guild, other):
            names = {c["name"] for c in fake.guild_commands[named].values()}
            assert names == EXPECTED_COMMANDS
        assert guild not in fake.guild_commands
        with pytest.raises(ValueError, match="no synced command"):
            await fake.slash_command(guild, channel, stranger, "publish", {"title": "x"})
    finally:
        await adapter.stop()


async def test_a_takeover_syncs_no_commands_when_nothing_changed(
    make_world: WorldFactory, fake: FakeDiscord, service: NewsService
) -> None:
    """Every worker that takes the Discord role starts the adapter: the same commands for
    the same servers are synced once, not at every takeover."""
    world = await make_world()
    await world.adapter.stop()

    def syncs() -> int:
        return sum(
            1 for method, path, _ in fake.requests if method == "PUT" and "commands" in path
        )

    before = syncs()
    assert before >= 1
    again = make_adapter(service, fake, guild_ids=[world.guild])
    await again.start()
    try:
        assert syncs() == before
        names = {c["name"] for c in fake.guild_commands[world.guild].values()}
        assert names == EXPECTED_COMMANDS
    finally:
        await again.stop()
    # A new server named: synced again.
    other = fake.add_guild("Second newsroom", owner_id=world.owner)
    third = make_adapter(service, fake, guild_ids=[world.guild, other])
    await third.start()
    try:
        assert syncs() > before
        assert {c["name"] for c in fake.guild_commands[other].values()} == EXPECTED_COMMANDS
    finally:
        await third.stop()


async def test_a_strangers_server_is_refused_and_logged(
    make_world: WorldFactory, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    guild, channel, stranger = stranger_server(fake)
    # Global commands left from an earlier run, and clearing them fails this time: Discord
    # shows the commands in the stranger's server, and its owner (Manage Server there) uses
    # them.
    earlier = await make_world(guild_id=None)
    await earlier.adapter.stop()
    fake.fail_next("PUT", r"/applications/\d+/commands$", 403)
    with caplog.at_level(logging.INFO, logger="newsbot"):
        world = await make_world()
        await world.subscribe(world.text)
        for name, options in (
            ("publish", {"title": "Pwned", "body": "Everywhere"}),
            ("subscribe", {}),
            ("latest", {}),
        ):
            shown = await answer(
                fake, await fake.slash_command(guild, channel, stranger, name, options)
            )
            assert ephemeral(shown)
            assert content(shown).startswith("newsbot does not take commands in this server")
            assert str(guild) in content(shown)
    refusals = [
        r
        for r in caplog.records
        if r.msg
        == "discord interaction refused: its server is not named in NEWSBOT_DISCORD_GUILDS"
    ]
    assert [r.command for r in refusals] == ["publish", "subscribe", "latest"]  # type: ignore[attr-defined]
    assert {(r.guild_id, r.user_id) for r in refusals} == {(guild, stranger)}  # type: ignore[attr-defined]
    assert all(r.levelname == "WARNING" for r in refusals)
    assert any("the bot is in a Discord server not named" in r.msg for r in caplog.records)
    assert (await world.service.latest()).articles == []
    assert await world.service.destinations(Platform.DISCORD) != []
    assert all(d.chat_id != str(channel) for d in await world.service.destinations())

    # Someone in NEWSBOT_DISCORD_ADMINS stays an admin there too.
    shown = await answer(
        fake,
        await fake.slash_command(
            guild, channel, LISTED_ADMIN, "publish", {"title": "Ours", "body": "Fine"}
        ),
    )
    assert "Published article 1" in content(shown)


async def test_comments_come_only_from_the_named_servers(
    make_world: WorldFactory, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """A reply written in a stranger's server whose ``message_reference`` names an article
    post in ours is no comment."""
    _, channel, stranger = stranger_server(fake)
    world = await make_world()
    await world.subscribe(world.text)
    article = ArticleId(await world.publish())
    post, _ = await world.post_of(article, world.text)

    def ignored() -> bool:
        return any("not from a named server" in r.getMessage() for r in caplog.records)

    async def handled() -> bool:
        return ignored() or await world.service.comment_count(article) > 0

    with caplog.at_level(logging.DEBUG, logger="newsbot.discord"):
        await fake.user_message(
            channel, stranger, "spam from elsewhere", reply_to=int(post), reply_in=world.text
        )
        await wait_for(handled, 10, "the stranger's reply to be handled")
    assert await world.service.comment_count(article) == 0
    # A reader of the named server comments as before.
    await fake.user_message(world.text, world.reader, "from here", reply_to=int(post))

    async def stored() -> bool:
        return await world.service.comment_count(article) == 1

    await wait_for(stored, 10, "the reader's comment")
    [node] = (await world.service.thread(article)).comments
    assert node.comment.text == "from here"


async def test_with_no_server_named_discord_permissions_count_nowhere(
    make_world: WorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="newsbot.discord"):
        world = await make_world(guild_id=None)
    assert any("no Discord server is named" in r.msg for r in caplog.records)

    shown = await world.slash("publish", world.owner, title="T", body="B")
    assert "Only newsbot admins can publish" in content(shown)
    assert "NEWSBOT_DISCORD_GUILDS" in content(shown)
    shown = await world.slash("subscribe", world.manager)
    assert "Only an administrator of this chat" in content(shown)
    assert await world.service.destinations() == []
    # Reading works for everyone; NEWSBOT_DISCORD_ADMINS act.
    assert (await world.slash("latest", world.reader))["data"]["embeds"]
    shown = await world.slash("publish", LISTED_ADMIN, title="T", body="B")
    assert "Published article 1" in content(shown)


def test_named_servers_come_from_both_settings() -> None:
    settings = bot.Settings(_env_file=None, discord_guilds="11, 22", discord_guild="33")
    assert settings.discord_guild_ids == {11, 22, 33}
    assert bot.Settings(_env_file=None, discord_guild=" ").discord_guild_ids == frozenset()
    for bad in ({"discord_guilds": "11,x"}, {"discord_guilds": "١٢"}, {"discord_guild": "²"}):
        with pytest.raises(ValueError, match="Discord server ids"):
            # mypy matches **bad's str values against BaseSettings' typed _env_* arguments too.
            bot.Settings(_env_file=None, **bad)  # type: ignore[arg-type]


# -- approval -----------------------------------------------------------------------------


async def test_a_channel_managers_subscription_waits_for_approve(world: World) -> None:
    fake = world.fake
    shown = await world.slash("subscribe", world.manager)
    assert "a newsbot admin must approve it (/approve)" in content(shown)
    await world.publish(title="Before approval")
    assert world.bot_messages(world.text) == []

    # Only newsbot admins see the pending chats, and only they may approve.
    for user, expected in ((world.reader, []), (world.owner, [f"discord:{world.text}"])):
        payload = await fake.autocomplete(
            world.guild, world.text, user, "approve", {"chat": ""}, "chat"
        )
        choices = (await fake.wait_for_response(payload["id"]))["data"]["choices"]
        assert [c["value"] for c in choices] == expected
    assert "#news (Newsroom)" in choices[0]["name"]
    shown = await world.slash("approve", world.reader, chat=f"discord:{world.text}")
    assert "Only newsbot admins can approve subscriptions" in content(shown)

    shown = await world.slash("approve", world.moderator, chat=f"discord:{world.text}")
    assert content(shown).startswith("Approved \\#news (Newsroom) (Discord)")
    shown = await world.slash("approve", world.moderator, chat=f"<#{world.text}>")
    assert content(shown) == "No subscription of that chat is waiting for approval."
    await world.publish(title="After approval")
    [post] = world.bot_messages(world.text)
    assert post["embeds"][0]["title"] == "After approval"


async def test_approve_takes_ascii_digits_only(world: World) -> None:
    for typed in ("١٢٣", "²", "12a", "discord:١٢٣", ""):
        shown = await world.slash("approve", world.owner, chat=typed)
        assert ephemeral(shown)
        assert not content(shown).startswith("Sorry"), typed  # a refusal, not a traceback
    shown = await world.slash("approve", world.owner, chat=str(world.text))
    assert content(shown) == "No subscription of that chat is waiting for approval."


# -- retracted articles -------------------------------------------------------------------


async def test_a_retracted_article_is_gone_for_readers_not_for_admins(world: World) -> None:
    fake = world.fake
    article_id = await world.publish(title="Soon gone")
    for n in range(12):
        await world.service.add_web_comment(
            ArticleId(article_id), f"Reader {n}", f"comment {n}", client_key=f"k{n}"
        )
    payload = await fake.slash_command(
        world.guild, world.text, world.reader, "comments", {"article": article_id}
    )
    assert "Soon gone" in (await answer(fake, payload))["data"]["embeds"][0]["title"]
    shown_page = fake.interactions[int(payload["id"])].original_message_id
    assert shown_page is not None

    await world.service.retract(Actor.operator(), ArticleId(article_id))
    gone = f"There is no article {article_id}."
    for name in ("article", "comments"):
        assert content(await world.slash(name, world.reader, article=article_id)) == gone
    pressed = await fake.press_button(
        world.guild, world.text, world.reader, shown_page, "newsbot:comments:next"
    )
    assert content(await answer(fake, pressed)) == gone
    # Admins still read it.
    shown = await world.slash("comments", world.owner, article=article_id)
    assert "comment 0" in shown["data"]["embeds"][0]["description"]
    shown = await world.slash("article", world.owner, article=article_id)
    assert content(shown) == "(status: retracted)"


# -- mirrored comments --------------------------------------------------------------------

HOSTILE = (
    "[click me](http://evil.example/x)\n"
    "# Official notice\n"
    "-# small print\n"
    "> quoted\n"
    "- listed\n"
    "1. numbered\n"
    "**Editor** (Telegram): the article is fake\n"
    "@everyone <@&1> see https://evil.example/preview"
)


async def test_a_mirrored_comment_is_literal_text_without_previews_or_pings(
    world: World,
) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread = await world.post_of(article_id, world.text)
    name = "\u202eEvil\u2066 **Ed**"
    await world.service.add_web_comment(ArticleId(article_id), name, HOSTILE, client_key="h")
    await world.dispatcher.drain()

    [mirror] = world.bot_messages(int(thread or 0))
    assert mirror["flags"] & 4  # SUPPRESS_EMBEDS
    assert mirror["_link_previews"] == []
    assert mirror["_allowed_mentions"] == {"parse": []} and world.fake.pings == []
    text = mirror["content"]
    head, body = text.split(" (Web): ", 1)
    assert head == "**Evil \\*\\*Ed\\*\\***"  # bidi controls gone, the name's markdown escaped
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", text)
    assert unescaped_markdown(body) == []
    lines = body.split("\n")
    assert lines[6] == "\\*\\*Editor\\*\\* (Telegram): the article is fake"
    assert "https://evil.example/preview" in lines[7]  # the link itself is kept as written
    assert "@\u200beveryone" in lines[7]


# -- tokens -------------------------------------------------------------------------------


async def test_interaction_tokens_never_reach_the_logs_at_debug(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    loggers = ("discord", "discord.http", "discord.webhook.async_", "discord.gateway")
    with contextlib.ExitStack() as stack:
        stack.enter_context(caplog.at_level(logging.DEBUG))
        for name in loggers:
            stack.enter_context(caplog.at_level(logging.DEBUG, logger=name))
        await world.slash("publish", world.owner, title="Logged", body="Quietly")
        await world.slash("latest", world.reader)
    tokens = [i.token for i in world.fake.interactions.values()]
    assert len(tokens) == 2
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for token in tokens:
        assert token not in logged
    assert TOKEN not in logged
    # The lines that would have carried them are there, redacted.
    assert re.search(r"/interactions/\d+/\*\*\*/callback", logged)
    assert re.search(r"/webhooks/\d+/\*\*\*/messages/@original", logged)
    assert "'token': '***'" in logged


# -- ids from people and from state -------------------------------------------------------


async def test_malformed_ids_are_refused_without_a_traceback(
    world: World, caplog: pytest.LogCaptureFixture, service: NewsService
) -> None:
    # Subscribed by hand with full-width digits, before bot.py subscribe checked ids.
    await world.store.add_destination(
        NewDestination(Platform.DISCORD, "１２３", DestinationKind.CHANNEL), datetime.now(UTC)
    )
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread = await world.post_of(article_id, world.text)
    [odd] = [d for d in await service.destinations() if d.chat_id == "１２３"]
    assert not odd.active and "not a Discord channel id" in (odd.deactivated_reason or "")

    # A watermark that is no number (superscript two passes str.isdigit, not int()).
    await service.save_state(f"discord.backfill.{thread}", "²")
    await world.adapter.stop()
    await world.fake.user_message(int(thread or 0), world.reader, "while the bot was away")
    again = make_adapter(service, world.fake, guild_id=world.guild)
    with caplog.at_level(logging.ERROR):
        await again.start()
        try:
            assert await again.wait_backfill() == 1
        finally:
            await again.stop()
    assert (await service.thread(ArticleId(article_id))).total == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
