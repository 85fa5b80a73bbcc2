"""The send limiter on its own, with windows scaled down so the tests run in real time."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from adapters.telegram.limiter import FANOUT, INTERACTIVE, SendLimiter
from newsbot.errors import RateLimited
from tests.telegram_helpers import IGNORE_RETRY_AFTER_WARNING

PERIOD = 0.2
LIMIT = 10


def limiter(**kw: Any) -> SendLimiter:
    options: dict[str, Any] = {
        "overall": LIMIT,
        "overall_period": PERIOD,
        "group": 3,
        "group_period": 0.5,
        "private": 2,
        "private_period": 0.3,
        "reserve": 2,
    }
    options.update(kw)
    return SendLimiter(**options)


def max_in_window(times: list[float], period: float) -> int:
    times = sorted(times)
    best = 0
    start = 0
    for end, at in enumerate(times):
        while times[start] <= at - period:
            start += 1
        best = max(best, end - start + 1)
    return best


async def send(lim: SendLimiter, chat: str, lane: str, arrivals: list[float]) -> str:
    async def callback() -> dict[str, Any]:
        # The server sees the request somewhere between sending and answering.
        await asyncio.sleep(random.uniform(0, 0.01))
        arrivals.append(time.monotonic())
        await asyncio.sleep(random.uniform(0, 0.01))
        return {"ok": True}

    await lim.process_request(callback, (), {}, "sendMessage", {"chat_id": chat}, {"lane": lane})
    return chat


async def test_global_window_is_never_exceeded_and_nearly_filled() -> None:
    lim = limiter(fanout_wait=30)
    arrivals: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(send(lim, f"-100{n}", FANOUT, arrivals) for n in range(80)))
    elapsed = time.monotonic() - started
    assert max_in_window(arrivals, PERIOD) <= LIMIT
    rate = len(arrivals) / elapsed
    assert rate > 0.8 * LIMIT / PERIOD, rate


async def test_a_chat_without_budget_is_handed_back_without_blocking_others() -> None:
    lim = limiter()
    arrivals: list[float] = []
    for _ in range(3):
        await send(lim, "-1001", FANOUT, arrivals)
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        await send(lim, "-1001", FANOUT, arrivals)
    assert caught.value.scope == "chat"
    assert 0 < caught.value.retry_after <= 0.5
    await send(lim, "-1002", FANOUT, arrivals)  # another chat goes at once
    assert time.monotonic() - started < 0.1


async def test_private_chats_allow_a_short_burst() -> None:
    lim = limiter()
    arrivals: list[float] = []
    await send(lim, "42", FANOUT, arrivals)
    await send(lim, "42", FANOUT, arrivals)
    with pytest.raises(RateLimited):
        await send(lim, "42", FANOUT, arrivals)
    # A command answer in the same chat waits for the budget instead.
    await send(lim, "42", INTERACTIVE, arrivals)
    assert max_in_window(arrivals, 0.3) <= 2


async def test_command_answers_jump_the_fanout_queue() -> None:
    lim = limiter(fanout_wait=30)
    arrivals: list[float] = []
    fanout = [asyncio.create_task(send(lim, f"-100{n}", FANOUT, arrivals)) for n in range(60)]
    await asyncio.sleep(0.05)  # the fan-out has filled the window and queued up
    started = time.monotonic()
    await send(lim, "7", INTERACTIVE, arrivals)
    waited = time.monotonic() - started
    remaining = sum(not task.done() for task in fanout)
    await asyncio.gather(*fanout)
    assert waited < PERIOD + 0.1
    assert remaining > 30  # it did not wait behind the queued posts
    assert max_in_window(arrivals, PERIOD) <= LIMIT


@IGNORE_RETRY_AFTER_WARNING
async def test_a_429_pauses_the_chat_and_becomes_rate_limited() -> None:
    lim = limiter(fanout_wait=0.5)

    async def flooded() -> dict[str, Any]:
        raise RetryAfter(timedelta(seconds=2))

    with pytest.raises(RateLimited) as caught:
        await lim.process_request(
            flooded, (), {}, "sendMessage", {"chat_id": "-1001"}, {"lane": FANOUT}
        )
    assert caught.value.retry_after == 2
    assert caught.value.scope == "chat"
    with pytest.raises(RateLimited):
        await send(lim, "-1001", FANOUT, [])
    await send(lim, "-1002", FANOUT, [])  # only that chat is paused

    # 429s for two chats at once mean the whole bot is over the limit.
    with pytest.raises(RateLimited) as caught:
        await lim.process_request(
            flooded, (), {}, "sendMessage", {"chat_id": "-1003"}, {"lane": FANOUT}
        )
    assert caught.value.scope == "global"
    with pytest.raises(RateLimited) as caught:
        await send(lim, "-1004", FANOUT, [])
    assert caught.value.scope == "global"


@IGNORE_RETRY_AFTER_WARNING
async def test_a_command_answer_is_retried_once_after_a_short_429() -> None:
    lim = limiter()
    calls = 0

    async def once_flooded() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryAfter(timedelta(seconds=0.2))
        return {"ok": True}

    started = time.monotonic()
    result = await lim.process_request(once_flooded, (), {}, "sendMessage", {"chat_id": "7"}, None)
    assert result == {"ok": True}
    assert calls == 2
    assert time.monotonic() - started >= 0.2


async def test_queries_are_not_counted() -> None:
    lim = limiter(overall=1)

    async def answer() -> bool:
        return True

    for _ in range(5):
        assert await lim.process_request(answer, (), {}, "getChatMember", {"chat_id": 1}, None)
    assert lim.sent == 0
