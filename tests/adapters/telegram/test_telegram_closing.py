"""End to end on Telegram: a closed story's posts say so (and stop saying it when reopened),
and ``/publish`` sets a story's comment policy (its option and its dialogue)."""

from __future__ import annotations

from adapters.i18n import translations
from adapters.telegram.render import comment_count_line
from adapters.telegram.render.templated import render_templated
from adapters.templates import Templated
from newsbot import ArticleId, CountRefresh
from newsbot.policy import CommentPolicy
from tests.adapters.telegram.telegram_e2e_helpers import post_in, publish, subscribe_all
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    World,
    world,
)

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING
CLOSED = "🔒 Comments are closed"


def _text(world: World, chat: int) -> str:
    post = post_in(world, chat)
    return str(post.get("text") or post.get("caption") or "")


async def _every_post(world: World, closed: bool, what: str) -> None:
    def shows() -> bool:
        return all((CLOSED in _text(world, chat)) is closed for chat in (GROUP, CHANNEL_A))

    await wait_for(shows, 20, what)


async def test_closing_puts_the_line_on_every_post_and_reopening_takes_it_off(
    world: World,
) -> None:
    world.configure(count_refresh=CountRefresh(min_interval=0.0, per_second=100.0))
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    assert CLOSED not in _text(world, GROUP)
    answer = await world.say(ADMIN, ADMIN, "/policy 1 closed")
    assert answer["text"] == "Article 1: comments are closed."
    await _every_post(world, True, "the closed line on every post")
    assert _text(world, GROUP).endswith("💬 No comments yet\n" + CLOSED)
    edits = len(world.tg.calls_to("editMessageText"))
    await world.say(ADMIN, ADMIN, "/policy 1 closed")  # closed again: nothing to edit
    await world.drain()
    assert len(world.tg.calls_to("editMessageText")) == edits

    await world.say(ADMIN, ADMIN, "/policy 1 open")
    await _every_post(world, False, "the line gone from every post")
    assert _text(world, GROUP).endswith("💬 No comments yet")


async def test_publish_with_comments_closed_and_a_bad_value(world: World) -> None:
    world.configure(count_refresh=CountRefresh(min_interval=0.0, per_second=100.0))
    await world.start()
    await subscribe_all(world)
    bad = await world.say(ADMIN, ADMIN, "/publish comments=maybe Title\nBody")
    assert "Comments must be open, premoderated or closed." in bad["text"]
    assert (await world.service.latest()).articles == []
    answer = await publish(world, "--comments closed Closed story\nBody")
    assert "Comments: closed." in answer["text"]
    assert await world.service.desk.policy(ArticleId(1)) is CommentPolicy.CLOSED
    await _every_post(world, True, "the closed line on the posts of a story published closed")
    assert _text(world, GROUP).startswith("Closed story")


async def test_the_publish_dialogue_takes_a_comment_policy(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    asked = await world.say(ADMIN, ADMIN, "/publish comments=premoderated")
    assert "title" in asked["text"]
    await world.say(ADMIN, ADMIN, "Held story")
    before = len(world.bot_messages(ADMIN))
    world.tg.user_sends(ADMIN, ADMIN, "The body")
    await wait_for(lambda: len(world.bot_messages(ADMIN)) >= before + 2, 10, "the preview")
    question = world.bot_messages(ADMIN)[-1]["text"]
    assert "Comments: premoderated" in question
    bad = await world.say(ADMIN, ADMIN, "comments=later")
    assert "Comments must be open, premoderated or closed." in bad["text"]
    changed = await world.say(ADMIN, ADMIN, "--comments closed")
    assert "Comments: closed" in changed["text"]
    done = await world.say(ADMIN, ADMIN, "yes")
    assert "Published article 1" in done["text"] and "Comments: closed." in done["text"]
    assert await world.service.desk.policy(ArticleId(1)) is CommentPolicy.CLOSED


def test_the_closed_line_is_translated() -> None:
    assert comment_count_line(2, translations("de"), closed=True).endswith(
        "\n🔒 Kommentare geschlossen"
    )
    assert comment_count_line(0, translations("uk"), closed=True).endswith(
        "\n🔒 Коментування закрито"
    )
    assert "🔒" not in comment_count_line(2, translations("de"))


def test_a_templated_post_gets_the_line_below_its_text() -> None:
    long = Templated("Headline", "x" * 5000)
    out = render_templated(long, 4096, "🔒 Comments are closed")
    assert out.text.endswith("\n\n🔒 Comments are closed") and len(out.text) <= 4096
    assert render_templated(Templated("H", "Text")).text == "H\n\nText"
