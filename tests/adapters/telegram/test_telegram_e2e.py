"""End to end: python-telegram-bot against the fake Bot API, with the real service, SQLite
store and dispatcher. People act through the fake (user_sends, callback_press, kick_bot)."""

from __future__ import annotations

from newsbot import (
    Actor,
    ArticleId,
    DestinationKind,
    NewDestination,
    Platform,
)
from tests.adapters.telegram.telegram_e2e_helpers import (
    post_in,
    publish,
    subscribe_all,
    world_ref,
)
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

__all__ = ["post_in", "publish", "subscribe_all", "world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


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
    ids = {d.chat_id: d.id for d in await world.service.destinations()}
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
            "url": PUBLIC_URL + f"/articles/1?via=d{ids[str(chat)]}",  # arrivals counted
        } in on_title
    article = await world.service.article(ArticleId(1))
    assert article.title == title
