"""Reactions read back after downtime, end to end (the real discord.py client against the
fake): every post of the articles within the window is read, not only the newest ones, and
what Discord shows replaces what was stored for the message, removals included."""

from __future__ import annotations

import time

from newsbot import ArticleId, NewsService
from tests.discord_helpers import World, fake, make_adapter, make_world, world
from tests.fakes.discord import GUILD_TEXT
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]

NEWER_POSTS = 101  # past the 100 newest posts the read-back used to stop at


async def becomes(world: World, article: int, wanted: dict[str, int], what: str) -> None:
    async def check() -> bool:
        counts = await world.service.reactions.counts(ArticleId(article))
        return counts.article.by_emoji() == wanted

    await wait_for(check, 30, what)


async def test_reactions_added_and_removed_while_down_on_an_older_post(
    world: World, service: NewsService
) -> None:
    await world.subscribe(world.text)
    older = await world.publish("Older")
    post = int((await world.post_of(older, world.text))[0])
    await world.fake.user_reacts(world.text, post, world.reader, "👍")
    await world.fake.user_reacts(world.text, post, world.manager, "🎉")
    await becomes(world, older, {"👍": 1, "🎉": 1}, "the live reactions")
    for n in range(NEWER_POSTS):
        await world.subscribe(world.fake.add_channel(world.guild, f"more-{n}", GUILD_TEXT))
    newer = await world.publish("Newer")
    assert len(await service.deliveries(ArticleId(newer))) == NEWER_POSTS + 1
    await world.dispatcher.stop()
    await world.adapter.stop()

    await world.fake.user_reacts(world.text, post, world.owner, "❤️")  # added while down
    await world.fake.user_unreacts(world.text, post, world.manager, "🎉")  # removed while down

    world.fake.set_limits()  # Discord's limits from now on: the read-back stays within them
    adapter = make_adapter(service, world.fake, guild_id=world.guild, reaction_reads=40)
    started = time.monotonic()
    await adapter.start()
    try:
        read = await adapter.wait_read_back()
        assert read == NEWER_POSTS + 2, "every post in the window read back"
        # At its own pace (40 a second here: the first 40 at once, then 40 a second; a
        # slower machine only takes longer), and never answered 429.
        assert time.monotonic() - started >= (read - 40) / 40
        assert adapter.rate_limit_answers == 0
        await becomes(world, older, {"👍": 1, "❤️": 1}, "the older post read back")
        # Live again: the reader seen live takes theirs back, then the one only read back.
        await world.fake.user_unreacts(world.text, post, world.reader, "👍")
        await becomes(world, older, {"❤️": 1}, "a known reader's removal")
        await world.fake.user_unreacts(world.text, post, world.owner, "❤️")
        await becomes(world, older, {}, "an unseen reader's removal")
    finally:
        await adapter.stop()


async def test_no_read_back_outside_the_window(world: World, service: NewsService) -> None:
    await world.subscribe(world.text)
    article = await world.publish()
    post = int((await world.post_of(article, world.text))[0])
    await world.dispatcher.stop()
    await world.adapter.stop()
    await world.fake.user_reacts(world.text, post, world.owner, "❤️")
    adapter = make_adapter(service, world.fake, guild_id=world.guild, reaction_days=0)
    await adapter.start()
    try:
        assert await adapter.wait_read_back() == 0
        counts = await service.reactions.counts(ArticleId(article))
        assert counts.article.total == 0
    finally:
        await adapter.stop()
