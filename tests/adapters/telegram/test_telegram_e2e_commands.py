"""End to end: python-telegram-bot against the fake Bot API, with the real service, SQLite
store and dispatcher. People act through the fake (user_sends, callback_press, kick_bot)."""

from __future__ import annotations

import logging

import pytest

from newsbot import (
    ArticleId,
)
from newsbot.models import CommentStatus
from tests.adapters.telegram.telegram_e2e_helpers import (
    post_in,
    publish,
    subscribe_all,
    world_ref,
)
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    CHANNEL_B,
    DISCUSSION_A,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    OTHER,
    READER,
    World,
    world,
)

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


async def test_publishing_dialogue_and_cancel(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    assert "title" in (await world.say(ADMIN, ADMIN, "/publish"))["text"]
    too_long = await world.say(ADMIN, ADMIN, "x" * 300)
    assert "The title is longer than 256 characters" in too_long["text"]
    assert "body" in (await world.say(ADMIN, ADMIN, "A dialogue"))["text"]
    before = len(world.bot_messages(ADMIN))
    world.tg.user_sends(ADMIN, ADMIN, "Written **step** by step")
    await wait_for(lambda: len(world.bot_messages(ADMIN)) >= before + 2, 10, "preview")
    preview, question = world.bot_messages(ADMIN)[before : before + 2]
    assert preview["text"].startswith("A dialogue\n\nWritten step by step")
    assert question["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "pub:yes"
    world.tg.callback_press(ADMIN, question["message_id"], ADMIN, "pub:yes")
    await wait_for(
        lambda: "Published article 1" in world.bot_messages(ADMIN)[-1]["text"], 10, "publish"
    )
    await world.drain()
    assert post_in(world, GROUP)["text"].startswith("A dialogue")

    assert "title" in (await world.say(ADMIN, ADMIN, "/publish"))["text"]
    assert "Cancelled" in (await world.say(ADMIN, ADMIN, "/cancel"))["text"]
    assert "nothing to cancel" in (await world.say(ADMIN, ADMIN, "/cancel"))["text"]
    assert len((await world.service.latest()).articles) == 1


async def test_photo_with_publish_caption_posts_the_photo(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    answer = await world.say(
        ADMIN, ADMIN, "", photo=True, caption="/publish Picture day\nA *fine* photo"
    )
    assert "Published article 1" in answer["text"]
    await world.drain()
    article = await world.service.article(ArticleId(1))
    assert article.image_url is not None
    assert article.image_url.startswith("https://news.example/media/telegram/")
    for chat in (CHANNEL_A, CHANNEL_B, GROUP):
        post = post_in(world, chat)
        assert "photo" in post
        assert post["caption"].startswith("Picture day\n\nA fine photo")
    photo_calls = world.tg.calls_to("sendPhoto")
    assert len(photo_calls) == 3
    assert all(not str(c["photo"]).startswith("http") for c in photo_calls)  # the file id

    # Editing a photo post edits its caption.
    await world.say(ADMIN, ADMIN, "/edit 1 Picture night\nDarker")
    await world.drain()
    assert post_in(world, GROUP)["caption"].startswith("Picture night\n\nDarker")


async def test_moderators_delete_comments_and_ban_authors(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    spam = world.tg.user_sends(GROUP, OTHER, "spam spam", reply_to=post)
    fine = world.tg.user_sends(GROUP, READER, "a fine comment", reply_to=post)
    await world.processed()

    refused = await world.say(GROUP, READER, "/delete", reply_to=spam["message_id"])
    assert "Only newsbot admins" in refused["text"]
    done = await world.say(GROUP, ADMIN, "/delete", reply_to=spam["message_id"])
    assert "Deleted comment" in done["text"]
    comment = await world.store.get_comment_by_source(world_ref(GROUP, spam["message_id"]))
    assert comment is not None
    assert comment.status == CommentStatus.DELETED
    assert world.tg.message(GROUP, spam["message_id"]) is None  # the bot is admin: gone too

    banned = await world.say(GROUP, ADMIN, "/ban", reply_to=fine["message_id"])
    assert "Banned Rita Reader" in banned["text"]
    later = world.tg.user_sends(GROUP, READER, "still here?", reply_to=post)
    await world.processed()
    assert await world.store.get_comment_by_source(world_ref(GROUP, later["message_id"])) is None
    # The /delete and /ban replies themselves never became comments.
    page = await world.service.thread(ArticleId(1))
    assert page.total == 0


async def test_ignores_bots_unknown_replies_and_service_messages(world: World) -> None:
    world.tg.add_user(99, "Other bot", "other_bot", is_bot=True)
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    chatter = world.tg.user_sends(GROUP, READER, "not a reply")
    world.tg.user_sends(GROUP, OTHER, "reply to chatter", reply_to=chatter["message_id"])
    world.tg.user_sends(GROUP, 99, "beep", reply_to=post)
    world.tg.user_sends(GROUP, READER, "", photo=True, reply_to=post)
    world.tg.user_sends(GROUP, READER, "/article 1", reply_to=post)
    await world.processed()
    page = await world.service.thread(ArticleId(1))
    assert [node.comment.text for node in page.comments] == ["[photo]"]


async def test_bad_commands_are_answered_and_the_bot_survives(world: World) -> None:
    await world.start()
    assert "Usage: /article ID" in (await world.say(READER, READER, "/article abc"))["text"]
    assert "no article 5" in (await world.say(READER, READER, "/article 5"))["text"]
    assert "Nothing has been published" in (await world.say(READER, READER, "/latest"))["text"]
    assert (
        "I cannot see @nowhere" in (await world.say(ADMIN, ADMIN, "/subscribe @nowhere"))["text"]
    )
    world.tg.add_chat(-1004000000000, "channel", "Not mine", bot_is_admin=False)
    assert (
        "Make me an administrator"
        in (await world.say(ADMIN, ADMIN, "/subscribe -1004000000000"))["text"]
    )
    assert "/help" in (await world.say(READER, READER, "hello?"))["text"]


async def test_commands_are_registered_and_latest_lists_articles(world: World) -> None:
    await world.start()
    admin_scope = {"type": "chat", "chat_id": ADMIN}
    await wait_for(lambda: bool(world.tg.commands(admin_scope)), 5, "setMyCommands")
    names = {c["command"] for c in world.tg.commands()}
    assert {"latest", "article", "comments", "subscribe", "help"} <= names
    assert "publish" not in names
    admin = world.tg.commands(admin_scope)
    assert "publish" in {c["command"] for c in admin}
    await publish(world, "One\nbody")
    await publish(world, "Two\nbody")
    latest = await world.say(READER, READER, "/latest")
    assert latest["text"] == "Latest articles\n• #2 Two\n• #1 One"
    links = [e["url"] for e in latest["entities"] if e["type"] == "text_link"]
    assert links == ["https://news.example/articles/2", "https://news.example/articles/1"]
    shown = await world.say(READER, READER, "/article 2")
    assert shown["text"].startswith("Two\n\nbody")


async def test_comments_are_paginated_with_buttons(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Popular\nbody")
    post = post_in(world, GROUP)["message_id"]
    for n in range(11):  # more than one page of eight
        world.tg.user_sends(GROUP, READER, f"comment number {n}", reply_to=post)
    await world.processed()
    first = await world.say(READER, READER, "/comments 1")
    assert "11 comments" in first["text"]
    assert "comment number 7" in first["text"]
    assert "comment number 8" not in first["text"]
    button = first["reply_markup"]["inline_keyboard"][0][-1]
    assert button["text"] == "Next ›"
    world.tg.callback_press(READER, first["message_id"], READER, button["callback_data"])

    def turned() -> bool:
        message = world.tg.message(READER, first["message_id"])
        return message is not None and "comment number 10" in message["text"]

    await wait_for(turned, 10, "the second page")
    assert world.tg.callback_answers


async def test_mirrored_web_comment_goes_under_the_post(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    await world.processed()
    await world.service.add_web_comment(
        ArticleId(1), "Wendy Web", "Hello from the site", client_key="k1"
    )
    await world.drain()
    group_post = post_in(world, GROUP)["message_id"]
    mirrored = world.bot_messages(GROUP)[-1]
    assert mirrored["text"] == "Wendy Web (Web): Hello from the site"
    assert mirrored["entities"] == [{"type": "bold", "offset": 0, "length": 9}]
    assert mirrored["reply_to_message"]["message_id"] == group_post
    # In a channel the comment goes to the discussion group, under the post's copy.
    copy = world.tg.discussion_copy(CHANNEL_A, post_in(world, CHANNEL_A)["message_id"])
    assert copy is not None
    in_discussion = [
        m
        for m in world.tg.messages(DISCUSSION_A)
        if m.get("from", {}).get("id") == world.tg.bot_id
    ]
    assert [m["text"] for m in in_discussion] == ["Wendy Web (Web): Hello from the site"]
    assert in_discussion[0]["reply_to_message"]["message_id"] == copy["message_id"]
    assert len(world.bot_messages(CHANNEL_A)) == 1
    # A Telegram reply to the mirrored comment is an answer to the web comment.
    world.tg.user_sends(GROUP, READER, "Hi Wendy", reply_to=mirrored["message_id"])
    await world.processed()
    page = await world.service.thread(ArticleId(1))
    assert [r.comment.text for r in page.comments[0].replies] == ["Hi Wendy"]


async def test_warns_when_it_cannot_see_discussion_comments(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    channel, group = -1005000000001, -1005000000002
    world.tg.add_chat(channel, "channel", "Blind", "blind", admins=[ADMIN], owner=ADMIN)
    world.tg.add_chat(group, "supergroup", "Blind chat", admins=[ADMIN], bot_is_admin=False)
    world.tg.link_discussion(channel, group)
    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        await world.start()
        answer = await world.say(ADMIN, ADMIN, "/subscribe @blind")
        assert "Subscribed Blind" in answer["text"]
        assert "cannot see readers' comments" in answer["text"]
        assert any(r.getMessage() == "cannot see comments" for r in caplog.records)
        # At the next start the bot checks every subscribed channel and warns again.
        await world.stop()
        await world.start()
        await wait_for(
            lambda: any("invisible to the bot" in r.getMessage() for r in caplog.records),
            5,
            "the startup check",
        )
