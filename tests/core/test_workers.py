"""Several workers on one store: roles change hands only when a lease ends, a paused holder
stops acting before anyone replaces it, and dispatchers send only while they hold the role.

Real SQLite files shared by several store handles (as several processes share them); the
clocks are real except where a test pauses a worker by moving its monotonic clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    Dispatcher,
    NewDestination,
    NewsService,
    Platform,
    Roles,
)
from newsbot.models import RoleLease
from storage import SqliteStore
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.wait import wait_for

ROLE = "send:telegram"


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[list[SqliteStore]]:
    opened = [SqliteStore(tmp_path / "shared.db") for _ in range(3)]
    for store in opened:
        await store.open()
    yield opened
    for store in opened:
        await store.close()


class PausableClock:
    """A monotonic clock a test can jump forward, as a SIGSTOP (or a frozen VM) does."""

    def __init__(self) -> None:
        self.skew = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skew


async def lease_of(store: SqliteStore) -> RoleLease:
    """The role's lease as the store keeps it."""
    [lease] = [r for r in await store.list_roles() if r.role == ROLE]
    return lease


async def rounds(store: SqliteStore, roles: Roles, count: int) -> None:
    """Wait until ``roles`` has gone through ``count`` more rounds (each writes a heartbeat):
    what a worker does not do is shown over its own rounds, not over a span of time."""
    beats: set[datetime] = set()

    async def beaten() -> bool:
        for worker in await store.list_workers(roles.started_at):
            if worker.id == roles.worker:
                beats.add(worker.heartbeat_at)
        return len(beats) > count

    await wait_for(beaten, 30.0, f"{count} rounds of {roles.worker}")


async def test_one_holder_and_a_takeover_after_the_lease(stores: list[SqliteStore]) -> None:
    a = Roles(stores[0], "a", [ROLE], lease=3.0, renew_every=0.5, margin=1.0)
    b = Roles(stores[1], "b", [ROLE], lease=3.0, renew_every=0.5, margin=1.0)
    await a.start()
    await b.start()
    try:
        assert a.holds(ROLE) and not b.holds(ROLE)
        await rounds(stores[2], b, 2)  # b tried twice, a renewed meanwhile: still a's
        assert (await lease_of(stores[2])).holder == "a"
        assert a.holds(ROLE) and not b.holds(ROLE)
        assert {w.id for w in await stores[2].list_workers(a.started_at)} == {"a", "b"}
        # a dies without a word (its task is gone, nothing released).
        ended = (await lease_of(stores[2])).lease_until  # a renewal under way only extends it
        assert a._task is not None
        a._task.cancel()
        assert await b.wait_for(ROLE, 60.0)
        # Never before a's lease ran out: b's lease starts (its lease_until - 3 s) after it.
        # How soon after is a speed, measured by `python -m bench --only workers`.
        taken = await lease_of(stores[2])
        assert taken.holder == "b" and taken.lease_until - timedelta(seconds=3.0) > ended
        assert b.takeovers[ROLE] == 1
    finally:
        await b.stop()


async def test_a_clean_stop_hands_over_at_once(stores: list[SqliteStore]) -> None:
    a = Roles(stores[0], "a", [ROLE], lease=5.0, renew_every=0.5, margin=1.0)
    b = Roles(stores[1], "b", [ROLE], lease=5.0, renew_every=0.5, margin=1.0)
    await a.start()
    await b.start()
    try:
        ends = (await lease_of(stores[2])).lease_until
        await a.stop()
        assert await b.wait_for(ROLE, 30.0)
        # The next try, not the lease's end: b's lease starts before a's would have ended.
        taken = await lease_of(stores[2])
        assert taken.holder == "b" and taken.lease_until - timedelta(seconds=5.0) < ends
        assert [w.id for w in await stores[2].list_workers(a.started_at)] == ["b"]
    finally:
        await b.stop()


async def test_a_paused_holder_knows_it_lost_the_role_on_waking(
    stores: list[SqliteStore],
) -> None:
    clock = PausableClock()
    heard: list[tuple[str, bool]] = []
    a = Roles(stores[0], "a", [ROLE], lease=3.0, renew_every=0.5, margin=1.0, monotonic=clock)

    async def listener(role: str, held: bool) -> None:
        heard.append((role, held))

    a.on_change(listener)
    await a.start()
    b = Roles(stores[1], "b", [ROLE], lease=3.0, renew_every=0.5, margin=1.0)
    try:
        assert a.holds(ROLE) and heard == [(ROLE, True)]
        # The process is stopped: no renewal runs, and its clock moves on when it wakes.
        assert a._task is not None
        a._task.cancel()
        await b.start()
        assert await b.wait_for(ROLE, 6.0), "the lease ends in the store too"
        clock.skew = 10.0
        # The moment a runs again it must not act on the role, before any renewal...
        assert not a.holds(ROLE)
        # ...and its next round tells its listeners.
        a._task = asyncio.create_task(a._run())
        await wait_for(lambda: (ROLE, False) in heard, 3.0, "a to hear it lost the role")
        assert not a.holds(ROLE) and b.holds(ROLE)
    finally:
        await b.stop()
        await a.stop()


async def test_only_the_holder_dispatches_and_the_other_finishes_after_it(
    stores: list[SqliteStore], tmp_path: Path
) -> None:
    service = NewsService(stores[2])
    for i in range(40):
        await service.subscribe(
            Actor.operator(),
            NewDestination(Platform.TELEGRAM, f"-{i}", DestinationKind.CHANNEL),
        )
    workers = []
    for name, store in (("a", stores[0]), ("b", stores[1])):
        roles = Roles(store, name, [ROLE], lease=3.0, renew_every=0.5, margin=1.0)
        publisher = RecordingPublisher(Platform.TELEGRAM, delay=0.05)
        dispatcher = Dispatcher(
            store,
            {Platform.TELEGRAM: publisher},
            worker=name,
            lease=3.0,
            concurrency=4,
            poll_interval=0.05,
            may_send=lambda _p, r=roles: r.holds(ROLE),  # type: ignore[misc]  # python/mypy#15459: a lambda default binding a loop variable
        )
        await roles.start()
        await dispatcher.start()
        workers.append((roles, dispatcher, publisher))
    (roles_a, _, pub_a), (roles_b, disp_b, pub_b) = workers
    try:
        await service.publish(Actor.operator(), ArticleDraft("Once", "each"))
        await wait_for(lambda: len(pub_a.calls) >= 10, 10, "a to send some")
        assert pub_b.calls == []
        # a freezes: it stops renewing and may no longer send; b takes over.
        assert roles_a._task is not None
        roles_a._task.cancel()
        roles_a._valid_until.clear()
        await wait_for(lambda: roles_b.wait_for(ROLE, 0.5), 8, "b to take the role")
        await disp_b.drain(30)
        chats = [c.job.destination.chat_id for c in pub_a.calls + pub_b.calls if c.op == "post"]
        assert sorted(set(chats)) == sorted(f"-{i}" for i in range(40))
        # Only a send a had in flight when it froze can be repeated.
        assert len(chats) - 40 <= 4
    finally:
        for roles, dispatcher, _ in workers:
            await dispatcher.stop(grace=1.0)
            await roles.stop()


async def test_a_late_renewal_nobody_else_saw_keeps_the_tenure(
    stores: list[SqliteStore],
) -> None:
    """A slow database (or a short pause) lets the holder's own idea of its lease run out, but
    nobody took the role meanwhile (same epoch): it stops acting until it renews, and then
    goes on without restarting what it runs."""
    clock = PausableClock()
    heard: list[tuple[str, bool]] = []
    a = Roles(stores[0], "a", [ROLE], lease=3.0, renew_every=0.5, margin=1.0, monotonic=clock)

    async def listener(role: str, held: bool) -> None:
        heard.append((role, held))

    a.on_change(listener)
    await a.start()
    try:
        clock.skew = 2.5  # past its local validity (lease - margin = 2 s), not the store's
        assert not a.holds(ROLE)
        await wait_for(lambda: a.holds(ROLE), 3.0, "the next renewal")
        assert heard == [(ROLE, True)], "no loss and regain for a tenure nobody interrupted"
    finally:
        await a.stop()


class Unreachable:
    """A store that stops answering on request (a database restarting), as a proxy to a
    real one; only what ``Roles`` calls."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.down = False

    def __getattr__(self, name: str) -> object:
        real = getattr(self.store, name)
        if not callable(real):
            return real

        async def call(*args: object, **kwargs: object) -> object:
            if self.down:
                from newsbot import StorageError

                raise StorageError("the database does not answer (test)")
            return await real(*args, **kwargs)

        return call


async def test_an_unreachable_store_suspends_the_role_without_losing_it(
    stores: list[SqliteStore],
) -> None:
    """While the store does not answer nobody can take the role: the holder stops sending
    (``holds`` is false) but keeps what answers people (``keeps``); when the store answers
    again the tenure goes on, and if someone else took the role meanwhile it is lost."""
    flaky = Unreachable(stores[0])
    heard: list[tuple[str, bool]] = []
    a = Roles(flaky, "a", [ROLE], lease=3.0, renew_every=0.5, margin=1.0)  # type: ignore[arg-type]

    async def listener(role: str, held: bool) -> None:
        heard.append((role, held))

    a.on_change(listener)
    await a.start()
    try:
        flaky.down = True
        await wait_for(lambda: not a.holds(ROLE), 5.0, "the local lease to run out")
        assert a.keeps(ROLE) and heard == [(ROLE, True)]
        flaky.down = False
        await wait_for(lambda: a.holds(ROLE), 3.0, "the role resumed")
        assert heard == [(ROLE, True)]
        # Down again, and this time another worker (that can reach the store) takes over.
        flaky.down = True
        await wait_for(lambda: not a.holds(ROLE), 5.0, "the local lease to run out")
        b = Roles(stores[1], "b", [ROLE], lease=3.0, renew_every=0.5, margin=1.0)
        await b.start()
        assert await b.wait_for(ROLE, 6.0)
        assert a.keeps(ROLE), "a cannot know yet"
        flaky.down = False
        await wait_for(lambda: (ROLE, False) in heard, 3.0, "a to hear it lost the role")
        assert not a.keeps(ROLE)
        await b.stop()
    finally:
        flaky.down = False
        await a.stop()


def test_backoff_doubles_up_to_its_cap_with_jitter_and_resets() -> None:
    from newsbot.workers import Backoff

    backoff = Backoff(first=1.0, cap=300.0)
    pauses = [backoff.next() for _ in range(12)]
    for n, pause in enumerate(pauses):
        longest = min(300.0, 2.0**n)
        assert longest / 2 <= pause <= longest, (n, pause)
    assert backoff.failures == 12
    backoff.reset()
    assert backoff.next() <= 1.0
    with pytest.raises(ValueError):
        Backoff(first=0)


async def test_a_worker_that_stands_down_gives_the_role_up_and_rests(
    stores: list[SqliteStore],
) -> None:
    heard: list[tuple[str, bool]] = []
    a = Roles(stores[0], "a", [ROLE], lease=30.0, renew_every=0.2, margin=1.0)
    b = Roles(stores[1], "b", [ROLE], lease=30.0, renew_every=0.2, margin=1.0)

    async def listener(role: str, held: bool) -> None:
        heard.append((role, held))

    a.on_change(listener)
    await a.start()
    await b.start()
    try:
        assert a.holds(ROLE)
        await a.stand_down(ROLE, 60.0, "cannot serve it")
        assert heard == [(ROLE, True), (ROLE, False)] and a.resting(ROLE)
        [lease] = await stores[2].list_roles()
        assert lease.lease_until < a.started_at, "given up, not left to run out"
        assert await b.wait_for(ROLE, 10.0), "a standby takes it at its next try"
        await rounds(stores[2], a, 3)  # a few of a's rounds: it does not try for the role
        assert not a.holds(ROLE) and b.holds(ROLE) and heard[-1] == (ROLE, False)
    finally:
        await b.stop()
        await a.stop()
