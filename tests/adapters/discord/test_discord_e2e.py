"""The Discord adapter end to end: the real discord.py client against tests/fakes/discord/,
with the real NewsService, SqliteStore and Dispatcher."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    CommentStatus,
    ConfigError,
    DestinationKind,
    MessageRef,
    NewsService,
    Platform,
)
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
from tests.fakes.discord import (
    CREATE_PUBLIC_THREADS,
    EMBED_LINKS,
    GUILD_TEXT,
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
        "feed",
        "Delete comment",
        "Ban author",
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


# -- comments -----------------------------------------------------------------------------


async def test_thread_messages_and_replies_become_comments_with_parents(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    post_id, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)

    first = await world.fake.user_message(thread, world.reader, "First!")
    second = await world.fake.user_message(
        thread, world.manager, "Agreed", reply_to=int(first["id"])
    )
    third = await world.fake.user_message(
        world.text, world.owner, "In channel", reply_to=int(post_id)
    )
    await world.fake.user_message(world.text, world.reader, "unrelated chatter")

    async def stored(message: dict[str, Any]) -> bool:
        ref = MessageRef(Platform.DISCORD, message["channel_id"], message["id"])
        return await world.store.get_comment_by_source(ref) is not None

    for message in (first, second, third):
        await wait_for(lambda m=message: stored(m), what="comment stored")  # type: ignore[misc]  # python/mypy#15459: a lambda default binding a loop variable
    page = await world.service.thread(ArticleId(article_id))
    assert page.total == 3
    roots = {node.comment.text: node for node in page.comments}
    assert set(roots) == {"First!", "In channel"}
    assert roots["First!"].comment.author.name == "Rita Reader"
    assert roots["First!"].comment.author.user_id == str(world.reader)
    [reply] = roots["First!"].replies
    assert reply.comment.text == "Agreed" and reply.comment.author.name == "Manny Manager"

    # Edits and deletions follow.
    await world.fake.user_edit(thread, int(first["id"]), "First! (edited)")
    ref = MessageRef(Platform.DISCORD, str(thread), first["id"])

    async def edited() -> bool:
        comment = await world.store.get_comment_by_source(ref)
        return comment is not None and comment.text == "First! (edited)"

    await wait_for(edited, what="edit applied")
    await world.fake.user_delete(thread, int(first["id"]))

    async def deleted() -> bool:
        comment = await world.store.get_comment_by_source(ref)
        return comment is not None and comment.status is CommentStatus.DELETED

    await wait_for(deleted, what="deletion applied")


async def test_bots_and_unrelated_messages_are_ignored(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    robot = world.fake.add_member(world.guild, world.fake.new_id(), "robot", bot=True)
    await world.fake.user_message(int(thread_id or 0), robot, "beep")
    await world.fake.user_message(world.text, world.reader, "hello")
    marker = await world.fake.user_message(int(thread_id or 0), world.reader, "marker")
    ref = MessageRef(Platform.DISCORD, str(thread_id), marker["id"])

    async def marker_stored() -> bool:
        return await world.store.get_comment_by_source(ref) is not None

    await wait_for(marker_stored, what="marker stored")
    assert (await world.service.thread(ArticleId(article_id))).total == 1


async def test_comments_are_mirrored_into_the_thread_and_never_back(world: World) -> None:
    await world.subscribe(world.text)
    second_channel = world.fake.add_channel(world.guild, "more-news", GUILD_TEXT)
    await world.subscribe(second_channel)
    article_id = await world.publish()
    _, thread_a = await world.post_of(article_id, world.text)
    _, thread_b = await world.post_of(article_id, second_channel)

    web = await world.service.add_web_comment(
        ArticleId(article_id), "Wendy *Web*", "From the site", client_key="w1"
    )
    await world.dispatcher.drain()
    [mirror_a] = world.bot_messages(int(thread_a or 0))
    assert mirror_a["content"] == "**Wendy \\*Web\\*** (Web): From the site"

    # A reader answers the mirror in thread A, then someone answers that reply there.
    answer = await world.fake.user_message(
        int(thread_a or 0), world.reader, "Reply to web", reply_to=int(mirror_a["id"])
    )
    await world.fake.user_message(
        int(thread_a or 0), world.manager, "Reply to reply", reply_to=int(answer["id"])
    )

    async def both_stored() -> bool:
        return (await world.service.thread(ArticleId(article_id))).total == 3

    await wait_for(both_stored, what="replies stored")
    await world.dispatcher.drain()
    # Thread A holds only the web mirror; thread B got all three, natively threaded.
    assert len(world.bot_messages(int(thread_a or 0))) == 1
    mirrors_b = world.bot_messages(int(thread_b or 0))
    assert [m["content"].split(": ", 1)[1] for m in mirrors_b] == [
        "From the site",
        "Reply to web",
        "Reply to reply",
    ]
    assert mirrors_b[1]["message_reference"]["message_id"] == mirrors_b[0]["id"]
    assert mirrors_b[2]["message_reference"]["message_id"] == mirrors_b[1]["id"]
    assert web.parent_id is None


# -- delivery under failure ---------------------------------------------------------------


async def test_429_and_5xx_mid_fan_out_lose_nothing_and_double_nothing(world: World) -> None:
    channels = [world.fake.add_channel(world.guild, f"c{i}", GUILD_TEXT) for i in range(6)]
    for channel in channels:
        await world.subscribe(channel)
    fake = world.fake
    fake.fail_next("POST", rf"/channels/{channels[1]}/messages$", 429, retry_after=0.05)
    fake.fail_next("POST", rf"/channels/{channels[2]}/messages$", 503)
    fake.fail_next("POST", rf"/channels/{channels[3]}/messages$", 500)
    fake.fail_next("POST", rf"/channels/{channels[4]}/messages/\d+/threads$", 503)
    article_id = await world.publish()

    for channel in channels:
        [post] = world.bot_messages(channel)
        assert int(post["id"]) in fake.threads
        assert await world.post_of(article_id, channel) == (post["id"], post["id"])
    assert fake.count_429_injected == 1
    # The post to channels[4] went out before its thread failed: it was not sent again.
    sends = [r for r in fake.requests if r[:2] == ("POST", f"/channels/{channels[4]}/messages")]
    assert len(sends) == 1


async def test_a_resend_after_a_crash_returns_the_same_post(world: World) -> None:
    await world.dispatcher.stop()  # deliver by hand, as a dispatcher that crashed would
    await world.subscribe(world.text)
    await world.service.publish(Actor.operator(), ArticleDraft("Once", "Only once"))
    [job] = await world.store.claim_deliveries(Platform.DISCORD, world.service.clock.now(), 5)
    job = dataclasses.replace(job, article_url=world.service.article_url(job.article.id))

    first = await world.adapter.publisher.post(job)
    again = await world.adapter.publisher.post(job)  # the crash came before it was recorded

    assert again == first and first.thread_id == first.message_id
    [post] = world.bot_messages(world.text)
    assert post["id"] == first.message_id
    [request, *_] = [r for r in world.fake.requests if r[0] == "POST" and "nonce" in (r[2] or {})]
    assert request[2]["nonce"] == job.nonce and request[2]["enforce_nonce"] is True


async def test_a_forbidden_or_deleted_channel_is_deactivated(world: World) -> None:
    closed = world.fake.add_channel(world.guild, "closed", GUILD_TEXT, bot_can_send=False)
    doomed = world.fake.add_channel(world.guild, "doomed", GUILD_TEXT)
    await world.subscribe(closed)
    await world.subscribe(doomed)
    await world.subscribe(world.text)
    world.fake.delete_channel(doomed)
    await world.publish()

    destinations = {d.chat_id: d for d in await world.service.destinations(Platform.DISCORD)}
    assert not destinations[str(closed)].active
    assert not destinations[str(doomed)].active
    assert destinations[str(world.text)].active
    assert len(world.bot_messages(world.text)) == 1
    posts_to_closed = [
        r for r in world.fake.requests if r[0] == "POST" and r[1] == f"/channels/{closed}/messages"
    ]
    assert len(posts_to_closed) == 1  # tried once, never again


# -- pacing -------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_large_fan_out_draws_no_429(world: World) -> None:
    channels = [world.fake.add_channel(world.guild, f"f{i}", GUILD_TEXT) for i in range(100)]
    for channel in channels:
        await world.subscribe(channel)
    world.fake.set_limits(global_per_sec=50, per_channel=(5, 5.0))
    await world.service.publish(Actor.operator(), ArticleDraft("Everywhere", "Body"))
    await world.dispatcher.drain(max_wait=30)

    assert world.fake.count_429 == 0
    assert world.adapter.pacer.paced >= 2 * len(channels)
    for channel in channels:
        [post] = world.bot_messages(channel)
        assert int(post["id"]) in world.fake.threads


async def test_a_busy_channel_waits_its_turn_without_429(
    make_world: WorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(channel_rate=2, channel_period=0.5)
    world.fake.set_limits(per_channel=(2, 0.5))
    await world.subscribe(world.text)
    with caplog.at_level(logging.INFO, logger="newsbot.dispatcher"):
        for n in range(6):
            await world.service.publish(Actor.operator(), ArticleDraft(f"Article {n}", "Body"))
        await world.dispatcher.drain(max_wait=20)

    assert world.fake.count_429 == 0
    # The channel's budget ran out and the publisher said so instead of waiting.
    assert any(getattr(r, "scope", None) == "chat" for r in caplog.records)
    titles = [m["embeds"][0]["title"] for m in world.bot_messages(world.text)]
    assert sorted(titles) == [f"Article {n}" for n in range(6)]


# -- restarts -----------------------------------------------------------------------------


async def test_a_backfill_reads_only_where_something_was_written(
    world: World, service: NewsService
) -> None:
    """Twelve channels with a post and a thread each, a backfill allowed 3 reads: the
    replies written while down in three places are all stored, and the quiet places (their
    last message, as the gateway says, is the post) cost no request."""
    channels = [world.fake.add_channel(world.guild, f"b{i}", GUILD_TEXT) for i in range(12)]
    for channel in channels:
        await world.subscribe(channel)
    article_id = await world.publish()
    posts = [await world.post_of(article_id, c) for c in channels]
    threads = [int(thread or 0) for _, thread in posts]
    await world.dispatcher.stop()
    await world.adapter.stop()

    await world.fake.user_message(threads[0], world.reader, "in the first thread")
    await world.fake.user_message(threads[7], world.reader, "in the eighth thread")
    await world.fake.user_message(
        channels[11], world.reader, "in the last channel", reply_to=int(posts[11][0])
    )
    before = len(world.fake.requests)
    adapter = make_adapter(service, world.fake, guild_id=world.guild, backfill_reads=3)
    await adapter.start()
    try:
        assert await adapter.wait_backfill() == 3
    finally:
        await adapter.stop()
    reads = [
        path
        for method, path, _ in world.fake.requests[before:]
        if method == "GET" and path.endswith("/messages")
    ]
    assert sorted(reads) == sorted(
        f"/channels/{c}/messages" for c in (threads[0], threads[7], channels[11])
    )
    page = await service.thread(ArticleId(article_id), limit=100)
    assert sorted(node.comment.text for node in page.comments) == [
        "in the eighth thread",
        "in the first thread",
        "in the last channel",
    ]


async def test_messages_posted_while_down_are_backfilled_once(
    world: World, service: NewsService
) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    live = await world.fake.user_message(thread, world.reader, "said while up")
    live_ref = MessageRef(Platform.DISCORD, str(thread), live["id"])

    async def live_stored() -> bool:
        return await world.store.get_comment_by_source(live_ref) is not None

    await wait_for(live_stored, what="live message stored")
    await world.dispatcher.stop()
    await world.adapter.stop()

    first = await world.fake.user_message(thread, world.reader, "said while down")
    await world.fake.user_message(thread, world.manager, "answer", reply_to=int(first["id"]))
    for n in range(103):  # more than one page of history
        await world.fake.user_message(thread, world.reader, f"note {n}")

    # The first backfill reads the whole thread (no watermark yet), so it also meets the
    # message stored live and finds it stored; the second reads nothing new.
    for expected in (106, 0):
        adapter = make_adapter(service, world.fake, guild_id=world.guild)
        await adapter.start()
        try:
            assert await adapter.wait_backfill() == expected
        finally:
            await adapter.stop()
    page = await service.thread(ArticleId(article_id), limit=100)
    assert page.total == 106
    texts = [node.comment.text for node in page.comments]
    assert texts[:2] == ["said while up", "said while down"]
    assert [r.comment.text for r in page.comments[1].replies] == ["answer"]

    # Edits and deletions reach messages this client never saw live (raw gateway events).
    adapter = make_adapter(service, world.fake, guild_id=world.guild)
    await adapter.start()
    try:
        ref = MessageRef(Platform.DISCORD, str(thread), first["id"])
        await world.fake.user_edit(thread, int(first["id"]), "said while down, edited")

        async def edited() -> bool:
            comment = await world.store.get_comment_by_source(ref)
            return comment is not None and comment.text == "said while down, edited"

        await wait_for(edited, what="edit of an uncached message")
        await world.fake.user_delete(thread, int(first["id"]))

        async def deleted() -> bool:
            comment = await world.store.get_comment_by_source(ref)
            return comment is not None and comment.status is CommentStatus.DELETED

        await wait_for(deleted, what="deletion of an uncached message")
    finally:
        await adapter.stop()


async def test_without_the_message_content_intent_commands_keep_working(
    make_world: WorldFactory, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake.allow_message_content = False
    with caplog.at_level(logging.INFO, logger="newsbot.discord"):
        world = await make_world()
    refusals = [r for r in caplog.records if "4014" in r.getMessage()]
    assert len(refusals) == 1
    assert "Message Content Intent" in refusals[0].getMessage()
    assert not world.adapter.message_content

    answer = await world.slash("subscribe", world.manager, world.text)
    assert "a newsbot admin must approve it" in content(answer)
    answer = await world.slash("approve", world.owner, world.text, chat=f"discord:{world.text}")
    assert content(answer).startswith("Approved \\#news (Newsroom) (Discord)")
    await world.slash("publish", world.owner, world.text, title="Still works", body="Yes.")
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    assert post["embeds"][0]["title"] == "Still works"
    answer = await world.slash("latest", world.reader, world.text)
    assert "Still works" in answer["data"]["embeds"][0]["description"]


# -- reading and moderating ---------------------------------------------------------------


async def test_latest_and_article(world: World) -> None:
    first = await world.publish(title="First one")
    await world.publish(title="Second one")
    answer = await world.slash("latest", world.reader, world.text, count=5)
    description = answer["data"]["embeds"][0]["description"]
    assert description.index("Second one") < description.index("First one")
    assert ephemeral(answer)

    answer = await world.slash("article", world.reader, world.text, article=first)
    assert answer["data"]["embeds"][0]["title"] == "First one"
    answer = await world.slash("article", world.reader, world.text, article=999)
    assert content(answer) == "There is no article 999."


async def test_comments_are_paged_with_buttons(world: World) -> None:
    article_id = await world.publish(title="Busy thread")
    for n in range(12):
        await world.service.add_web_comment(
            ArticleId(article_id), f"Reader {n}", f"comment {n}", client_key=f"k{n}"
        )
    payload = await world.fake.slash_command(
        world.guild, world.text, world.reader, "comments", {"article": article_id}
    )
    answer = await world.fake.wait_for_response(payload["id"])
    assert ephemeral(answer)
    page_one = answer["data"]["embeds"][0]
    assert "comment 0" in page_one["description"] and "comment 11" not in page_one["description"]
    assert "Page 1 · 12 comments" in page_one["footer"]["text"]

    message_id = world.fake.interactions[int(payload["id"])].original_message_id
    assert message_id is not None
    pressed = await world.fake.press_button(
        world.guild, world.text, world.reader, message_id, "newsbot:comments:next"
    )
    update = await world.fake.wait_for_response(pressed["id"])
    assert update["type"] == 7
    page_two = update["data"]["embeds"][0]
    assert "comment 11" in page_two["description"] and "comment 0" not in page_two["description"]


async def test_moderators_delete_comments_and_ban_authors_from_the_menu(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    spam = await world.fake.user_message(thread, world.reader, "buy now")
    more = await world.fake.user_message(thread, world.reader, "buy more")
    web = await world.service.add_web_comment(
        ArticleId(article_id), "Troll", "nonsense", client_key="t1"
    )
    await world.dispatcher.drain()

    async def all_stored() -> bool:
        return (await world.service.thread(ArticleId(article_id))).total == 3

    await wait_for(all_stored, what="comments stored")

    answer = await world.menu("Delete comment", world.reader, thread, int(spam["id"]))
    assert ephemeral(answer) and "Only newsbot admins" in content(answer)

    answer = await world.menu("Delete comment", world.moderator, thread, int(spam["id"]))
    assert "deleted everywhere" in content(answer)
    assert int(spam["id"]) not in {int(m["id"]) for m in world.fake.messages(thread)}

    [mirror] = world.bot_messages(thread)
    answer = await world.menu("Ban author", world.owner, thread, int(mirror["id"]))
    assert content(answer) == "Banned Troll (web); 1 comment(s) deleted."
    answer = await world.menu("Ban author", world.owner, thread, int(more["id"]))
    assert "(discord); 1 comment(s) deleted" in content(answer)
    await world.dispatcher.drain()
    assert world.bot_messages(thread) == []  # the web comment's mirror went too
    assert (await world.service.thread(ArticleId(article_id))).total == 0
    assert (await world.service.comment(web.id)).status is CommentStatus.DELETED

    await world.fake.user_message(thread, world.reader, "I am back")
    await world.fake.user_message(thread, world.owner, "owner marker")

    async def marker() -> bool:
        return (await world.service.thread(ArticleId(article_id))).total == 1

    await wait_for(marker, what="owner marker stored")
    [node] = (await world.service.thread(ArticleId(article_id))).comments
    assert node.comment.text == "owner marker"


async def test_unsubscribe_stops_posting(world: World) -> None:
    await world.slash("subscribe", world.moderator, world.text)
    answer = await world.slash("subscribe", world.manager, world.text)
    assert "already subscribed" in content(answer)
    answer = await world.slash("unsubscribe", world.manager, world.text)
    assert "Unsubscribed #news" in content(answer)
    await world.publish()
    assert world.bot_messages(world.text) == []
    answer = await world.slash("unsubscribe", world.manager, world.text)
    assert content(answer) == "This chat is not subscribed."


async def test_a_channel_manager_asks_and_unsubscribing_withdraws_the_request(
    world: World,
) -> None:
    answer = await world.slash("subscribe", world.manager, world.text)
    assert "a newsbot admin must approve it" in content(answer)
    answer = await world.slash("subscribe", world.manager, world.text)
    assert content(answer) == "#news is already waiting for a newsbot admin's approval."
    answer = await world.slash("unsubscribe", world.manager, world.text)
    assert content(answer) == "Withdrew the request to subscribe #news."
    assert await world.service.pending_destinations() == []
    await world.publish()
    assert world.bot_messages(world.text) == []


async def test_a_thread_cannot_be_subscribed(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    answer = await world.slash("subscribe", world.owner, int(thread_id or 0))
    assert ephemeral(answer) and "cannot post in a thread" in content(answer)


async def test_an_unexpected_error_gets_an_apology_and_a_log_line(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("database on fire")

    world.service.latest = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="newsbot.discord"):
        answer = await world.slash("latest", world.reader, world.text)
    assert ephemeral(answer) and content(answer).startswith("Sorry, something went wrong")
    [record] = [r for r in caplog.records if r.getMessage() == "discord command failed"]
    assert record.command == "latest"  # type: ignore[attr-defined]
    assert record.exc_info is not None
