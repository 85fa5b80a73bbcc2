"""The fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio

import pytest
from telegram import (
    Bot,
)
from telegram.error import (
    RetryAfter,
)

from tests.adapters.telegram.fake_telegram_helpers import (
    DISCUSSION,
    GROUP,
    QUIET_GROUP,
    READER,
    bot,
    must,
    retry_seconds,
    tg,
)
from tests.fakes.telegram import (
    FakeTelegram,
)
from tests.fakes.wait import wait_for

__all__ = ["bot", "tg"]

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22 warns inside RetryAfter.__init__ unless PTB_TIMEDELTA is set.
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]


# ------------------------------------------------------------------------------ flood limits


class ManualClock:
    """A time source the flood-limit tests advance by hand: deterministic and instant."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_group_rate_window(tg: FakeTelegram, bot: Bot) -> None:
    clock = ManualClock()
    tg.clock = clock
    tg.set_limits(group_per_min=3, group_window=60, global_per_sec=100)
    for index in range(3):
        await bot.send_message(GROUP, f"burst {index}")
        clock.advance(10)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "one too many")
    assert retry_seconds(caught.value) == 30  # the oldest send leaves the window in 30 s
    assert tg.count_429_by_chat == {GROUP: 1}
    assert await bot.send_message(DISCUSSION, "another chat has its own window")
    clock.advance(29.5)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "still too early")
    assert retry_seconds(caught.value) == 1  # ceil(0.5), never 0
    clock.advance(0.5)
    assert tg.seconds_until_allowed(GROUP) == 0
    assert (await bot.send_message(GROUP, "later")).text == "later"
    assert len([m for m in tg.sent if m["chat"]["id"] == GROUP]) == 4
    assert tg.count_429 == 2


async def test_global_rate_window_counts_edits(tg: FakeTelegram, bot: Bot) -> None:
    clock = ManualClock()
    tg.clock = clock
    tg.set_limits(global_per_sec=4, global_window=1, group_per_min=100)
    first = await bot.send_message(GROUP, "a")
    await bot.send_message(DISCUSSION, "b")
    await bot.edit_message_text("a2", chat_id=GROUP, message_id=first.message_id)
    await bot.send_message(QUIET_GROUP, "c")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "fifth")
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("a3", chat_id=GROUP, message_id=first.message_id)
    assert tg.count_429 == 2
    assert (
        must(tg.message(GROUP, first.message_id))["text"] == "a2"
    )  # the refused edit changed nothing
    clock.advance(1)
    assert await bot.send_message(GROUP, "fine again")


async def test_private_chat_allows_a_short_burst(tg: FakeTelegram, bot: Bot) -> None:
    clock = ManualClock()
    tg.clock = clock
    tg.user_sends(READER, READER, "/start")
    tg.set_limits(private_burst=3, private_per_sec=1, private_window=1)
    for index in range(3):
        await bot.send_message(READER, f"burst {index}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(READER, "too fast")
    assert retry_seconds(caught.value) == 1
    clock.advance(1)
    assert await bot.send_message(READER, "paced")
    with pytest.raises(RetryAfter):
        await bot.send_message(READER, "too fast again")
    clock.advance(5)  # the bucket refills to the burst size, no further
    for index in range(3):
        await bot.send_message(READER, f"second burst {index}")
    with pytest.raises(RetryAfter):
        await bot.send_message(READER, "over the burst")


async def test_rate_window_in_real_time(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_limits(group_per_min=1, group_window=0.3)
    await bot.send_message(GROUP, "first")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "second")
    assert retry_seconds(caught.value) == 1
    await wait_for(lambda: tg.seconds_until_allowed(GROUP) == 0, timeout=2, what="the window")
    assert (await bot.send_message(GROUP, "second, later")).text == "second, later"


async def test_limits_are_off_unless_enabled(tg: FakeTelegram, bot: Bot) -> None:
    await asyncio.gather(*(bot.send_message(GROUP, f"n{i}") for i in range(25)))
    assert tg.count_429 == 0 and len(tg.sent) == 25
