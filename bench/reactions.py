"""Reactions and view counting under load (issue 19).

1. 1,000 reactions a second arriving while a Telegram fan-out runs: the real
   ``TelegramAdapter`` and ``Dispatcher`` fan an article out to N channels of the fake (in its
   own process), as in ``bench/fanout.py``; meanwhile this process feeds reactions through the
   service's reaction use cases exactly as the adapters call them: Telegram's per-user
   reactions in a group (``NewsService.reactions.set_reader``, the updates of one getUpdates
   answer side by side, as the adapter handles reaction updates of one chat) and Discord's
   reaction-add events (``NewsService.reactions.record``, each in a task), half each, on
   posts of an earlier article (their message links are written first, as the platforms'
   posts would have left them). Every
   reaction is a new (reader, message) pair, so each must be stored: they are counted in the
   store afterwards (``reaction_totals``).
2. The article page with view counting on (the app's default) and off (the app has no switch:
   the counter is replaced by one that counts nothing, before the app starts), each against
   a bare handler returning the same bytes (``bench/web.py``'s ceiling), measured in the same
   run in alternating short rounds (``bench/interleave.py``): the median of per-round ratios,
   with their spread, and on against off round by round.
3. The view counter (``adapters/web/views.py``'s ``ViewCounter``, with the app's defaults)
   fed 5,000 views a second over 100 articles and 20 sources, flushing into an SQLite store
   through ``FiguresService.add_views``: memory (tracemalloc, peak over the run) and store
   writes (flush batches) a second, and that no view is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import reaction_counts
from bench.fake_servers import TELEGRAM_CHANNEL_BASE
from bench.fanout_shared import (
    ARTICLE,
    PUBLIC_URL,
    TELEGRAM_RATE,
    TOKEN,
    efficiency_notes,
    running_fake,
    subscribe_all,
    until,
)
from bench.report import Result
from newsbot import Actor, ArticleDraft, Dispatcher, NewsService, Platform
from newsbot.models import ArticleId, MessageLink, MessageRef
from newsbot.reactions import ReactionEvent, ReactionOp
from storage import SqliteStore

EMOJIS = ("👍", "❤", "🔥", "😮", "😢")
REACTED_MESSAGES = 200  # posts of the earlier article, per platform


async def _react(
    service: NewsService, rate: int, seconds: float, drain: float
) -> tuple[int, int, float]:
    """Reactions arriving at ``rate`` a second for ``seconds``, handled as the adapters handle
    them: Telegram's updates fetched together side by side (the adapter's runs of reaction
    updates), Discord's events each in a task of its own (discord.py's dispatch); the service
    coalesces both into batches. Returns (sent, landed, the
    seconds from the last arrival until every one was handled; ``inf`` when they were not
    all handled within ``drain`` seconds, and the rest was given up)."""
    sent = landed = 0
    queue: asyncio.Queue[tuple[MessageRef, str] | None] = asyncio.Queue()
    tasks: set[asyncio.Task[None]] = set()

    async def telegram() -> None:
        nonlocal landed
        # The adapter's way (adapters/telegram/adapter.py): the updates one getUpdates answer
        # brings (up to 100) are handled side by side when they are reactions in one chat.
        done = False
        while not done:
            fetched = [await queue.get()]
            while len(fetched) < 100 and not queue.empty():
                fetched.append(queue.get_nowait())
            done = None in fetched
            updates = [u for u in fetched if u is not None]
            targets = await asyncio.gather(
                *(service.reactions.set_reader(*u, ["👍"]) for u in updates)
            )
            landed += sum(t is not None for t in targets)

    async def discord(ref: MessageRef, reader: str, emoji: str) -> None:
        nonlocal landed
        event = ReactionEvent(ref, ReactionOp.ADD, datetime.now(UTC), reader, (emoji,))
        target = (await service.reactions.record([event]))[0]
        landed += target is not None  # after the await: tasks interleave

    worker = asyncio.create_task(telegram())
    started = time.monotonic()
    if not rate:  # the control: none arrive
        await asyncio.sleep(seconds)
    while rate and time.monotonic() - started < seconds:
        due = started + sent / rate
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        n = sent
        message = (n // 2) % REACTED_MESSAGES
        reader = str(1_000_000 + n // (2 * REACTED_MESSAGES))
        if n % 2 == 0:
            ref = MessageRef(Platform.TELEGRAM, "-1009000000", str(message + 1))
            queue.put_nowait((ref, reader))
        else:
            ref = MessageRef(Platform.DISCORD, "800000000000000001", str(900_000 + message))
            task = asyncio.create_task(discord(ref, reader, EMOJIS[n % len(EMOJIS)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sent += 1
    arrived = time.monotonic()
    queue.put_nowait(None)
    pending = {worker, *tasks}
    _, late = await asyncio.wait(pending, timeout=drain)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return sent, landed, float("inf") if late else time.monotonic() - arrived


async def reactions_during_fanout(channels: int, rate: int = 1_000) -> list[Result]:
    from adapters.telegram import TelegramAdapter

    chat_ids = [TELEGRAM_CHANNEL_BASE - n for n in range(channels)]
    async with running_fake("telegram", "--channels", str(channels), "--users", "1") as fake:
        with tempfile.TemporaryDirectory() as tmp:
            async with SqliteStore(Path(tmp) / "reactions.db") as store:
                service = NewsService(store, public_url=PUBLIC_URL)
                earlier = (
                    await service.publish(Actor.operator(), ArticleDraft("Earlier", "Read me."))
                ).article
                for m in range(REACTED_MESSAGES):
                    for ref in (
                        MessageRef(Platform.TELEGRAM, "-1009000000", str(m + 1)),
                        MessageRef(Platform.DISCORD, "800000000000000001", str(900_000 + m)),
                    ):
                        await store.add_link(MessageLink(ref, earlier.id))
                print(f"  subscribing {channels:,} Telegram channels ...", file=sys.stderr)
                await subscribe_all(service, Platform.TELEGRAM, [str(c) for c in chat_ids], "TG")
                adapter = TelegramAdapter(service, token=TOKEN, api_url=fake.info["base_url"])
                dispatcher = Dispatcher(
                    store, {Platform.TELEGRAM: adapter.publisher}, article_url=service.article_url
                )
                service.on_enqueue(dispatcher.wake)
                reacting: asyncio.Task[tuple[int, int, float]] | None = None
                try:
                    await adapter.start()
                    await dispatcher.start()

                    async def polling() -> bool:
                        return bool((await fake.get("/progress"))["active_polls"])

                    await until(polling, 30, "the adapter to poll for updates")
                    expected = channels / TELEGRAM_RATE
                    print(
                        f"  fan-out to {channels:,} channels (~{expected:.0f} s) with "
                        f"{rate:,} reactions/s ...",
                        file=sys.stderr,
                    )
                    drain = expected * 3 + 60
                    reacting = asyncio.create_task(_react(service, rate, expected, drain))
                    started = time.monotonic()
                    await service.publish(Actor.operator(), ARTICLE)

                    async def finished() -> bool:
                        return bool((await fake.get("/progress"))["fanout_sends"] >= channels)

                    with contextlib.suppress(TimeoutError):  # reported below
                        await until(finished, expected * 3 + 60, "the fan-out")
                    given_up = time.monotonic()
                    sent, landed, lag = await reacting
                    writes = service.reactions.batches.writes
                    await dispatcher.drain(60)
                    stored = sum((await service.reactions.totals()).values())
                    counts = await service.reactions.counts(earlier.id)
                finally:
                    if reacting is not None and not reacting.done():
                        reacting.cancel()
                    await dispatcher.stop()
                    await adapter.stop()
        stats = await fake.get("/stats")
    channel_set = set(chat_ids)
    times = [t for t, chat in stats["sends"] if chat in channel_set]
    done = len(times) >= channels
    elapsed = (max(times) if done else given_up) - started
    efficiency, attainable = efficiency_notes(len(times), elapsed, TELEGRAM_RATE)
    achieved = sent / expected
    if not rate:
        return [
            Result(
                f"19. Telegram fan-out to {channels:,}, no reactions (control, same run)",
                f"{efficiency:.3f}",
                "",
                None,
                f"{len(times):,} posts in {elapsed:.1f} s; {attainable}",
            )
        ]
    handled = f"all handled {lag:.1f} s after the last arrived"
    if lag == float("inf"):
        handled = f"not all handled {drain:.0f} s after the last arrived (the rest given up)"
    by_platform = ", ".join(f"{p} {n:,}" for p, n in counts.article.by_platform().items())
    return [
        Result(
            f"19. Telegram fan-out to {channels:,} while {rate:,} reactions/s arrive",
            f"{efficiency:.3f}",
            ">= 0.97",
            efficiency >= 0.97 and stats["count_429"] == 0,
            f"{len(times):,} posts in {elapsed:.1f} s"
            + ("" if done else f" (of {channels:,}: given up)")
            + f"; {attainable}; {stats['count_429']} 429s",
        ),
        Result(
            "19. Reactions stored during that fan-out (Telegram + Discord use cases)",
            f"{stored:,} of {sent:,}",
            f"all, at {rate:,}/s, backlog <= 5 s",
            stored == sent == landed and achieved >= 0.95 * rate and lag <= 5,
            f"{achieved:,.0f} reactions/s arrived for {expected:.0f} s; {handled}; "
            f"{landed:,} landed in {writes:,} batch writes; the article's count: "
            f"{counts.article.total:,} ({by_platform}; a reader counts once per emoji on a "
            "target)",
        ),
    ]


# -- 2. the article page with view counting on and off ------------------------------------


# Rounds of the interleaved page measurement (quick, full) and their seconds. A round is
# short enough that the ceiling rounds on either side of it see the machine it saw (the
# load of other sessions moves within seconds: single rounds of the ceiling ranged 2,700 to
# 7,900 req/s in one run), long enough for 1,000+ requests. 30 rounds put the median's 95 %
# interval between the 10th and the 21st of the sorted ratios, so a few rounds a burst of
# load hit cannot move it, in about a minute; 5 quick rounds check it runs (about 10 s).
PAGE_ROUNDS = {True: (5, 0.5), False: (30, 0.5)}


async def page_with_views(
    quick: bool, rounds: int | None = None, seconds: float | None = None
) -> list[Result]:
    from adapters.web import create_app
    from adapters.web.views import VIEWS, ViewCounter
    from bench.interleave import interleaved
    from bench.web import GZIP, _ceiling_app, _database, _serve
    from storage import open_store

    class NotCounting(ViewCounter):
        def add(self, article_id: ArticleId, source: str) -> None:
            pass

    default_rounds, default_seconds = PAGE_ROUNDS[quick]
    rounds = rounds or default_rounds
    seconds = seconds or default_seconds
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web.db"
        print("  building the articles ...", file=sys.stderr)
        small, _ = await _database(path, quick)
        async with open_store(str(path)) as store:
            service = NewsService(store)
            on = create_app(service)
            off = create_app(service)
            off[VIEWS] = NotCounting(service.figures.add_views)
            async with (
                _serve(on) as base_on,
                _serve(off) as base_off,
                aiohttp.ClientSession(auto_decompress=False) as http,
            ):
                async with http.get(f"{base_on}/articles/{small}", headers=GZIP) as r:
                    body = await r.read()
                    headers = {
                        k: v
                        for k, v in r.headers.items()
                        if k not in ("Content-Length", "Date", "Server")
                    }
                async with _serve(_ceiling_app(body, headers)) as bare:
                    print(f"  {rounds} rounds of {seconds} s, interleaved ...", file=sys.stderr)
                    # A B C A B C ... A: the ceiling opens and closes the sequence.
                    got = await interleaved(
                        {
                            "ceiling": bare + "/",
                            "off": f"{base_off}/articles/{small}",
                            "on": f"{base_on}/articles/{small}",
                        },
                        rounds,
                        seconds,
                    )
            await on[VIEWS].flush()
            counted = on[VIEWS].flushed
    return _page_rows(got, counted, seconds)


def _page_rows(got: dict[str, list[dict[str, Any]]], counted: int, seconds: float) -> list[Result]:
    from bench.interleave import pooled, ratios
    from bench.web import _row

    rounds = len(got["on"])
    ceiling = pooled(got["ceiling"])
    ceiling_rps = sorted(float(c["rps"]) for c in got["ceiling"])
    row = _row("19. Web ceiling: bare handler, same bytes (32 conns)", ceiling, None)
    row.note += (
        f" (all {len(ceiling_rps)} rounds of {seconds} s pooled; rounds ranged "
        f"{ceiling_rps[0]:,.0f}-{ceiling_rps[-1]:,.0f}); {_cpu(got['ceiling'])}"
    )
    on_ratio, off_ratio = ratios(got, "on", "ceiling"), ratios(got, "off", "ceiling")
    cost, cost_cpu = ratios(got, "on", "off"), ratios(got, "on", "off", "cpu_us")
    method = (
        f"{rounds} rounds of {seconds} s interleaved (ceiling, off, on, ..., ceiling), each "
        "round against the mean of the ceiling rounds around it"
    )
    return [
        row,
        Result(
            "19. Web (a) article page, view counting on (32 conns)",
            f"{on_ratio.median:.2f} of the ceiling",
            ">= 0.8",
            on_ratio.median >= 0.8,
            f"{on_ratio.describe()}; {method}; {_variant(got, 'on')}; {counted:,} views counted",
        ),
        Result(
            "19. Web (a) article page, view counting off (32 conns)",
            f"{off_ratio.median:.2f} of the ceiling",
            "",
            None,
            f"{off_ratio.describe()}; {_variant(got, 'off')}",
        ),
        Result(
            "19. Web (a) article page, counting on / off (same rounds)",
            f"{cost.median:.2f}",
            "",
            None,
            f"requests a second: {cost.describe()}; server CPU a request (off / on): "
            f"{cost_cpu.describe()}",
        ),
    ]


def _cpu(runs: list[dict[str, Any]]) -> str:
    """The server's CPU time a request over the rounds: median and range."""
    cpu = sorted(float(r["cpu_us"]) for r in runs)
    return f"server CPU {statistics.median(cpu):.0f} µs a request ({cpu[0]:.0f}-{cpu[-1]:.0f})"


def _variant(got: dict[str, list[dict[str, Any]]], key: str) -> str:
    from bench.interleave import pooled, ratios
    from bench.web import _row

    by_cpu = ratios(got, key, "ceiling", "cpu_us")
    return (
        f"{_row('', pooled(got[key]), None).note}; {_cpu(got[key])}, "
        f"{by_cpu.median:.2f} of the ceiling's by CPU (quartiles {by_cpu.quartiles()})"
    )


# -- 3. the view counter at 5,000 views a second ---------------------------------------------


async def view_counter(seconds: float, rate: int = 5_000) -> list[Result]:
    from adapters.web.views import ViewCounter

    articles, sources = 100, 20
    batches: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / "views.db") as store:
            service = NewsService(store)
            ids = [
                (
                    await service.publish(Actor.operator(), ArticleDraft(f"Story {n}", "Body."))
                ).article.id
                for n in range(articles)
            ]

            async def flush(counts: Sequence[tuple[ArticleId, str, int]]) -> None:
                batches.append(len(counts))
                await service.figures.add_views(counts)

            counter = ViewCounter(flush)
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            task = asyncio.create_task(counter.run())
            started = time.monotonic()
            added = 0
            tick = 0.01
            try:
                while (now := time.monotonic()) - started < seconds:
                    due = int((now - started) * rate)
                    while added < due:
                        counter.add(ids[added % articles], f"tg:{added // articles % sources}")
                        added += 1
                    await asyncio.sleep(tick)
                elapsed = time.monotonic() - started
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await counter.flush()
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            stored = await store.view_totals()
    flushes = len(batches)
    return [
        Result(
            f"19. View counter at {rate:,} views/s: memory (tracemalloc peak)",
            f"{(peak - base) / 1024:,.0f} KiB",
            "",
            None,
            f"{articles} articles x {sources} sources; {added:,} views in {elapsed:.1f} s "
            f"({added / elapsed:,.0f}/s)",
        ),
        Result(
            f"19. View counter at {rate:,} views/s: store writes",
            f"{flushes / elapsed:.2f} flushes/s",
            "",
            stored == added,
            f"{flushes} flush batches of up to {max(batches, default=0):,} rows "
            f"(every {counter.every:.0f} s or {counter.batch:,} views); {stored:,} of "
            f"{added:,} views stored",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """Quick: 300-channel fan-outs, 5 page rounds of 0.5 s, 5 s of views; full: 10,000
    channels, 15 page rounds of 1 s, 30 s of views."""
    results = asyncio.run(reactions_during_fanout(300 if quick else 10_000))
    # The same at a lower rate, and with none, to tell the reactions' share of a loss from
    # the machine's.
    results += asyncio.run(reactions_during_fanout(300 if quick else 3_000, rate=200))
    results += asyncio.run(reactions_during_fanout(300 if quick else 3_000, rate=0))
    results += asyncio.run(page_with_views(quick))
    results += asyncio.run(view_counter(5.0 if quick else 30.0))
    results += reaction_counts.run(quick)
    return results


if __name__ == "__main__":
    for result in run("--quick" in sys.argv):
        print(result)
