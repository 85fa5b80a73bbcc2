"""Discord in other languages: slash command descriptions and message-menu names synced with
their localizations."""

from __future__ import annotations

from typing import Any

from newsbot import Actor, Platform
from tests.discord_helpers import World, content, fake, make_world, world

__all__ = ["fake", "make_world", "world"]


def _command(world: World, name: str) -> dict[str, Any]:
    found = [c for c in world.fake.commands if c["name"] == name]
    assert found, name
    command: dict[str, Any] = found[0]
    return command


async def test_descriptions_arrive_in_german_and_ukrainian(world: World) -> None:
    latest = _command(world, "latest")
    assert latest["description"] == "The latest articles."
    assert latest["description_localizations"] == {
        "de": "Die neuesten Artikel.",
        "uk": "Останні статті.",
    }
    assert latest["name_localizations"] in (None, {})  # names stay as the docs name them
    count = next(o for o in latest["options"] if o["name"] == "count")
    assert count["description_localizations"]["uk"] == "Скільки статей (від 1 до 10)"
    publish = _command(world, "publish")
    assert publish["description_localizations"]["de"] == (
        "Einen Artikel in allen abonnierten Kanälen veröffentlichen."
    )
    feed = _command(world, "feed")
    add = next(o for o in feed["options"] if o["name"] == "add")
    assert add["description_localizations"]["uk"] == (
        "Стежити за стрічкою: її нові записи стають статтями"
    )


async def test_message_menu_names_arrive_in_german_and_ukrainian(world: World) -> None:
    menus = {c["name"]: c for c in world.fake.commands if c.get("type") == 3}
    assert {name: command.get("name_localizations") for name, command in menus.items()} == {
        "Report": {"de": "Melden", "uk": "Поскаржитися"},
        "Delete comment": {"de": "Kommentar löschen", "uk": "Видалити коментар"},
        "Ban author": {"de": "Autor sperren", "uk": "Заблокувати автора"},
    }
    await world.subscribe(world.text)
    await world.publish("Title", "Body")
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    world.fake.users[world.owner]["locale"] = "de"  # the menu shows German; its name is English
    answer = await world.menu("Delete comment", world.owner, world.text, int(post["id"]))
    assert content(answer) == "Diese Nachricht ist kein gespeicherter Kommentar."


async def test_a_channel_with_its_own_language_gets_its_count_line_in_it(world: World) -> None:
    answer = await world.slash("subscribe", world.moderator, world.text)
    assert "Subscribed #news" in content(answer)
    operator = Actor.operator()
    assert await world.service.set_chat_language(
        operator, Platform.DISCORD, str(world.text), "uk"
    ) == "uk"  # fmt: skip
    await world.slash("publish", world.owner, world.text, title="Запуск", body="Текст")
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    assert post["embeds"][0]["footer"]["text"] == "💬 0 коментарів"


async def test_a_member_reads_in_their_discord_language(world: World) -> None:
    await world.publish("Запуск", "Текст")
    world.fake.users[world.owner]["locale"] = "uk"
    answer = await world.slash("latest", world.owner, world.text)
    assert answer["data"]["embeds"][0]["title"] == "Останні статті"
    answer = await world.slash("comments", world.owner, world.text, article=1)
    assert answer["data"]["embeds"][0]["description"] == "*Коментарів ще немає.*"
    assert answer["data"]["embeds"][0]["footer"]["text"] == "Сторінка 1 · 0 коментарів"
    world.fake.users[world.owner]["locale"] = "fr"  # no catalog: English
    answer = await world.slash("latest", world.owner, world.text)
    assert answer["data"]["embeds"][0]["title"] == "Latest articles"
