"""The outbox worker: retries, rate limits, dead chats, hangs, other processes, shutdown."""

from __future__ import annotations

from newsbot import (
    Actor,
    ArticleDraft,
    DeliveryState,
    Dispatcher,
    NewsService,
    Platform,
)
from newsbot.ports import Store
from tests.conftest import ADMIN, draft, open_again, subscribe
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.wait import wait_for
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM


def make_dispatcher(store: Store, publisher: RecordingPublisher, **kw: float) -> Dispatcher:
    options: dict[str, float] = {"poll_interval": 0.05, "backoff_base": 0.01, "backoff_cap": 0.05}
    options.update(kw)
    return Dispatcher(store, {TG: publisher}, **options)  # type: ignore[arg-type]


async def states(service: NewsService, article_id: int) -> dict[str, DeliveryState]:
    return {
        s.destination.chat_id: s.delivery.state
        for s in await service.deliveries(article_id)  # type: ignore[arg-type]
    }


async def test_transient_failures_are_retried_until_sent(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1")
    publisher.fail_next("transient", count=3)
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    (status,) = await service.deliveries(change.article.id)
    assert status.delivery.state is DeliveryState.SENT
    assert status.delivery.attempts == 4
    assert len(publisher.ops("post")) == 1


async def test_gone_chat_is_deactivated_and_others_proceed(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    for chat in ("-1", "-2", "-3"):
        await subscribe(service, chat)
    publisher.fail_next("gone", chat_id="-2")
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    assert await states(service, change.article.id) == {
        "-1": DeliveryState.SENT,
        "-2": DeliveryState.DEAD,
        "-3": DeliveryState.SENT,
    }
    dead = {d.chat_id: d for d in await service.destinations()}["-2"]
    assert not dead.active and "kicked" in (dead.deactivated_reason or "")
    # The next article does not even try the dead chat.
    await service.publish(ADMIN, draft("second"))
    await dispatcher.drain()
    assert len(publisher.ops("post", "-2")) == 0
    assert len(publisher.ops("post", "-1")) == 2


async def test_rate_limit_reschedules_without_counting_an_attempt(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1")
    await subscribe(service, "-2")
    publisher.fail_next("rate", chat_id="-1", retry_after=0.3)
    change = await service.publish(ADMIN, draft())
    await wait_for(lambda: len(publisher.ops("post", "-2")) == 1, what="the free chat")
    assert publisher.ops("post", "-1") == []  # still waiting its retry_after
    await dispatcher.drain()
    statuses = {
        s.destination.chat_id: s.delivery for s in await service.deliveries(change.article.id)
    }
    assert statuses["-1"].state is DeliveryState.SENT
    assert statuses["-1"].attempts == 1


async def test_hanging_send_times_out_and_is_retried(
    store: Store, service: NewsService, publisher: RecordingPublisher
) -> None:
    dispatcher = make_dispatcher(store, publisher, send_timeout=0.2)
    service.on_enqueue(dispatcher.wake)
    async with dispatcher:
        await subscribe(service, "-1")
        publisher.fail_next("hang")
        change = await service.publish(ADMIN, draft())
        await dispatcher.drain(max_wait=10)
    (status,) = await service.deliveries(change.article.id)
    assert status.delivery.state is DeliveryState.SENT and status.delivery.attempts == 2


async def test_publisher_bug_does_not_kill_the_loop(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1")
    publisher.fail_next("crash")
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    (status,) = await service.deliveries(change.article.id)
    assert status.delivery.state is DeliveryState.SENT


async def test_gives_up_after_max_attempts(
    store: Store, service: NewsService, publisher: RecordingPublisher
) -> None:
    dispatcher = make_dispatcher(store, publisher, max_attempts=3)
    service.on_enqueue(dispatcher.wake)
    async with dispatcher:
        await subscribe(service, "-1")
        publisher.fail_next("transient", count=10)
        change = await service.publish(ADMIN, draft())
        await dispatcher.drain()
    (status,) = await service.deliveries(change.article.id)
    assert status.delivery.state is DeliveryState.DEAD
    assert status.delivery.attempts == 3 and "gave up" in (status.delivery.last_error or "")
    assert (await service.destinations())[0].active  # a flaky chat is not deactivated


async def test_work_from_another_process_is_picked_up(
    store: Store,
    database: str,
    service: NewsService,
    dispatcher: Dispatcher,
    publisher: RecordingPublisher,
) -> None:
    """A second connection (as the command line uses) enqueues; no wake-up reaches us."""
    await subscribe(service, "-1")
    async with open_again(store, database) as other:
        cli = NewsService(other)
        await cli.publish(Actor.operator(), ArticleDraft("From the CLI", "body"))
    await wait_for(lambda: len(publisher.ops("post")) == 1, timeout=3, what="the CLI's article")
    assert publisher.ops("post")[0].job.article.title == "From the CLI"


async def test_concurrency_is_bounded(
    store: Store, service: NewsService, publisher: RecordingPublisher
) -> None:
    publisher.delay = 0.01
    peak = 0
    dispatcher = make_dispatcher(store, publisher, concurrency=4)

    original = publisher.post

    async def counting(job):  # type: ignore[no-untyped-def]
        nonlocal peak
        peak = max(peak, dispatcher.in_flight)
        return await original(job)

    publisher.post = counting  # type: ignore[method-assign]
    service.on_enqueue(dispatcher.wake)
    async with dispatcher:
        for i in range(40):
            await subscribe(service, f"-{i}")
        await service.publish(ADMIN, draft())
        await dispatcher.drain()
    assert len(publisher.ops("post")) == 40
    assert 1 <= peak <= 4


async def test_stop_leaves_unsent_work_pending(
    store: Store, service: NewsService, publisher: RecordingPublisher
) -> None:
    publisher.delay = 0.05
    dispatcher = make_dispatcher(store, publisher, concurrency=2)
    service.on_enqueue(dispatcher.wake)
    await dispatcher.start()
    for i in range(20):
        await subscribe(service, f"-{i}")
    change = await service.publish(ADMIN, draft())
    await wait_for(lambda: len(publisher.ops("post")) >= 2, what="first sends")
    await dispatcher.stop(grace=5)
    sent = len(publisher.ops("post"))
    found = await states(service, change.article.id)
    assert list(found.values()).count(DeliveryState.SENT) == sent
    assert DeliveryState.SENDING not in found.values()
    # A new dispatcher finishes the rest without repeating anything.
    again = make_dispatcher(store, publisher)
    async with again:
        await again.drain()
    chats = [c.job.destination.chat_id for c in publisher.ops("post")]
    assert len(chats) == 20 and len(set(chats)) == 20


class FlakyStore:
    """A real store whose outcome records fail while ``broken`` is set, as a full or locked
    disk, or a database server gone, would make them fail. Everything else is the real
    store's."""

    broken = False

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def complete_delivery(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.broken:
            from newsbot import StorageError

            raise StorageError("database or disk is full")
        return await self.inner.complete_delivery(*args, **kwargs)


async def test_outcome_is_recorded_once_the_store_recovers(
    store: Store, publisher: RecordingPublisher
) -> None:
    flaky = FlakyStore(store)
    service = NewsService(flaky)  # type: ignore[arg-type]
    dispatcher = make_dispatcher(flaky, publisher)  # type: ignore[arg-type]
    service.on_enqueue(dispatcher.wake)
    async with dispatcher:
        await subscribe(service, "-1")
        flaky.broken = True
        change = await service.publish(Actor.operator(), draft())
        await wait_for(lambda: len(publisher.ops("post")) == 1, what="the send")
        (status,) = await service.deliveries(change.article.id)
        assert status.delivery.state is DeliveryState.SENDING  # sent, not yet recorded
        flaky.broken = False
        await dispatcher.drain()
    (status,) = await service.deliveries(change.article.id)
    assert status.delivery.state is DeliveryState.SENT
    assert len(publisher.ops("post")) == 1  # recorded, not sent again
