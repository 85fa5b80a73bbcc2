"""Drive the real bot (``python bot.py``) against the fakes, each in a process of its own.

* ``FakeProcess``: ``python -m tests.chaos.servers`` for one platform, its sidecar and (for
  Telegram) the fake's own ``/_control`` API.
* ``BotProcess``: one life of ``python bot.py`` in its own process group, its log in a file;
  ``kill()`` is a SIGKILL of the group, ``terminate()`` a SIGTERM with a deadline.
* ``Chaos``: both fakes, a database, the bot's environment, subscribing and publishing, and
  what the database says (read with plain ``sqlite3``, as an operator would).

Every process is started with ``start_new_session`` and killed by process group in the
callers' ``finally`` blocks; the fakes also exit when their standard input closes.

``FakeProcess``, ``BotProcess`` and the scale live in ``tests/chaos/processes.py``, the
database queries in ``tests/chaos/database.py``; both are re-exported from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    NewDestination,
    NewsService,
    Platform,
)
from storage import open_store
from tests.chaos.database import Database as Database
from tests.chaos.database import comments as comments
from tests.chaos.database import connect as connect
from tests.chaos.database import is_postgres as is_postgres
from tests.chaos.database import recorded_count as recorded_count
from tests.chaos.database import recorded_posts as recorded_posts
from tests.chaos.database import sending as sending
from tests.chaos.database import sending_chats as sending_chats
from tests.chaos.processes import DISCORD_TOKEN as DISCORD_TOKEN
from tests.chaos.processes import FULL as FULL
from tests.chaos.processes import JSON as JSON
from tests.chaos.processes import ROOT as ROOT
from tests.chaos.processes import SMALL as SMALL
from tests.chaos.processes import TELEGRAM_TOKEN as TELEGRAM_TOKEN
from tests.chaos.processes import BotProcess as BotProcess
from tests.chaos.processes import FakeProcess as FakeProcess
from tests.chaos.processes import Scale as Scale
from tests.chaos.processes import scale as scale
from tests.chaos.processes import seed as seed

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
