"""Discord commands have their effect once: a redelivered interaction (in the same process or
after a restart), a 429 with retry_after on the answer or its follow-up, and a 5 s slow answer.

The real discord.py client against the fake Discord, the real service and SQLite store. Each
case checks what the command did (the service's log line for the effect, the store) and that
the user was answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newsbot import ArticleId, CommentStatus, MessageRef, NewsService, Platform
from storage import SqliteStore
from tests.discord_helpers import (
    World,
    WorldFactory,
    content,
    fake,
    make_adapter,
    make_world,
    world,
)
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]

CALLBACK = r"/interactions/\d+/[^/]+/callback$"
ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original$"


@dataclass
class Scene:
    """A command ready to run: how to fire it, what the user should read, and how many times
    its effect was carried out (with the state that shows it)."""

    fire: Callable[[], Awaitable[dict[str, Any]]]
    answer: str
    effect: Callable[[], Awaitable[tuple[Any, ...]]]
    once: tuple[Any, ...]


def count(caplog: pytest.LogCaptureFixture, message: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage() == message)


async def stored_reply(world: World) -> tuple[int, dict[str, Any]]:
    """A published article with a reader's comment in its thread."""
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    message = await world.fake.user_message(thread, world.reader, "buy now")
    ref = MessageRef(Platform.DISCORD, str(thread), message["id"])

    async def stored() -> bool:
        return await world.store.get_comment_by_source(ref) is not None

    await wait_for(stored, what="comment stored")
    return thread, message


async def scene(world: World, command: str, caplog: pytest.LogCaptureFixture) -> Scene:
    fake = world.fake

    def slash(name: str, user: int, **options: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: fake.slash_command(world.guild, world.text, user, name, options)

    if command == "publish":
        await world.subscribe(world.text)

        async def published() -> tuple[Any, ...]:
            articles = (await world.service.latest()).articles
            return len(articles), count(caplog, "article published")

        return Scene(
            slash("publish", world.owner, title="Once", body="Only once."),
            "Published article 1",
            published,
            (1, 1),
        )
    if command == "edit":
        article_id = await world.publish(title="Old")

        async def edited() -> tuple[Any, ...]:
            article = await world.service.article(ArticleId(article_id))
            return article.title, article.revision, count(caplog, "article edited")

        return Scene(
            slash("edit", world.owner, article=article_id, title="New"),
            f"Edited article {article_id} (revision 2)",
            edited,
            ("New", 2, 1),
        )
    if command == "retract":
        await world.subscribe(world.text)
        article_id = await world.publish()

        async def retracted() -> tuple[Any, ...]:
            article = await world.service.article(ArticleId(article_id))
            return str(article.status), count(caplog, "article retracted")

        return Scene(
            slash("retract", world.owner, article=article_id),
            f"Retracted article {article_id}; 1 deletion(s) queued.",
            retracted,
            ("retracted", 1),
        )
    if command == "subscribe":

        async def asked() -> tuple[Any, ...]:
            pending = await world.service.pending_destinations()
            return len(pending), count(caplog, "subscription waiting for approval")

        return Scene(
            slash("subscribe", world.manager),
            "Asked to subscribe #news",
            asked,
            (1, 1),
        )
    thread, message = await stored_reply(world)
    ref = MessageRef(Platform.DISCORD, str(thread), message["id"])
    menu = "Ban author" if command == "ban" else "Delete comment"

    async def moderated() -> tuple[Any, ...]:
        comment = await world.store.get_comment_by_source(ref)
        assert comment is not None
        banned = await world.store.is_banned(Platform.DISCORD, str(world.reader))
        deletes = [
            r
            for r in fake.requests
            if r[:2] == ("DELETE", f"/channels/{thread}/messages/{message['id']}")
        ]
        return comment.status, banned, count(caplog, "comment deleted"), len(deletes)

    def fire() -> Awaitable[dict[str, Any]]:
        return fake.slash_command(
            world.guild, thread, world.owner, menu, command_type=3, target_id=int(message["id"])
        )

    if command == "ban":
        return Scene(
            fire, "(discord); 1 comment(s) deleted", moderated, (CommentStatus.DELETED, True, 1, 0)
        )
    return Scene(fire, "deleted everywhere", moderated, (CommentStatus.DELETED, False, 1, 1))


COMMANDS = ["publish", "edit", "retract", "subscribe", "ban", "delete"]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="newsbot")
    return caplog


@pytest.mark.parametrize("command", COMMANDS)
async def test_an_interaction_delivered_twice_has_its_effect_once(
    world: World, logs: pytest.LogCaptureFixture, command: str
) -> None:
    scene_ = await scene(world, command, logs)
    payload = await scene_.fire()
    assert scene_.answer in content(await world.fake.wait_for_answer(payload["id"]))
    assert await scene_.effect() == scene_.once

    await world.fake.redeliver_interaction(payload["id"])
    await wait_for(
        lambda: count(logs, "discord interaction delivered again; dropped") == 1,
        what="second delivery dropped",
    )
    assert await scene_.effect() == scene_.once


@pytest.mark.parametrize("command", COMMANDS)
async def test_an_interaction_delivered_again_after_a_restart_has_its_effect_once(
    world: World, logs: pytest.LogCaptureFixture, service: NewsService, command: str
) -> None:
    scene_ = await scene(world, command, logs)
    payload = await scene_.fire()
    iid = int(payload["id"])
    assert scene_.answer in content(await world.fake.wait_for_answer(iid))
    await world.dispatcher.drain()
    assert await scene_.effect() == scene_.once

    # A new life of the bot, and Discord delivers the interaction again: the answer to it
    # was already acknowledged (400 40060), the command's effect is not carried out again,
    # and the user is told so in a follow-up.
    await world.adapter.stop()
    again = make_adapter(service, world.fake, guild_id=world.guild)
    await again.start()
    try:
        await world.fake.redeliver_interaction(iid)
        await wait_for(lambda: bool(world.fake.followups.get(iid)), what="follow-up")
        assert await scene_.effect() == scene_.once
        assert count(logs, "discord interaction acknowledged by an earlier delivery") == 1
    finally:
        await again.stop()


FAULTS = {
    "429 on the answer": lambda fake: fake.fail_next("POST", CALLBACK, 429, retry_after=0.5),
    "429 on the follow-up": lambda fake: fake.fail_next("PATCH", ORIGINAL, 429, retry_after=0.5),
    "5 s slow answer": lambda fake: fake.slow_next("POST", CALLBACK, 5.0),
    "5 s slow follow-up": lambda fake: fake.slow_next("PATCH", ORIGINAL, 5.0),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("command", COMMANDS)
async def test_a_rate_limited_or_slow_answer_still_has_its_effect_once(
    world: World, logs: pytest.LogCaptureFixture, command: str, fault: str
) -> None:
    scene_ = await scene(world, command, logs)
    FAULTS[fault](world.fake)
    payload = await scene_.fire()
    answer = await world.fake.wait_for_answer(payload["id"], timeout=20)
    assert scene_.answer in content(answer)
    assert await scene_.effect() == scene_.once
    if fault.startswith("429"):
        assert world.fake.count_429_injected == 1
    assert world.fake.followups.get(int(payload["id"])) is None  # one answer, no second


async def test_a_form_submitted_twice_publishes_one_article(
    world: World, logs: pytest.LogCaptureFixture
) -> None:
    await world.subscribe(world.text)
    opened = await world.fake.slash_command(
        world.guild, world.text, world.owner, "publish", {"title": "Draft"}
    )
    modal = await world.fake.wait_for_response(opened["id"])
    values = {"title": "Once", "summary": "", "body": "Only once."}
    # Submit pressed twice before the first is answered: two interactions, one command.
    first, second = await asyncio.gather(
        *(
            world.fake.submit_modal(
                world.guild, world.text, world.owner, modal["data"]["custom_id"], values
            )
            for _ in range(2)
        )
    )
    answers = [content(await world.fake.wait_for_answer(p["id"])) for p in (first, second)]
    assert sorted(a.split(":")[0] for a in answers) == [
        "Article 1 was already published by this command",
        "Published article 1",
    ]
    assert len((await world.service.latest()).articles) == 1
    assert count(logs, "article published") == 1
    await world.dispatcher.drain()
    assert len(world.bot_messages(world.text)) == 1


class SlowStore(SqliteStore):
    """A store that takes 4 s to write an article: longer than Discord's 3 s for an answer."""

    async def add_article(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(4.0)  # the slow write itself (simulated), not a wait
        return await super().add_article(*args, **kwargs)


async def test_a_slow_store_still_answers_and_publishes_once(
    make_world: WorldFactory, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    async with SlowStore(tmp_path / "slow.db") as slow:
        service = NewsService(slow, admins={Platform.DISCORD: {"99"}})
        world = await make_world(with_service=service)
        await world.subscribe(world.text)
        payload = await world.fake.slash_command(
            world.guild, world.text, world.owner, "publish", {"title": "Slow", "body": "Yes."}
        )
        assert (await world.fake.wait_for_response(payload["id"]))["type"] == 5  # thinking
        answer = await world.fake.wait_for_answer(payload["id"], timeout=15)
        assert "Published article 1" in content(answer)
        assert count(logs, "article published") == 1
        await world.dispatcher.drain()
        assert len(world.bot_messages(world.text)) == 1
        await world.dispatcher.stop()
        await world.adapter.stop()
