"""A chat admin who is not a newsbot admin asks for a subscription; it waits (receiving
nothing) until a newsbot admin approves it with /approve, and the admins are told."""

from __future__ import annotations

from adapters.telegram.handlers import NOTICES_PER_HOUR
from adapters.telegram.render import shown_name
from newsbot import Actor, ArticleDraft, Platform
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, CHANNEL_B, OTHER, READER, World, world

__all__ = ["world"]

FANS = -1008000000001
SNEAKY = "Fans of @omar \u202eevil\u202c"  # a mention and a bidi override in a chat title


def posts(w: World, chat: int) -> list[str]:
    return [m["text"] for m in w.bot_messages(chat) if "💬" in m.get("text", "")]


async def test_a_group_admin_waits_for_approval_and_a_newsbot_admin_approves(
    world: World,
) -> None:
    world.tg.add_chat(FANS, "supergroup", SNEAKY, admins=[READER], members=[OTHER])
    await world.start()
    asked = await world.say(FANS, READER, "/subscribe")
    assert "waiting for a newsbot admin's approval" in asked["text"]
    assert "\u202e" not in asked["text"]
    assert world.tg.mentioned_users(asked) == set()
    again = await world.say(FANS, READER, "/subscribe")
    assert "still waiting for a newsbot admin's approval" in again["text"]
    [pending] = await world.service.pending_destinations()
    assert (pending.chat_id, pending.active) == (str(FANS), False)

    # The newsbot admin hears of it once, in private, with the title made harmless.
    await wait_for(lambda: bool(world.bot_messages(ADMIN)), 10, "the notice")
    [notice] = world.bot_messages(ADMIN)
    assert f"/approve {FANS}" in notice["text"]
    assert "asks to receive articles" in notice["text"]
    assert "Rita Reader (7)" in notice["text"]
    assert "\u202e" not in notice["text"] and "\u202c" not in notice["text"]
    assert world.tg.mentioned_users(notice) == set()

    # Nothing reaches the chat meanwhile.
    await world.service.publish(Actor.operator(), ArticleDraft("Before", "approval"))
    await world.drain()
    assert posts(world, FANS) == []

    refused = await world.say(READER, READER, f"/approve {FANS}")
    assert "Only newsbot admins can approve subscriptions" in refused["text"]
    assert "in a private chat" in (await world.say(FANS, ADMIN, "/approve"))["text"]
    listed = await world.say(ADMIN, ADMIN, "/approve")
    assert listed["text"].startswith("Waiting for approval:")
    assert f": /approve {FANS}" in listed["text"]
    assert world.tg.mentioned_users(listed) == set()
    approved = await world.say(ADMIN, ADMIN, f"/approve {FANS}")
    assert approved["text"].startswith("Approved Fans of @\u2060omar evil")
    assert (
        "No subscription of that chat"
        in (await world.say(ADMIN, ADMIN, f"/approve {FANS}"))["text"]
    )
    assert (await world.say(ADMIN, ADMIN, "/approve"))["text"] == (
        "No subscription is waiting for approval."
    )
    await world.service.publish(Actor.operator(), ArticleDraft("After", "approval"))
    await world.drain()
    assert [p.split("\n")[0] for p in posts(world, FANS)] == ["After"]


async def test_a_channel_admin_asks_in_private_and_waits_too(world: World) -> None:
    world.tg.add_chat(-1008000000002, "channel", "Reader's channel", "readers", admins=[READER])
    await world.start()
    asked = await world.say(READER, READER, "/subscribe @readers")
    assert "waiting for a newsbot admin's approval" in asked["text"]
    await wait_for(lambda: bool(world.bot_messages(ADMIN)), 10, "the notice")
    assert "/approve -1008000000002" in world.bot_messages(ADMIN)[0]["text"]
    # A newsbot admin subscribing it approves it at once.
    done = await world.say(ADMIN, ADMIN, "/subscribe @readers")
    assert done["text"].startswith("Subscribed Reader's channel")
    assert await world.service.pending_destinations() == []
    # A newsbot admin's own subscription never waits.
    own = await world.say(ADMIN, ADMIN, f"/subscribe {CHANNEL_B}")
    assert own["text"].startswith("Subscribed Channel B")


async def test_notices_are_not_a_way_to_flood_the_admins(world: World) -> None:
    world.tg.add_chat(FANS, "supergroup", "Fans", admins=[READER])
    await world.start()
    for _ in range(3):
        assert "waiting" in (await world.say(FANS, READER, "/subscribe"))["text"]
        assert "Unsubscribed" in (await world.say(FANS, READER, "/unsubscribe"))["text"]
    await world.processed()
    assert len(world.bot_messages(ADMIN)) == 1  # one notice per chat per hour


async def test_one_persons_many_requests_leave_room_for_anothers(world: World) -> None:
    """A chat admin of twelve groups asks for all of them: the admins hear of three, the
    rest wait in /approve, past ten a day the answer says why, and another person's request
    is still announced."""
    spam = [-1008000000100 - n for n in range(12)]
    for n, chat in enumerate(spam):
        world.tg.add_chat(chat, "supergroup", f"Spam {n}", admins=[READER])
    world.tg.add_chat(FANS, "supergroup", "Fans", admins=[OTHER])
    await world.start()
    answers = [(await world.say(chat, READER, "/subscribe"))["text"] for chat in spam]
    assert "waiting" in (await world.say(FANS, OTHER, "/subscribe"))["text"]
    await world.processed()
    notices = [m["text"] for m in world.bot_messages(ADMIN)]
    assert [n for n in notices if f"/approve {FANS}" in n], notices
    assert sum("Spam" in n for n in notices) == NOTICES_PER_HOUR
    assert all("waiting for a newsbot admin's approval" in a for a in answers[:10]), answers
    for refused in answers[10:]:
        assert "You have asked for 10 subscriptions in the last 24 hours" in refused
    assert len(await world.service.pending_destinations()) == 11


async def test_titles_reach_the_admins_as_inert_text(world: World) -> None:
    title = "Prizes https://evil.example/win www.evil.example #free $WIN /approve -1006 @omar"
    world.tg.add_user(READER, "Rita https://evil.example/me", "rita")
    world.tg.add_chat(FANS, "supergroup", title, admins=[READER])
    await world.start()
    await world.say(FANS, READER, "/subscribe")
    await wait_for(lambda: bool(world.bot_messages(ADMIN)), 10, "the notice")
    [notice] = world.bot_messages(ADMIN)
    listed = await world.say(ADMIN, ADMIN, "/approve")
    for message, outside in (
        (notice, (title, "Rita https://evil.example/me")),
        (listed, (title,)),
    ):
        text, entities = message["text"], message.get("entities", [])
        assert world.tg.mentioned_users(message) == set()
        for raw in outside:
            shown = shown_name(raw)
            start = text.index(shown)
            end = start + len(shown)
            clickable = [
                e
                for e in entities
                if e["type"] != "code" and e["offset"] < end and start < e["offset"] + e["length"]
            ]
            assert clickable == [], (raw, clickable)
            assert {"type": "code", "offset": start, "length": len(shown)} in entities
    # The notice's own command stays a command.
    assert any(
        e["type"] == "bot_command" and notice["text"][e["offset"] :].startswith("/approve")
        for e in notice["entities"]
    )


async def test_open_subscriptions_need_no_approval(world: World) -> None:
    world.configure(open_subscriptions=True)
    world.tg.add_chat(FANS, "supergroup", "Fans", admins=[READER])
    await world.start()
    assert (await world.say(FANS, READER, "/subscribe"))["text"].startswith("Subscribed Fans")
    [destination] = await world.service.destinations(Platform.TELEGRAM)
    assert (destination.active, destination.pending) == (True, False)
    await world.processed()
    assert world.bot_messages(ADMIN) == []


async def test_approve_is_in_the_admin_commands_and_help(world: World) -> None:
    await world.start()
    admin_scope = {"type": "chat", "chat_id": ADMIN}
    await wait_for(lambda: bool(world.tg.commands(admin_scope)), 5, "setMyCommands")
    assert "approve" in {c["command"] for c in world.tg.commands(admin_scope)}
    assert "approve" not in {c["command"] for c in world.tg.commands()}
    assert "/approve" in (await world.say(ADMIN, ADMIN, "/help"))["text"]
    assert "/approve" not in (await world.say(READER, READER, "/help"))["text"]
