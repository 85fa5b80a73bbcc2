"""Drive the real bot (``python bot.py``) against the fakes, each in a process of its own.

* ``FakeProcess``: ``python -m tests.chaos.servers`` for one platform, its sidecar and (for
  Telegram) the fake's own ``/_control`` API.
* ``BotProcess``: one life of ``python bot.py`` in its own process group, its log in a file;
  ``kill()`` is a SIGKILL of the group, ``terminate()`` a SIGTERM with a deadline.
* ``Chaos``: both fakes, a database, the bot's environment, subscribing and publishing, and
  what the database says (read with plain ``sqlite3``, as an operator would).

Every process is started with ``start_new_session`` and killed by process group in the
callers' ``finally`` blocks; the fakes also exit when their standard input closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    NewDestination,
    NewsService,
    Platform,
)
from storage import open_store
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


# -- the database, as an operator reads it ------------------------------------------------


Database = Path | str
"""An SQLite file, or a PostgreSQL URL (the suites run on both)."""


class _PgCursor:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


class _PgConnection:
    """Just enough of sqlite3's connection for the queries here, on PostgreSQL: ``?``
    placeholders become ``$n``, and ISO times become timestamps."""

    def __init__(self, url: str) -> None:
        self.url = url

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> _PgCursor:
        import asyncpg

        from tests.pg import run_sync

        parts = sql.split("?")
        query = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
        values = [
            datetime.fromisoformat(v) if isinstance(v, str) and _ISO.match(v) else v
            for v in params
        ]

        async def fetch() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.url, timeout=10)
            try:
                return [tuple(r) for r in await conn.fetch(query, *values)]
            finally:
                await conn.close()

        return _PgCursor(run_sync(fetch()))

    def close(self) -> None:
        pass


def is_postgres(db: Database) -> bool:
    return str(db).startswith(("postgresql://", "postgres://"))


@contextlib.contextmanager
def connect(db: Database) -> Iterator[Any]:
    conn: Any = _PgConnection(str(db)) if is_postgres(db) else sqlite3.connect(db, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def sending(db: Database, platform: str | None = None) -> int:
    """Article posts claimed and not yet recorded: sends that may be in flight."""
    sql = (
        "SELECT COUNT(*) FROM deliveries WHERE state = 'sending' AND comment_id IS NULL "
        "AND message_id IS NULL"
    )
    params: tuple[str, ...] = ()
    if platform is not None:
        sql += " AND platform = ?"
        params = (platform,)
    with connect(db) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def sending_chats(db: Database, platform: str) -> set[str]:
    """Chats of the article posts claimed and not yet recorded on one platform."""
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT t.chat_id FROM deliveries d JOIN destinations t ON t.id = d.destination_id "
            "WHERE d.state = 'sending' AND d.comment_id IS NULL AND d.message_id IS NULL "
            "AND d.platform = ?",
            (platform,),
        ).fetchall()
    return {r[0] for r in rows}


def recorded_posts(db: Database, article_id: int = 1) -> dict[tuple[str, str], str | None]:
    """(platform, chat id) -> the message id recorded for the article's post there."""
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT t.platform, t.chat_id, d.message_id FROM deliveries d "
            "JOIN destinations t ON t.id = d.destination_id "
            "WHERE d.comment_id IS NULL AND d.article_id = ?",
            (article_id,),
        ).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}


def recorded_count(db: Database, article_id: int, platform: str | None = None) -> int:
    """How many of the article's posts are recorded (on one platform, or on all)."""
    sql = (
        "SELECT COUNT(*) FROM deliveries WHERE comment_id IS NULL AND article_id = ? "
        "AND message_id IS NOT NULL"
    )
    params: tuple[Any, ...] = (article_id,)
    if platform is not None:
        sql += " AND platform = ?"
        params += (platform,)
    with connect(db) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def comments(db: Database) -> list[tuple[str, str, str, str]]:
    """Every stored comment as (platform, chat id, message id, text)."""
    with connect(db) as conn:
        return [
            (r[0], r[1], r[2], r[3])
            for r in conn.execute(
                "SELECT source_platform, source_chat_id, source_message_id, text FROM comments"
            ).fetchall()
        ]


# -- the world ----------------------------------------------------------------------------


@dataclass
class Chaos:
    """Both fakes, one database, and the bot's environment."""

    tmp: Path
    telegram: FakeProcess
    discord: FakeProcess
    tg_world: JSON
    dc_world: JSON
    synchronous: str = "FULL"  # newsbot's default
    extra_env: dict[str, str] = field(default_factory=dict)
    db_dir: Path | None = None
    platforms: tuple[str, ...] = ("telegram", "discord")
    database_url: str | None = None  # PostgreSQL instead of an SQLite file in db_dir or tmp
    db: Database = field(init=False)
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.db = self.database_url or (self.db_dir or self.tmp) / "newsbot.db"
        self.log = self.tmp / "bot.log"

    @classmethod
    async def start(
        cls,
        tmp: Path,
        destinations: int,
        *,
        synchronous: str = "FULL",
        db_dir: Path | None = None,
        platforms: tuple[str, ...] = ("telegram", "discord"),
        enforce_rate_limits: bool = False,
        database_url: str | None = None,
        **extra_env: str,
    ) -> Chaos:
        started: list[FakeProcess] = []
        limits = enforce_rate_limits
        try:
            telegram, discord = await asyncio.gather(
                FakeProcess.start(
                    "telegram",
                    destinations,
                    token=TELEGRAM_TOKEN,
                    log=tmp / "telegram.log",
                    enforce_rate_limits=limits,
                ),
                FakeProcess.start(
                    "discord",
                    destinations,
                    token=DISCORD_TOKEN,
                    log=tmp / "discord.log",
                    enforce_rate_limits=limits,
                ),
            )
            started += [telegram, discord]
            tg_world, dc_world = await asyncio.gather(
                telegram.get("/world"), discord.get("/world")
            )
        except BaseException:
            for fake in started:
                await fake.stop()
            raise
        return cls(
            tmp,
            telegram,
            discord,
            tg_world,
            dc_world,
            synchronous,
            dict(extra_env),
            db_dir,
            platforms,
            database_url,
        )

    async def stop(self) -> None:
        await asyncio.gather(self.telegram.stop(), self.discord.stop())

    @property
    def destinations(self) -> list[tuple[str, str]]:
        """(platform, chat) of every destination on the platforms the bot runs."""
        found = [("telegram", c) for c in self.tg_world["channels"]] + [
            ("discord", c) for c in self.dc_world["channels"]
        ]
        return [d for d in found if d[0] in self.platforms]

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
                "NEWSBOT_DATABASE": str(self.db),
                "NEWSBOT_SQLITE_SYNCHRONOUS": self.synchronous,
                "NEWSBOT_LOG_LEVEL": "INFO",
                "NEWSBOT_WEB": "false",
                "NEWSBOT_PUBLIC_URL": "https://news.example",
                # Mirroring copies every reply to every other destination (2 x D sends per
                # reply): the kill test is about the article's fan-out and the replies.
                "NEWSBOT_MIRROR": "false",
                # Readers here reply far faster than people do: these suites are about
                # losing nothing, not about the anti-flood limits (tests/core/test_intake.py).
                "NEWSBOT_COMMENTS_PER_AUTHOR": "0",
                "NEWSBOT_COMMENTS_PER_CHAT": "0",
                "NEWSBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
                "NEWSBOT_TELEGRAM_API_URL": self.telegram.ready["base_url"],
                "NEWSBOT_TELEGRAM_ADMINS": self.tg_world["owner"],
                "NEWSBOT_DISCORD_TOKEN": DISCORD_TOKEN,
                "NEWSBOT_DISCORD_API_URL": self.discord.ready["api_url"],
                "NEWSBOT_DISCORD_GATEWAY_URL": self.discord.ready["gateway_url"],
                "NEWSBOT_DISCORD_ADMINS": self.dc_world["owner"],
            }
        )
        for platform in ("telegram", "discord"):
            if platform not in self.platforms:  # a platform the test does without starts faster
                env[f"NEWSBOT_{platform.upper()}_TOKEN"] = ""
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def bot(
        self, log: Path | None = None, env: dict[str, str] | None = None, **popen: Any
    ) -> BotProcess:
        return BotProcess({**self.env(), **(env or {})}, log or self.log, self.tmp, **popen)

    async def running_bot(self, timeout: float = 60.0) -> BotProcess:
        """A new life of the bot, once it logged that it runs."""
        bot = self.bot()
        try:
            await bot.wait_log("newsbot running", timeout)
        except BaseException:
            bot.cleanup()
            raise
        return bot

    def all_recorded(self, article_id: int = 1, platform: str | None = None) -> bool:
        """Whether the database records the article's post in every destination."""
        wanted = sum(1 for d in self.destinations if platform in (None, d[0]))
        return recorded_count(self.db, article_id, platform) == wanted

    def is_stored(self, reply: JSON) -> bool:
        """Whether a reply sent through a sidecar is stored as a comment."""
        key = (reply["platform"], reply["chat_id"], reply["message_id"])
        return any(c[:3] == key for c in comments(self.db))

    async def reply_to_recorded(self, platform: str, article_id: int = 1) -> JSON:
        """A reader replies (in the thread, on Discord) to a post the database records."""
        fake = self.telegram if platform == "telegram" else self.discord
        chat, message = next(
            (d[1], m) for d, m in recorded_posts(self.db, article_id).items() if d[0] == platform
        )
        body = {"count": 1, "where": "thread", "post": f"{chat}/{message}"}
        [reply] = await fake.post("/reply", body)
        return dict(reply)

    async def subscribe_all(self) -> None:
        async with open_store(str(self.db), synchronous=self.synchronous) as store:
            service = NewsService(store)
            for platform, chat in self.destinations:
                await service.subscribe(
                    Actor.operator(),
                    NewDestination(Platform(platform), chat, DestinationKind.CHANNEL),
                )

    async def publish(self, title: str = "Chaos", body: str = "The news.") -> int:
        """Publish from another connection to the database (the bot finds it within its poll
        interval, as it finds what ``python bot.py publish`` enqueues); returns the id."""
        async with open_store(str(self.db), synchronous=self.synchronous) as store:
            change = await NewsService(store).publish(
                Actor.operator(), ArticleDraft(title=title, body=body)
            )
        return int(change.article.id)

    async def publish_cli(self, title: str = "Chaos", body: str = "The news.") -> JSON:
        """``python bot.py publish`` against the same database (as an operator would)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bot.py"),
            "publish",
            "--json",
            "--title",
            title,
            "--body",
            body,
            cwd=self.tmp,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        result: JSON = json.loads(out)
        return result

    async def posts(self) -> dict[tuple[str, str], list[str]]:
        """(platform, chat) -> ids of the bot's posts there, as the platforms show them."""
        tg, dc = await asyncio.gather(self.telegram.get("/stats"), self.discord.get("/stats"))
        found: dict[tuple[str, str], list[str]] = {d: [] for d in self.destinations}
        for platform, stats in (("telegram", tg), ("discord", dc)):
            for chat, ids in stats["posts"].items():
                if (platform, chat) in found:
                    found[(platform, chat)] = [str(i) for i in ids]
        return found


def error_lines(log: str) -> list[str]:
    """The ERROR and CRITICAL lines of a logfmt log, and any stray traceback."""
    return [
        line
        for line in log.splitlines()
        if "level=ERROR" in line or "level=CRITICAL" in line or line.startswith("Traceback")
    ]


class ReplyStream:
    """Readers reply to random posts at a steady rate, bot up or down (one reply per platform
    per interval); ``platforms`` may be changed on the fly (no one writes on a platform that
    is down)."""

    def __init__(
        self, chaos: Chaos, per_second: float, where: str = "thread", platforms: str = "both"
    ) -> None:
        self.chaos = chaos
        self.interval = 2.0 / per_second
        self.where = where
        self.platforms = platforms
        self.sent: list[JSON] = []
        self.bot_up = False
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def __aenter__(self) -> ReplyStream:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            calls = []
            if self.platforms in ("both", "telegram"):
                calls.append(self.chaos.telegram.post("/reply", {"count": 1}))
            if self.platforms in ("both", "discord"):
                body = {"count": 1, "where": self.where}
                calls.append(self.chaos.discord.post("/reply", body))
            for made in await asyncio.gather(*calls):
                for reply in made:
                    reply["bot_up"] = self.bot_up
                    self.sent.append(reply)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)


def classify(db: Database, sent: list[JSON]) -> tuple[list[JSON], list[JSON]]:
    """Replies to posts the bot recorded, and replies to the lost twin of a repeated post."""
    recorded: dict[tuple[str, str], set[str]] = {}
    with connect(db) as conn:
        for platform, chat, message in conn.execute(
            "SELECT t.platform, t.chat_id, d.message_id FROM deliveries d "
            "JOIN destinations t ON t.id = d.destination_id WHERE d.comment_id IS NULL"
        ):
            recorded.setdefault((platform, chat), set()).add(message)
    known: list[JSON] = []
    twins: list[JSON] = []
    for reply in sent:
        posts = recorded.get((reply["platform"], reply["destination"]), set())
        (known if reply["post"] in posts else twins).append(reply)
    return known, twins


_BACKFILL_RETRY = re.compile(
    r'^ts=(\S+) .*msg="discord backfill stopped by the store; retrying" in=([0-9.]+)', re.M
)


def backfill_retry_due(chaos: Chaos) -> float:
    """When (epoch seconds) the last Discord backfill a bot announced after a store failure
    is due: until then a reply the store refused is still to be read again. 0 if none."""
    due = 0.0
    for log in (chaos.log, *chaos.tmp.glob("worker*.log")):
        if not log.exists():
            continue
        for stamp, delay in _BACKFILL_RETRY.findall(log.read_text(errors="replace")):
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            due = max(due, at + float(delay))
    return due


async def wait_comments(
    chaos: Chaos, sent: list[JSON], timeout: float, quiet: float = 12.0
) -> None:
    """Wait until every reply to a recorded post is stored, or until the bot is done trying:
    for ``quiet`` seconds no comment was stored, no Discord request made (a backfill reads
    one history page per thread) and no Telegram update waits, and no backfill the bot
    announced after a store failure is still to come (its pause doubles with each failure
    in a row: 10 s, 20 s, ...). What is missing then is reported, not waited for."""
    known, _ = classify(chaos.db, sent)
    wanted = {(r["platform"], r["chat_id"], r["message_id"]) for r in known}
    deadline = time.monotonic() + timeout
    last: tuple[int, int] = (-1, -1)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        have = {c[:3] for c in comments(chaos.db)}
        if wanted <= have:
            return
        tg, dc = await asyncio.gather(chaos.telegram.get("/stats"), chaos.discord.get("/stats"))
        activity = (len(have), int(dc["requests"]))
        if activity != last or int(tg["pending_updates"]):
            last, quiet_since = activity, time.monotonic()
        elif (
            time.monotonic() - quiet_since > quiet
            # and quiet since a retry the bot announced came due (then it reads again)
            and backfill_retry_due(chaos) + quiet < time.time()
        ):
            return
        await asyncio.sleep(0.2)


def lost_replies(db: Database, sent: list[JSON]) -> list[JSON]:
    """Replies to recorded posts that are not stored."""
    known, _ = classify(db, sent)
    have = {c[:3] for c in comments(db)}
    return [r for r in known if (r["platform"], r["chat_id"], r["message_id"]) not in have]
