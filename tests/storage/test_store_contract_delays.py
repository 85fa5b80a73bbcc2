"""The Store contract, delays: a per-destination delay kept with the other settings, and
publishing that honours it (a delayed chat's post is not claimable before its time)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsbot import Actor, ArticleDraft, InvalidInput, NewsService, NotFound, Platform, Store
from newsbot.models import DestinationId
from tests.conftest import FakeClock
from tests.storage.contract_helpers import dest


async def test_delays_are_kept_per_destination_beside_filters(backend: Store) -> None:
    from tests.storage.contract_helpers import T0

    a, b = await dest(backend, "-1"), await dest(backend, "-2")
    assert await backend.destination_delays() == {}
    assert await backend.set_destination_filter(a, "quake", T0)
    assert await backend.set_destination_delay(a, 300.0, T0)
    assert await backend.set_destination_delay(b, 2.5, T0)
    assert await backend.destination_delays() == {a: 300.0, b: 2.5}
    assert await backend.set_destination_delay(b, 60.0, T0)  # replaced
    assert await backend.set_destination_delay(a, None, T0)  # removed, filter kept
    assert await backend.destination_delays() == {b: 60.0}
    assert await backend.destination_filters() == {a: "quake"}
    assert not await backend.set_destination_delay(DestinationId(999), 1.0, T0)


async def test_publishing_holds_a_delayed_chat_until_its_time(backend: Store) -> None:
    clock = FakeClock()
    t0 = clock.now()
    service = NewsService(backend, clock=clock)
    a, b = await dest(backend, "-1"), await dest(backend, "-2")
    operator = Actor.operator()
    assert await service.routing.set_delay(operator, b, 120) == 120.0
    change = await service.publish(operator, ArticleDraft("Quake", "body"))
    assert change.queued == 2
    claimed = await backend.claim_deliveries(Platform.TELEGRAM, t0, 10, lease=3600)
    now = [j.destination.id for j in claimed]
    assert now == [a]  # the undelayed chat at once, the delayed one not yet
    early = t0 + timedelta(seconds=119)
    assert await backend.claim_deliveries(Platform.TELEGRAM, early, 10) == []
    later = t0 + timedelta(seconds=120)
    [job] = await backend.claim_deliveries(Platform.TELEGRAM, later, 10)
    assert job.destination.id == b and job.article.id == change.article.id


async def test_a_delay_is_checked_and_needs_a_destination(backend: Store) -> None:
    service = NewsService(backend, clock=FakeClock())
    a = await dest(backend, "-1")
    operator = Actor.operator()
    for wrong in (-1.0, float("nan"), float("inf"), 8 * 24 * 3600.0):
        with pytest.raises(InvalidInput):
            await service.routing.set_delay(operator, a, wrong)
    with pytest.raises(NotFound):
        await service.routing.set_delay(operator, DestinationId(999), 5)
    assert await service.routing.set_delay(operator, a, 0) is None  # 0: no delay
    assert await service.routing.delays() == {}
