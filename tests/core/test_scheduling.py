"""Scheduled articles: the time rules (pure), and articles going out on time with a fake clock,
once, across a restart and a failover between two workers; cancelled ones never sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsbot import Actor, ArticleStatus, Dispatcher, NewsService, Platform, Roles
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.ports import Store
from newsbot.scheduling import Priority, Schedule, parse_priority, parse_when, plan
from storage import SqliteStore
from tests.conftest import ADMIN, READER, FakeClock, draft, open_again, subscribe
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.wait import wait_for
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
TG, DC = Platform.TELEGRAM, Platform.DISCORD


# -- the rules (pure) ------------------------------------------------------------------------


def test_times_with_an_offset_and_delays() -> None:
    assert parse_when("2026-12-24T06:00+01:00", NOW) == datetime(2026, 12, 24, 5, 0, tzinfo=UTC)
    assert parse_when("2026-12-24T05:00Z", NOW) == datetime(2026, 12, 24, 5, 0, tzinfo=UTC)
    assert parse_when("2h", NOW) == NOW + timedelta(hours=2)
    assert parse_when("1d12h", NOW) == NOW + timedelta(days=1, hours=12)
    assert parse_when("90m", NOW) == NOW + timedelta(minutes=90)
    assert parse_when("45s", NOW) == NOW + timedelta(seconds=45)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-12-24T06:00", "has no offset"),
        ("2026-12-19T06:00Z", "in the past"),
        ("2028-01-01T00:00Z", "more than a year ahead"),
        ("400d", "more than a year ahead"),
        ("tomorrow", "Cannot read"),
        ("", "Cannot read"),
        ("2h-", "Cannot read"),
    ],
)
def test_bad_times_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_when(text, NOW)


def test_a_plan_staggers_platforms_after_the_article_only() -> None:
    assert plan(NOW) is None
    assert plan(NOW, after="0s") is None
    schedule = plan(NOW, at="2026-12-24T06:00+01:00", platforms={DC: "2026-12-24T07:00+01:00"})
    assert schedule == Schedule(
        datetime(2026, 12, 24, 5, tzinfo=UTC), {DC: datetime(2026, 12, 24, 6, tzinfo=UTC)}
    )
    assert schedule.time_for(TG) == schedule.at
    staggered_now = plan(NOW, platforms={TG: "10m"})
    assert staggered_now == Schedule(NOW, {TG: NOW + timedelta(minutes=10)})
    with pytest.raises(InvalidInput, match="comes before the article's own time"):
        plan(NOW, after="2h", platforms={TG: "1h"})
    with pytest.raises(InvalidInput, match="not both"):
        plan(NOW, at="2026-12-24T06:00Z", after="2h")


def test_priorities() -> None:
    assert parse_priority(None) is Priority.NORMAL
    assert parse_priority(" Breaking ") is Priority.BREAKING
    assert Priority.BREAKING.lane > Priority.NORMAL.lane
    with pytest.raises(InvalidInput, match="normal or breaking"):
        parse_priority("urgent")


# -- the use cases, with a fake clock --------------------------------------------------------


@pytest.fixture
def timed(store: Store, clock: FakeClock) -> NewsService:
    return NewsService(store, admins={TG: {"42"}}, clock=clock, public_url="https://n.example/")


def sender(
    store: Store, clock: FakeClock, publisher: RecordingPublisher, **kw: object
) -> Dispatcher:
    return Dispatcher(
        store,
        {TG: publisher},
        clock=clock,
        poll_interval=0.05,
        **kw,  # type: ignore[arg-type]
    )


def titles(publisher: RecordingPublisher, chat: str) -> list[str]:
    return [c.job.article.title for c in publisher.ops("post", chat)]


async def sent_now(service: NewsService, publisher: RecordingPublisher, chat: str) -> None:
    """Publish at once to ``chat`` and wait for it: the sender has looked at the outbox since."""
    before = len(publisher.ops("post", chat))
    await service.publish(ADMIN, draft("Probe", tags=("probe",)))
    await wait_for(lambda: len(publisher.ops("post", chat)) > before, 10, "the probe")


async def test_goes_out_on_time_not_before_and_invisible_to_readers(
    timed: NewsService, store: Store, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    await subscribe(timed, "-1")
    await subscribe(timed, "-99", tags=("probe",))
    change = await timed.publish(
        ADMIN, draft("Embargoed"), schedule=Schedule(clock.now() + timedelta(minutes=5))
    )
    article_id = change.article.id
    assert change.queued == 1
    async with sender(store, clock, publisher) as dispatcher:
        timed.on_enqueue(dispatcher.wake)
        await sent_now(timed, publisher, "-99")
        assert titles(publisher, "-1") == ["Probe"]
        assert (await timed.article(article_id)).status is ArticleStatus.SCHEDULED
        with pytest.raises(NotFound):
            await timed.readable_article(article_id, READER)
        assert [a.title for a in (await timed.latest()).articles] == ["Probe"]
        [waiting] = await timed.scheduled(ADMIN)
        assert waiting.article.id == article_id
        clock.advance(5 * 60)
        await wait_for(lambda: "Embargoed" in titles(publisher, "-1"), 10, "the scheduled post")
        await dispatcher.drain()
    assert titles(publisher, "-1") == ["Probe", "Embargoed"]
    assert (await timed.readable_article(article_id, READER)).status is ArticleStatus.PUBLISHED
    assert [a.title for a in (await timed.latest()).articles] == ["Probe", "Embargoed"][::-1]
    assert await timed.scheduled(ADMIN) == []


async def test_cancelled_is_never_sent_and_edits_and_moves_apply(
    timed: NewsService, store: Store, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    await subscribe(timed, "-1")
    later = Schedule(clock.now() + timedelta(hours=1))
    kept = await timed.publish(ADMIN, draft("First title"), schedule=later)
    dropped = await timed.publish(ADMIN, draft("Dropped"), schedule=later)
    await timed.edit(ADMIN, kept.article.id, draft("Second title"))
    moved = await timed.reschedule(
        ADMIN, kept.article.id, Schedule(clock.now() + timedelta(minutes=10))
    )
    assert moved is not None and moved.article.published_at == clock.now() + timedelta(minutes=10)
    await timed.cancel_scheduled(ADMIN, dropped.article.id)
    with pytest.raises(InvalidInput, match="not scheduled"):
        await timed.cancel_scheduled(ADMIN, dropped.article.id)
    with pytest.raises(NotFound):
        await timed.cancel_scheduled(ADMIN, 999)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        await timed.cancel_scheduled(READER, kept.article.id)
    with pytest.raises(PermissionDenied):
        await timed.scheduled(READER)
    assert (await timed.article(dropped.article.id)).status is ArticleStatus.DRAFT
    async with sender(store, clock, publisher) as dispatcher:
        clock.advance(10 * 60)
        dispatcher.wake()
        await dispatcher.drain()
        assert len(publisher.ops("post", "-1")) == 1
        clock.advance(3 * 3600)
        await dispatcher.drain()
    assert [c.job.article.title for c in publisher.ops("post")] == ["Second title"]
    [post] = publisher.ops("post")
    assert post.job.article.title == "Second title"
    with pytest.raises(InvalidInput, match="not scheduled"):
        await timed.reschedule(ADMIN, kept.article.id, None)


async def test_survives_a_restart(
    timed: NewsService,
    store: Store,
    database: str,
    clock: FakeClock,
    publisher: RecordingPublisher,
) -> None:
    await subscribe(timed, "-1")
    await subscribe(timed, "-2")
    await timed.publish(ADMIN, draft("Later"), schedule=Schedule(clock.now() + timedelta(hours=2)))
    async with sender(store, clock, publisher) as first:
        first.wake()
    # A new process: another store handle, another dispatcher, after the time.
    async with open_again(store, database) as again:
        clock.advance(2 * 3600)
        async with sender(again, clock, publisher) as second:
            await wait_for(lambda: len(publisher.ops("post")) == 2, 10, "both posts")
            await second.drain()
    assert sorted(c.job.destination.chat_id for c in publisher.ops("post")) == ["-1", "-2"]


ROLE = "send:telegram"


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[list[SqliteStore]]:
    opened = [SqliteStore(tmp_path / "shared.db") for _ in range(3)]
    for handle in opened:
        await handle.open()
    yield opened
    for handle in opened:
        await handle.close()


async def test_goes_out_once_after_a_failover_between_two_workers(
    shared: list[SqliteStore], clock: FakeClock
) -> None:
    service = NewsService(shared[2], clock=clock)
    for i in range(30):
        await subscribe(service, f"-{i}")
    await service.publish(
        Actor.operator(), draft("At six"), schedule=Schedule(clock.now() + timedelta(minutes=1))
    )
    workers = []
    for name, handle in (("a", shared[0]), ("b", shared[1])):
        roles = Roles(handle, name, [ROLE], lease=3.0, renew_every=0.5, margin=1.0)
        publisher = RecordingPublisher(TG)
        dispatcher = sender(
            handle,
            clock,
            publisher,
            worker=name,
            lease=30.0,
            concurrency=4,
            may_send=lambda _p, r=roles: r.holds(ROLE),
        )
        await roles.start()
        await dispatcher.start()
        workers.append((roles, dispatcher, publisher))
    (roles_a, _, pub_a), (roles_b, disp_b, pub_b) = workers
    try:
        await wait_for(lambda: roles_a.holds(ROLE), 10, "a to hold the role")
        # a freezes before the time: it stops renewing and may no longer send.
        assert roles_a._task is not None
        roles_a._task.cancel()
        roles_a._valid_until.clear()
        await wait_for(lambda: roles_b.holds(ROLE), 15, "b to take the role")
        clock.advance(60)
        disp_b.wake()
        await wait_for(lambda: len(pub_b.ops("post")) == 30, 15, "b to send them all")
        await disp_b.drain()
        chats = [c.job.destination.chat_id for c in pub_a.calls + pub_b.calls]
        assert sorted(chats) == sorted(f"-{i}" for i in range(30))
        assert pub_a.calls == []
    finally:
        for roles, dispatcher, _ in workers:
            await dispatcher.stop(grace=1.0)
            await roles.stop()
