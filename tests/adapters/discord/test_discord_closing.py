"""End to end on Discord: closing a story locks and archives the thread of each of its posts
and puts a closed line in their footers; reopening takes both back; ``/publish`` and its
form set a story's comment policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.discord.publisher import thread_change
from adapters.discord.render import article_embed, templated_embed
from adapters.i18n import translations
from adapters.templates import Templated
from newsbot import (
    Actor,
    Article,
    ArticleId,
    ArticleStatus,
    Author,
    CountRefresh,
    DeliveryState,
    NewsService,
    Platform,
)
from newsbot.policy import CommentPolicy
from newsbot.review import DeskSettings
from storage import SqliteStore
from tests.conftest import FakeClock
from tests.discord_helpers import (
    World,
    WorldFactory,
    content,
    ephemeral,
    fake,
    make_world,
    world,
)
from tests.fakes.discord import MANAGE_THREADS
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]
CLOSED = "🔒 Comments are closed"


def _footer(message: dict[str, Any]) -> str:
    return str(message["embeds"][0]["footer"]["text"])


async def _threads(world: World, article_id: int) -> list[int]:
    """The thread on the article's post in the text channel, and its forum post."""
    found = []
    for channel in (world.text, world.forum):
        _, thread_id = await world.post_of(article_id, channel)
        assert thread_id is not None
        found.append(int(thread_id))
    return found


def _posts(world: World, threads: list[int]) -> list[dict[str, Any]]:
    """The post in the text channel and the forum post's starter message (the first in it;
    comments mirrored there follow)."""
    [post] = world.bot_messages(world.text)
    starter = world.fake.messages(threads[1])[0]
    assert starter.get("embeds"), starter
    return [post, starter]


async def _shown(world: World, threads: list[int], closed: bool, what: str) -> None:
    def done() -> bool:
        locks = [world.fake.threads[t]["thread_metadata"] for t in threads]
        lines = [CLOSED in _footer(m) for m in _posts(world, threads)]
        states = [(bool(m.get("locked")), bool(m["archived"])) for m in locks]
        return lines == [closed, closed] and states == [(closed, closed)] * 2

    await wait_for(done, 20, what)


async def test_closing_locks_the_threads_and_reopening_unlocks_them(world: World) -> None:
    world.service.count_refresh = CountRefresh(min_interval=0.0, per_second=100.0)
    await world.subscribe(world.text)
    await world.subscribe(world.forum)
    article_id = await world.publish()
    threads = await _threads(world, article_id)
    await world.fake.user_message(threads[0], world.reader, "before closing")
    answer = await world.slash(
        "policy", world.owner, world.text, article=article_id, comments="closed"
    )
    assert content(answer) == f"Article {article_id}: comments are closed."
    await _shown(world, threads, True, "locked threads and the closed line")
    assert _footer(_posts(world, threads)[0]).endswith("\n" + CLOSED)
    for thread in threads:  # readers cannot write in a locked thread; moderators still can
        with pytest.raises(PermissionError):
            await world.fake.user_message(thread, world.reader, "after closing")
    await world.fake.user_message(threads[0], world.owner, "a moderator's word")
    assert not world.fake.threads[threads[0]]["thread_metadata"]["archived"]  # woken by it
    with pytest.raises(PermissionError):  # and still locked to readers
        await world.fake.user_message(threads[0], world.reader, "now?")
    # Edited again while closed (a new count): the threads are never unlocked meanwhile.
    await world.dispatcher.drain()
    seen = len(world.fake.requests)
    assert await world.service.desk.closing.refresh(ArticleId(article_id)) == 2
    await world.dispatcher.drain()
    unlocks = [
        r
        for r in world.fake.requests[seen:]
        if r[0] == "PATCH" and (r[2] or {}).get("locked") is False
    ]
    assert unlocks == []
    await _shown(world, threads, True, "still locked after another edit")

    answer = await world.slash(
        "policy", world.owner, world.text, article=article_id, comments="open"
    )
    assert content(answer).endswith("comments are open.")
    await _shown(world, threads, False, "unlocked threads without the line")
    await world.fake.user_message(threads[0], world.reader, "open again")

    async def stored() -> bool:
        page = await world.service.thread(ArticleId(article_id))
        return "open again" in [n.comment.text for n in page.comments]

    await wait_for(stored, 20, "a comment after reopening")


async def test_publish_with_comments_and_the_form(world: World) -> None:
    world.service.count_refresh = CountRefresh(min_interval=0.0, per_second=100.0)
    await world.subscribe(world.text)
    await world.subscribe(world.forum)
    answer = await world.slash(
        "publish", world.owner, world.text, title="Closed", body="B", comments="closed"
    )
    assert "Published article 1" in content(answer) and "Comments: closed." in content(answer)
    assert await world.service.desk.policy(ArticleId(1)) is CommentPolicy.CLOSED
    await world.dispatcher.drain()
    await _shown(world, await _threads(world, 1), True, "the story published closed")

    form = await world.slash("publish", world.owner, world.text, title="Held")
    assert form["type"] == 9
    custom_id = form["data"]["custom_id"]
    values = {"title": "Held", "summary": "", "body": "Body", "when": ""}
    bad = await world.fake.submit_modal(
        world.guild, world.text, world.owner, custom_id, {**values, "comments": "maybe"}
    )
    refused = await world.fake.wait_for_answer(bad["id"])
    assert ephemeral(refused)
    assert "Comments must be open, premoderated or closed." in content(refused)
    assert len((await world.service.latest()).articles) == 1
    await world.fake.submit_modal(
        world.guild, world.text, world.owner, custom_id, {**values, "comments": "premoderated"}
    )

    async def published() -> bool:  # the policy is set just after the article is stored
        if len((await world.service.latest()).articles) < 2:
            return False
        return await world.service.desk.policy(ArticleId(2)) is CommentPolicy.PREMODERATED

    await wait_for(published, 20, "the form's article, pre-moderated")


async def test_a_story_closed_by_age_locks_its_thread(
    make_world: WorldFactory, store: SqliteStore
) -> None:
    clock = FakeClock()
    service = NewsService(
        store,
        admins={Platform.DISCORD: {"99"}},
        clock=clock,
        count_refresh=CountRefresh(min_interval=0.0, per_second=100.0),
        desk=DeskSettings(close_after=timedelta(days=2)),
    )
    world = await make_world(with_service=service)
    await world.subscribe(world.text)
    await world.subscribe(world.forum)
    article_id = await world.publish()
    threads = await _threads(world, article_id)
    assert await service.desk.closing.close_due() == 0
    clock.advance(2 * 86400 + 60)
    assert await service.desk.closing.close_due() == 1
    world.dispatcher.wake()
    await _shown(world, threads, True, "the thread of a story closed by age")
    with pytest.raises(PermissionError):
        await world.fake.user_message(threads[0], world.reader, "too old to comment")


async def test_without_manage_threads_the_line_shows_and_the_thread_stays_open(
    world: World,
) -> None:
    world.service.count_refresh = CountRefresh(min_interval=0.0, per_second=100.0)
    guild = world.fake.guilds[world.guild]
    role = guild.roles[guild.bot_role_id]
    role["permissions"] = str(int(role["permissions"]) & ~MANAGE_THREADS)
    await world.subscribe(world.text)
    article_id = await world.publish()
    _, thread_id = await world.post_of(article_id, world.text)
    await world.service.desk.set_policy(
        Actor.operator(), ArticleId(article_id), CommentPolicy.CLOSED
    )
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    assert _footer(post).endswith("\n" + CLOSED)
    meta = world.fake.threads[int(thread_id or 0)]["thread_metadata"]
    assert not meta.get("locked") and not meta["archived"]
    (status,) = await world.service.deliveries(ArticleId(article_id))
    assert status.delivery.state is DeliveryState.SENT and status.delivery.attempts <= 1


def test_the_footer_line_is_translated_and_follows_a_template() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    article = Article(
        ArticleId(1),
        "T",
        "B",
        "",
        None,
        None,
        Author("Ed", Platform.CLI, "cli"),
        (),
        ArticleStatus.PUBLISHED,
        now,
        now,
        now,
        1,
    )
    de = article_embed(
        article, url="", comment_count=2, tr=translations("de"), comments_closed=True
    )
    assert str(de.footer.text).endswith("\n🔒 Kommentare geschlossen")
    uk = templated_embed(
        Templated("Head", "Text"),
        article,
        url="",
        comment_count=0,
        tr=translations("uk"),
        comments_closed=True,
    )
    assert str(uk.footer.text).endswith("\n🔒 Коментування закрито")
    assert "🔒" not in str(article_embed(article, url="", comment_count=2).footer.text)


def test_thread_change() -> None:
    def change(locked: bool, archived: bool, **kw: bool) -> tuple[bool, bool] | None:
        return thread_change(locked, archived, **{"inside": False, "before": False, **kw})

    assert change(False, False, closed=True) == (True, True)
    assert change(True, False, closed=True) == (True, True)  # a moderator's word woke it
    assert change(True, True, closed=True) is None
    assert change(False, True, closed=False) is None  # archived by inactivity: left so
    assert change(True, True, closed=False, before=True) == (False, False)  # reopened
    assert change(True, True, closed=True, before=True) is None  # closed: kept locked
    assert change(True, True, closed=True, before=True, inside=True) == (True, False)
    assert change(False, False, closed=False, before=True, inside=True) is None
