"""The breaking-news lane end to end (python-telegram-bot against the fake Bot API, its flood
limits on): a breaking article overtakes a 2,000-channel fan-out under way, which then
completes; no 429, nothing lost or doubled; breaking posts notify, others keep the default."""

from __future__ import annotations

import pytest

from adapters.telegram.limiter import SendLimiter
from newsbot import Actor, ArticleDraft, DestinationKind, NewDestination, Platform
from newsbot.scheduling import Priority
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, IGNORE_RETRY_AFTER_WARNING, World, world

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING

CHANNELS = 2000


def title_of(message: dict[str, object]) -> str:
    return str(message.get("text") or message.get("caption") or "").split("\n", 1)[0]


@pytest.mark.slow
async def test_breaking_overtakes_a_2000_channel_fanout(world: World) -> None:
    channels = [-1007000000000 - n for n in range(CHANNELS)]
    for chat in channels:
        world.tg.add_chat(chat, "channel", f"Channel {chat}", admins=[ADMIN])
        await world.service.subscribe(
            Actor.operator(), NewDestination(Platform.TELEGRAM, str(chat), DestinationKind.CHANNEL)
        )
    # Telegram's limits, ten times faster overall so that the test takes seconds, not minutes;
    # the limiter is told the same, as an operator would configure it.
    world.tg.set_limits(global_per_sec=300)
    await world.start(limiter=SendLimiter(overall=300))
    await world.service.publish(Actor.operator(), ArticleDraft("Routine", "The normal one"))
    await wait_for(lambda: len(world.tg.sent) >= 200, 60, "the fan-out to be under way")
    started = len(world.tg.sent)
    await world.service.publish(
        Actor.operator(), ArticleDraft("Quake", "Breaking"), priority=Priority.BREAKING
    )

    def breaking_done() -> bool:
        return sum(title_of(m) == "Quake" for m in world.tg.sent) == CHANNELS

    await wait_for(breaking_done, 120, "every breaking post")
    sent = list(world.tg.sent)
    last_breaking = max(i for i, m in enumerate(sent) if title_of(m) == "Quake")
    normal_meanwhile = sum(title_of(m) == "Routine" for m in sent[started : last_breaking + 1])
    # Only sends already claimed (16 in flight at most, a claim or two) went first.
    assert normal_meanwhile <= 64, normal_meanwhile
    assert sum(title_of(m) == "Routine" for m in sent) < CHANNELS  # the normal one resumes after
    assert world.dispatcher is not None
    await world.dispatcher.drain(120)
    for chat in channels:
        assert sorted(title_of(m) for m in world.bot_messages(chat)) == ["Quake", "Routine"]
    assert world.tg.count_429 == 0
    sends = [p for name, p in world.tg.calls if name == "sendMessage"]
    breaking = [p for p in sends if str(p.get("text", "")).startswith("Quake")]
    normal = [p for p in sends if str(p.get("text", "")).startswith("Routine")]
    assert len(breaking) == len(normal) == CHANNELS  # nothing sent twice
    assert all(p.get("disable_notification") in (False, "false") for p in breaking)
    assert all("disable_notification" not in p for p in normal)
