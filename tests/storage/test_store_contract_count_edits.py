"""The Store contract, a post's comment count line: a comment shown while the post's count
edit is being sent has that edit sent again once done (its generation moves on), so the post
does not keep the count read at its claim (as reactions do, ``test_store_contract_reactions``)."""

from __future__ import annotations

from newsbot import CommentStatus, CountRefresh, DeliveryOp, Platform, Store
from tests.storage.contract_helpers import at, incoming, posted_article

TG = Platform.TELEGRAM
PACE = CountRefresh(min_interval=0, per_second=100)


async def test_a_comment_stored_while_the_count_edit_is_sent_is_counted(backend: Store) -> None:
    _, refs = await posted_article(backend, "-1")
    first = await backend.ingest_comment(incoming("c1", refs["-1"], count_refresh=PACE))
    assert first is not None
    (job,) = await backend.claim_deliveries(TG, at(10), 10)  # the count edit, being sent
    assert job.delivery.op is DeliveryOp.EDIT and job.comment_count == 1
    second = await backend.ingest_comment(incoming("c2", refs["-1"], count_refresh=PACE))
    assert second is not None
    await backend.complete_delivery(job.delivery, None, at(11))
    (again,) = await backend.claim_deliveries(TG, at(12), 10)
    assert again.delivery.op is DeliveryOp.EDIT and again.comment_count == 2
    await backend.complete_delivery(again.delivery, None, at(13))
    assert await backend.claim_deliveries(TG, at(14), 10) == []


async def test_a_comment_approved_while_the_count_edit_is_sent_is_counted(
    backend: Store,
) -> None:
    _, refs = await posted_article(backend, "-1")
    held = await backend.ingest_comment(incoming("h1", refs["-1"], hidden=True))
    assert held is not None and held[0].status is CommentStatus.HIDDEN
    shown = await backend.ingest_comment(incoming("c1", refs["-1"], count_refresh=PACE))
    assert shown is not None
    (job,) = await backend.claim_deliveries(TG, at(10), 10)
    assert job.comment_count == 1
    released = await backend.release_comment(
        held[0].id, at(11), at(11), mirror=False, count_refresh=PACE
    )
    assert released is not None
    await backend.complete_delivery(job.delivery, None, at(12))
    (again,) = await backend.claim_deliveries(TG, at(13), 10)
    assert again.delivery.op is DeliveryOp.EDIT and again.comment_count == 2
