"""Scheduling from Telegram, end to end (python-telegram-bot against the fake Bot API, a fake
clock): /publish with in=/at=, /scheduled to list, move and cancel; posts wait for their time."""

from __future__ import annotations

from newsbot import ArticleStatus
from tests.adapters.telegram.telegram_e2e_helpers import posts_in, publish, subscribe_all
from tests.conftest import FakeClock
from tests.telegram_helpers import ADMIN, GROUP, IGNORE_RETRY_AFTER_WARNING, READER, World, world

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


async def test_scheduled_from_telegram_waits_then_goes_out(world: World) -> None:
    clock = FakeClock()
    service = world.configure(clock=clock)
    await world.start()
    await subscribe_all(world)
    answer = await world.say(ADMIN, ADMIN, "/publish in=1h priority=breaking Later\nThe body")
    assert answer["text"].startswith("Scheduled (2026-01-02 04:04 UTC) as breaking news")
    assert "article 1: Later" in answer["text"]
    dropped = await world.say(
        ADMIN, ADMIN, "/publish at=2026-01-02T06:00+01:00 discord_at=3h Dropped\nBody"
    )
    assert "Scheduled (2026-01-02 05:00 UTC, discord 2026-01-02 06:04)" in dropped["text"]
    listed = (await world.say(ADMIN, ADMIN, "/scheduled"))["text"]
    assert listed.splitlines() == [
        "#1 2026-01-02 04:04 UTC: Later",
        "#2 2026-01-02 05:00 UTC: Dropped",  # no Discord chat: no Discord time
    ]
    assert "Cancelled article 2" in (await world.say(ADMIN, ADMIN, "/scheduled cancel 2"))["text"]
    moved = (await world.say(ADMIN, ADMIN, "/scheduled move 1 in=30m"))["text"]
    assert moved == "Rescheduled: #1 2026-01-02 03:34 UTC: Later"
    await publish(world, "Now\nAt once")  # drains: the sender has looked at the outbox since
    assert [p["text"].split("\n")[0] for p in posts_in(world, GROUP)] == ["Now"]
    assert (await service.article(1)).status is ArticleStatus.SCHEDULED  # type: ignore[arg-type]
    clock.advance(30 * 60)
    assert world.dispatcher is not None
    world.dispatcher.wake()
    await world.drain()
    assert [p["text"].split("\n")[0] for p in posts_in(world, GROUP)] == ["Now", "Later"]
    clock.advance(6 * 3600)
    await world.drain()
    assert [p["text"].split("\n")[0] for p in posts_in(world, GROUP)] == ["Now", "Later"]
    assert "Nothing is scheduled" in (await world.say(ADMIN, ADMIN, "/scheduled"))["text"]


async def test_bad_times_and_readers_are_refused(world: World) -> None:
    world.configure(clock=FakeClock())
    await world.start()
    no_offset = await world.say(ADMIN, ADMIN, "/publish at=2026-01-02T09:00 T\nB")
    assert "has no offset" in no_offset["text"]
    past = await world.say(ADMIN, ADMIN, "/publish at=2025-01-01T00:00Z T\nB")
    assert "is in the past" in past["text"]
    # A bad option is refused at once, before the dialogue asks for a title.
    assert "normal or breaking" in (await world.say(ADMIN, ADMIN, "/publish priority=x"))["text"]
    usage = await world.say(ADMIN, ADMIN, "/scheduled move x")
    assert "/scheduled cancel ID" in usage["text"]
    refused = await world.say(READER, READER, "/scheduled")
    assert "Only newsbot admins" in refused["text"]
