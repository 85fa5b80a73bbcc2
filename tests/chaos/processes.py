"""The chaos suites' scale, and the processes they drive: the fakes' servers and the bot."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.process import read_ready
from tests.fakes.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
TELEGRAM_TOKEN = "123456:CHAOS-telegram-token"
DISCORD_TOKEN = "chaos-discord-token"
JSON = dict[str, Any]


# -- scale --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How big the suites run: small in ``make test``, full with NEWSBOT_CHAOS_SCALE=full."""

    full: bool
    destinations: int  # per platform, in the kill test
    kills: int
    replies_per_second: float
    fault_destinations: int  # per platform, in the fault tests
    outage: float  # seconds a platform is down
    slow: float  # seconds per answer of a slow server
    burst: int  # injected 5xx and 429 answers per platform
    worker_kills: int  # SIGKILLs of one of three workers, in the failover test


SMALL = Scale(
    False,
    destinations=100,
    kills=5,
    replies_per_second=10.0,
    fault_destinations=20,
    outage=3.0,
    slow=2.0,
    burst=8,
    worker_kills=4,
)
FULL = Scale(
    True,
    destinations=2000,
    kills=50,
    replies_per_second=20.0,
    fault_destinations=200,
    outage=60.0,
    slow=10.0,
    burst=40,
    worker_kills=20,
)


def scale() -> Scale:
    """SMALL, or FULL when NEWSBOT_CHAOS_SCALE=full."""
    return FULL if os.environ.get("NEWSBOT_CHAOS_SCALE", "").strip().lower() == "full" else SMALL


def seed() -> int:
    """The random seed of a run: NEWSBOT_CHAOS_SEED, or a new one (printed by the tests)."""
    value = os.environ.get("NEWSBOT_CHAOS_SEED")
    return int(value) if value else random.randrange(1 << 30)


# -- processes ----------------------------------------------------------------------------


def _killpg(process: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)


class FakeProcess:
    """One fake platform server in a process of its own (see ``tests.chaos.servers``)."""

    def __init__(self, platform: str, process: subprocess.Popen[bytes], ready: JSON) -> None:
        self.platform = platform
        self.process = process
        self.ready = ready
        self.url: str = ready["url"]
        self.sidecar: str = ready["sidecar"]
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    async def start(
        cls,
        platform: str,
        destinations: int,
        *,
        token: str,
        log: Path,
        enforce_rate_limits: bool = False,
    ) -> FakeProcess:
        command = [
            sys.executable,
            "-m",
            "tests.chaos.servers",
            platform,
            "--destinations",
            str(destinations),
            "--token",
            token,
        ]
        if enforce_rate_limits:
            command.append("--enforce-rate-limits")
        with log.open("ab") as errors:  # aiohttp's complaints about clients killed mid-request
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        try:
            ready = await asyncio.to_thread(read_ready, process, 60.0, "the chaos fake")
        except BaseException:
            _killpg(process)
            process.wait()
            _close_pipes(process)
            raise
        return cls(platform, process, ready)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._http

    async def get(self, path: str, **query: Any) -> Any:
        async with self.http.get(self.sidecar + path, params=query) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, path: str, body: JSON) -> Any:
        async with self.http.post(self.sidecar + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def control(self, action: str, payload: JSON | None = None, **query: Any) -> Any:
        """The Telegram fake's own ``/_control/<action>``."""
        url = f"{self.url}/_control/{action}"
        if payload is None:
            request = self.http.get(url, params=query)
        else:
            request = self.http.post(url, json=payload)
        async with request as response:
            data = await response.json()
            if response.status != 200:
                raise AssertionError(f"control {action} failed: {data}")
            return data.get("result", data)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            await asyncio.to_thread(self.process.wait, 10)
        except subprocess.TimeoutExpired:
            _killpg(self.process)
            await asyncio.to_thread(self.process.wait)
        _killpg(self.process)  # anything the server started
        _close_pipes(self.process)


def _close_pipes(process: subprocess.Popen[Any]) -> None:
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


class BotProcess:
    """One life of ``python bot.py``; its stdout and stderr go to ``log`` (appended)."""

    def __init__(self, env: dict[str, str], log: Path, cwd: Path, **popen: Any) -> None:
        self.log = log
        self.offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            out.write(f"--- bot started at {time.time():.3f}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "bot.py")],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                **popen,
            )
        self.started = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What this life wrote so far."""
        with self.log.open("rb") as source:
            source.seek(self.offset)
            return source.read().decode(errors="replace")

    async def wait_log(self, pattern: str, timeout: float = 30.0) -> None:
        regex = re.compile(pattern)

        def seen() -> bool:
            if not self.alive:
                raise AssertionError(
                    f"the bot exited ({self.process.returncode}) before logging {pattern!r}:\n"
                    + self.output()[-3000:]
                )
            return regex.search(self.output()) is not None

        await wait_for(seen, timeout, f"the bot to log {pattern!r}")

    async def kill(self) -> None:
        _killpg(self.process, signal.SIGKILL)
        await asyncio.to_thread(self.process.wait)

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for a clean exit; SIGKILL after ``timeout``."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            await self.kill()
            raise AssertionError(f"the bot did not stop within {timeout} s of SIGTERM") from None

    def cleanup(self) -> None:
        """For ``finally`` blocks: no process of this life survives."""
        _killpg(self.process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
