"""Pacing in front of discord.py, and how SDK failures become delivery errors."""

from __future__ import annotations

import asyncio
import heapq
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord._sdk import discord
from adapters.discord.pacing import ChannelPacer, RequestPacer, SlidingWindow
from adapters.discord.publisher import translate
from newsbot import DeliveryError, DestinationGone, RateLimited


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_window_frees_a_slot_a_period_after_the_request_ended() -> None:
    clock = ManualClock()
    window = SlidingWindow(2, 1.0, clock=clock)
    assert window.try_acquire() and window.try_acquire()
    assert not window.try_acquire()
    assert window.delay() == 1.0  # both still in flight: their end is unknown
    clock.now = 0.3
    window.release()
    assert window.delay() == pytest.approx(1.0)
    clock.now = 1.29
    assert not window.try_acquire()
    clock.now = 1.3
    assert window.try_acquire()


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 6),
    requests=st.lists(
        st.tuples(st.floats(0.0, 3.0), st.floats(0.0, 1.0)), min_size=1, max_size=120
    ),
)
def test_the_server_never_counts_more_than_the_limit(
    limit: int, requests: list[tuple[float, float]]
) -> None:
    """A greedy client behind the window; each request reaches the server at some point
    between its grant and its end. Any server-side window of one period holds <= limit."""
    clock = ManualClock()
    window = SlidingWindow(limit, 1.0, clock=clock)
    ends: list[float] = []
    receipts: list[float] = []
    pending = list(requests)
    while pending or ends:
        while pending and window.try_acquire():
            duration, where = pending.pop(0)
            heapq.heappush(ends, clock.now + duration)
            receipts.append(clock.now + where * duration)
        candidates = [ends[0]] if ends else []
        if pending and window.used > len(ends):  # a finished request frees a slot later
            candidates.append(clock.now + window.delay())
        clock.now = max(clock.now, min(candidates))
        while ends and ends[0] <= clock.now:
            heapq.heappop(ends)
            window.release()
    receipts.sort()
    for index, start in enumerate(receipts):
        inside = [r for r in receipts[index:] if r < start + 1.0]
        assert len(inside) <= limit


async def test_acquire_waits_for_a_slot() -> None:
    window = SlidingWindow(3, 0.05)
    grants: list[float] = []

    async def request() -> None:
        await window.acquire()
        grants.append(time.monotonic())
        window.release()

    await asyncio.gather(*(request() for _ in range(7)))
    grants.sort()
    for index in range(len(grants) - 3):
        assert grants[index + 3] - grants[index] >= 0.05


def test_only_api_requests_count_towards_the_global_limit() -> None:
    pacer = RequestPacer("http://127.0.0.1:1/api/v10/")
    assert not pacer.exempt("http://127.0.0.1:1/api/v10/channels/1/messages")
    assert pacer.exempt("http://127.0.0.1:1/api/v10/interactions/1/tok/callback")
    assert pacer.exempt("http://127.0.0.1:1/api/v10/webhooks/1/tok/messages/@original")
    assert pacer.exempt("ws://127.0.0.1:1/gateway?v=10")


def test_a_channel_without_budget_says_how_long_to_wait() -> None:
    pacer = ChannelPacer(2, 5.0)
    assert pacer.try_acquire("create", "1") == 0.0
    assert pacer.try_acquire("create", "1") == 0.0
    assert pacer.try_acquire("create", "1") == 5.0
    assert pacer.try_acquire("create", "2") == 0.0  # other channels are not held up
    assert pacer.try_acquire("edit", "1") == 0.0
    pacer.release("create", "1")
    wait = pacer.try_acquire("create", "1")
    assert 4.9 < wait <= 5.0


def http_error(kind: type[discord.HTTPException], status: int, code: int) -> Exception:
    # The exception reads only these three fields of the HTTP response it is given.
    response: Any = SimpleNamespace(status=status, reason="reason", headers={"Retry-After": "3"})
    return kind(response, {"code": code, "message": "nope"})


def test_sdk_failures_map_to_delivery_errors() -> None:
    forbidden = http_error(discord.Forbidden, 403, 50013)
    unknown_channel = http_error(discord.NotFound, 404, 10003)
    unknown_message = http_error(discord.NotFound, 404, 10008)
    assert isinstance(translate(forbidden, destination=True), DestinationGone)
    assert isinstance(translate(unknown_channel, destination=True), DestinationGone)
    # Inside a thread, the destination channel itself is not gone.
    assert type(translate(forbidden, destination=False)) is DeliveryError
    assert type(translate(unknown_message, destination=True)) is DeliveryError
    limited = translate(http_error(discord.HTTPException, 429, 0), destination=True)
    assert isinstance(limited, RateLimited) and limited.retry_after == 3.0
    assert isinstance(translate(discord.RateLimited(42.0), destination=True), RateLimited)
    server = translate(http_error(discord.DiscordServerError, 503, 0), destination=True)
    assert type(server) is DeliveryError and "503" in str(server)
    network = translate(aiohttp.ClientConnectionError("reset"), destination=True)
    assert type(network) is DeliveryError
