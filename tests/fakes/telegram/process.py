"""The fake in a process of its own: ``python -m tests.fakes.telegram``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .server import FakeTelegram
from .wire import DEFAULT_TOKEN, JSONDict

_REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class SubprocessFake:
    """A FakeTelegram in its own OS process, driven through the /_control endpoints."""

    process: subprocess.Popen[str]
    url: str
    token: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def control(self, action: str, payload: JSONDict | None = None, **query: Any) -> Any:
        """POST ``payload`` to /_control/<action> (GET with ``query`` when payload is None).

        Blocking; from async code use ``await asyncio.to_thread(fake.control, ...)``.
        """
        url = f"{self.url}/_control/{action}"
        if payload is None:
            if query:
                url += "?" + urllib.parse.urlencode(query)
            request = urllib.request.Request(url)
        else:
            request = urllib.request.Request(
                url,
                data=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
            )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["result"]

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_in_subprocess(
    *,
    token: str = DEFAULT_TOKEN,
    demo: bool = True,
    enforce_rate_limits: bool = False,
    startup_timeout: float = 15.0,
) -> SubprocessFake:
    """Start ``python -m tests.fakes.telegram`` on a free port; returns a handle to stop it."""
    command = [sys.executable, "-m", "tests.fakes.telegram", "--port", "0", "--token", token]
    if not demo:
        command.append("--no-demo")
    if enforce_rate_limits:
        command.append("--enforce-rate-limits")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=_REPO_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + startup_timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                process.kill()
                process.wait()
                raise RuntimeError("the fake Telegram server did not start in time")
            line = process.stdout.readline()
            if not line:
                process.wait()
                raise RuntimeError(f"the fake Telegram server exited with {process.returncode}")
            if line.startswith("FAKE_TELEGRAM_READY "):
                fields = dict(part.split("=", 1) for part in line.split()[1:])
                return SubprocessFake(process=process, url=fields["url"], token=token)


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTelegram(
        token=args.token,
        host=args.host,
        port=args.port,
        enforce_rate_limits=args.enforce_rate_limits,
        privacy_mode=not args.no_privacy_mode,
    )
    if not args.no_demo:
        fake.setup_demo()
    await fake.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"FAKE_TELEGRAM_READY url={fake.url} base_url={fake.base_url}", flush=True)
    print(f"token={fake.token}  control: {fake.url}/_control/state", flush=True)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.telegram",
        description="Fake Telegram Bot API server for manual tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--no-demo", action="store_true", help="start without the demo chats")
    parser.add_argument("--enforce-rate-limits", action="store_true")
    parser.add_argument("--no-privacy-mode", action="store_true")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))
    return 0
