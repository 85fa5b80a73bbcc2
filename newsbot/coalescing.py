"""Calls arriving together, written together: a small buffer in front of a batch write.

Each caller hands its items with a key (calls with different keys never share a write: the
web's reactions carry the offered set, chat reactions none) and awaits its own results, so
nothing is acknowledged before it is written and a failed write fails every caller in it.
One write runs at a time, in arrival order: the first call waits ``wait`` seconds for company
(less if ``size`` items gather first), and calls arriving while a write runs go in the next
(group commit). ``batches`` is the rule, pure; ``Coalescer`` the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from newsbot.errors import StorageError

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")


@dataclass(slots=True)
class Call(Generic[K, I, R]):
    """One caller's items, waiting for their results."""

    key: K
    items: Sequence[I]
    future: asyncio.Future[list[R]]


def batches(calls: Sequence[tuple[K, int]], size: int) -> list[tuple[K, list[int]]]:
    """The waiting calls, given as (key, number of items) in arrival order, cut into writes:
    per key, in the order the keys first arrived, consecutive calls up to ``size`` items (a
    call is never split; one larger than ``size`` is a write of its own). Returns (key, the
    calls' positions) per write."""
    grouped: dict[K, list[list[int]]] = {}
    filled: dict[K, int] = {}
    for position, (key, count) in enumerate(calls):
        writes = grouped.setdefault(key, [])
        if not writes or filled[key] + count > size:
            writes.append([])
            filled[key] = 0
        writes[-1].append(position)
        filled[key] += count
    return [(key, write) for key, writes in grouped.items() for write in writes]


class Coalescer(Generic[K, I, R]):
    """Batches the items of concurrent calls into writes of ``write(key, items)``, which
    returns one result per item, in order.

    Args:
        write: the batch write.
        size: most items a write takes (more waiting: the next write).
        wait: how long a write waits for company once a call arrives (0: none, but the
            calls made in the same turn of the event loop still share it).
    """

    def __init__(
        self,
        write: Callable[[K, list[I]], Awaitable[list[R]]],
        *,
        size: int = 500,
        wait: float = 0.005,
    ) -> None:
        self._write = write
        self.size = size
        self.wait = wait
        self._waiting: list[Call[K, I, R]] = []
        self._count = 0
        self._wake: asyncio.Future[None] | None = None  # set when a waiting write is full
        self._task: asyncio.Task[None] | None = None
        self.writes = 0  # batch writes made, for monitoring and tests

    async def submit(self, key: K, items: Sequence[I]) -> list[R]:
        """Write ``items`` with others' and return their results.

        Raises:
            whatever the write raised (every caller of that write gets it).
        """
        if not items:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[R]] = loop.create_future()
        self._waiting.append(Call(key, items, future))
        self._count += len(items)
        if self._count >= self.size and self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="coalescer")
        return await future

    async def _run(self) -> None:
        calls: list[Call[K, I, R]] = []
        try:
            while self._waiting:
                if self.wait > 0 and self._count < self.size:
                    self._wake = asyncio.get_running_loop().create_future()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake, self.wait)
                    self._wake = None
                else:
                    await asyncio.sleep(0)
                calls, self._waiting, self._count = self._waiting, [], 0
                for key, positions in batches([(c.key, len(c.items)) for c in calls], self.size):
                    await self._flush(key, [calls[p] for p in positions])
        except asyncio.CancelledError:
            _fail([*calls, *self._waiting], StorageError("stopped before it was written"))
            self._waiting, self._count = [], 0
            raise

    async def _flush(self, key: K, calls: list[Call[K, I, R]]) -> None:
        items = [item for call in calls for item in call.items]
        try:
            results = await self._write(key, items)
            self.writes += 1
        except asyncio.CancelledError:
            _fail(calls, StorageError("stopped before it was written"))
            raise
        except Exception as exc:  # every caller of this write hears of it
            _fail(calls, exc)
            return
        start = 0
        for call in calls:
            if not call.future.done():
                call.future.set_result(list(results[start : start + len(call.items)]))
            start += len(call.items)


def _fail(calls: Sequence[Call[K, I, R]], failure: BaseException) -> None:
    for call in calls:
        if not call.future.done():
            call.future.set_exception(failure)
