"""End to end on Discord: ``/notifications on`` (ephemeral), a reply to one's comment as a DM
from the bot (``POST /users/@me/channels``, then the message), and a refusal (DMs closed:
403 50007) that turns notifications off instead of retrying. The real discord.py client
against the fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from newsbot import Actor, ArticleId, MessageRef, Platform
from newsbot.people import Proof, Proven, web_author_id
from tests.discord_helpers import World, fake, make_world, world
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]
DC = Platform.DISCORD
LATER = datetime(2100, 1, 1, tzinfo=UTC)


async def _stored(w: World, said: dict[str, Any]) -> bool:
    ref = MessageRef(DC, str(said["channel_id"]), str(said["id"]))
    return await w.service.comment_by_source(ref) is not None


async def test_a_reply_comes_as_a_dm_after_notifications_on(world: World) -> None:
    w = world
    w.service.notifications.delay = timedelta(0)
    await w.subscribe(w.text)
    article_id = await w.publish("Title *with* stars")
    _post, thread_id = await w.post_of(article_id, w.text)
    thread = int(thread_id or 0)
    mine = await w.fake.user_message(thread, w.reader, "My comment")
    await wait_for(lambda: _stored(w, mine), 30, "her comment stored")
    # Off by default: a reply tells nobody.
    first = await w.fake.user_message(thread, w.manager, "Before", reply_to=int(mine["id"]))
    await wait_for(lambda: _stored(w, first), 30, "the first reply stored")
    answer = await w.slash("notifications", w.reader, state="on")
    assert answer["data"]["flags"] & 64  # ephemeral
    assert "come to you as direct messages" in answer["data"]["content"]
    said = await w.fake.user_message(
        thread, w.manager, "Hello @everyone **there**", reply_to=int(mine["id"])
    )
    await wait_for(lambda: bool(w.fake.dms.get(w.reader)), 30, "a DM to her")
    await w.dispatcher.drain(20)
    [dm] = w.fake.dms[w.reader]
    assert "Before" not in dm["content"]
    assert "Title \\*with\\* stars" in dm["content"]  # escaped
    assert "\\*\\*there\\*\\*" in dm["content"] and "@\u200beveryone" in dm["content"]
    assert dm["_allowed_mentions"] == {"parse": []}
    reply = await w.service.comment_by_source(MessageRef(DC, str(thread), str(said["id"])))
    assert reply is not None
    assert f"/comments/{reply.id}>" in dm["content"]
    # DMs closed: refused with 50007, turned off, not retried.
    w.fake.close_dms(w.reader)
    await w.fake.user_message(thread, w.manager, "Closed", reply_to=int(mine["id"]))

    async def off() -> bool:
        return not await w.service.notifications.enabled(DC, str(w.reader))

    await wait_for(off, 30, "notifications off after the refusal")
    assert len(w.fake.dms[w.reader]) == 1


async def test_a_user_sharing_no_server_is_refused_and_turned_off(world: World) -> None:
    w = world
    w.service.notifications.delay = timedelta(0)
    await w.subscribe(w.text)
    article_id = ArticleId(await w.publish())
    stray = w.fake.add_user(w.fake.new_id(), "Stray Reader")  # in no server with the bot
    proven = Proven(DC, str(stray), "Stray", Proof.DISCORD_OAUTH)
    await w.service.people.sign_in(proven)
    assert await w.service.notifications.enabled(DC, str(stray))  # signed in: on
    mine = await w.service.add_web_comment(
        article_id, "Stray", "Hi", client_key="s", user_id=web_author_id(proven)
    )
    await w.service.add_web_comment(
        article_id, "Bob", "Hello", parent_id=mine.id, client_key="b", user_id="w:b"
    )

    async def off() -> bool:
        return not await w.service.notifications.enabled(DC, str(stray))

    await wait_for(off, 30, "notifications off after 50007")
    assert stray not in w.fake.dms
    assert stray in w.fake.dm_channels.values()  # the DM channel opened; the message refused


async def test_a_person_banned_while_the_notice_waits_gets_no_dm(world: World) -> None:
    w = world
    w.service.notifications.delay = timedelta(hours=1)  # waiting: made due by hand below
    await w.subscribe(w.text)
    article_id = ArticleId(await w.publish())
    parents = {}
    for user, name in ((w.reader, "Rita"), (w.manager, "Max")):
        proven = Proven(DC, str(user), name, Proof.DISCORD_OAUTH)
        await w.service.people.sign_in(proven)
        mine = await w.service.add_web_comment(
            article_id, name, "Mine", client_key=name, user_id=web_author_id(proven)
        )
        parents[user] = await w.service.add_web_comment(
            article_id,
            "Bob",
            f"To {name}",
            parent_id=mine.id,
            client_key=f"b{name}",
            user_id="w:b",
        )
    rita = await w.service.people.find(DC, str(w.reader))
    assert rita is not None
    await w.service.people.ban(Actor.operator(), rita.id)
    # Both notices fall due now: Rita's finds her banned when it goes.
    store = w.service.store
    waiting = await store.claim_notices(DC, LATER, 10, worker="test", lease=1)
    assert sorted(job.account_id for job in waiting) == sorted([str(w.reader), str(w.manager)])
    for job in waiting:
        await store.retry_notice(job.id, w.service.clock.now(), "made due by the test")
    w.dispatcher.wake()
    await wait_for(lambda: bool(w.fake.dms.get(w.manager)), 30, "the DM to Max")
    await w.dispatcher.drain(20)
    assert "To Max" in w.fake.dms[w.manager][0]["content"]
    assert w.reader not in w.fake.dms
    assert await store.claim_notices(DC, LATER, 10, worker="test", lease=1) == []
