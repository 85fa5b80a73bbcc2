"""End to end: the staff chat on Discord (real discord.py against the fake): a notice with
buttons in the staff channel, an admin's press acting everywhere, anybody else refused."""

from __future__ import annotations

import time
from typing import Any

from newsbot import Actor, ArticleId, CommentStatus, MessageRef, Platform
from newsbot.limits import IntakeGate, IntakeLimits
from newsbot.review import Action, View
from newsbot.staffchat import StaffChat, button_data
from tests.discord_helpers import (
    LISTED_ADMIN,
    World,
    content,
    ephemeral,
    fake,
    make_world,
    world,
)
from tests.fakes.discord import GUILD_TEXT
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]


def _staff(world: World) -> int:
    staff = world.fake.add_channel(world.guild, "staff", GUILD_TEXT)
    service = world.service
    service.intake = IntakeLimits(per_author=1, per_chat=0)
    service._intake = IntakeGate(service.intake)
    service.staffchat.chat = StaffChat(Platform.DISCORD, str(staff))
    return staff


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def test_a_held_comment_is_posted_and_an_admin_approves_it(world: World) -> None:
    staff = _staff(world)
    await world.subscribe(world.text)
    article_id = await world.publish(title="Budget @everyone")
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    await world.fake.user_message(thread, world.reader, "first")
    loud = await world.fake.user_message(thread, world.reader, "**loud** @everyone")
    ref = MessageRef(Platform.DISCORD, str(thread), str(loud["id"]))

    async def held() -> bool:
        comment = await world.store.get_comment_by_source(ref)
        return comment is not None and comment.status is CommentStatus.HIDDEN

    await wait_for(held, what="the second comment held")
    comment = await world.store.get_comment_by_source(ref)
    assert comment is not None
    await wait_for(lambda: len(world.bot_messages(staff)) == 1, what="the staff notice")
    (notice,) = world.bot_messages(staff)
    text = str(notice["content"])
    assert "Held comment" in text and "\\*\\*loud\\*\\*" in text and "@everyone" not in text
    assert [b["label"] for b in _buttons(notice)] == ["Approve", "Hide", "Delete", "Ban"]
    approve = button_data(comment.id, Action.APPROVE)
    assert _buttons(notice)[0]["custom_id"] == approve

    refused = await world.fake.press_button(
        world.guild, staff, world.reader, int(notice["id"]), approve
    )
    answer = await world.fake.wait_for_answer(refused["id"])
    assert ephemeral(answer) and "Only newsbot admins" in content(answer)
    again = await world.store.get_comment(comment.id)
    assert again is not None and again.status is CommentStatus.HIDDEN

    pressed = await world.fake.press_button(
        world.guild, staff, LISTED_ADMIN, int(notice["id"]), approve
    )
    await world.fake.wait_for_response(pressed["id"])

    async def approved() -> bool:
        shown = await world.store.get_comment(comment.id)
        return shown is not None and shown.status is CommentStatus.VISIBLE

    await wait_for(approved, what="the comment approved")
    (edited,) = world.bot_messages(staff)
    assert "Approved by" in str(edited["content"]) and not _buttons(edited)
    assert (await world.service.thread(ArticleId(article_id))).total == 2
    log = await world.service.desk.audit(Actor.operator())
    assert [(e.actor, e.action) for e in log] == [(f"discord:{LISTED_ADMIN}", Action.APPROVE)]
    assert await world.service.desk.queue(Actor.operator(), View.HELD) == []


async def test_a_flood_of_200_held_comments_makes_few_staff_messages(world: World) -> None:
    staff = _staff(world)
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    await world.fake.user_message(thread, world.reader, "accepted")
    started = time.monotonic()
    for n in range(200):
        await world.fake.user_message(thread, world.reader, f"flood {n}")

    async def all_held() -> bool:
        items = await world.service.desk.queue(Actor.operator(), View.HELD, limit=200)
        return len(items) == 200

    await wait_for(all_held, timeout=60, what="200 comments held")

    def counted() -> int:
        total = 0
        for m in world.bot_messages(staff):
            text = str(m["content"])
            total += 1
            if "…and " in text:
                total += int(text.split("…and ")[1].split(" more held")[0])
        return total

    await wait_for(lambda: counted() == 200, timeout=60, what="every item announced")
    # One notice at once, then at most one per gap: bounded by the flood's duration, not its
    # size (on a quiet machine the 200 make a handful of messages).
    elapsed = time.monotonic() - started
    assert len(world.bot_messages(staff)) <= 2 + elapsed / world.service.staffchat.gap
    assert len(world.bot_messages(staff)) < 200 // 4


async def test_a_notice_decided_before_it_went_out_has_no_buttons(world: World) -> None:
    staff = _staff(world)
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    await world.fake.user_message(thread, world.reader, "first")
    await world.fake.user_message(thread, world.reader, "held at once")
    await wait_for(lambda: len(world.bot_messages(staff)) == 1, what="the first notice")
    first_sent = time.monotonic()
    # The next notice waits 2 s more than the gap after the first: a moderator hides its lead
    # meanwhile.
    world.service.staffchat.gap = time.monotonic() - first_sent + 2
    said = [
        await world.fake.user_message(thread, world.reader, text)
        for text in ("hidden *early*", "still waiting")
    ]
    refs = [MessageRef(Platform.DISCORD, str(thread), str(s["id"])) for s in said]

    async def both_held() -> bool:
        found = [await world.store.get_comment_by_source(r) for r in refs]
        return all(c is not None and c.status is CommentStatus.HIDDEN for c in found)

    await wait_for(both_held, what="both held")
    lead = await world.store.get_comment_by_source(refs[0])
    assert lead is not None
    await world.service.desk.hide(Actor(Platform.DISCORD, str(LISTED_ADMIN)), lead.id)
    await wait_for(lambda: len(world.bot_messages(staff)) == 2, timeout=60, what="the second")
    marked = world.bot_messages(staff)[1]
    text = str(marked["content"])
    assert "hidden \\*early\\*" in text and "1 more held" in text
    assert f"**Hidden by discord:{LISTED_ADMIN}**" in text
    assert _buttons(marked) == []
