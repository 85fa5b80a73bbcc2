"""The Discord adapter end to end: the real discord.py client against tests/fakes/discord/,
with the real NewsService, SqliteStore and Dispatcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.discord import DiscordAdapter
from newsbot import (
    ArticleId,
    ConfigError,
    DestinationKind,
    NewsService,
)
from tests.discord_helpers import (
    BOT_PERMISSIONS,
    LISTED_ADMIN,
    TOKEN,
    World,
    content,
    ephemeral,
    fake,
    make_world,
    world,
)
from tests.fakes.discord import (
    CREATE_PUBLIC_THREADS,
    EMBED_LINKS,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    FakeDiscord,
)
from tests.fakes.wait import wait_for

# TOKEN and BOT_PERMISSIONS are imported from here by tests/adapters/test_mirror_e2e.py.
__all__ = ["BOT_PERMISSIONS", "TOKEN", "fake", "make_world", "world"]


def test_the_documented_permission_integer_is_what_the_bot_needs() -> None:
    assert BOT_PERMISSIONS == (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | SEND_MESSAGES_IN_THREADS
        | CREATE_PUBLIC_THREADS
        | EMBED_LINKS
        | READ_MESSAGE_HISTORY
        | MANAGE_MESSAGES
        | MANAGE_THREADS
    )


async def test_the_docs_cover_the_invite_and_every_synced_command(world: World) -> None:
    docs = (Path(__file__).parents[3] / "docs" / "discord.md").read_text()
    assert f"permissions={BOT_PERMISSIONS}" in docs
    names = {command["name"] for command in world.fake.commands}
    assert names == {
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
        "scheduled",
        "notifications",
        "stats",
        "feed",
        "policy",
        "Delete comment",
        "Ban author",
        "Report",
    }
    for name in names:
        assert (f"`/{name}" if name[0].islower() else f"*Apps > {name}*") in docs


async def test_a_rejected_token_is_a_config_error(fake: FakeDiscord, service: NewsService) -> None:
    adapter = DiscordAdapter(
        service, token="wrong", api_url=fake.api_url, gateway_url=fake.gateway_url
    )
    with pytest.raises(ConfigError, match="NEWSBOT_DISCORD_TOKEN"):
        await adapter.start()
    assert "wrong" not in repr(adapter)


# -- publishing ---------------------------------------------------------------------------


async def test_publish_in_a_text_channel_posts_an_embed_and_opens_a_thread(world: World) -> None:
    # Manage Server in a named server makes a newsbot admin: the subscription is active.
    answer = await world.slash("subscribe", world.moderator, world.text)
    assert ephemeral(answer) and "Subscribed #news" in content(answer)

    answer = await world.slash(
        "publish",
        world.owner,
        world.text,
        title="Launch day",
        body="We **shipped**.",
        tags="release",
    )
    assert ephemeral(answer) and "Published article" in content(answer)
    await world.dispatcher.drain()

    [post] = world.bot_messages(world.text)
    [embed] = post["embeds"]
    assert embed["title"] == "Launch day"
    assert embed["description"] == "We **shipped**."
    assert embed["url"].startswith("https://news.example/articles/")
    assert "0 comments" in embed["footer"]["text"]
    assert post["_allowed_mentions"] == {"parse": []}
    thread = world.fake.threads[int(post["id"])]
    assert thread["name"] == "Launch day"
    [article] = (await world.service.latest()).articles
    message_id, thread_id = await world.post_of(article.id, world.text)
    assert message_id == thread_id == post["id"]


async def test_publish_crossposts_in_an_announcement_channel(world: World) -> None:
    answer = await world.slash("subscribe", world.moderator, world.news)
    assert "as announcement" in content(answer)
    await world.slash("publish", world.moderator, world.text, title="Big news", body="Read it.")
    await world.dispatcher.drain()

    [post] = world.bot_messages(world.news)
    assert int(post["id"]) in world.fake.crossposted
    assert int(post["id"]) in world.fake.threads


async def test_publish_to_a_forum_creates_a_post_with_matching_tags(world: World) -> None:
    answer = await world.slash("subscribe", world.moderator, world.text, channel=world.forum)
    assert "Subscribed #discussions" in content(answer), content(answer)
    answer = await world.slash(
        "publish", world.owner, world.text, title="Forum topic", body="Discuss.", tags="article"
    )
    assert "Published article" in content(answer)
    await world.dispatcher.drain()
    [article] = (await world.service.latest()).articles
    article_id = int(article.id)

    message_id, thread_id = await world.post_of(article_id, world.forum)
    thread = world.fake.threads[int(thread_id or 0)]
    assert thread["parent_id"] == str(world.forum)
    assert thread["name"] == "Forum topic"
    assert thread["applied_tags"] == [str(world.fake.tag_id(world.forum, "article"))]
    [starter] = world.fake.messages(int(thread["id"]))
    assert starter["id"] == message_id == thread_id
    assert starter["embeds"][0]["title"] == "Forum topic"


async def test_a_non_admin_is_refused_and_told_why(world: World) -> None:
    answer = await world.slash("publish", world.reader, world.text, title="T", body="B")
    assert ephemeral(answer)
    assert "NEWSBOT_DISCORD_ADMINS" in content(answer)
    assert "Manage Server" in content(answer)
    assert (await world.service.latest()).articles == []

    answer = await world.slash("subscribe", world.reader, world.text)
    assert ephemeral(answer) and "Manage Channels" in content(answer)
    answer = await world.slash("retract", world.manager, world.text, article=1)
    assert ephemeral(answer) and "Only newsbot admins" in content(answer)

    # Listed in NEWSBOT_DISCORD_ADMINS without any Discord permission: allowed.
    answer = await world.slash("publish", LISTED_ADMIN, world.text, title="T", body="B")
    assert "Published article" in content(answer)


async def test_publish_without_body_opens_a_form(world: World) -> None:
    await world.subscribe(world.text)
    answer = await world.slash("publish", world.owner, world.text, title="Draft title")
    assert answer["type"] == 9  # a modal
    custom_id = answer["data"]["custom_id"]
    assert world.fake.modals
    await world.fake.submit_modal(
        world.guild,
        world.text,
        world.owner,
        custom_id,
        {"title": "Final title", "summary": "Short.", "body": "The *long* body."},
    )
    await wait_for(lambda: len(world.fake.interaction_responses) == 2, what="form answer")

    # The second answer is the form's deferral; the article is stored after it, so wait for
    # the article rather than assume the publish finished with the answer.
    async def published() -> bool:
        return bool((await world.service.latest()).articles)

    await wait_for(published, 30, "the published article")
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    assert post["embeds"][0]["title"] == "Final title"
    assert post["embeds"][0]["description"] == "Short."


async def test_a_reader_gets_no_form(world: World) -> None:
    answer = await world.slash("publish", world.reader, world.text, title="x")
    assert answer["type"] == 4 and ephemeral(answer)
    assert not world.fake.modals


async def test_edit_and_retract_update_every_post_and_lock_the_thread(world: World) -> None:
    await world.subscribe(world.text)
    await world.subscribe(world.forum, DestinationKind.FORUM)
    article_id = await world.publish(title="Old", body="Old body")

    answer = await world.slash(
        "edit", world.owner, world.text, article=article_id, title="New", summary="Fresh"
    )
    assert "revision 2" in content(answer)
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    assert post["embeds"][0]["title"] == "New"
    _, forum_thread = await world.post_of(article_id, world.forum)
    [starter] = world.fake.messages(int(forum_thread or 0))
    assert starter["embeds"][0]["description"] == "Fresh"

    answer = await world.slash("retract", world.owner, world.text, article=article_id)
    assert "Retracted" in content(answer)
    await world.dispatcher.drain()
    assert world.bot_messages(world.text) == []
    for thread_id in (int(post["id"]), int(forum_thread or 0)):
        metadata = world.fake.threads[thread_id]["thread_metadata"]
        assert metadata["locked"] and metadata["archived"]


# -- mentions -----------------------------------------------------------------------------


async def test_article_and_comment_mentions_ping_nobody(world: World) -> None:
    await world.subscribe(world.text)
    hostile = f"@everyone @here <@&{world.role}> <@{world.reader}> hi"
    article_id = await world.publish(title=f"@everyone {hostile}", body=hostile, summary="")
    await world.service.add_web_comment(
        ArticleId(article_id), "@everyone", hostile, client_key="k1"
    )
    await world.dispatcher.drain()

    messages = world.bot_messages(world.text) + world.bot_messages(
        int(world.bot_messages(world.text)[0]["id"])
    )
    assert len(messages) == 2
    for message in messages:
        assert message["_allowed_mentions"] == {"parse": []}
        assert not message["mention_everyone"]
        assert message["mentions"] == [] and message["mention_roles"] == []
    mirror = messages[1]
    assert mirror["content"].startswith("**@\u200beveryone** (Web): ")
    assert world.fake.pings == []
