"""The moderation desk end to end: a flood from Telegram held by the intake limits, seen in
the admin page's queue and not on the article page, then approved from the admin page (twice
at once): it appears on the page and is mirrored once to Discord and the other Telegram group.

The real python-telegram-bot and discord.py clients against the fakes, the real aiohttp app.
"""

from __future__ import annotations

import asyncio

from newsbot import Actor, ArticleDraft, DestinationKind, MessageRef, NewDestination
from newsbot.limits import IntakeGate, IntakeLimits
from newsbot.review import View
from tests.adapters.test_mirror_e2e import DC, TG, Everywhere, everywhere  # noqa: F401
from tests.adapters.web.test_web_admin import TOKEN, login
from tests.adapters.web.test_web_helpers import web_client
from tests.fakes.wait import wait_for
from tests.telegram_helpers import CHANNEL_A, DISCUSSION_A, GROUP, READER


async def test_a_flood_is_held_then_approved_and_mirrored_once(
    everywhere: Everywhere,  # noqa: F811
) -> None:
    e = everywhere
    e.service.intake = IntakeLimits(per_author=2, per_chat=0)
    e.service._intake = IntakeGate(e.service.intake)
    operator = Actor.operator()
    for chat, kind in ((CHANNEL_A, DestinationKind.CHANNEL), (GROUP, DestinationKind.GROUP)):
        await e.service.subscribe(operator, NewDestination(TG, str(chat), kind))
    await e.service.subscribe(
        operator, NewDestination(DC, str(e.channel), DestinationKind.CHANNEL)
    )
    article = (await e.service.publish(operator, ArticleDraft("Flooded", "Body"))).article
    await e.drain()
    posts = {s.destination.chat_id: s.delivery for s in await e.service.deliveries(article.id)}
    thread = int(posts[str(e.channel)].thread_id or 0)
    group_post = int(posts[str(GROUP)].message_id or 0)
    copy = e.tg.discussion_copy(CHANNEL_A, int(posts[str(CHANNEL_A)].message_id or 0))
    assert copy is not None and thread

    async def copy_linked() -> bool:
        ref = MessageRef(TG, str(DISCUSSION_A), str(copy["message_id"]))
        return await e.service.resolve(ref) is not None

    await wait_for(copy_linked, 10, "the discussion copy to be linked")
    for n in range(5):
        e.tg.user_sends(DISCUSSION_A, READER, f"flood number {n}", reply_to=copy["message_id"])

    async def stored() -> bool:
        shown = await e.comment_count(article.id)
        return shown == 2 and len(await e.service.desk.queue(operator, View.HELD)) == 3

    await wait_for(stored, 10, "two replies shown and three held")
    await e.drain()
    assert len(e.dc_bot_messages(thread)) == 2
    assert len(e.tg_bot_messages(GROUP, besides=group_post)) == 2

    async with web_client(e.service, admin_token=TOKEN) as admin:
        await login(admin)
        queue = await (await admin.get("/admin/queue?view=held")).text()
        for n in (2, 3, 4):
            assert f"flood number {n}" in queue
        assert "Why: author" in queue
        page = await (await e.web.get(f"/articles/{article.id}")).text()
        assert "flood number 1" in page and "flood number 2" not in page
        held = await e.service.desk.queue(operator, View.HELD)
        first = held[0].comment
        assert first.text == "flood number 2"
        # Two moderators (or two workers) approve at once: it is shown and mirrored once.
        answers = await asyncio.gather(
            *(
                admin.post(f"/admin/queue/{first.id}/approve", data={"view": "held"})
                for _ in range(2)
            )
        )
        assert [a.status for a in answers] == [200, 200]
    await e.drain()
    page = await (await e.web.get(f"/articles/{article.id}")).text()
    assert "flood number 2" in page and "flood number 3" not in page
    in_thread = [m["content"] for m in e.dc_bot_messages(thread)]
    assert sum("flood number 2" in m for m in in_thread) == 1 and len(in_thread) == 3
    in_group = [m.get("text", "") for m in e.tg_bot_messages(GROUP, besides=group_post)]
    assert sum("flood number 2" in m for m in in_group) == 1 and len(in_group) == 3
    # Never back into the discussion group it was written in.
    assert not any("flood number" in m.get("text", "") for m in e.tg_bot_messages(DISCUSSION_A))
    log = await e.service.desk.audit(operator)
    assert [(x.actor, x.action, x.comment_id) for x in log] == [
        ("cli:web-admin", "approve", first.id)
    ]
