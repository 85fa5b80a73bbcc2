"""Platform faults against one running bot: a burst of 5xx and 429 answers, a platform down
for a while, a slow server. Nothing may be lost, the bot must keep answering commands where
the platform asked still works, and it must recover by itself once the fault clears.

"Responsive" is measured per case, as a user would see it, with the server's clock:

* Telegram ``/latest`` in a private chat: from the user's message reaching the fake to the
  answer reaching it. It should take under 2 s when Telegram itself is healthy, and under
  twice the answer delay plus 2 s when Telegram answers slowly (the poll and the answer each
  take one delay).
* Discord ``/latest`` (a slash command): from the interaction to its first response, which
  Discord wants within 3 s; measured while Telegram is down or slow.

Shared by ``tests/chaos/test_chaos_faults.py`` (asserts) and ``bench/chaos.py`` (reports figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.harness import (
    BotProcess,
    Chaos,
    ReplyStream,
    Scale,
    classify,
    error_lines,
    lost_replies,
    recorded_posts,
    wait_comments,
)
from tests.fakes.wait import wait_for

JSON = dict[str, Any]
TELEGRAM_PROBE_EVERY = 1.2  # a private chat takes about one message a second
DISCORD_PROBE_EVERY = 0.5


@dataclass
class FaultReport:
    name: str
    destinations: int
    articles: int = 0
    figures: dict[str, float] = field(default_factory=dict)
    probes: dict[str, list[float | None]] = field(default_factory=dict)
    lost_posts: list[tuple[int, str, str]] = field(default_factory=list)
    telegram_repeated: int = 0
    discord_doubled: list[str] = field(default_factory=list)
    replies: int = 0
    lost_comments: list[JSON] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exit_code: int | None = None

    def probe(self, name: str) -> tuple[int, int, float]:
        """(answered, asked, slowest answer in seconds) of one probe."""
        values = self.probes.get(name, [])
        answered = [v for v in values if v is not None]
        return len(answered), len(values), max(answered, default=float("nan"))

    def summary(self) -> str:
        figures = ", ".join(f"{k} {v:.1f} s" for k, v in self.figures.items())
        probes = []
        for name, values in self.probes.items():
            answered = [v for v in values if v is not None]
            median = statistics.median(answered) if answered else float("nan")
            probes.append(
                f"{name} answered {len(answered)}/{len(values)} (median {median:.2f} s, "
                f"max {max(answered, default=float('nan')):.2f} s)"
            )
        return (
            f"{self.name}: {self.articles} article(s) to {self.destinations} destinations; "
            f"posts lost {len(self.lost_posts)}, Telegram repeated {self.telegram_repeated}, "
            f"Discord doubled {len(self.discord_doubled)}; replies {self.replies}, comments "
            f"lost {len(self.lost_comments)}; {figures}; {'; '.join(probes)}; "
            f"error lines {len(self.errors)}"
        )


class Prober:
    """Asks ``/latest`` on one platform again and again while active; records each latency
    as the fake measured it (``None``: no answer within ``timeout``). Leaving asks no more
    questions but waits for the answer to the one still open (up to its ``timeout``), so
    that the last question counts like the others however slowly a busy machine answers;
    with ``wait_last=False`` that question is dropped instead (a probe of a platform made
    slow on purpose, whose last question would outlast the slow spell)."""

    def __init__(
        self, chaos: Chaos, platform: str, every: float, timeout: float, wait_last: bool = True
    ) -> None:
        self.chaos = chaos
        self.platform = platform
        self.every = every
        self.timeout = timeout
        self.wait_last = wait_last
        self.latencies: list[float | None] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def __aenter__(self) -> Prober:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            if exc[0] is not None or not self.wait_last:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.latencies.append(await self.once())
            pause = max(0.0, self.every - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), pause)

    async def once(self) -> float | None:
        if self.platform == "telegram":
            fake, path, body = self.chaos.telegram, "/command", {"text": "/latest"}
        else:
            fake, path, body = self.chaos.discord, "/slash", {"name": "latest"}
        key = (await fake.post(path, body))["id"]
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            latency = (await fake.get(path, id=key))["latency"]
            if latency is not None:
                return float(latency)
            await asyncio.sleep(0.05)
        return None


async def _publish(chaos: Chaos, report: FaultReport, title: str) -> int:
    article = await chaos.publish(title, f"{title}: the news, whatever the platforms do.")
    report.articles += 1
    return article


async def _settle(
    chaos: Chaos, bot: BotProcess, report: FaultReport, replies: ReplyStream
) -> None:
    """Wait for the comments, stop the bot cleanly and count what was lost or doubled."""
    await replies.stop()
    await wait_comments(chaos, replies.sent, timeout=60)
    report.exit_code = await bot.terminate()
    report.replies = len(replies.sent)
    report.lost_comments = lost_replies(chaos.db, replies.sent)
    _, twins = classify(chaos.db, replies.sent)
    report.lost_comments += twins  # no post may be repeated here: no kill, no timeout
    posts = await chaos.posts()
    for article in range(1, report.articles + 1):
        recorded = recorded_posts(chaos.db, article)
        for destination in chaos.destinations:
            if recorded.get(destination) not in posts[destination]:
                report.lost_posts.append((article, *destination))
    for (platform, chat), ids in posts.items():
        extra = max(0, len(ids) - report.articles)
        if platform == "telegram":
            report.telegram_repeated += extra
        elif extra:
            report.discord_doubled.append(chat)
    report.errors = error_lines(chaos.log.read_text(errors="replace"))


def _drain_timeout(chaos: Chaos) -> float:
    return 60.0 + len(chaos.destinations) / 5


async def burst(chaos: Chaos, scale: Scale) -> FaultReport:
    """5xx and 429 answers from both platforms at the start of a fan-out."""
    report = FaultReport("burst of 5xx and 429", len(chaos.destinations))
    await chaos.subscribe_all()
    half = scale.burst // 2
    tg_faults: list[tuple[int, JSON]] = [(500, {}), (502, {}), (429, {"retry_after": 1})]
    for status, extra in tg_faults:
        await chaos.telegram.control(
            "fail_next", {"method": "sendMessage", "status": status, "count": half, **extra}
        )
    await chaos.telegram.control("fail_next", {"method": "getUpdates", "status": 502, "count": 2})
    messages = r"/channels/\d+/messages$"
    dc_faults: list[tuple[int, JSON]] = [(500, {}), (502, {}), (429, {"retry_after": 0.5})]
    for status, extra in dc_faults:
        fail = {"method": "POST", "path": messages, "status": status, "count": half, **extra}
        await chaos.discord.post("/fault", {"fail": fail})
    threads = {"method": "POST", "path": r"/threads$", "status": 502, "count": 2}
    await chaos.discord.post("/fault", {"fail": threads})
    bot = await chaos.running_bot()
    try:
        async with ReplyStream(chaos, 4.0) as replies:
            replies.bot_up = True
            async with Prober(chaos, "discord", DISCORD_PROBE_EVERY, 10) as dc_probe:
                started = time.monotonic()
                await _publish(chaos, report, "Burst")
                await wait_for(chaos.all_recorded, _drain_timeout(chaos), "the fan-out")
                report.figures["fan-out"] = time.monotonic() - started
            report.probes["discord /latest"] = dc_probe.latencies
            report.probes["telegram /latest after"] = [
                await Prober(chaos, "telegram", 0, 10).once()
            ]
            await _settle(chaos, bot, report, replies)
    finally:
        bot.cleanup()
    return report


async def outage(chaos: Chaos, scale: Scale) -> FaultReport:
    """Discord down (502 for everything, the gateway dropped), then Telegram down."""
    report = FaultReport(f"platform down for {scale.outage:g} s", len(chaos.destinations))
    await chaos.subscribe_all()
    bot = await chaos.running_bot()
    try:
        async with ReplyStream(chaos, 4.0, platforms="telegram") as replies:
            replies.bot_up = True
            # Discord is down while an article goes out.
            async with Prober(chaos, "telegram", TELEGRAM_PROBE_EVERY, 10) as tg_probe:
                await chaos.discord.post("/fault", {"down": True, "disconnect": True})
                first = await _publish(chaos, report, "Outage one")
                await asyncio.sleep(scale.outage)  # the outage itself
                report.figures["telegram fan-out done during the outage"] = float(
                    chaos.all_recorded(first, "telegram")
                )
                await chaos.discord.post("/fault", {"down": False})
            report.probes["telegram /latest while Discord is down"] = tg_probe.latencies
            up = time.monotonic()
            await wait_for(
                lambda: chaos.all_recorded(first), _drain_timeout(chaos), "Discord's posts"
            )
            report.figures["discord posts recovered"] = time.monotonic() - up
            replies.platforms = "both"
            await _replied_after(chaos, "discord", up, report, "discord comments recovered")

            # Telegram is down while another article goes out; readers keep writing there.
            async with Prober(chaos, "discord", DISCORD_PROBE_EVERY, 10) as dc_probe:
                await chaos.telegram.control("down", {"down": True})
                second = await _publish(chaos, report, "Outage two")
                await asyncio.sleep(scale.outage)
                report.figures["discord fan-out done during the outage"] = float(
                    chaos.all_recorded(second, "discord")
                )
                await chaos.telegram.control("down", {"down": False})
            report.probes["discord /latest while Telegram is down"] = dc_probe.latencies
            up = time.monotonic()
            await wait_for(
                lambda: chaos.all_recorded(second), _drain_timeout(chaos), "Telegram's posts"
            )
            report.figures["telegram posts recovered"] = time.monotonic() - up
            await _replied_after(chaos, "telegram", up, report, "telegram comments recovered")
            await _settle(chaos, bot, report, replies)
    finally:
        bot.cleanup()
    return report


async def slow(chaos: Chaos, scale: Scale) -> FaultReport:
    """Telegram answers every request ``scale.slow`` seconds late, then Discord does."""
    report = FaultReport(f"slow server ({scale.slow:g} s per answer)", len(chaos.destinations))
    await chaos.subscribe_all()
    window = 2 * scale.slow
    bot = await chaos.running_bot()
    try:
        async with ReplyStream(chaos, 4.0) as replies:
            replies.bot_up = True
            async with (
                Prober(chaos, "discord", DISCORD_PROBE_EVERY, 10) as dc_probe,
                Prober(
                    chaos,
                    "telegram",
                    max(TELEGRAM_PROBE_EVERY, scale.slow),
                    2 * window,
                    wait_last=False,
                ) as tg_probe,
            ):
                await chaos.telegram.control("delay", {"seconds": scale.slow})
                first = await _publish(chaos, report, "Slow one")
                await asyncio.sleep(window)  # the slow spell itself
                await chaos.telegram.control("delay", {"seconds": 0})
            report.probes["discord /latest while Telegram is slow"] = dc_probe.latencies
            report.probes["telegram /latest while Telegram is slow"] = tg_probe.latencies
            up = time.monotonic()
            await wait_for(lambda: chaos.all_recorded(first), _drain_timeout(chaos), "the posts")
            report.figures["telegram posts done after the slow spell"] = time.monotonic() - up

            async with Prober(chaos, "telegram", TELEGRAM_PROBE_EVERY, 10) as tg_probe:
                await chaos.discord.post("/fault", {"delay": scale.slow})
                second = await _publish(chaos, report, "Slow two")
                await asyncio.sleep(window)
                await chaos.discord.post("/fault", {"delay": 0})
            report.probes["telegram /latest while Discord is slow"] = tg_probe.latencies
            up = time.monotonic()
            await wait_for(lambda: chaos.all_recorded(second), _drain_timeout(chaos), "the posts")
            report.figures["discord posts done after the slow spell"] = time.monotonic() - up
            await _settle(chaos, bot, report, replies)
    finally:
        bot.cleanup()
    return report


async def _replied_after(
    chaos: Chaos, platform: str, since: float, report: FaultReport, figure: str
) -> None:
    """Time from ``since`` until a reply written now on ``platform`` is stored."""
    reply = await chaos.reply_to_recorded(platform)
    await wait_for(lambda: chaos.is_stored(reply), 120, f"a {platform} reply after the fault")
    report.figures[figure] = time.monotonic() - since
