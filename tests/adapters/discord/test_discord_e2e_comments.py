"""The Discord adapter end to end: the real discord.py client against tests/fakes/discord/,
with the real NewsService, SqliteStore and Dispatcher."""

from __future__ import annotations

from typing import Any

from newsbot import (
    ArticleId,
    CommentStatus,
    MessageRef,
    Platform,
)
from tests.discord_helpers import (
    World,
    fake,
    make_world,
    world,
)
from tests.fakes.discord import (
    GUILD_TEXT,
)
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]


# -- comments -----------------------------------------------------------------------------


async def test_thread_messages_and_replies_become_comments_with_parents(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    post_id, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)

    first = await world.fake.user_message(thread, world.reader, "First!")
    second = await world.fake.user_message(
        thread, world.manager, "Agreed", reply_to=int(first["id"])
    )
    third = await world.fake.user_message(
        world.text, world.owner, "In channel", reply_to=int(post_id)
    )
    await world.fake.user_message(world.text, world.reader, "unrelated chatter")

    async def stored(message: dict[str, Any]) -> bool:
        ref = MessageRef(Platform.DISCORD, message["channel_id"], message["id"])
        return await world.store.get_comment_by_source(ref) is not None

    for message in (first, second, third):
        await wait_for(lambda m=message: stored(m), what="comment stored")  # type: ignore[misc]  # python/mypy#15459: a lambda default binding a loop variable
    page = await world.service.thread(ArticleId(article_id))
    assert page.total == 3
    roots = {node.comment.text: node for node in page.comments}
    assert set(roots) == {"First!", "In channel"}
    assert roots["First!"].comment.author.name == "Rita Reader"
    assert roots["First!"].comment.author.user_id == str(world.reader)
    [reply] = roots["First!"].replies
    assert reply.comment.text == "Agreed" and reply.comment.author.name == "Manny Manager"

    # Edits and deletions follow.
    await world.fake.user_edit(thread, int(first["id"]), "First! (edited)")
    ref = MessageRef(Platform.DISCORD, str(thread), first["id"])

    async def edited() -> bool:
        comment = await world.store.get_comment_by_source(ref)
        return comment is not None and comment.text == "First! (edited)"

    await wait_for(edited, what="edit applied")
    await world.fake.user_delete(thread, int(first["id"]))

    async def deleted() -> bool:
        comment = await world.store.get_comment_by_source(ref)
        return comment is not None and comment.status is CommentStatus.DELETED

    await wait_for(deleted, what="deletion applied")


async def test_bots_and_unrelated_messages_are_ignored(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    robot = world.fake.add_member(world.guild, world.fake.new_id(), "robot", bot=True)
    await world.fake.user_message(int(thread_id or 0), robot, "beep")
    await world.fake.user_message(world.text, world.reader, "hello")
    marker = await world.fake.user_message(int(thread_id or 0), world.reader, "marker")
    ref = MessageRef(Platform.DISCORD, str(thread_id), marker["id"])

    async def marker_stored() -> bool:
        return await world.store.get_comment_by_source(ref) is not None

    await wait_for(marker_stored, what="marker stored")
    assert (await world.service.thread(ArticleId(article_id))).total == 1


async def test_comments_are_mirrored_into_the_thread_and_never_back(world: World) -> None:
    await world.subscribe(world.text)
    second_channel = world.fake.add_channel(world.guild, "more-news", GUILD_TEXT)
    await world.subscribe(second_channel)
    article_id = await world.publish()
    _, thread_a = await world.post_of(article_id, world.text)
    _, thread_b = await world.post_of(article_id, second_channel)

    web = await world.service.add_web_comment(
        ArticleId(article_id), "Wendy *Web*", "From the site", client_key="w1"
    )
    await world.dispatcher.drain()
    [mirror_a] = world.bot_messages(int(thread_a or 0))
    assert mirror_a["content"] == "**Wendy \\*Web\\*** (Web): From the site"

    # A reader answers the mirror in thread A, then someone answers that reply there.
    answer = await world.fake.user_message(
        int(thread_a or 0), world.reader, "Reply to web", reply_to=int(mirror_a["id"])
    )
    await world.fake.user_message(
        int(thread_a or 0), world.manager, "Reply to reply", reply_to=int(answer["id"])
    )

    async def both_stored() -> bool:
        return (await world.service.thread(ArticleId(article_id))).total == 3

    await wait_for(both_stored, what="replies stored")
    await world.dispatcher.drain()
    # Thread A holds only the web mirror; thread B got all three, natively threaded.
    assert len(world.bot_messages(int(thread_a or 0))) == 1
    mirrors_b = world.bot_messages(int(thread_b or 0))
    assert [m["content"].split(": ", 1)[1] for m in mirrors_b] == [
        "From the site",
        "Reply to web",
        "Reply to reply",
    ]
    assert mirrors_b[1]["message_reference"]["message_id"] == mirrors_b[0]["id"]
    assert mirrors_b[2]["message_reference"]["message_id"] == mirrors_b[1]["id"]
    assert web.parent_id is None
