"""Condition waiting for tests: poll a predicate instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_for(
    predicate: Callable[[], object | Awaitable[object]], timeout: float = 5.0, what: str = ""
) -> None:
    """Poll ``predicate`` every 0.01 s until its result (awaited if awaitable) is truthy.

    Raise AssertionError after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool) and isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
