"""Scheduling from Discord, end to end (discord.py against the fake, a fake clock): /publish
with at/in options and the form's When field, /scheduled to list, move and cancel."""

from __future__ import annotations

from newsbot import Actor, NewsService, Platform
from storage import SqliteStore
from tests.conftest import FakeClock
from tests.discord_helpers import World, WorldFactory, content, fake, make_world
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world"]


async def clocked(make_world: WorldFactory, store: SqliteStore) -> tuple[World, FakeClock]:
    clock = FakeClock()
    service = NewsService(
        store,
        admins={Platform.TELEGRAM: {"42"}, Platform.DISCORD: {"99"}},
        public_url="https://news.example/",
        clock=clock,
    )
    return await make_world(with_service=service), clock


def titles(world: World) -> list[str]:
    return [m["embeds"][0]["title"] for m in world.bot_messages(world.text) if m.get("embeds")]


async def test_scheduled_with_options_and_the_form(
    make_world: WorldFactory, store: SqliteStore
) -> None:
    world, clock = await clocked(make_world, store)
    await world.subscribe(world.text)
    answer = await world.slash(
        "publish", world.owner, world.text, title="Later", body="B", **{"in": "1h"}
    )
    assert content(answer).startswith("Scheduled (2026-01-02 04:04 UTC) article 1: Later")
    form = await world.slash(
        "publish", world.owner, world.text, title="Formed", priority="breaking"
    )
    assert form["type"] == 9
    await world.fake.submit_modal(
        world.guild,
        world.text,
        world.owner,
        form["data"]["custom_id"],
        {"title": "Formed", "summary": "", "body": "Body", "when": "2026-01-02T06:00+01:00"},
    )

    async def both() -> bool:
        return len(await world.service.scheduled(Actor.operator())) == 2

    await wait_for(both, 10, "the form's article")
    listed = await world.slash("scheduled", world.owner, world.text)
    assert content(listed).splitlines() == [
        "#1 2026-01-02 04:04 UTC: Later",
        "#2 2026-01-02 05:00 UTC: Formed",
    ]
    cancelled = await world.slash("scheduled", world.owner, world.text, action="cancel", article=2)
    assert "Cancelled article 2" in content(cancelled)
    moved = await world.slash(
        "scheduled", world.owner, world.text, action="move", article=1, **{"in": "10m"}
    )
    assert content(moved) == "Rescheduled: #1 2026-01-02 03:14 UTC: Later"
    await world.publish("Now", "at once")  # drains: the sender has looked since
    assert titles(world) == ["Now"]
    clock.advance(10 * 60)
    world.dispatcher.wake()
    await wait_for(lambda: titles(world) == ["Now", "Later"], 10, "the scheduled post")
    clock.advance(5 * 3600)
    await world.dispatcher.drain()
    assert titles(world) == ["Now", "Later"]


async def test_bad_times_and_readers_are_refused(
    make_world: WorldFactory, store: SqliteStore
) -> None:
    world, _clock = await clocked(make_world, store)
    answer = await world.slash(
        "publish", world.owner, world.text, title="T", body="B", at="2026-01-02T09:00"
    )
    assert "has no offset" in content(answer)
    answer = await world.slash(
        "publish", world.owner, world.text, title="T", at="2020-01-01T00:00Z"
    )
    assert "in the past" in content(answer)  # refused before the form opens
    assert not world.fake.modals
    refused = await world.slash("scheduled", world.reader, world.text)
    assert "Only newsbot admins" in content(refused)
