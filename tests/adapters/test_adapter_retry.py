"""A platform unreachable when a worker takes its role: the worker gives the role up at once
(a standby takes it over) and tries again after a growing pause, until the platform answers.

The real discord.py client against the fake Discord; "unreachable" is a port nobody listens
on (connection refused), on which the fake may start later. The composition is bot.py's own
(``build_service``, ``build_adapters``, ``Roles``, ``Dispatcher``, ``Senders``) on a real
SQLite file shared by the workers; only the pauses between attempts are made short.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot import Settings, build_adapters, build_service
from newsbot import Actor, ArticleDraft, DestinationKind, Dispatcher, NewDestination, Platform
from newsbot.supervision import Senders, role_of
from newsbot.workers import Backoff, Roles
from storage import SqliteStore
from tests.fakes.discord import FakeDiscord
from tests.fakes.wait import wait_for

TOKEN = "fake-discord-token"
ROLE = role_of(Platform.DISCORD)


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """One worker's roles, dispatcher and adapters, wired as ``bot.serve`` wires them."""

    def __init__(self, name: str, store: SqliteStore, port: int, backoff: Backoff) -> None:
        settings = Settings(
            database=str(store.path),
            web=False,
            discord_token=TOKEN,
            discord_api_url=f"http://127.0.0.1:{port}/api/v10",
            discord_gateway_url=f"ws://127.0.0.1:{port}/gateway",
            _env_file=None,
        )
        self.service = build_service(settings, store)
        factories, _, _ = build_adapters(settings, self.service)
        # A long lease: a role changes hands only when given up, never by running out here.
        self.roles = Roles(store, name, [ROLE], lease=30.0, renew_every=0.5, margin=1.0)
        self.dispatcher = Dispatcher(
            store,
            {},
            worker=name,
            poll_interval=0.05,
            article_url=self.service.article_url,
            may_send=lambda platform: self.roles.holds(role_of(platform)),
        )
        self.service.on_enqueue(self.dispatcher.wake)
        self.fatal: list[BaseException] = []
        self.senders = Senders(
            factories, self.dispatcher, self.fatal.append, self.roles, lambda: backoff
        )
        self.roles.on_change(self.senders.changed)
        self.stopped = False

    async def start(self) -> None:
        await self.dispatcher.start()
        await self.roles.start()

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        await self.roles.stop()
        await self.senders.stop()
        await self.dispatcher.stop()

    @property
    def sending(self) -> bool:
        return Platform.DISCORD in self.senders.running


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Worker]]]:
    made: list[tuple[Worker, SqliteStore]] = []

    async def make(name: str, port: int, backoff: Backoff) -> Worker:
        store = SqliteStore(tmp_path / "shared.db")
        await store.open()
        worker = Worker(name, store, port, backoff)
        made.append((worker, store))
        return worker

    yield make
    for worker, store in reversed(made):
        await worker.stop()
        await store.close()


async def publish_to(worker: Worker, channel: int) -> None:
    await worker.service.subscribe(
        Actor.operator(), NewDestination(Platform.DISCORD, str(channel), DestinationKind.CHANNEL)
    )
    await worker.service.publish(Actor.operator(), ArticleDraft("Reached", "Through a standby"))


async def given_up(worker: Worker) -> bool:
    """Whether the worker gave the role up in the store (its lease was not left to run out:
    a given-up lease ends before the worker even started)."""
    leases = [r for r in await worker.service.store.list_roles() if r.role == ROLE]
    return bool(leases) and leases[0].lease_until < worker.roles.started_at


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "adapter failed to start"]


async def test_a_worker_that_cannot_reach_discord_hands_the_role_to_a_standby(
    workers: Callable[..., Awaitable[Worker]], caplog: pytest.LogCaptureFixture
) -> None:
    """Worker a cannot reach Discord (its network is broken); b, standing by, can. Found: a
    kept the role after "adapter failed to start", so b never took over and nothing was sent
    to Discord."""
    async with FakeDiscord(token=TOKEN) as dc:
        guild = dc.add_guild("Newsroom", owner_id=dc.add_user(dc.new_id(), "Olga"))
        channel = dc.add_channel(guild, "news")
        a = await workers("a", free_port(), Backoff(first=60.0, cap=60.0))
        b = await workers("b", dc.port, Backoff(first=60.0, cap=60.0))
        await a.start()  # alone: it takes the role, and its adapter fails to start
        await wait_for(lambda: failures(caplog), 60, "a's adapter to fail")
        assert not a.roles.holds(ROLE) and a.roles.resting(ROLE)
        record = failures(caplog)[0]
        assert "cannot reach Discord" in str(getattr(record, "error", "")), record.__dict__
        assert float(getattr(record, "retry_in", 0)) >= 30.0, "half to all of the 60 s pause"
        assert TOKEN not in caplog.text
        await wait_for(lambda: given_up(a), 30, "the role given up in the store")
        await b.start()
        await wait_for(lambda: b.sending, 60, "the standby to take the role and connect")
        await publish_to(b, channel)
        await wait_for(lambda: dc.messages(channel), 60, "the article posted through b")
        assert not a.sending and not a.roles.holds(ROLE)
        assert len(failures(caplog)) == 1, "b connected at its first attempt"
        for worker in (b, a):  # before Discord goes away (no reconnect attempts in the log)
            await worker.stop()


async def test_discord_unreachable_at_start_is_tried_again_until_it_answers(
    workers: Callable[..., Awaitable[Worker]], caplog: pytest.LogCaptureFixture
) -> None:
    """One worker; Discord refuses connections at first and answers later. Found: one
    "adapter failed to start" and no second attempt, ever."""
    port = free_port()
    a = await workers("a", port, Backoff(first=0.2, cap=1.0))
    await a.start()
    await wait_for(lambda: len(failures(caplog)) >= 3, 60, "a few attempts, each refused")
    pauses = [float(getattr(r, "retry_in", 0)) for r in failures(caplog)]
    assert pauses[0] <= 0.2 and all(0.1 <= p <= 1.0 for p in pauses), pauses
    # Between attempts the role is given up in the store, for anyone to take.
    await wait_for(lambda: given_up(a), 30, "the role given up in the store")
    async with FakeDiscord(token=TOKEN, port=port) as dc:
        guild = dc.add_guild("Newsroom", owner_id=dc.add_user(dc.new_id(), "Olga"))
        channel = dc.add_channel(guild, "news")
        await wait_for(lambda: a.sending, 60, "the next attempt to connect")
        assert a.roles.holds(ROLE)
        await publish_to(a, channel)
        await wait_for(lambda: dc.messages(channel), 60, "the article posted")
        assert a.senders._backoff[Platform.DISCORD].failures == 0, "success resets the pauses"
        await a.stop()
