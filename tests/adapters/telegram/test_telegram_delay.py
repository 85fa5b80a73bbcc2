"""A per-destination delay, end to end (python-telegram-bot against the fake Bot API, a fake
clock): a staggered chat gets the post only once its delay has passed, the others at once."""

from __future__ import annotations

from newsbot import Actor, Platform
from tests.adapters.telegram.telegram_e2e_helpers import posts_in, publish, subscribe_all
from tests.conftest import FakeClock
from tests.telegram_helpers import (
    CHANNEL_B,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    World,
    world,
)

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


async def test_a_delayed_chat_gets_the_post_after_its_delay(world: World) -> None:
    clock = FakeClock()
    service = world.configure(clock=clock)
    await world.start()
    await subscribe_all(world)
    group = await service.store.get_destination(Platform.TELEGRAM, str(GROUP), None)
    assert group is not None
    assert await service.routing.set_delay(Actor.operator(), group.id, 600) == 600.0
    await publish(world, "Staggered\nThe body")  # drains what is due now
    assert [p["text"].split("\n")[0] for p in posts_in(world, CHANNEL_B)] == ["Staggered"]
    assert posts_in(world, GROUP) == []
    clock.advance(570)  # drain() waits for what falls due within 20 s: stay out of that
    assert world.dispatcher is not None
    world.dispatcher.wake()
    await world.drain()
    assert posts_in(world, GROUP) == []
    clock.advance(30)
    world.dispatcher.wake()
    await world.drain()
    assert [p["text"].split("\n")[0] for p in posts_in(world, GROUP)] == ["Staggered"]
    assert len(posts_in(world, CHANNEL_B)) == 1  # nothing sent twice
