"""End to end: python-telegram-bot against the fake Bot API, with the real service, SQLite
store and dispatcher. People act through the fake (user_sends, callback_press, kick_bot)."""

from __future__ import annotations

from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    NewDestination,
    Platform,
)
from tests.adapters.telegram.telegram_e2e_helpers import (
    JSON,
    post_in,
    publish,
    subscribe_all,
    world_ref,
)
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

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


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
