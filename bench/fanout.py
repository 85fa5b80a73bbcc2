"""Fan-out benchmarks against the fakes at the platforms' limits (issue 6, benchmarks 1-3).

Each fake runs in its own OS process (``bench.fake_servers``) with the limits enforced as
sliding windows, so client and server share the machine's cores honestly. Every run starts a
fresh fake.

1. Telegram: one article to N channels through the real path: ``SqliteStore`` on a temporary
   file, ``NewsService.subscribe`` for each channel, ``NewsService.publish``, the real
   ``Dispatcher`` (as ``bot.py`` builds it) and the whole ``TelegramAdapter`` with its
   defaults (polling, handlers, ``SendLimiter``), pointed at the fake. Baseline: the same
   messages through python-telegram-bot with ``AIORateLimiter()`` (defaults), 64 sends at a
   time; a send refused with 429 is sent again after ``retry_after``.
2. Discord: an embed plus a thread (two requests) in each of N text channels (500 per guild,
   Discord's cap) through the whole ``DiscordAdapter`` and the ``Dispatcher``. Baseline: a plain
   discord.py client, 16 channels at a time, ``channel.send`` then ``message.create_thread``.
3. Interactive lane: during benchmark 1, 100 users each send ``/latest`` or ``/help`` in their
   private chat, spread over the expected fan-out time; the wait is measured inside the fake,
   from queueing the user's message to accepting the bot's answer.

Efficiency is messages (or requests) / (elapsed x limit), elapsed running from the call to
``publish`` to the last send the fake accepted. Timestamps on both sides are
``time.monotonic()`` (CLOCK_MONOTONIC, shared by all processes on Linux). A sliding window
also admits one full window at the start, so the most a perfect client could reach is
``limit x elapsed + limit``; the notes give the efficiency against that too, which matters at
the quick scale.

The shared pieces live in ``bench/fanout_shared.py``, benchmarks 1 and 3 in
``bench/fanout_telegram.py``, benchmark 2 in ``bench/fanout_discord.py``; every name is
re-exported from here (``from bench import fanout``; ``fanout.telegram_fanout``).
"""

from __future__ import annotations

import asyncio

from bench.fanout_discord import discord_baseline as discord_baseline
from bench.fanout_discord import discord_fanout as discord_fanout
from bench.fanout_discord import discord_outcome as discord_outcome
from bench.fanout_shared import ARTICLE as ARTICLE
from bench.fanout_shared import BASELINE_DISCORD_CONCURRENCY as BASELINE_DISCORD_CONCURRENCY
from bench.fanout_shared import BASELINE_TELEGRAM_CONCURRENCY as BASELINE_TELEGRAM_CONCURRENCY
from bench.fanout_shared import CHANNELS_PER_GUILD as CHANNELS_PER_GUILD
from bench.fanout_shared import COMMANDS as COMMANDS
from bench.fanout_shared import DISCORD_RATE as DISCORD_RATE
from bench.fanout_shared import JSON as JSON
from bench.fanout_shared import PUBLIC_URL as PUBLIC_URL
from bench.fanout_shared import ROOT as ROOT
from bench.fanout_shared import TELEGRAM_RATE as TELEGRAM_RATE
from bench.fanout_shared import TOKEN as TOKEN
from bench.fanout_shared import FakeProcess as FakeProcess
from bench.fanout_shared import MemorySampler as MemorySampler
from bench.fanout_shared import efficiency_notes as efficiency_notes
from bench.fanout_shared import quiet_loggers as quiet_loggers
from bench.fanout_shared import running_fake as running_fake
from bench.fanout_shared import standalone_article as standalone_article
from bench.fanout_shared import subscribe_all as subscribe_all
from bench.fanout_shared import until as until
from bench.fanout_telegram import send_commands as send_commands
from bench.fanout_telegram import telegram_baseline as telegram_baseline
from bench.fanout_telegram import telegram_fanout as telegram_fanout
from bench.fanout_telegram import telegram_ingestion as telegram_ingestion
from bench.report import Result

# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def run(quick: bool) -> list[Result]:
    """Benchmarks 1-3: 300 channels each when quick, 10,000 at full scale."""
    telegram_channels = 300 if quick else 10_000
    discord_channels = 300 if quick else 10_000
    results: list[Result] = []
    results += asyncio.run(telegram_fanout(telegram_channels, COMMANDS))
    results.append(asyncio.run(telegram_baseline(telegram_channels)))
    results += asyncio.run(discord_fanout(discord_channels))
    results.append(asyncio.run(discord_baseline(discord_channels)))
    return results
