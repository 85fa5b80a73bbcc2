"""Telegram in another language: command descriptions per language_code, posts' count lines."""

from __future__ import annotations

from adapters.i18n import Speech
from newsbot import Actor, Platform
from tests.adapters.telegram.telegram_e2e_helpers import post_in, publish, subscribe_all
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    CHANNEL_B,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    READER,
    World,
    world,
)

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


def _descriptions(world: World, scope: dict[str, object] | None, code: str) -> dict[str, str]:
    return {c["command"]: c["description"] for c in world.tg.commands(scope, code)}


async def test_commands_are_described_in_each_language_and_posts_count_in_ukrainian(
    world: World,
) -> None:
    await world.start(speech=Speech.of("uk", "Europe/Kyiv"))
    admin_scope = {"type": "chat", "chat_id": ADMIN}
    await wait_for(lambda: bool(world.tg.commands(admin_scope, "uk")), 10, "setMyCommands uk")
    # No language_code: NEWSBOT_LANGUAGE's words, for users whose language has no list.
    assert _descriptions(world, None, "")["latest"] == "Останні статті"
    assert _descriptions(world, None, "uk")["help"] == "Що я вмію"
    assert _descriptions(world, None, "de")["latest"] == "Die neuesten Artikel"
    assert _descriptions(world, None, "en")["latest"] == "The latest articles"
    assert "publish" not in _descriptions(world, None, "de")
    admin_de = _descriptions(world, admin_scope, "de")
    assert admin_de["retract"] == "Einen Artikel überall zurückziehen: /retract ID"
    assert _descriptions(world, admin_scope, "uk")["publish"].startswith("Опублікувати статтю")

    answer = (await world.say(ADMIN, ADMIN, f"/subscribe {CHANNEL_B}"))["text"]
    assert answer.startswith("Підписано "), answer
    answer = (await world.say(ADMIN, ADMIN, "/publish Новини\nТекст"))["text"]
    assert answer.startswith("Опубліковано статтю 1: Новини\nУ черзі для 1 призначення."), answer
    await world.drain()
    post = post_in(world, CHANNEL_B)
    assert post["text"].endswith("💬 Коментарів ще немає")


async def test_one_newsroom_a_ukrainian_channel_and_an_english_one(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    operator = Actor.operator()
    await world.service.set_chat_language(operator, Platform.TELEGRAM, str(CHANNEL_B), "uk")
    await publish(world, "Headline\nBody")
    assert post_in(world, CHANNEL_B)["text"].endswith("💬 Коментарів ще немає")
    assert post_in(world, CHANNEL_A)["text"].endswith("💬 No comments yet")
    # Back to the default: the next post counts in English there too.
    await world.service.set_chat_language(operator, Platform.TELEGRAM, str(CHANNEL_B), None)
    assert await world.service.chat_language(Platform.TELEGRAM, str(CHANNEL_B)) is None


async def test_reading_commands_answer_in_the_chats_language(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    operator = Actor.operator()
    await world.service.set_chat_language(operator, Platform.TELEGRAM, str(GROUP), "de")
    assert (await world.say(GROUP, READER, "/latest"))["text"] == (
        "Es wurde noch nichts veröffentlicht."
    )
    assert (await world.say(GROUP, READER, "/help"))["text"].startswith(
        "Ich veröffentliche hier die Nachrichten"
    )
    await publish(world, "Schlagzeile\nText")
    latest = await world.say(GROUP, READER, "/latest")
    assert latest["text"].startswith("Neueste Artikel")
    thread = await world.say(GROUP, READER, "/comments 1")
    assert "Noch keine Kommentare" in thread["text"]
    # The admin's private chat has no language of its own: English, with the admin's part.
    private = (await world.say(ADMIN, ADMIN, "/help"))["text"]
    assert private.startswith("I publish the news") and "For newsbot admins:" in private
    answer = (await world.say(GROUP, ADMIN, "/subscribe"))["text"]
    assert answer.endswith("war bereits abonniert."), answer
    answer = (await world.say(GROUP, ADMIN, "/unsubscribe"))["text"]
    assert answer.endswith("ist abbestellt: keine Artikel mehr."), answer
