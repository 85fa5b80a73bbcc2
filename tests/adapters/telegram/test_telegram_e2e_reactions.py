"""End to end: reactions through python-telegram-bot and the fake Bot API. Channel posts'
anonymous counts, a group member's reaction added and changed, a reaction on a mirrored copy
counting for its comment, and nothing seen where the bot is not an administrator."""

from __future__ import annotations

import logging

import pytest

from newsbot import ArticleId, CountRefresh, Platform
from newsbot.reactions import ReactionCounts
from tests.adapters.telegram.fake_telegram_helpers import GROUP as ADMIN_GROUP
from tests.adapters.telegram.fake_telegram_helpers import QUIET_GROUP, make_bot, tg
from tests.adapters.telegram.fake_telegram_helpers import READER as MEMBER
from tests.adapters.telegram.telegram_e2e_helpers import post_in, publish, subscribe_all, world_ref
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    DISCUSSION_A,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    OTHER,
    READER,
    World,
    world,
)

__all__ = ["tg", "world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


async def article_id(w: World) -> ArticleId:
    link = await w.service.resolve(world_ref(GROUP, post_in(w, GROUP)["message_id"]))
    assert link is not None
    return link.article_id


async def counts_become(w: World, article: ArticleId, wanted: object, what: str) -> ReactionCounts:
    found: list[ReactionCounts] = []

    async def check() -> bool:
        found[:] = [await w.service.reactions.counts(article)]
        return found[0].article.by_emoji() == wanted

    await wait_for(check, 20, what)
    return found[0]


async def test_channel_counts_and_a_group_members_reaction_added_and_changed(
    world: World,
) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    article = await article_id(world)
    channel_post = post_in(world, CHANNEL_A)["message_id"]
    world.tg.user_reacts(CHANNEL_A, channel_post, READER, "👍")
    world.tg.user_reacts(CHANNEL_A, channel_post, OTHER, "👍", "🔥")
    counts = await counts_become(world, article, {"👍": 2, "🔥": 1}, "the channel's counts")
    assert counts.article.by_platform() == {Platform.TELEGRAM: 3}
    group_post = post_in(world, GROUP)["message_id"]
    world.tg.user_reacts(GROUP, group_post, READER, "❤️")
    await counts_become(world, article, {"👍": 2, "🔥": 1, "❤️": 1}, "the member's reaction")
    world.tg.user_reacts(GROUP, group_post, READER, "😂")
    await counts_become(world, article, {"👍": 2, "🔥": 1, "😂": 1}, "the changed reaction")
    world.tg.user_reacts(CHANNEL_A, channel_post, OTHER)
    await counts_become(world, article, {"👍": 1, "😂": 1}, "a reaction taken back")


async def test_a_reaction_on_a_mirrored_copy_counts_for_its_comment(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    article = await article_id(world)
    reply = world.tg.user_sends(
        GROUP, READER, "A comment", reply_to=post_in(world, GROUP)["message_id"]
    )
    await world.processed()
    await world.drain()
    comment = await world.service.comment_by_source(world_ref(GROUP, reply["message_id"]))
    assert comment is not None
    copies = [m for m in world.tg.messages(DISCUSSION_A) if "A comment" in (m.get("text") or "")]
    assert len(copies) == 1
    world.tg.user_reacts(DISCUSSION_A, copies[0]["message_id"], OTHER, "👍")
    world.tg.user_reacts(GROUP, reply["message_id"], ADMIN, "👍")

    async def counted() -> bool:
        counts = await world.service.reactions.counts(article)
        tally = counts.comments.get(comment.id)
        return tally is not None and tally.by_emoji() == {"👍": 2}

    await wait_for(counted, 20, "both reactions counted for the comment")
    assert (await world.service.reactions.counts(article)).article.total == 0


async def test_nothing_is_seen_where_the_bot_is_no_administrator(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    article = await article_id(world)
    group_post = post_in(world, GROUP)["message_id"]
    caplog.set_level(logging.WARNING, "newsbot.telegram")
    for _ in range(2):
        world.tg.add_bot_to_chat(GROUP, admin=False)
    await world.processed()
    unseen = [r for r in caplog.records if "reactions in this chat" in r.getMessage()]
    assert len(unseen) == 1
    sent = len(world.tg.enqueued)
    world.tg.user_reacts(GROUP, group_post, READER, "👍")
    assert len(world.tg.enqueued) == sent  # Telegram sends it to administrators only
    world.tg.add_bot_to_chat(GROUP, admin=True)
    world.tg.user_reacts(GROUP, group_post, READER, "❤️")
    await counts_become(world, article, {"❤️": 1}, "the reaction once the bot is an admin")


async def test_the_fake_delivers_reactions_only_when_asked_for(tg: FakeTelegram) -> None:
    message = tg.user_sends(ADMIN_GROUP, MEMBER, "hello")
    tg.user_reacts(ADMIN_GROUP, message["message_id"], MEMBER, "👍")
    tg.user_reacts(
        QUIET_GROUP, tg.user_sends(QUIET_GROUP, MEMBER, "/start")["message_id"], MEMBER, "👍"
    )
    with pytest.raises(ValueError, match="REACTIONS_TOO_MANY"):
        tg.user_reacts(ADMIN_GROUP, message["message_id"], MEMBER, "1", "2", "3", "4")
    async with make_bot(tg) as bot:
        default = await bot.get_updates(timeout=0)
        assert [u.message_reaction for u in default] == [None, None]
        named = await bot.get_updates(timeout=0, allowed_updates=["message", "message_reaction"])
        reactions = [u.message_reaction for u in named if u.message_reaction is not None]
        assert len(reactions) == 1  # none from the group where the bot is no administrator
        assert reactions[0].chat.id == ADMIN_GROUP
        assert [r.to_dict() for r in reactions[0].new_reaction] == [
            {"type": "emoji", "emoji": "👍"}
        ]


async def test_the_posts_count_line_shows_reactions(world: World) -> None:
    world.configure(count_refresh=CountRefresh(min_interval=0.0, per_second=100.0))
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    group_post = post_in(world, GROUP)["message_id"]
    world.tg.user_reacts(GROUP, group_post, READER, "👍")
    world.tg.user_reacts(GROUP, group_post, OTHER, "🔥")

    def shows(chat: int) -> bool:
        return "💬 No comments yet · 2 reactions" in (post_in(world, chat).get("text") or "")

    for chat in (GROUP, CHANNEL_A):  # every post of the article, not only the one reacted on
        await wait_for(lambda c=chat: shows(c), 20, f"the count line in {chat}")  # type: ignore[misc]


async def test_stats_for_newsbot_admins_in_private(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Figures\nBody")
    world.tg.user_reacts(GROUP, post_in(world, GROUP)["message_id"], READER, "👍")
    article = await article_id(world)
    await counts_become(world, article, {"👍": 1}, "the reaction")
    answer = (await world.say(ADMIN, ADMIN, f"/stats {article}"))["text"]
    assert answer.splitlines()[0] == f"Article {article}: Figures"
    assert "Posts: 3 of 3 sent" in answer
    assert "Reactions: 1 (👍 1)" in answer
    latest = (await world.say(ADMIN, ADMIN, "/stats"))["text"]
    assert latest.splitlines()[0] == f"Article {article}: Figures"
    refused = (await world.say(READER, READER, f"/stats {article}"))["text"]
    assert "Reactions" not in refused


async def test_a_burst_of_reactions_is_written_in_a_few_batches_the_latest_winning(
    world: World,
) -> None:
    """Reaction updates of one chat fetched together are handled side by side, so their
    events reach the store in a few batches (not one transaction each), in order."""
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    article = await article_id(world)
    group_post = post_in(world, GROUP)["message_id"]
    before = world.service.reactions.batches.writes
    for n in range(40):  # no await between them: one getUpdates answer
        world.tg.user_reacts(GROUP, group_post, 5_000 + n, "👍")
    for emoji in ("🔥", "❤️", "😂"):
        world.tg.user_reacts(GROUP, group_post, READER, emoji)
    await counts_become(world, article, {"👍": 40, "😂": 1}, "the burst, the latest winning")
    assert world.service.reactions.batches.writes - before <= 3
