"""A closed story on its posts (``newsbot.closing``): closing, reopening and the automatic
close edit every post once through the outbox, and the jobs say whether it is closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

import pytest

from newsbot import DestinationKind, Dispatcher, NewsService, Platform
from newsbot.closing import WATERMARK, Closing
from newsbot.errors import StorageError
from newsbot.models import Article, ArticleId, CountRefresh
from newsbot.policy import CommentPolicy
from newsbot.ports import Store
from newsbot.review import DeskSettings
from tests.conftest import ADMIN, FakeClock, draft, subscribe
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.wait import wait_for
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM
AT_ONCE = CountRefresh(0.0, 1000.0)


async def _send(sender: Dispatcher) -> None:
    """Deliver what falls due in the next second (refreshes wait a moment after the post)."""
    assert isinstance(sender.clock, FakeClock)
    sender.clock.advance(1)
    await sender.drain()


@pytest.fixture
def closing_service(store: Store, clock: FakeClock) -> NewsService:
    return NewsService(
        store,
        admins={TG: {"42"}},
        clock=clock,
        count_refresh=AT_ONCE,
        desk=DeskSettings(close_after=timedelta(days=2)),
    )


@pytest.fixture
async def sender(
    store: Store, closing_service: NewsService, clock: FakeClock, publisher: RecordingPublisher
) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher(
        store,
        {TG: publisher},
        poll_interval=0.05,
        clock=clock,
        closing=closing_service.desk.closing,
    )
    closing_service.on_enqueue(dispatcher.wake)
    await dispatcher.start()
    yield dispatcher
    await dispatcher.stop()


def _last(publisher: RecordingPublisher) -> dict[str, tuple[str, bool]]:
    """Each chat's last call on the article's post: (op, comments_closed)."""
    return {c.job.destination.chat_id: (c.op, c.job.comments_closed) for c in publisher.calls}


async def test_closing_and_reopening_edit_each_post_once(
    closing_service: NewsService, sender: Dispatcher, publisher: RecordingPublisher
) -> None:
    service = closing_service
    for chat in ("-1", "-2"):
        await subscribe(service, chat, kind=DestinationKind.GROUP)
    article_id = (await service.publish(ADMIN, draft())).article.id
    await _send(sender)
    assert _last(publisher) == {"-1": ("post", False), "-2": ("post", False)}

    await service.desk.set_policy(ADMIN, article_id, CommentPolicy.CLOSED)
    await _send(sender)
    assert _last(publisher) == {"-1": ("edit", True), "-2": ("edit", True)}
    assert len(publisher.ops("edit")) == 2
    # Closed again, or pre-moderated after open: the posts have nothing new to show.
    await service.desk.set_policy(ADMIN, article_id, CommentPolicy.CLOSED)
    await _send(sender)
    assert len(publisher.ops("edit")) == 2

    await service.desk.set_policy(ADMIN, article_id, CommentPolicy.PREMODERATED)  # reopened
    await _send(sender)
    assert _last(publisher) == {"-1": ("edit", False), "-2": ("edit", False)}
    assert len(publisher.ops("edit")) == 4


async def test_publishing_closed_shows_it_on_every_post(
    closing_service: NewsService, sender: Dispatcher, publisher: RecordingPublisher
) -> None:
    service = closing_service
    for chat in ("-1", "-2"):
        await subscribe(service, chat, kind=DestinationKind.GROUP)
    change = await service.publish(ADMIN, draft(), comments=CommentPolicy.CLOSED)
    await _send(sender)
    assert await service.desk.policy(change.article.id) is CommentPolicy.CLOSED
    assert _last(publisher) == {
        "-1": (_op(publisher, "-1"), True),
        "-2": (_op(publisher, "-2"), True),
    }


def _op(publisher: RecordingPublisher, chat: str) -> str:
    return [c.op for c in publisher.calls if c.job.destination.chat_id == chat][-1]


async def test_stories_closed_by_age_are_edited_once(
    closing_service: NewsService,
    sender: Dispatcher,
    publisher: RecordingPublisher,
    clock: FakeClock,
    store: Store,
) -> None:
    service = closing_service
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    old = (await service.publish(ADMIN, draft())).article.id
    kept = (await service.publish(ADMIN, draft())).article.id
    await service.desk.set_policy(ADMIN, kept, CommentPolicy.OPEN)  # its own: never by age
    await _send(sender)
    assert await service.desk.closing.close_due() == 0
    assert await store.get_state(WATERMARK) is not None

    clock.advance(2 * 86400 + 60)
    assert await service.desk.closing.close_due() == 1
    await _send(sender)
    edits = publisher.ops("edit")
    assert [(c.job.article.id, c.job.comments_closed) for c in edits] == [(old, True)]
    assert await service.desk.closing.close_due() == 0  # seen: not again
    await _send(sender)
    assert len(publisher.ops("edit")) == 1

    # Reopened by an editor: the line goes.
    await service.desk.set_policy(ADMIN, old, CommentPolicy.OPEN)
    await _send(sender)
    assert [(c.job.article.id, c.job.comments_closed) for c in publisher.ops("edit")][-1] == (
        old,
        False,
    )


async def test_without_an_automatic_close_nothing_is_looked_at(store: Store) -> None:
    service = NewsService(store, admins={TG: {"42"}})
    assert await service.desk.closing.close_due() == 0
    assert await store.get_state(WATERMARK) is None


class _FlakyPolicies:
    """Comment policies whose store fails the first ``failures`` looks (a stand-in: a real
    store cannot be made to fail on one query and not the claim before it)."""

    def __init__(self, real: Closing, failures: int) -> None:
        self.real, self.failures, self.looks = real, failures, 0

    async def closed(self, articles: Iterable[Article]) -> set[ArticleId]:
        self.looks += 1
        if self.looks <= self.failures:
            raise StorageError("database is locked")
        return await self.real.closed(articles)


async def test_a_post_whose_policy_cannot_be_read_is_sent_later_not_open(
    store: Store, closing_service: NewsService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    service = closing_service
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    policies = _FlakyPolicies(service.desk.closing, failures=1)
    dispatcher = Dispatcher(
        store, {TG: publisher}, poll_interval=0.05, clock=clock, closing=policies
    )
    await service.publish(ADMIN, draft(), comments=CommentPolicy.CLOSED)
    await dispatcher.start()
    try:
        await wait_for(lambda: policies.looks >= 1, what="the failed look")
        assert publisher.calls == []  # given back, not sent as if open
        clock.advance(2)  # it was put back for a second
        await dispatcher.drain()
    finally:
        await dispatcher.stop()
    (call,) = publisher.calls
    assert call.op == "post" and call.job.comments_closed
    (status,) = await service.deliveries(call.job.article.id)
    assert status.delivery.attempts <= 1  # the look's failure is no attempt
