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
