"""Reactions end to end: the real discord.py client against the fake gateway. Added,
removed, cleared, on a comment, and made while the bot was down (read back by the backfill)."""

from __future__ import annotations

import asyncio

import pytest

from newsbot import ArticleId, CountRefresh, MessageRef, NewsService, Platform
from tests.discord_helpers import World, fake, make_adapter, make_world, world
from tests.fakes.discord import ApiError
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]


async def becomes(world: World, article: int, wanted: dict[str, int], what: str) -> None:
    async def check() -> bool:
        counts = await world.service.reactions.counts(ArticleId(article))
        return counts.article.by_emoji() == wanted

    await wait_for(check, 20, what)


async def test_reactions_added_removed_and_cleared(world: World) -> None:
    await world.subscribe(world.text)
    article = await world.publish()
    post_id, thread_id = await world.post_of(article, world.text)
    post = int(post_id)
    await world.fake.user_reacts(world.text, post, world.reader, "👍")
    await world.fake.user_reacts(world.text, post, world.manager, "👍")
    await world.fake.user_reacts(world.text, post, world.manager, "🎉")
    await becomes(world, article, {"👍": 2, "🎉": 1}, "reactions added")
    await world.fake.user_unreacts(world.text, post, world.reader, "👍")
    await becomes(world, article, {"👍": 1, "🎉": 1}, "a reaction removed")
    await world.fake.moderator_clears(world.text, post, world.owner, "🎉")
    await becomes(world, article, {"👍": 1}, "one emoji cleared")
    await world.fake.moderator_clears(world.text, post, world.owner)
    await becomes(world, article, {}, "every reaction cleared")

    # A reaction on a comment written in the post's thread counts for that comment.
    thread = int(thread_id or 0)
    written = await world.fake.user_message(thread, world.reader, "A comment")
    ref = MessageRef(Platform.DISCORD, str(thread), written["id"])

    async def stored() -> bool:
        return await world.service.comment_by_source(ref) is not None

    await wait_for(stored, 20, "the comment stored")
    comment = await world.service.comment_by_source(ref)
    assert comment is not None
    await world.fake.user_reacts(thread, int(written["id"]), world.owner, "🔥")

    async def on_comment() -> bool:
        counts = await world.service.reactions.counts(ArticleId(article))
        tally = counts.comments.get(comment.id)
        return tally is not None and tally.by_emoji() == {"🔥": 1}

    await wait_for(on_comment, 20, "the comment's reaction")


async def test_a_reaction_made_while_the_bot_was_down_is_read_back(
    world: World, service: NewsService
) -> None:
    await world.subscribe(world.text)
    article = await world.publish()
    post = int((await world.post_of(article, world.text))[0])
    await world.fake.user_reacts(world.text, post, world.reader, "👍")
    await becomes(world, article, {"👍": 1}, "the live reaction")
    await world.dispatcher.stop()
    await world.adapter.stop()

    await world.fake.user_reacts(world.text, post, world.manager, "👍")
    await world.fake.user_reacts(world.text, post, world.owner, "❤️")

    adapter = make_adapter(service, world.fake, guild_id=world.guild)
    await adapter.start()
    try:
        await adapter.wait_backfill()
        await becomes(world, article, {"👍": 2, "❤️": 1}, "reactions read back")
        # Taken back live: a reader seen live, and one only counted when read back.
        await world.fake.user_unreacts(world.text, post, world.reader, "👍")
        await becomes(world, article, {"👍": 1, "❤️": 1}, "a known reader's removal")
        await world.fake.user_unreacts(world.text, post, world.manager, "👍")
        await becomes(world, article, {"❤️": 1}, "an unseen reader's removal")
    finally:
        await adapter.stop()


async def test_the_fake_asks_for_the_permissions_discord_asks(world: World) -> None:
    await world.subscribe(world.text)
    article = await world.publish()
    post = int((await world.post_of(article, world.text))[0])
    with pytest.raises(ApiError):  # clearing needs Manage Messages
        await world.fake.moderator_clears(world.text, post, world.reader)
    for n in range(20):
        await world.fake.user_reacts(world.text, post, world.owner, chr(0x1F600 + n))
    with pytest.raises(ApiError, match="Maximum number of reactions"):
        await world.fake.user_reacts(world.text, post, world.owner, "🎉")
    fetched = world.fake.message(post)
    assert len(fetched["_reactions"]) == 20


async def test_the_posts_footer_shows_reactions(world: World) -> None:
    world.service.count_refresh = CountRefresh(min_interval=0.0, per_second=100.0)
    await world.subscribe(world.text)
    article = await world.publish()
    post = int((await world.post_of(article, world.text))[0])
    await world.fake.user_reacts(world.text, post, world.reader, "👍")

    def footer() -> str:
        return str(world.fake.message(post)["embeds"][0]["footer"]["text"])

    await wait_for(lambda: footer().endswith("· 1 reaction"), 20, "the footer's reactions")
    assert footer().startswith("💬 0 comments")


async def test_stats_for_newsbot_admins(world: World) -> None:
    await world.subscribe(world.text)
    article = await world.publish()
    post = int((await world.post_of(article, world.text))[0])
    await world.fake.user_reacts(world.text, post, world.reader, "🎉")
    await becomes(world, article, {"🎉": 1}, "the reaction")
    answer = await world.slash("stats", world.owner, world.text, article=article)
    text = answer["data"]["content"]
    assert text.splitlines()[0] == f"Article {article}: Hello"
    assert "Reactions: 1 (🎉 1)" in text
    assert "Posts: 1 of 1 sent" in text
    refused = await world.slash("stats", world.reader, world.text, article=article)
    assert "Reactions" not in refused["data"]["content"]


async def test_a_burst_of_reaction_events_is_written_in_a_few_batches(world: World) -> None:
    """discord.py dispatches each event in a task of its own; the reactions arriving together
    share the store's batches instead of a transaction each."""
    await world.subscribe(world.text)
    article = await world.publish()
    post = int((await world.post_of(article, world.text))[0])
    members = [world.fake.add_member(world.guild, world.fake.new_id(), f"M{n}") for n in range(30)]
    before = world.service.reactions.batches.writes
    await asyncio.gather(*(world.fake.user_reacts(world.text, post, m, "👍") for m in members))
    await becomes(world, article, {"👍": 30}, "the burst stored")
    assert world.service.reactions.batches.writes - before <= 10
