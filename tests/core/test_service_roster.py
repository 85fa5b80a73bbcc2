"""The operator's view of the workers on a database, through the service (``bot.py workers``
and the warning of a command no worker will act on read it), on both backends."""

from __future__ import annotations

from datetime import timedelta

from newsbot import NewsService
from newsbot.models import WorkerInfo
from newsbot.ports import Store
from tests.conftest import FakeClock

STORE_BACKENDS = ["sqlite", "postgres"]


async def test_roster_shows_live_workers_and_every_lease(store: Store, clock: FakeClock) -> None:
    service = NewsService(store, clock=clock)
    now = clock.now()
    old = WorkerInfo("old", "h1", 1, now - timedelta(seconds=60), now - timedelta(seconds=60), ())
    live = WorkerInfo("live", "h2", 2, now, now - timedelta(seconds=2), ("send:telegram",))
    for worker in (old, live):
        await store.heartbeat(worker)
    await store.acquire_role("send:telegram", "live", now, 5.0)
    await store.acquire_role("send:discord", "old", now - timedelta(seconds=60), 5.0)

    roster = await service.roster()
    assert roster.at == now
    assert [w.id for w in roster.workers] == ["live"]
    assert {(r.role, r.holder, r.lease_until > now) for r in roster.roles} == {
        ("send:telegram", "live", True),
        ("send:discord", "old", False),
    }
    assert [w.id for w in await service.live_workers()] == ["live"]
    assert [w.id for w in await service.live_workers(horizon=120)] == ["old", "live"]
