"""What readers write elsewhere reaches Telegram harmless, floods stay in their chat, and a
retracted article is gone for readers: end to end through python-telegram-bot and the fake."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from newsbot import Actor, ArticleDraft, ArticleId, IntakeLimits, MessageRef, Platform
from newsbot.models import CommentStatus
from tests.adapters.telegram.test_telegram_e2e import post_in, publish, subscribe_all
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    DISCUSSION_A,
    GROUP,
    OTHER,
    READER,
    World,
    world,
)

__all__ = ["world"]


def mirrored(w: World, chat: int) -> list[dict[str, Any]]:
    """Comments the bot mirrored into a chat ("Name (Platform): text")."""
    marks = (" (Web): ", " (Telegram): ", " (Discord): ")
    return [m for m in w.bot_messages(chat) if any(k in m.get("text", "") for k in marks)]


async def test_the_fake_turns_a_plain_username_into_a_mention(world: World) -> None:
    """The control for the tests below: a bot's "@rita" notifies Rita, entities or not."""
    adapter = await world.start()
    bot = adapter.application.bot
    plain = await bot.send_message(GROUP, "hello @rita")
    styled = await bot.send_message(
        GROUP, "hello @rita", entities=[{"type": "bold", "offset": 0, "length": 11}]
    )
    for sent in (plain, styled):
        message = world.tg.message(GROUP, sent.message_id)
        assert message is not None
        assert world.tg.mentioned_users(message) == {READER}


async def test_mirrored_comments_notify_nobody_and_carry_no_formatting(world: World) -> None:
    world.tg.add_user(9, "Mallory\u202e", "mallory")
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    await world.processed()
    await world.service.add_web_comment(
        ArticleId(1), "Eve @rita\u202e", "hi @rita and @omar, **bold** <b>x</b>", client_key="k1"
    )
    post = post_in(world, GROUP)["message_id"]
    world.tg.user_sends(GROUP, 9, "ping @omar", reply_to=post)
    await world.processed()
    await world.drain()
    in_group = mirrored(world, GROUP)
    assert [m["text"] for m in in_group] == [
        "Eve @\u2060rita (Web): hi @\u2060rita and @\u2060omar, **bold** <b>x</b>"
    ]
    assert in_group[0]["entities"] == [{"type": "bold", "offset": 0, "length": 10}]
    in_discussion = mirrored(world, DISCUSSION_A)
    assert sorted(m["text"] for m in in_discussion) == [
        "Eve @\u2060rita (Web): hi @\u2060rita and @\u2060omar, **bold** <b>x</b>",
        "Mallory (Telegram): ping @\u2060omar",
    ]
    for message in [*in_group, *in_discussion]:
        assert world.tg.mentioned_users(message) == set()
        assert "\u202e" not in str(message["text"])
    # The thread shown in a group notifies nobody either.
    thread = await world.say(GROUP, READER, "/comments 1")
    assert "@\u2060omar" in thread["text"]
    assert world.tg.mentioned_users(thread) == set()


async def test_a_flood_from_one_reader_is_hidden_and_not_mirrored(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.configure(intake=IntakeLimits(per_author=3, per_chat=100, window=60))
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    await world.processed()
    post = post_in(world, GROUP)["message_id"]
    with caplog.at_level(logging.INFO, logger="newsbot.service"):
        sent = [
            world.tg.user_sends(GROUP, READER, f"flood {n}", reply_to=post)["message_id"]
            for n in range(8)
        ]
        calm = world.tg.user_sends(GROUP, OTHER, "a calm reply", reply_to=post)
        await world.processed()
        await world.drain()
    statuses = []
    for message_id in sent:
        ref = MessageRef(Platform.TELEGRAM, str(GROUP), str(message_id))
        comment = await world.store.get_comment_by_source(ref)
        assert comment is not None  # stored, for moderators
        statuses.append(comment.status)
    assert statuses == [CommentStatus.VISIBLE] * 3 + [CommentStatus.HIDDEN] * 5
    texts = sorted(m["text"] for m in mirrored(world, DISCUSSION_A))
    assert texts == ["Omar (Telegram): a calm reply"] + [
        f"Rita Reader (Telegram): flood {n}" for n in range(3)
    ]
    assert len(world.bot_messages(CHANNEL_A)) == 1  # never into the channel itself
    over = [r for r in caplog.records if "over the intake limit" in r.getMessage()]
    assert len(over) == 5
    assert calm["message_id"] not in sent
    assert (await world.service.thread(ArticleId(1))).total == 4


async def test_one_readers_flood_never_silences_the_others(world: World) -> None:
    """Comments held back take no place in the chat's limit: after a flood of 20 (3 kept),
    the others' replies are still shown and mirrored."""
    world.configure(intake=IntakeLimits(per_author=3, per_chat=8, window=60))
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    await world.processed()
    post = post_in(world, GROUP)["message_id"]
    for n in range(20):
        world.tg.user_sends(GROUP, READER, f"flood {n}", reply_to=post)
    for n in range(3):
        world.tg.user_sends(GROUP, OTHER, f"calm {n}", reply_to=post)
    await world.processed()
    await world.drain()
    texts = sorted(str(m["text"]) for m in mirrored(world, DISCUSSION_A))
    assert texts == [f"Omar (Telegram): calm {n}" for n in range(3)] + [
        f"Rita Reader (Telegram): flood {n}" for n in range(3)
    ]
    thread = await world.service.thread(ArticleId(1))
    assert thread.total == 6


async def test_a_retracted_article_is_gone_for_readers_in_comments_and_buttons(
    world: World,
) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Soon gone\nbody")
    post = post_in(world, GROUP)["message_id"]
    for n in range(9):  # more than a page
        world.tg.user_sends(GROUP, READER, f"comment {n}", reply_to=post)
    await world.processed()
    page = await world.say(READER, READER, "/comments 1")
    admin_page = await world.say(ADMIN, ADMIN, "/comments 1")
    next_button = page["reply_markup"]["inline_keyboard"][0][-1]["callback_data"]
    await world.service.retract(Actor.operator(), ArticleId(1))
    await world.drain()

    gone = await world.say(READER, READER, "/comments 1")
    assert gone["text"] == "There is no article 1."
    world.tg.callback_press(READER, page["message_id"], READER, next_button)
    await wait_for(lambda: bool(world.tg.callback_answers), 10, "the button's answer")
    assert world.tg.callback_answers[-1]["text"] == "There is no article 1."
    assert world.tg.message(READER, page["message_id"]) == page  # the old page stays as it was
    assert "There is no article 1" in (await world.say(READER, READER, "/article 1"))["text"]
    assert "#1" not in (await world.say(READER, READER, "/latest"))["text"]

    # Admins still see it, marked.
    shown = await world.say(ADMIN, ADMIN, "/comments 1")
    assert shown["text"].startswith("[retracted] Soon gone\n💬 9 comments")
    world.tg.callback_press(ADMIN, admin_page["message_id"], ADMIN, next_button)

    def turned() -> bool:
        message = world.tg.message(ADMIN, admin_page["message_id"])
        return message is not None and "comment 8" in message["text"]

    await wait_for(turned, 10, "the admin's second page")
    await world.service.publish(Actor.operator(), ArticleDraft("Still here", "body"))
    assert "Still here" in (await world.say(READER, READER, "/comments 2"))["text"]
