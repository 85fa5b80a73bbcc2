"""Fan-out efficiency with a template and a filter on every destination (issue 21).

The same path as benchmark 1 (``bench/fanout_telegram.py``): ``SqliteStore`` on a temporary
file, ``NewsService`` (here with the RE2 engine ``bot.py`` hands it), the real ``Dispatcher``
and the whole ``TelegramAdapter`` with its defaults, pointed at the fake Telegram in its own
process at 30 messages a second. No interactive commands: the fan-out alone.

Two runs in turn, each on a fresh fake and a fresh store:

- plain: N channels, no template, no filter (the built-in layout);
- routed: the same N channels, each with the ready ``summary`` template (checked as
  ``bot.py template set`` checks it) and a filter of two keywords and one regular expression
  that the article passes, so ``publish`` runs N filter verdicts and the publisher renders the
  Jinja2 sandbox template for every send.

Efficiency as in ``bench/fanout.py``: messages / (elapsed x limit), elapsed from the call to
``publish`` to the last send the fake accepted. The routed run also counts the sends the
publisher found a compiled template for (it must be all of them) and times its slowest
lookup.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from adapters.regex import Re2Engine
from adapters.templates import READY, TemplateBook
from adapters.templates import check as check_template
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
from newsbot import Actor, Dispatcher, NewsService, Platform
from newsbot.models import DestinationId
from storage import SqliteStore

TEMPLATE = "summary"
FILTER = 'council tram title~"(?i)riverside\\s+tram"'  # two keywords AND one pattern


class CountingBook(TemplateBook):
    """The adapter's ``TemplateBook``, counting the lookups that found a template and timing
    the slowest."""

    def __init__(self, service: NewsService) -> None:
        super().__init__(service)
        self.templated = 0
        self.slowest = 0.0  # seconds: the first lookup reads and compiles every template

    async def get(self, destination_id: DestinationId) -> object | None:
        began = time.perf_counter()
        found = await super().get(destination_id)
        self.slowest = max(self.slowest, time.perf_counter() - began)
        if found is not None:
            self.templated += 1
        return found


async def _route_all(service: NewsService) -> None:
    """Every destination gets the template and the filter, as the CLI sets them."""
    check_template(READY[TEMPLATE])
    operator = Actor.operator()
    passed = service.routing.verdict(FILTER, ARTICLE, "operator")
    assert passed.passed, f"the bench article must pass the filter: {passed}"
    for destination in await service.store.list_destinations(active_only=True):
        await service.routing.set_template(operator, destination.id, READY[TEMPLATE])
        await service.routing.set_filter(operator, destination.id, FILTER)


async def fanout(channels: int, routed: bool) -> tuple[float, str, CountingBook, int]:
    """One Telegram fan-out to ``channels`` channels: (efficiency, notes, book, 429s)."""
    from adapters.telegram import TelegramAdapter

    chat_ids = [TELEGRAM_CHANNEL_BASE - n for n in range(channels)]
    label = "routed" if routed else "plain"
    async with running_fake("telegram", "--channels", str(channels)) as fake:
        with tempfile.TemporaryDirectory() as tmp:
            async with SqliteStore(Path(tmp) / f"{label}.db") as store:
                service = NewsService(store, public_url=PUBLIC_URL, regex=Re2Engine())
                print(f"  subscribing {channels:,} channels ({label}) ...", file=sys.stderr)
                await subscribe_all(service, Platform.TELEGRAM, [str(c) for c in chat_ids], "TG")
                if routed:
                    await _route_all(service)
                adapter = TelegramAdapter(service, token=TOKEN, api_url=fake.info["base_url"])
                book = CountingBook(service)
                adapter.publisher.templates = book
                dispatcher = Dispatcher(
                    store, {Platform.TELEGRAM: adapter.publisher}, article_url=service.article_url
                )
                service.on_enqueue(dispatcher.wake)
                try:
                    await adapter.start()
                    await dispatcher.start()
                    expected = channels / TELEGRAM_RATE
                    print(f"  {label} fan-out (~{expected:.0f} s) ...", file=sys.stderr)
                    started = time.monotonic()
                    await service.publish(Actor.operator(), ARTICLE)

                    async def finished() -> bool:
                        return bool((await fake.get("/progress"))["fanout_sends"] >= channels)

                    await until(finished, expected * 3 + 60, f"the {label} fan-out")
                    await dispatcher.drain(60)
                finally:
                    await dispatcher.stop()
                    await adapter.stop()
        stats = await fake.get("/stats")
    channel_set = set(chat_ids)
    times = [t for t, chat in stats["sends"] if chat in channel_set]
    last = max(times)
    elapsed = last - started
    messages = sum(1 for t, _ in stats["sends"] if started <= t <= last)
    efficiency, attainable = efficiency_notes(messages, elapsed, TELEGRAM_RATE)
    missing = sum(1 for c in chat_ids if stats["per_chat"].get(str(c), 0) == 0)
    notes = (
        f"{messages:,} messages in {elapsed:.1f} s from publish; {attainable}; first post "
        f"{min(times) - started:.2f} s after publish; {missing} chats got none"
    )
    return efficiency, notes, book, int(stats["count_429"])


async def routed_fanout(channels: int) -> list[Result]:
    """The plain fan-out, then the routed one, on the same scale."""
    plain, plain_notes, _, plain_429 = await fanout(channels, routed=False)
    routed, routed_notes, book, routed_429 = await fanout(channels, routed=True)
    return [
        Result(
            f"Telegram fan-out efficiency, no templates or filters ({channels:,} chats)",
            f"{plain:.3f}",
            "(reference)",
            None,
            f"{plain_notes}; {plain_429} answers of 429; loaded machine",
        ),
        Result(
            f"Telegram fan-out efficiency, template + filter on every chat ({channels:,})",
            f"{routed:.3f}",
            ">= 0.97",
            routed >= 0.97 and routed_429 == 0 and book.templated >= channels,
            f"{routed_notes}; {routed_429} answers of 429; ready template '{TEMPLATE}' found on "
            f"{book.templated:,} lookups (slowest lookup {book.slowest:.2f} s: the first "
            f"compiles each distinct template); filter {FILTER} (RE2); {routed - plain:+.3f} "
            "against plain, measured just before; loaded machine",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """300 channels when quick, 10,000 at full scale."""
    return asyncio.run(routed_fanout(300 if quick else 10_000))
