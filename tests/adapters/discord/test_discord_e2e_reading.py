"""The Discord adapter end to end: the real discord.py client against tests/fakes/discord/,
with the real NewsService, SqliteStore and Dispatcher."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from newsbot import (
    ArticleId,
    CommentStatus,
)
from tests.discord_helpers import (
    World,
    content,
    ephemeral,
    fake,
    make_world,
    world,
)
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]


# -- reading and moderating ---------------------------------------------------------------


async def test_latest_and_article(world: World) -> None:
    first = await world.publish(title="First one")
    await world.publish(title="Second one")
    answer = await world.slash("latest", world.reader, world.text, count=5)
    description = answer["data"]["embeds"][0]["description"]
    assert description.index("Second one") < description.index("First one")
    assert ephemeral(answer)

    answer = await world.slash("article", world.reader, world.text, article=first)
    assert answer["data"]["embeds"][0]["title"] == "First one"
    answer = await world.slash("article", world.reader, world.text, article=999)
    assert content(answer) == "There is no article 999."


async def test_comments_are_paged_with_buttons(world: World) -> None:
    article_id = await world.publish(title="Busy thread")
    for n in range(12):
        await world.service.add_web_comment(
            ArticleId(article_id), f"Reader {n}", f"comment {n}", client_key=f"k{n}"
        )
    payload = await world.fake.slash_command(
        world.guild, world.text, world.reader, "comments", {"article": article_id}
    )
    answer = await world.fake.wait_for_response(payload["id"])
    assert ephemeral(answer)
    page_one = answer["data"]["embeds"][0]
    assert "comment 0" in page_one["description"] and "comment 11" not in page_one["description"]
    assert "Page 1 · 12 comments" in page_one["footer"]["text"]

    message_id = world.fake.interactions[int(payload["id"])].original_message_id
    assert message_id is not None
    pressed = await world.fake.press_button(
        world.guild, world.text, world.reader, message_id, "newsbot:comments:next"
    )
    update = await world.fake.wait_for_response(pressed["id"])
    assert update["type"] == 7
    page_two = update["data"]["embeds"][0]
    assert "comment 11" in page_two["description"] and "comment 0" not in page_two["description"]


async def test_moderators_delete_comments_and_ban_authors_from_the_menu(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    spam = await world.fake.user_message(thread, world.reader, "buy now")
    more = await world.fake.user_message(thread, world.reader, "buy more")
    web = await world.service.add_web_comment(
        ArticleId(article_id), "Troll", "nonsense", client_key="t1"
    )
    await world.dispatcher.drain()

    async def all_stored() -> bool:
        return (await world.service.thread(ArticleId(article_id))).total == 3

    await wait_for(all_stored, what="comments stored")

    answer = await world.menu("Delete comment", world.reader, thread, int(spam["id"]))
    assert ephemeral(answer) and "Only newsbot admins" in content(answer)

    answer = await world.menu("Delete comment", world.moderator, thread, int(spam["id"]))
    assert "deleted everywhere" in content(answer)
    assert int(spam["id"]) not in {int(m["id"]) for m in world.fake.messages(thread)}

    [mirror] = world.bot_messages(thread)
    answer = await world.menu("Ban author", world.owner, thread, int(mirror["id"]))
    assert content(answer) == "Banned Troll (web); 1 comment(s) deleted."
    answer = await world.menu("Ban author", world.owner, thread, int(more["id"]))
    assert "(discord); 1 comment(s) deleted" in content(answer)
    await world.dispatcher.drain()
    assert world.bot_messages(thread) == []  # the web comment's mirror went too
    assert (await world.service.thread(ArticleId(article_id))).total == 0
    assert (await world.service.comment(web.id)).status is CommentStatus.DELETED

    await world.fake.user_message(thread, world.reader, "I am back")
    await world.fake.user_message(thread, world.owner, "owner marker")

    async def marker() -> bool:
        return (await world.service.thread(ArticleId(article_id))).total == 1

    await wait_for(marker, what="owner marker stored")
    [node] = (await world.service.thread(ArticleId(article_id))).comments
    assert node.comment.text == "owner marker"


async def test_unsubscribe_stops_posting(world: World) -> None:
    await world.slash("subscribe", world.moderator, world.text)
    answer = await world.slash("subscribe", world.manager, world.text)
    assert "already subscribed" in content(answer)
    answer = await world.slash("unsubscribe", world.manager, world.text)
    assert "Unsubscribed #news" in content(answer)
    await world.publish()
    assert world.bot_messages(world.text) == []
    answer = await world.slash("unsubscribe", world.manager, world.text)
    assert content(answer) == "This chat is not subscribed."


async def test_a_channel_manager_asks_and_unsubscribing_withdraws_the_request(
    world: World,
) -> None:
    answer = await world.slash("subscribe", world.manager, world.text)
    assert "a newsbot admin must approve it" in content(answer)
    answer = await world.slash("subscribe", world.manager, world.text)
    assert content(answer) == "#news is already waiting for a newsbot admin's approval."
    answer = await world.slash("unsubscribe", world.manager, world.text)
    assert content(answer) == "Withdrew the request to subscribe #news."
    assert await world.service.pending_destinations() == []
    await world.publish()
    assert world.bot_messages(world.text) == []


async def test_a_thread_cannot_be_subscribed(world: World) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    answer = await world.slash("subscribe", world.owner, int(thread_id or 0))
    assert ephemeral(answer) and "cannot post in a thread" in content(answer)


async def test_an_unexpected_error_gets_an_apology_and_a_log_line(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("database on fire")

    world.service.latest = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="newsbot.discord"):
        answer = await world.slash("latest", world.reader, world.text)
    assert ephemeral(answer) and content(answer).startswith("Sorry, something went wrong")
    [record] = [r for r in caplog.records if r.getMessage() == "discord command failed"]
    assert record.command == "latest"  # type: ignore[attr-defined]
    assert record.exc_info is not None
