"""Held comments entering the queue together (``newsbot.holding``) on real stores: a flood
written in a few batches, each item with the reason the intake held it for, one staff notice
folding them all; a failed batch fails each of its callers."""

from __future__ import annotations

import asyncio

from newsbot import CommentStatus, NewsService, StorageError
from newsbot.holding import Holding
from newsbot.models import CommentId, Platform
from newsbot.policy import CommentPolicy
from newsbot.ports import Store
from newsbot.review import DeskSettings, View, WordList
from newsbot.staffchat import Kind, StaffChat
from storage.memory import MemoryStore
from tests.conftest import ADMIN, draft
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
STAFF = StaffChat(Platform.TELEGRAM, "-900")
FLOOD = 60


async def test_a_flood_enters_the_queue_in_batches_announced_once(
    service: NewsService, store: Store
) -> None:
    service.staffchat.chat = STAFF
    article = (await service.publish(ADMIN, draft())).article
    await service.desk.set_policy(ADMIN, article.id, CommentPolicy.PREMODERATED)
    flood = await asyncio.gather(
        *(
            service.add_web_comment(
                article.id, f"Reader {n}", f"comment {n}", client_key=f"k{n}", user_id=f"u{n}"
            )
            for n in range(FLOOD)
        )
    )
    assert all(c.status is CommentStatus.HIDDEN for c in flood)
    # Far fewer writes than comments (each batch: one queue write, one notice write).
    assert 1 <= service.holding.batches.writes < FLOOD // 2
    queue = await store.review_queue(View.HELD, 200)
    assert sorted(i.comment.id for i in queue) == sorted(c.id for c in flood)
    assert {i.reasons for i in queue} == {("premoderated",)}  # the intake's own reason
    [notice] = await store.staff_notices(STAFF, 5)
    assert notice.state == "pending" and notice.notice.kind is Kind.HELD
    assert notice.notice.lead in {c.id for c in flood}
    assert notice.notice.more == {Kind.HELD: FLOOD - 1}


async def test_a_failed_batch_fails_every_caller_and_enters_nothing() -> None:
    async with MemoryStore() as store:
        service = NewsService(store, admins={Platform.TELEGRAM: {"42"}})
        service.staffchat.chat = STAFF
        article = (await service.publish(ADMIN, draft())).article
        await service.desk.set_policy(ADMIN, article.id, CommentPolicy.PREMODERATED)
        held = await service.add_web_comment(article.id, "Ann", "hi", client_key="k")
        holding = Holding(service, batch_size=2, batch_wait=5.0)  # both in one batch
        outcomes = await asyncio.gather(
            holding.hold(CommentId(held.id + 1000), ("words",)),  # no such comment
            holding.hold(held.id, ("words",)),
            return_exceptions=True,
        )
        assert [type(o) for o in outcomes] == [StorageError, StorageError]
        assert holding.batches.writes == 0
        item = await store.review_item(held.id)
        assert item is not None and item.reasons == ("premoderated",)  # unchanged
        [notice] = await store.staff_notices(STAFF, 5)
        assert notice.notice.folded == 0  # nothing announced for the failed batch


async def test_the_intakes_reason_joins_the_services_own(
    service: NewsService, store: Store
) -> None:
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    open_story = (await service.publish(ADMIN, draft("Open"))).article.id
    moderated = (await service.publish(ADMIN, draft("Moderated"))).article.id
    await service.desk.set_policy(ADMIN, moderated, CommentPolicy.PREMODERATED)
    words = await service.add_web_comment(open_story, "Ann", "casino", client_key="a")
    both = await service.add_web_comment(moderated, "Bob", "casino", client_key="b")
    policy = await service.add_web_comment(moderated, "Cy", "fine", client_key="c")
    reasons = {i.comment.id: i.reasons for i in await store.review_queue(View.HELD, 10)}
    assert reasons == {
        words.id: ("words",),
        both.id: ("words", "premoderated"),
        policy.id: ("premoderated",),
    }
