"""End to end: python-telegram-bot against the fake Bot API, with the real service, SQLite
store and dispatcher. People act through the fake (user_sends, callback_press, kick_bot)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.telegram.handlers import APOLOGY, STALE_BUTTON
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    DestinationKind,
    MessageRef,
    NewDestination,
    Platform,
)
from newsbot.models import CommentStatus
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    CHANNEL_B,
    DISCUSSION_A,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    OTHER,
    PUBLIC_URL,
    READER,
    World,
    world,
)

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING

JSON = dict[str, Any]


async def subscribe_all(w: World) -> None:
    """Subscribe both channels (from the admin's private chat) and the group (in it)."""
    assert "Subscribed" in (await w.say(ADMIN, ADMIN, "/subscribe @channel_a"))["text"]
    assert "Subscribed" in (await w.say(ADMIN, ADMIN, f"/subscribe {CHANNEL_B}"))["text"]
    assert "Subscribed" in (await w.say(GROUP, ADMIN, "/subscribe"))["text"]


async def publish(w: World, text: str) -> JSON:
    answer = await w.say(ADMIN, ADMIN, f"/publish {text}")
    assert "Published article" in answer["text"], answer["text"]
    await w.drain()
    return answer


def posts_in(w: World, chat_id: int) -> list[JSON]:
    """The bot's article posts in a chat (answers to commands left out)."""
    return [
        m for m in w.bot_messages(chat_id) if "💬" in (m.get("text") or m.get("caption") or "")
    ]


def post_in(w: World, chat_id: int) -> JSON:
    posts = posts_in(w, chat_id)
    assert len(posts) == 1, posts
    return posts[0]


async def test_admin_publishes_to_two_channels_and_a_group(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    destinations = await world.service.destinations(Platform.TELEGRAM)
    assert {(d.chat_id, d.kind) for d in destinations} == {
        (str(CHANNEL_A), DestinationKind.CHANNEL),
        (str(CHANNEL_B), DestinationKind.CHANNEL),
        (str(GROUP), DestinationKind.GROUP),
    }

    answer = await publish(world, "Launch day\nWe **shipped** it. Read `the notes`.")
    assert "Queued for 3 destination(s)" in answer["text"]
    for chat in (CHANNEL_A, CHANNEL_B, GROUP):
        post = post_in(world, chat)
        assert post["text"].startswith("Launch day\n\nWe shipped it. Read the notes.")
        assert post["text"].endswith("💬 No comments yet")
        kinds = {(e["type"], e["offset"], e["length"]) for e in post["entities"]}
        assert {("bold", 0, 10), ("bold", 15, 7), ("code", 32, 9)} <= kinds
    # The discussion group got Telegram's automatic copy, which the adapter linked.
    copy = world.tg.discussion_copy(CHANNEL_A, post_in(world, CHANNEL_A)["message_id"])
    assert copy is not None
    await world.processed()
    link = await world.service.resolve(world_ref(DISCUSSION_A, copy["message_id"]))
    assert link is not None
    assert link.article_id == 1


def world_ref(chat: int, message: int) -> MessageRef:
    return MessageRef(Platform.TELEGRAM, str(chat), str(message))


async def test_non_admin_cannot_publish_or_subscribe(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    sent_before = len(world.tg.sent)
    answer = await world.say(READER, READER, "/publish Spam\nBuy now")
    assert "Only newsbot admins can publish" in answer["text"]
    assert str(READER) in answer["text"]  # tells them which id an operator would add
    channel = await world.say(READER, READER, "/subscribe @channel_b")
    assert "Only an administrator of this chat" in channel["text"]
    refused = await world.say(GROUP, READER, "/unsubscribe")
    assert "Only an administrator" in refused["text"]
    await world.drain()
    assert [m for m in world.tg.sent[sent_before:] if m["chat"]["type"] != "private"] == [refused]
    assert (await world.service.latest()).articles == []
    assert all(d.active for d in await world.service.destinations(Platform.TELEGRAM))


async def test_replies_and_discussion_comments_become_a_thread(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    group_post = post_in(world, GROUP)["message_id"]
    channel_post = post_in(world, CHANNEL_A)["message_id"]
    await world.processed()
    copy = world.tg.discussion_copy(CHANNEL_A, channel_post)
    assert copy is not None

    first = world.tg.user_sends(GROUP, READER, "Great news!", reply_to=group_post)
    answer = world.tg.user_sends(GROUP, OTHER, "Agreed", reply_to=first["message_id"])
    third = world.tg.user_sends(
        DISCUSSION_A, READER, "From the channel", reply_to=copy["message_id"]
    )
    await world.processed()

    by_text = {}
    for chat, sent in ((GROUP, first), (GROUP, answer), (DISCUSSION_A, third)):
        comment = await world.store.get_comment_by_source(world_ref(chat, sent["message_id"]))
        assert comment is not None, sent["text"]
        by_text[sent["text"]] = comment
    assert by_text["Great news!"].article_id == 1
    assert by_text["Great news!"].parent_id is None
    assert by_text["Great news!"].author.name == "Rita Reader"
    assert by_text["Great news!"].author.user_id == str(READER)
    assert by_text["Agreed"].parent_id == by_text["Great news!"].id
    assert by_text["Agreed"].author.name == "Omar"
    assert by_text["From the channel"].article_id == 1
    assert by_text["From the channel"].parent_id is None

    world.tg.user_edits(GROUP, first["message_id"], "Great news, really!")
    await world.processed()
    edited = await world.service.comment(by_text["Great news!"].id)
    assert edited.text == "Great news, really!"
    assert edited.edited_at is not None

    thread = await world.say(READER, READER, "/comments 1")
    text = thread["text"]
    assert "3 comments" in text
    assert "Rita Reader (Telegram): Great news, really!" in text
    assert "    ↳ Omar (Telegram): Agreed" in text
    assert "From the channel" in text


async def test_edit_and_retract_reach_every_post(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Old title\nOld body")
    posts = {chat: post_in(world, chat)["message_id"] for chat in (CHANNEL_A, CHANNEL_B, GROUP)}

    answer = await world.say(ADMIN, ADMIN, "/edit 1 New title\nNew *body*")
    assert "Edited article 1" in answer["text"]
    await world.drain()
    for chat, message_id in posts.items():
        message = world.tg.message(chat, message_id)
        assert message is not None
        assert message["text"].startswith("New title\n\nNew body")
        assert {"type": "italic", "offset": 15, "length": 4} in message["entities"]

    answer = await world.say(ADMIN, ADMIN, "/retract 1")
    assert "Retracted article 1" in answer["text"]
    await world.drain()
    for chat, message_id in posts.items():
        assert world.tg.message(chat, message_id) is None
        assert (chat, message_id) in world.tg.deleted
    refused = await world.say(ADMIN, ADMIN, "/edit 1 Again\nbody")
    assert "retracted" in refused["text"]


async def test_a_429_in_the_middle_of_a_fanout_loses_nothing(world: World) -> None:
    channels = [-1002000000000 - n for n in range(8)]
    for chat in channels:
        world.tg.add_chat(chat, "channel", f"Channel {chat}", admins=[ADMIN])
        await world.service.subscribe(
            Actor.operator(), NewDestination(Platform.TELEGRAM, str(chat), DestinationKind.CHANNEL)
        )
    await world.start()
    world.tg.fail_next("sendMessage", 429, retry_after=1, chat_id=channels[3])
    world.tg.fail_next("sendMessage", 429, retry_after=1, chat_id=channels[5], count=2)
    await publish(world, "Busy\nEveryone gets it once")
    for chat in channels:
        assert len(world.bot_messages(chat)) == 1, chat
    assert world.tg.count_429 == 3
    statuses = await world.service.deliveries(ArticleId(1))
    assert {s.delivery.state for s in statuses} == {"sent"}


async def test_limiter_keeps_a_large_fanout_under_the_flood_limits(world: World) -> None:
    channels = [-1003000000000 - n for n in range(45)]
    for chat in channels:
        world.tg.add_chat(chat, "channel", f"Channel {chat}", admins=[ADMIN])
        await world.service.subscribe(
            Actor.operator(), NewDestination(Platform.TELEGRAM, str(chat), DestinationKind.CHANNEL)
        )
    world.tg.set_limits()  # Telegram's: 30/s overall, 20/min per channel
    await world.start()
    await publish(world, "Everywhere\nat once")
    assert all(len(world.bot_messages(chat)) == 1 for chat in channels)
    assert world.tg.count_429 == 0


async def test_a_chat_that_kicked_the_bot_is_deactivated_after_one_try(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    # The send fails before the bot hears about the kick: one 403, then never again.
    world.tg.fail_next(
        "sendMessage",
        403,
        description="Forbidden: bot was kicked from the channel chat",
        chat_id=CHANNEL_B,
    )
    await publish(world, "First\nbody")
    assert world.bot_messages(CHANNEL_B) == []
    gone = [
        d
        for d in await world.service.destinations(Platform.TELEGRAM)
        if d.chat_id == str(CHANNEL_B)
    ]
    assert not gone[0].active
    assert "kicked" in (gone[0].deactivated_reason or "")
    sends = [c for c in world.tg.calls_to("sendMessage") if c.get("chat_id") == CHANNEL_B]
    assert len(sends) == 1
    await publish(world, "Second\nbody")
    sends = [c for c in world.tg.calls_to("sendMessage") if c.get("chat_id") == CHANNEL_B]
    assert len(sends) == 1

    # Removing the bot from the group (a my_chat_member update) deactivates it at once.
    world.tg.kick_bot(GROUP, by_user_id=ADMIN)
    await world.processed()
    active = {d.chat_id for d in await world.service.destinations() if d.active}
    assert active == {str(CHANNEL_A)}


async def test_titles_and_bodies_arrive_intact(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    title = "<b>Tom & Jerry</b> *not bold* _x_ 🎉 שלום עולם ← مرحبا"
    body = (
        "if a<b && c>d then x = 2 * 3 * 4;\n\n"
        "snake_case_name and __init__ stay; 5 * 6\n\n"
        "emoji 👩‍👩‍👧‍👦 🇺🇦, RTL שלום עולם, &amp; and &lt;tag&gt; and `<code> & *stars*`"
    )
    await publish(world, f"{title}\n{body}")
    expected_body = (
        "if a<b && c>d then x = 2 * 3 * 4;\n\n"
        "snake_case_name and init stay; 5 * 6\n\n"
        "emoji 👩‍👩‍👧‍👦 🇺🇦, RTL שלום עולם, & and <tag> and <code> & *stars*"
    )
    for chat in (CHANNEL_A, CHANNEL_B, GROUP):
        post = post_in(world, chat)
        assert post["text"] == f"{title}\n\n{expected_body}\n\n💬 No comments yet"
        units = len(title.encode("utf-16-le")) // 2
        on_title = [e for e in post["entities"] if e["offset"] == 0]
        assert {"type": "bold", "offset": 0, "length": units} in on_title
        assert {
            "type": "text_link",
            "offset": 0,
            "length": units,
            "url": PUBLIC_URL + "/articles/1",
        } in on_title
    article = await world.service.article(ArticleId(1))
    assert article.title == title


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


async def test_offset_is_saved_and_survives_a_restart(world: World) -> None:
    await world.start()
    await world.say(READER, READER, "/help")
    await world.processed()
    last = world.tg.enqueued[-1]["update_id"]
    await wait_for(lambda: _saved_offset(world, last + 1), 5, "the offset to be saved")
    await world.stop()
    await world.start()
    answer = await world.say(READER, READER, "/latest")
    assert "Nothing has been published" in answer["text"]
    helps = [m for m in world.bot_messages(READER) if m["text"].startswith("I publish")]
    assert len(helps) == 1  # the first /help was not answered again


async def _saved_offset(w: World, expected: int) -> bool:
    return await w.service.last_state("telegram.offset") == str(expected)


async def test_survives_an_outage_of_the_bot_api(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.start(retry_delay=0.05, retry_cap=0.2, poll_timeout=0.5)
    world.tg.set_down(True)

    def failed_polls() -> int:
        return sum(r.getMessage().startswith("getUpdates failed") for r in caplog.records)

    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        world.tg.user_sends(READER, READER, "/help")
        await wait_for(lambda: failed_polls() >= 3, 10, "failed polls")
    world.tg.set_down(False)
    await wait_for(lambda: bool(world.bot_messages(READER)), 10, "the answer after the outage")
    assert world.bot_messages(READER)[0]["text"].startswith("I publish")
    assert world.tg.token not in caplog.text


async def test_command_answers_do_not_wait_behind_a_fanout(world: World) -> None:
    channels = [-1006000000000 - n for n in range(60)]
    for chat in channels:
        world.tg.add_chat(chat, "channel", f"Channel {chat}", admins=[ADMIN])
        await world.service.subscribe(
            Actor.operator(), NewDestination(Platform.TELEGRAM, str(chat), DestinationKind.CHANNEL)
        )
    world.tg.set_limits()
    await world.start()
    await world.service.publish(Actor.operator(), ArticleDraft("Big", "fan-out"))
    await wait_for(lambda: len(world.tg.sent) >= 10, 10, "the fan-out to start")
    answer = await world.say(READER, READER, "/latest")
    posted = sum(bool(world.bot_messages(chat)) for chat in channels)
    assert "#1 Big" in answer["text"]
    assert posted < len(channels)  # answered while the fan-out was still going
    await world.drain()
    assert all(len(world.bot_messages(chat)) == 1 for chat in channels)
    assert world.tg.count_429 == 0


async def test_a_refused_photo_falls_back_to_text(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    world.tg.fail_next(
        "sendPhoto",
        400,
        description="Bad Request: wrong file identifier/HTTP URL specified",
        chat_id=GROUP,
    )
    await world.service.publish(
        Actor.operator(), ArticleDraft("Pic", "body", image_url="https://img.example/a.png")
    )
    await world.drain()
    assert "photo" in post_in(world, CHANNEL_A)
    fallback = post_in(world, GROUP)
    assert "photo" not in fallback
    assert fallback["text"].startswith("Pic\n\nbody")
    # Editing it later edits the text (there is no caption to edit).
    await world.service.edit(
        Actor.operator(),
        ArticleId(1),
        ArticleDraft("Pic 2", "body", image_url="https://img.example/a.png"),
    )
    await world.drain()
    assert post_in(world, GROUP)["text"].startswith("Pic 2")
    assert post_in(world, CHANNEL_A)["caption"].startswith("Pic 2")


async def test_unchanged_edits_and_vanished_messages_count_as_done(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Same\nbody")
    await world.service.edit(Actor.operator(), ArticleId(1), ArticleDraft("Same", "body"))
    await world.drain()  # Telegram answers "message is not modified"
    world.tg.fail_next(
        "deleteMessage", 400, description="Bad Request: message to delete not found", count=3
    )
    await world.service.retract(Actor.operator(), ArticleId(1))
    await world.drain()
    statuses = await world.service.deliveries(ArticleId(1))
    assert {(s.delivery.state, s.delivery.attempts) for s in statuses} == {("sent", 1)}


async def test_refused_token_is_a_config_error_without_the_token(world: World) -> None:
    from adapters.telegram import TelegramAdapter
    from newsbot import ConfigError

    adapter = TelegramAdapter(world.service, token="999:WRONG-SECRET", api_url=world.tg.base_url)
    with pytest.raises(ConfigError) as caught:
        await adapter.start()
    assert "WRONG-SECRET" not in str(caught.value)
    await adapter.stop()


async def test_starts_while_the_bot_api_is_down(world: World) -> None:
    world.tg.set_down(True)
    await world.start(retry_delay=0.05, retry_cap=0.1)
    await world.service.subscribe(
        Actor.operator(), NewDestination(Platform.TELEGRAM, str(GROUP), DestinationKind.GROUP)
    )
    world.tg.set_down(False)
    answer = await world.say(READER, READER, "/help")
    assert answer["text"].startswith("I publish")
    await world.service.publish(Actor.operator(), ArticleDraft("After", "the outage"))
    await world.drain()
    assert post_in(world, GROUP)["text"].startswith("After")


async def feed(w: World, kind: str, message: JSON) -> None:
    """Hand the adapter an update the fake cannot produce (as Telegram would send it)."""
    from telegram import Update

    assert w.adapter is not None
    application = w.adapter.application
    payload = {"update_id": 10_000 + len(w.tg.enqueued), kind: message}
    await application.process_update(Update.de_json(payload, application.bot))


async def test_anonymous_admins_and_channels_comment_under_their_chat_name(
    world: World,
) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)
    group = {"id": GROUP, "type": "supergroup", "title": "Readers"}
    anonymous = {
        "id": 1087968824,
        "is_bot": True,
        "first_name": "Group",
        "username": "GroupAnonymousBot",
    }
    await feed(
        world,
        "message",
        {
            "message_id": 900,
            "date": 1_800_000_000,
            "chat": group,
            "from": anonymous,
            "sender_chat": group,
            "text": "Speaking for the group",
            "reply_to_message": post,
        },
    )
    comment = await world.store.get_comment_by_source(world_ref(GROUP, 900))
    assert comment is not None
    assert comment.author.name == "Readers"
    assert comment.author.user_id == str(GROUP)


async def migrate(w: World, old: int, new: int) -> None:
    """Telegram's service message in a group that became supergroup ``new``."""
    await feed(
        w,
        "message",
        {
            "message_id": 77,
            "date": 1_800_000_000,
            "chat": {"id": old, "type": "group", "title": "Small group"},
            "from": {"id": ADMIN, "is_bot": False, "first_name": "Ada"},
            "migrate_to_chat_id": new,
        },
    )


async def test_a_group_upgraded_to_a_supergroup_keeps_its_subscription(world: World) -> None:
    old, new = -4000000001, -1007000000001
    world.tg.add_chat(old, "group", "Small group", admins=[ADMIN])
    await world.service.subscribe(
        Actor.operator(),
        NewDestination(Platform.TELEGRAM, str(old), DestinationKind.GROUP, tags=("tech",)),
    )
    await world.start()
    await migrate(world, old, new)
    found = {d.chat_id: d for d in await world.service.destinations(Platform.TELEGRAM)}
    assert not found[str(old)].active
    # Approved before: active under its new id at once, without a new approval.
    assert (found[str(new)].active, found[str(new)].pending) == (True, False)
    assert found[str(new)].tags == ("tech",)
    assert await world.service.pending_destinations() == []


async def test_a_group_upgraded_while_waiting_for_approval_keeps_waiting(world: World) -> None:
    old, new = -4000000002, -1007000000002
    world.tg.add_chat(old, "group", "Small group", admins=[READER])
    await world.start()
    waiting = await world.say(old, READER, "/subscribe")
    assert "waiting for a newsbot admin's approval" in waiting["text"]
    await migrate(world, old, new)
    found = {d.chat_id: d for d in await world.service.destinations(Platform.TELEGRAM)}
    assert (found[str(old)].active, found[str(old)].pending) == (False, False)
    assert (found[str(new)].active, found[str(new)].pending) == (False, True)
    assert [d.chat_id for d in await world.service.pending_destinations()] == [str(new)]


async def test_a_comment_that_hit_a_storage_failure_is_processed_again(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody waits for a comment: it is fetched again until it is stored (a command is
    answered instead, tests/adapters/telegram/test_telegram_once.py)."""
    await world.start(retry_delay=0.05, retry_cap=0.1)
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    assert world.dispatcher is not None
    await world.dispatcher.stop(grace=1.0)
    world.dispatcher = None
    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        await world.store.close()  # the database goes away for a moment
        reply = world.tg.user_sends(GROUP, READER, "Stored in the end", reply_to=post)
        await wait_for(
            lambda: any("processed again" in r.getMessage() for r in caplog.records),
            10,
            "the failed update to be noticed",
        )
        await world.store.open()
        await world.processed()
    comment = await world.store.get_comment_by_source(world_ref(GROUP, reply["message_id"]))
    assert comment is not None
    assert comment.text == "Stored in the end"
    assert (await world.service.thread(ArticleId(1))).total == 1
    assert world.tg.token not in caplog.text


async def test_a_storage_failure_keeps_the_polls_frequent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram is fine, only the database is not: the pauses stop growing at
    STORE_RETRY_CAP instead of the minute an outage earns, so commands are not kept waiting."""
    from adapters.telegram.adapter import STORE_RETRY_CAP

    await world.start(retry_delay=0.25, retry_cap=60)
    said = world.tg.user_sends(GROUP, READER, "Anyone here?")
    await world.processed()
    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        await world.store.close()
        reply = world.tg.user_sends(GROUP, OTHER, "Yes", reply_to=said["message_id"])

        def pauses() -> list[float]:
            return [
                r.retry_in  # type: ignore[attr-defined]
                for r in caplog.records
                if r.getMessage().startswith("an update could not be stored")
            ]

        await wait_for(lambda: len(pauses()) >= 5, 30, "five failed rounds")
        await world.store.open()
        await world.processed()
    # Not a comment (it answers no post), but looked up once the database was back.
    assert await world.store.get_comment_by_source(world_ref(GROUP, reply["message_id"])) is None
    assert pauses()[:4] == [0.25, 0.5, 1.0, STORE_RETRY_CAP]
    assert max(pauses()) == STORE_RETRY_CAP


async def test_a_failing_handler_is_logged_and_answered_with_an_apology(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from adapters.telegram.handlers import run_guarded

    adapter = await world.start()
    answered: list[str] = []

    async def answer(text: str) -> None:
        answered.append(text)

    async def bug() -> None:
        # Every input the handlers parse is checked first (test_telegram_input.py), so a
        # bug is what is left to fail a handler; this stands for one.
        raise KeyError("a bug")

    fields = {"update_id": 7, "chat_id": READER}
    with caplog.at_level(logging.ERROR, logger="newsbot.telegram"):
        await run_guarded(adapter.handlers, "button", 7, fields, bug, answer)
    assert answered == [APOLOGY]
    failure = next(r for r in caplog.records if r.getMessage() == "handler failed")
    assert failure.action == "button"  # type: ignore[attr-defined]
    assert failure.chat_id == READER  # type: ignore[attr-defined]
    assert 7 not in adapter.failed  # not fetched again: a bug would only fail again


async def test_an_unknown_button_is_answered_politely(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    adapter = await world.start()
    # A button whose data the bot cannot parse (as from an older version of the bot).
    broken = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="cm:x:")]])
    message = await adapter.application.bot.send_message(READER, "old page", reply_markup=broken)
    with caplog.at_level(logging.INFO, logger="newsbot.telegram"):
        world.tg.callback_press(READER, message.message_id, READER, "cm:x:")
        await wait_for(lambda: bool(world.tg.callback_answers), 10, "the answer")
    assert world.tg.callback_answers[0]["text"] == STALE_BUTTON
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.getMessage() == "unknown button data" for r in caplog.records)
    answer = await world.say(READER, READER, "/help")  # still running
    assert answer["text"].startswith("I publish")


async def test_a_channel_subscribed_by_username_still_collects_comments(world: World) -> None:
    await world.service.subscribe(
        Actor.operator(),
        NewDestination(Platform.TELEGRAM, "@channel_a", DestinationKind.CHANNEL),
    )
    await world.start()
    await world.service.publish(Actor.operator(), ArticleDraft("By name", "body"))
    await world.drain()
    copy = world.tg.discussion_copy(CHANNEL_A, post_in(world, CHANNEL_A)["message_id"])
    assert copy is not None
    reply = world.tg.user_sends(DISCUSSION_A, READER, "Found it", reply_to=copy["message_id"])
    await world.processed()
    comment = await world.store.get_comment_by_source(world_ref(DISCUSSION_A, reply["message_id"]))
    assert comment is not None
    assert comment.article_id == 1


async def test_replies_in_a_discussion_group_are_never_echoed_back_into_it(world: World) -> None:
    """Replies to readers' comments (and replies to those) in a channel's discussion group go
    to the other chats only: the channel's comments live in that very group."""
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    await world.processed()
    group_post = post_in(world, GROUP)["message_id"]
    copy = world.tg.discussion_copy(CHANNEL_A, post_in(world, CHANNEL_A)["message_id"])
    assert copy is not None
    sent_before = len(world.tg.sent)

    async def say_in(chat: int, user: int, text: str, reply_to: int) -> JSON:
        message = world.tg.user_sends(chat, user, text, reply_to=reply_to)
        await world.processed()
        await world.drain()
        return message

    first = await say_in(DISCUSSION_A, READER, "First", copy["message_id"])
    second = await say_in(DISCUSSION_A, OTHER, "Second", first["message_id"])
    third = await say_in(DISCUSSION_A, READER, "Third", second["message_id"])
    mirrored_third = world.bot_messages(GROUP)[-1]
    await say_in(GROUP, OTHER, "Fourth", mirrored_third["message_id"])
    for said in (first, second, third):
        stored = await world.store.get_comment_by_source(
            world_ref(DISCUSSION_A, said["message_id"])
        )
        assert stored is not None, said["text"]

    sent = [
        (m["chat"]["id"], m["text"], (m.get("reply_to_message") or {}).get("message_id"))
        for m in world.tg.sent[sent_before:]
    ]
    mirrors = [m["message_id"] for m in world.tg.sent[sent_before:] if m["chat"]["id"] == GROUP]
    assert mirrors[-1] == mirrored_third["message_id"]
    # In the other group each comment answers the copy of the one it replies to...
    assert [m for m in sent if m[0] == GROUP] == [
        (GROUP, "Rita Reader (Telegram): First", group_post),
        (GROUP, "Omar (Telegram): Second", mirrors[0]),
        (GROUP, "Rita Reader (Telegram): Third", mirrors[1]),
    ]
    # ...and only the reply written there comes to the discussion group, natively under the
    # comment it answers; nothing else is sent anywhere (channel B has no discussion group).
    assert [m for m in sent if m[0] != GROUP] == [
        (DISCUSSION_A, "Omar (Telegram): Fourth", third["message_id"])
    ]
