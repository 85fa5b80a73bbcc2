"""End to end: the staff chat on Telegram (real python-telegram-bot against the fake)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from newsbot import Actor, CommentId, Platform
from newsbot.limits import IntakeLimits
from newsbot.review import Action, View
from newsbot.staffchat import StaffChat, button_data
from tests.adapters.telegram.telegram_e2e_helpers import post_in, publish, subscribe_all, world_ref
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

STAFF = -1001000000099


def _staff_world(world: World, per_author: int = 1) -> None:
    world.tg.add_chat(STAFF, "supergroup", "Staff", admins=[ADMIN], members=[READER])
    service = world.configure(intake=IntakeLimits(per_author=per_author, per_chat=0))
    service.staffchat.chat = StaffChat(Platform.TELEGRAM, str(STAFF))


def _notices(world: World) -> list[dict[str, Any]]:
    return list(world.bot_messages(STAFF))


async def test_a_held_comment_appears_and_an_admin_approves_it_everywhere(world: World) -> None:
    _staff_world(world)
    await world.start()
    await subscribe_all(world)
    await publish(world, "Budget <vote>\nBody")
    post = post_in(world, GROUP)["message_id"]
    world.tg.user_sends(GROUP, OTHER, "first", reply_to=post)
    held = world.tg.user_sends(GROUP, OTHER, "second <b>loud</b> & clear", reply_to=post)
    await world.processed()
    comment = await world.store.get_comment_by_source(world_ref(GROUP, held["message_id"]))
    assert comment is not None and comment.status == "hidden"
    await world.drain()
    await wait_for(lambda: len(_notices(world)) == 1, timeout=30)
    (notice,) = _notices(world)
    text = str(notice["text"])
    assert "Held comment" in text and "second <b>loud</b> & clear" in text
    assert "Budget <vote>" in text and "telegram" in text and "author" in text
    rows = notice["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in rows[0]] == ["Approve", "Hide", "Delete", "Ban"]
    assert rows[0][0]["callback_data"] == button_data(comment.id, Action.APPROVE)

    # A reader who is in the staff chat is refused, and nothing happens.
    world.tg.callback_press(STAFF, notice["message_id"], READER, rows[0][0]["callback_data"])
    await wait_for(lambda: len(world.tg.callback_answers) == 1, timeout=30)
    assert "Only newsbot admins" in str(world.tg.callback_answers[0]["text"])
    assert (await world.store.get_comment(comment.id)).status == "hidden"  # type: ignore[union-attr]

    world.tg.callback_press(STAFF, notice["message_id"], ADMIN, rows[0][0]["callback_data"])
    await wait_for(lambda: len(world.tg.callback_answers) == 2, timeout=30)
    await wait_for(lambda: "Approved by" in str(_notices(world)[0]["text"]), timeout=30)
    edited = _notices(world)[0]
    assert not edited.get("reply_markup", {}).get("inline_keyboard")
    assert "second <b>loud</b> & clear" in str(edited["text"])
    shown = await world.store.get_comment(comment.id)
    assert shown is not None and shown.status == "visible"
    await world.drain()
    # Approved everywhere: mirrored to the other destinations like a new comment.
    mirrored = [
        m
        for chat in (CHANNEL_A, DISCUSSION_A, CHANNEL_B)
        for m in world.tg.messages(chat)
        if "second <b>loud</b>" in str(m.get("text", ""))
    ]
    assert mirrored
    log = await world.service.desk.audit(Actor.operator())
    assert [(e.actor, e.action) for e in log] == [(f"telegram:{ADMIN}", Action.APPROVE)]
    assert [
        i.comment.id for i in await world.service.desk.queue(Actor.operator(), View.HELD)
    ] == []


async def test_a_flood_of_200_held_comments_makes_few_staff_messages(world: World) -> None:
    _staff_world(world)
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    world.tg.user_sends(GROUP, OTHER, "accepted", reply_to=post)
    started = time.monotonic()
    for n in range(200):
        world.tg.user_sends(GROUP, OTHER, f"flood {n}", reply_to=post)
    await world.processed()
    held = await world.service.desk.queue(Actor.operator(), View.HELD, limit=200)
    assert len(held) == 200
    await world.drain()

    def counted() -> int:
        total = 0
        for m in _notices(world):
            text = str(m["text"])
            total += 1
            if "…and " in text:
                total += int(text.split("…and ")[1].split(" more held")[0])
        return total

    await wait_for(lambda: counted() == 200, timeout=60)
    # One notice at once, then at most one per gap: bounded by the flood's duration, not its
    # size (on a quiet machine the 200 make a handful of messages).
    elapsed = time.monotonic() - started
    assert len(_notices(world)) <= 2 + elapsed / world.service.staffchat.gap
    assert len(_notices(world)) < 200 // 4


async def test_a_notice_decided_before_it_went_out_is_dropped_or_marked(world: World) -> None:
    _staff_world(world)
    await world.start()
    world.service.staffchat.gap = 2  # the next notice waits: a moderator acts meanwhile
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    world.tg.user_sends(GROUP, OTHER, "accepted", reply_to=post)
    world.tg.user_sends(GROUP, OTHER, "held first", reply_to=post)
    await world.processed()
    await wait_for(lambda: len(_notices(world)) == 1, timeout=30)
    first_sent = time.monotonic()
    moderator = Actor(Platform.TELEGRAM, str(ADMIN))

    async def held(text: str) -> CommentId:
        sent = world.tg.user_sends(GROUP, OTHER, text, reply_to=post)
        await world.processed()
        comment = await world.store.get_comment_by_source(world_ref(GROUP, sent["message_id"]))
        assert comment is not None and comment.status == "hidden"
        return comment.id

    async def states() -> list[str]:
        chat = world.service.staffchat.chat
        assert chat is not None
        return [n.state for n in await world.service.store.staff_notices(chat, 10)]

    # Approved before its notice went out: the notice is dropped.
    await world.service.desk.approve(moderator, await held("approved early"))
    async with asyncio.timeout(30):
        while (await states())[0] != "dead":
            await asyncio.sleep(0.05)
    assert len(_notices(world)) == 1
    # Hidden before it went out, with another item folded in: it goes, marked, no buttons.
    # (A dropped notice is no message: the next waits the gap after the first one.)
    world.service.staffchat.gap = time.monotonic() - first_sent + 2
    lead = await held("hidden early <b>")
    await held("still waiting")
    await world.service.desk.hide(moderator, lead)
    await wait_for(lambda: len(_notices(world)) == 2, timeout=30)
    marked = _notices(world)[1]
    assert "hidden early <b>" in str(marked["text"]) and "1 more held" in str(marked["text"])
    assert f"Hidden by telegram:{ADMIN}" in str(marked["text"])
    assert not marked.get("reply_markup", {}).get("inline_keyboard")
