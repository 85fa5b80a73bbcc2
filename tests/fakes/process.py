"""A fake platform server in a process of its own: both ends of the hand-shake.

The server side (``serve``) runs a started fake and its *sidecar* (a small HTTP app with what a
benchmark or suite needs beyond the fake's control API), prints one line ``FAKE_READY {json}``
with their addresses, and stops on SIGINT, SIGTERM or when its standard input closes, so a
parent that dies never leaves a server behind. The parent side (``read_ready``) waits for that
line. ``bench/fake_servers.py`` and ``tests/chaos/servers.py`` build their worlds on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import selectors
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Protocol

from aiohttp import web

READY = "FAKE_READY "

JSON = dict[str, Any]


class _Stoppable(Protocol):
    async def stop(self) -> None: ...


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` when the parent closes our standard input (or dies)."""

    def read() -> None:
        with contextlib.suppress(Exception):
            sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read, daemon=True).start()


async def serve(fake: _Stoppable, sidecar: web.Application, ready: JSON) -> None:
    """Serve the started ``fake`` and ``sidecar`` until told to stop, then stop both.

    ``ready`` (the fake's addresses) is printed with the sidecar's added as ``"sidecar"``.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    _watch_stdin(loop, stop)
    runner = web.AppRunner(sidecar, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        ready = {**ready, "sidecar": f"http://127.0.0.1:{runner.addresses[0][1]}"}
        print(READY + json.dumps(ready), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        await fake.stop()


def read_ready(process: subprocess.Popen[bytes], timeout: float, what: str) -> JSON:
    """The addresses ``serve`` printed in ``process``; ``RuntimeError`` if it never does."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise RuntimeError(f"{what} did not start in time")
            line = process.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"{what} exited with {process.wait()}")
            if line.startswith(READY):
                ready: JSON = json.loads(line[len(READY) :])
                return ready
