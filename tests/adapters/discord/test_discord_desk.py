"""The Discord adapter end to end, the moderation desk: a reader's Report message menu
reaches the queue, answered only to them."""

from __future__ import annotations

from newsbot import Actor, ArticleId, CommentStatus, MessageRef, Platform
from newsbot.review import View
from tests.discord_helpers import World, content, ephemeral, fake, make_world, world
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]


async def test_the_report_menu_reaches_the_queue(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    rude = await world.fake.user_message(thread, world.owner, "rude words")
    web = await world.service.add_web_comment(
        ArticleId(article_id), "Troll", "web nonsense", client_key="t1"
    )
    await world.dispatcher.drain()

    async def stored() -> bool:
        return (await world.service.thread(ArticleId(article_id))).total == 2

    await wait_for(stored, what="comments stored")
    answer = await world.menu("Report", world.reader, thread, int(rude["id"]))
    assert ephemeral(answer) and "a moderator will look" in content(answer)
    answer = await world.menu("Report", world.reader, thread, int(rude["id"]))
    assert "a moderator will look" in content(answer)  # the same reader counts once
    [mirror] = world.bot_messages(thread)  # the web comment's copy
    answer = await world.menu("Report", world.reader, thread, int(mirror["id"]))
    assert ephemeral(answer) and "a moderator will look" in content(answer)
    reported = await world.service.desk.queue(Actor.operator(), View.REPORTED)
    assert sorted(i.comment.text for i in reported) == ["rude words", "web nonsense"]
    assert {i.reports for i in reported} == {1}
    assert {i.comment.id for i in reported} >= {web.id}
    # A message that carries no comment is refused, ephemerally.
    plain = await world.fake.user_message(world.text, world.reader, "not a comment")
    answer = await world.menu("Report", world.reader, world.text, int(plain["id"]))
    assert ephemeral(answer) and "not a stored comment" in content(answer)


async def test_the_policy_command_and_a_closed_story_on_discord(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    refused = await world.slash("policy", world.reader, world.text, article=article_id)
    assert ephemeral(refused) and "Only newsbot admins" in content(refused)
    answer = await world.slash(
        "policy", world.owner, world.text, article=article_id, comments="closed"
    )
    assert ephemeral(answer) and content(answer) == f"Article {article_id}: comments are closed."
    late = await world.fake.user_message(thread, world.reader, "a late word")
    ref = MessageRef(Platform.DISCORD, str(thread), str(late["id"]))

    async def stored() -> bool:
        return await world.service.comment_by_source(ref) is not None

    await wait_for(stored, what="the late reply stored")
    comment = await world.service.comment_by_source(ref)
    assert comment is not None and comment.status is CommentStatus.HIDDEN

    async def queued() -> bool:  # the queue item is written just after the comment
        return bool(await world.service.desk.queue(Actor.operator(), View.HELD))

    await wait_for(queued, what="the late reply queued")
    (item,) = await world.service.desk.queue(Actor.operator(), View.HELD)
    assert item.reasons == ("closed",)
    answer = await world.slash(
        "policy", world.owner, world.text, article=article_id, comments="default"
    )
    assert content(answer).endswith("comments are open.")
    answer = await world.slash("policy", world.owner, world.text, article=article_id)
    assert content(answer).endswith("comments are open.")


async def test_slow_mode_on_discord_threads_and_in_the_core(world: World) -> None:
    import pytest

    from tests.fakes.discord.wire import SlowmodeLimited

    await world.subscribe(world.text)
    article_id = await world.publish()
    post_id, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    assert not world.fake.channels[thread].get("rate_limit_per_user")
    answer = await world.slash("policy", world.owner, world.text, article=article_id, slow=120)
    assert ephemeral(answer) and content(answer) == (
        f"Article {article_id}: comments are open. "
        "Slow mode: one comment per reader every 120 seconds."
    )

    def slowed(seconds: int) -> bool:  # the edit of the post, through the outbox, PATCHes it
        return world.fake.channels[thread].get("rate_limit_per_user") == seconds

    await wait_for(lambda: slowed(120), what="the thread in slow mode")
    first = await world.fake.user_message(thread, world.reader, "first word")
    with pytest.raises(SlowmodeLimited) as refused:  # Discord refuses a member's second
        await world.fake.user_message(thread, world.reader, "second word")
    assert refused.value.status == 429 and refused.value.code == 20016
    # Discord lets a moderator through (the owner), and a reply in the channel has no thread
    # slow mode: the core holds what comes too soon.
    await world.fake.user_message(thread, world.owner, "owner one")
    late = await world.fake.user_message(thread, world.owner, "owner two")
    reply = await world.fake.user_message(
        world.text, world.reader, "reply in the channel", reply_to=int(post_id)
    )

    async def status(message: dict[str, object], channel: int) -> CommentStatus | None:
        ref = MessageRef(Platform.DISCORD, str(channel), str(message["id"]))
        found = await world.service.comment_by_source(ref)
        return None if found is None else found.status

    async def all_stored() -> bool:
        return None not in [
            await status(first, thread),
            await status(late, thread),
            await status(reply, world.text),
        ]

    await wait_for(all_stored, what="the replies stored")
    assert await status(first, thread) is CommentStatus.VISIBLE
    assert await status(late, thread) is CommentStatus.HIDDEN
    assert await status(reply, world.text) is CommentStatus.HIDDEN

    async def queued() -> bool:
        return len(await world.service.desk.queue(Actor.operator(), View.HELD)) == 2

    await wait_for(queued, what="the too-soon replies queued")
    held = await world.service.desk.queue(Actor.operator(), View.HELD)
    assert sorted(i.comment.text for i in held) == ["owner two", "reply in the channel"]
    assert {i.reasons for i in held} == {("slow",)}
    # Reopening restores it all: the thread's slow mode is lifted, readers write again.
    answer = await world.slash("policy", world.owner, world.text, article=article_id, slow=0)
    assert content(answer) == f"Article {article_id}: comments are open."
    await wait_for(lambda: slowed(0), what="the thread's slow mode lifted")
    await world.fake.user_message(thread, world.reader, "free again")


async def test_slow_mode_without_manage_threads_is_the_core_rule_alone(world: World) -> None:
    from tests.fakes.discord.wire import MANAGE_THREADS

    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    guild = world.fake.guilds[world.guild]
    role = guild.roles[guild.bot_role_id]
    role["permissions"] = str(int(role["permissions"]) & ~MANAGE_THREADS)
    await world.slash("policy", world.owner, world.text, article=article_id, slow=60)

    async def edited() -> bool:  # the edit went out and was not retried for the thread
        posts = await world.service.store.deliveries_for_article(ArticleId(article_id))
        return all(p.delivery.state == "sent" and p.delivery.op == "edit" for p in posts)

    await wait_for(edited, what="the post edited")
    assert not world.fake.channels[thread].get("rate_limit_per_user")
    first = await world.fake.user_message(thread, world.reader, "first")
    second = await world.fake.user_message(thread, world.reader, "second")  # Discord lets it
    refs = [MessageRef(Platform.DISCORD, str(thread), str(m["id"])) for m in (first, second)]

    async def stored() -> bool:
        return all([await world.service.comment_by_source(r) is not None for r in refs])

    await wait_for(stored, what="both stored")
    found = [await world.service.comment_by_source(r) for r in refs]
    assert [c.status for c in found if c is not None] == [
        CommentStatus.VISIBLE,
        CommentStatus.HIDDEN,
    ]
