"""The staff chat's use cases on real stores: items announced through the dispatcher after
the article fan-out, a flood folded, presses acting as the presser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from newsbot import (
    Actor,
    Author,
    CommentStatus,
    DestinationKind,
    Dispatcher,
    MessageRef,
    NewsService,
    PermissionDenied,
    Platform,
)
from newsbot.limits import IntakeGate, IntakeLimits
from newsbot.models import Comment, CommentId
from newsbot.ports import Store
from newsbot.review import Action
from newsbot.staffchat import NoticeText, StaffChat, button_data
from tests.conftest import ADMIN, draft, subscribe
from tests.fakes.publisher import RecordingPublisher
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM
STAFF = StaffChat(TG, "-900")


@dataclass
class StaffRecorder:
    """A staff poster that records the notices (and can be held to make a flood wait)."""

    posted: list[tuple[str, CommentId, NoticeText]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    order: list[str] | None = None

    @property
    def platform(self) -> Platform:
        return TG

    async def post_notice(self, chat_id: str, comment_id: CommentId, text: NoticeText) -> str:
        await self.gate.wait()
        self.posted.append((chat_id, comment_id, text))
        if self.order is not None:
            self.order.append("staff")
        return f"s{len(self.posted)}"


@pytest.fixture
def staff(service: NewsService) -> StaffRecorder:
    service.intake = IntakeLimits(per_author=1, per_chat=0)
    service._intake = IntakeGate(service.intake)
    service.staffchat.chat = STAFF
    recorder = StaffRecorder()
    recorder.gate.set()
    service.staffchat.posters[TG] = recorder
    return recorder


@pytest.fixture
async def staff_dispatcher(
    store: Store, service: NewsService, publisher: RecordingPublisher, staff: StaffRecorder
) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(
        store,
        {TG: publisher},
        poll_interval=0.05,
        article_url=service.article_url,
        staff=service.staffchat,
    )
    service.on_enqueue(d.wake)
    await d.start()
    yield d
    await d.stop()


async def _article(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> str:
    """An article posted to the group -1 by ``dispatcher``: its post's message id."""
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    await service.publish(ADMIN, draft())
    await dispatcher.drain()
    (call,) = publisher.ops("post", "-1")
    assert call.message_id is not None
    return call.message_id


async def _reply(service: NewsService, post: str, n: int, user: str = "7") -> Comment:
    comment = await service.record_reply(
        reply_to=MessageRef(TG, "-1", post),
        source=MessageRef(TG, "-1", f"m{n}"),
        author=Author("Rita <b>", TG, user),
        text=f"comment {n} <i>",
    )
    assert comment is not None
    return comment


async def test_a_held_comment_is_announced_once_when_calm(
    service: NewsService,
    staff_dispatcher: Dispatcher,
    publisher: RecordingPublisher,
    staff: StaffRecorder,
) -> None:
    post = await _article(service, staff_dispatcher, publisher)
    first = await _reply(service, post, 1)
    assert first.status is CommentStatus.VISIBLE
    held = await _reply(service, post, 2)
    assert held.status is CommentStatus.HIDDEN
    await staff_dispatcher.drain()
    assert [(c, i) for c, i, _ in staff.posted] == [("-900", held.id)]
    text = staff.posted[0][2]
    assert text.heading == "Held comment" and text.author == "Rita <b>" and text.more == ""
    held2 = await _reply(service, post, 3)
    await staff_dispatcher.drain()
    assert [i for _, i, _ in staff.posted] == [held.id, held2.id]
    [latest, _first] = await service.store.staff_notices(STAFF, 5)
    assert latest.state == "sent" and latest.message_id == "s2"


async def test_a_flood_folds_and_never_goes_before_the_fan_out(
    service: NewsService,
    staff_dispatcher: Dispatcher,
    publisher: RecordingPublisher,
    staff: StaffRecorder,
) -> None:
    post = await _article(service, staff_dispatcher, publisher)
    staff.gate.clear()  # the first notice is stuck in flight while the flood arrives
    await _reply(service, post, 0)
    flood = [await _reply(service, post, n) for n in range(1, 201)]
    assert all(c.status is CommentStatus.HIDDEN for c in flood)
    staff.gate.set()
    await staff_dispatcher.drain()
    posted = len(staff.posted)
    assert 1 <= posted <= 3
    counted = sum(
        1 + sum(int(p.split()[0]) for p in t.more.split(", ") if p) for _, _, t in staff.posted
    )
    assert counted == 200
    assert "more held" in staff.posted[-1][2].more


async def test_article_deliveries_are_claimed_before_staff_notices(
    store: Store,
    service: NewsService,
    dispatcher: Dispatcher,
    publisher: RecordingPublisher,
    staff: StaffRecorder,
) -> None:
    # Sent by a dispatcher without the staff chat.
    post = await _article(service, dispatcher, publisher)
    await _reply(service, post, 1)
    held = await _reply(service, post, 2)
    assert held.status is CommentStatus.HIDDEN
    await dispatcher.stop()
    for chat in ("-2", "-3", "-4"):
        await subscribe(service, chat, kind=DestinationKind.GROUP)
    await service.publish(ADMIN, draft(title="Second"))
    # The notice was enqueued first; the three article posts still go before it.
    order: list[str] = []
    staff.order = order
    original = publisher.post

    async def record(job):  # type: ignore[no-untyped-def]
        order.append("article")
        return await original(job)

    publisher.post = record  # type: ignore[method-assign]
    d = Dispatcher(
        store, {TG: publisher}, concurrency=1, poll_interval=0.05, staff=service.staffchat
    )
    await d.start()
    try:
        await d.drain()
    finally:
        await d.stop()
    assert order[-1] == "staff" and order.count("article") >= 4
    assert [i for _, i, _ in staff.posted] == [held.id]


async def test_presses_act_as_the_presser_and_only_for_admins(
    service: NewsService,
    staff_dispatcher: Dispatcher,
    publisher: RecordingPublisher,
    staff: StaffRecorder,
) -> None:
    post = await _article(service, staff_dispatcher, publisher)
    await _reply(service, post, 1)
    held = await _reply(service, post, 2)
    reader = Actor(TG, "7", "Rita")
    with pytest.raises(PermissionDenied):
        await service.staffchat.press(reader, button_data(held.id, Action.APPROVE))
    assert await service.staffchat.press(ADMIN, "fl:0") is None
    done = await service.staffchat.press(ADMIN, button_data(held.id, Action.APPROVE))
    assert done is not None
    outcome, line = done
    assert outcome.changed and outcome.comment.status is CommentStatus.VISIBLE
    assert line.startswith("Approved by ")
    log = await service.desk.audit(ADMIN)
    assert [(e.actor, e.action) for e in log] == [("telegram:42", Action.APPROVE)]


async def _staff_run(store: Store, service: NewsService, publisher: RecordingPublisher) -> None:
    """A dispatcher with the staff chat works everything due, then stops."""
    d = Dispatcher(store, {TG: publisher}, poll_interval=0.05, staff=service.staffchat)
    await d.start()
    try:
        await d.drain()
    finally:
        await d.stop()


async def test_a_notice_for_a_comment_decided_before_it_went_out_is_dropped(
    store: Store,
    service: NewsService,
    dispatcher: Dispatcher,
    publisher: RecordingPublisher,
    staff: StaffRecorder,
) -> None:
    service.staffchat.gap = 0
    # A dispatcher without the staff chat: nothing is sent.
    post = await _article(service, dispatcher, publisher)
    await _reply(service, post, 1)
    held = await _reply(service, post, 2)
    await service.desk.approve(ADMIN, held.id)
    await _staff_run(store, service, publisher)
    assert staff.posted == []
    [dropped] = await service.store.staff_notices(STAFF, 5)
    assert dropped.state == "dead" and dropped.notice.lead == held.id
    assert dropped.last_error == "decided: Approved by telegram:42"
    # Items folded into a decided notice are still told, the notice marked, without buttons.
    lead = await _reply(service, post, 3)
    await _reply(service, post, 4)
    await service.desk.hide(ADMIN, lead.id)
    await _staff_run(store, service, publisher)
    [(_, comment_id, text)] = staff.posted
    assert comment_id == lead.id and text.more == "1 more held"
    assert text.decided == "Hidden by telegram:42"


async def test_a_slow_notice_keeps_its_claim_and_is_posted_once(
    store: Store,
    service: NewsService,
    dispatcher: Dispatcher,
    publisher: RecordingPublisher,
    staff: StaffRecorder,
) -> None:
    post = await _article(service, dispatcher, publisher)
    await dispatcher.stop()
    entered: list[CommentId] = []
    original = staff.post_notice

    async def slow(chat_id: str, comment_id: CommentId, text: NoticeText) -> str:
        entered.append(comment_id)
        return await original(chat_id, comment_id, text)

    staff.post_notice = slow  # type: ignore[method-assign]
    staff.gate.clear()  # the send hangs until the claim's lease ran out several times
    lease = 0.3
    workers = [
        Dispatcher(
            store, {TG: publisher}, poll_interval=0.02, lease=lease, staff=service.staffchat
        )
        for _ in range(2)
    ]
    for worker in workers:
        await worker.start()
    try:
        await _reply(service, post, 1)
        held = await _reply(service, post, 2)
        for worker in workers:
            worker.wake()
        async with asyncio.timeout(10):
            while not entered:
                await asyncio.sleep(0.01)
            [notice] = await service.store.staff_notices(STAFF, 5)
            first_due = await service.store.next_staff_notice_due(TG)
            assert first_due is not None
            # Renewed well past three leases, by the worker that claimed it.
            while (due := await service.store.next_staff_notice_due(TG)) is None or (
                due - first_due
            ).total_seconds() < 3 * lease:
                await asyncio.sleep(0.02)
        [still] = await service.store.staff_notices(STAFF, 5)
        assert still.claimed_by == notice.claimed_by and still.attempts == 1
        staff.gate.set()
        for worker in workers:
            await worker.drain()
    finally:
        for worker in workers:
            await worker.stop()
    assert entered == [held.id]
    assert [i for _, i, _ in staff.posted] == [held.id]
