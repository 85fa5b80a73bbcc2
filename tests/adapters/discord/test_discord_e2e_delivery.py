"""The Discord adapter end to end: the real discord.py client against tests/fakes/discord/,
with the real NewsService, SqliteStore and Dispatcher."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    CommentStatus,
    MessageRef,
    NewsService,
    Platform,
)
from tests.discord_helpers import (
    World,
    WorldFactory,
    content,
    fake,
    make_adapter,
    make_world,
    world,
)
from tests.fakes.discord import (
    GUILD_TEXT,
    FakeDiscord,
)
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]


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
