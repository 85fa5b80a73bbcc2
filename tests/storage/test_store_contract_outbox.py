"""The Store contract, the outbox: deliveries enqueued, claimed, completed, retried."""

from __future__ import annotations

from newsbot import (
    ArticleDraft,
    ArticleStatus,
    DeliveryOp,
    DeliveryState,
    MessageRef,
    Platform,
    Posted,
    Store,
)
from tests.storage.contract_helpers import (
    AUTHOR,
    T0,
    article,
    at,
    dest,
)


async def test_publish_enqueues_one_post_per_destination(backend: Store) -> None:
    a, b = await dest(backend, "-1"), await dest(backend, "-2")
    article_id = await article(backend, a, b)
    statuses = await backend.deliveries_for_article(article_id)
    assert [s.destination.chat_id for s in statuses] == ["-1", "-2"]
    assert all(s.delivery.state is DeliveryState.PENDING for s in statuses)
    assert all(s.delivery.op is DeliveryOp.POST for s in statuses)
    assert await backend.next_due(Platform.TELEGRAM) == T0
    assert await backend.next_due(Platform.DISCORD) is None


async def test_claim_marks_sending_and_is_exclusive(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(5)]
    article_id = await article(backend, *ids)
    first = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 3)
    second = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 3)
    assert len(first) == 3 and len(second) == 2
    claimed = {j.delivery.id for j in first} | {j.delivery.id for j in second}
    assert len(claimed) == 5
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(1), 3) == []
    job = first[0]
    assert job.article.id == article_id
    assert job.comment is None and job.delivery.attempts == 1
    assert len(job.nonce) <= 25
    assert all(
        s.delivery.state is DeliveryState.SENDING
        for s in await backend.deliveries_for_article(article_id)
    )


async def test_claim_respects_due_time_and_platform(backend: Store) -> None:
    tg, dc = await dest(backend, "-1"), await dest(backend, "c1", Platform.DISCORD)
    await article(backend, tg, dc, when=10)
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(5), 10) == []
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(10), 10)
    assert [j.destination.chat_id for j in jobs] == ["-1"]


async def test_complete_records_message_and_links(backend: Store) -> None:
    d = await dest(backend, "-1")
    article_id = await article(backend, d)
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 5)
    refs = (MessageRef(Platform.TELEGRAM, "-1", "77"), MessageRef(Platform.TELEGRAM, "t", "77"))
    await backend.complete_delivery(job.delivery, Posted("77", "t9", refs), at(2))
    (status,) = await backend.deliveries_for_article(article_id)
    assert status.delivery.state is DeliveryState.SENT
    assert (status.delivery.message_id, status.delivery.thread_id) == ("77", "t9")
    for ref in refs:
        link = await backend.resolve_message(ref)
        assert link is not None and link.article_id == article_id and link.comment_id is None
    assert await backend.resolve_message(MessageRef(Platform.TELEGRAM, "-1", "78")) is None


async def test_retry_and_fail(backend: Store) -> None:
    d = await dest(backend, "-1")
    article_id = await article(backend, d)
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 5)
    await backend.retry_delivery(job.delivery, "502", at(30), at(1))
    (s,) = await backend.deliveries_for_article(article_id)
    assert s.delivery.state is DeliveryState.FAILED and s.delivery.last_error == "502"
    assert s.delivery.next_attempt_at == at(30) and s.delivery.attempts == 1
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(29), 5) == []
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(30), 5)
    await backend.retry_delivery(job.delivery, "429", at(31), at(30), count_attempt=False)
    (s,) = await backend.deliveries_for_article(article_id)
    assert s.delivery.attempts == 1 and s.delivery.state is DeliveryState.PENDING
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(31), 5)
    await backend.fail_delivery(job.delivery, "gone", at(32))
    (s,) = await backend.deliveries_for_article(article_id)
    assert s.delivery.state is DeliveryState.DEAD
    assert await backend.next_due(Platform.TELEGRAM) is None


async def test_release_claims_returns_sending_to_pending(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(3)]
    await article(backend, *ids)
    await backend.claim_deliveries(Platform.TELEGRAM, at(1), 2, worker="w1")
    assert await backend.release_claims("w2") == 0  # another worker's claims are not ours
    assert await backend.release_claims("w1") == 2
    assert len(await backend.claim_deliveries(Platform.TELEGRAM, at(1), 10)) == 3


async def test_edit_reenqueues_sent_and_inflight(backend: Store) -> None:
    a, b, c = await dest(backend, "-1"), await dest(backend, "-2"), await dest(backend, "-3")
    article_id = await article(backend, a, b, c)
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 2)  # -1, -2 in flight
    await backend.complete_delivery(jobs[0].delivery, Posted("m1"), at(2))  # -1 sent
    queued = await backend.update_article(article_id, ArticleDraft("New", "Body 2"), at(3))
    assert queued == 2  # the sent one and the one in flight; the pending one posts new content
    await backend.complete_delivery(jobs[1].delivery, Posted("m2"), at(4))
    by_chat = {
        s.destination.chat_id: s.delivery for s in await backend.deliveries_for_article(article_id)
    }
    assert by_chat["-1"].op is DeliveryOp.EDIT and by_chat["-1"].state is DeliveryState.PENDING
    # Finished an older generation: back to pending so the edit goes out too.
    assert by_chat["-2"].state is DeliveryState.PENDING and by_chat["-2"].message_id == "m2"
    assert by_chat["-3"].op is DeliveryOp.POST and by_chat["-3"].state is DeliveryState.PENDING
    got = await backend.get_article(article_id)
    assert got is not None and got.title == "New" and got.revision == 2


async def test_retract_deletes_posted_and_cancels_unsent(backend: Store) -> None:
    a, b = await dest(backend, "-1"), await dest(backend, "-2")
    article_id = await article(backend, a, b)
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 1)
    await backend.complete_delivery(jobs[0].delivery, Posted("m1"), at(2))
    assert await backend.retract_article(article_id, at(3)) == 1
    by_chat = {
        s.destination.chat_id: s.delivery for s in await backend.deliveries_for_article(article_id)
    }
    assert by_chat["-1"].op is DeliveryOp.DELETE and by_chat["-1"].state is DeliveryState.PENDING
    assert by_chat["-2"].state is DeliveryState.DEAD
    got = await backend.get_article(article_id)
    assert got is not None and got.status is ArticleStatus.RETRACTED
    assert await backend.latest_articles(10, None) == []


async def test_a_request_publishes_and_edits_once(backend: Store) -> None:
    d = await dest(backend, "-1")
    first, created = await backend.add_article(
        ArticleDraft("T", "B"), AUTHOR, T0, [d], request="telegram:42:7"
    )
    again, created_again = await backend.add_article(
        ArticleDraft("T", "B"), AUTHOR, at(5), [d], request="telegram:42:7"
    )
    assert created and not created_again and again == first
    assert await backend.latest_articles(10, None) == [first]
    assert len(await backend.deliveries_for_article(first.id)) == 1
    other, created_other = await backend.add_article(
        ArticleDraft("T", "B"), AUTHOR, at(6), [d], request="telegram:42:8"
    )
    assert created_other and other.id != first.id
    (job,) = [
        j
        for j in await backend.claim_deliveries(Platform.TELEGRAM, at(7), 10)
        if j.article.id == first.id
    ]
    await backend.complete_delivery(job.delivery, Posted("m1"), at(8))
    draft = ArticleDraft("T2", "B2")
    assert await backend.update_article(first.id, draft, at(9), request="edit:1") == 1
    assert await backend.update_article(first.id, draft, at(10), request="edit:1") is None
    got = await backend.get_article(first.id)
    assert got is not None and got.revision == 2 and got.title == "T2"
    # The same key names one command: an edit cannot reuse a publish's key either.
    assert await backend.update_article(first.id, draft, at(11), request="telegram:42:7") is None


async def test_claims_are_leases_taken_over_only_after_expiry(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(3)]
    await article(backend, *ids)
    mine = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 2, worker="a", lease=10)
    assert {j.delivery.claimed_by for j in mine} == {"a"}
    assert all(j.delivery.next_attempt_at == at(11) for j in mine)
    # Another worker starting now finds only the unclaimed one, and cannot release a's.
    theirs = await backend.claim_deliveries(Platform.TELEGRAM, at(2), 10, worker="b", lease=10)
    assert len(theirs) == 1
    assert await backend.release_claims("b", Platform.DISCORD) == 0
    await backend.complete_delivery(theirs[0].delivery, Posted("b1"), at(3))
    # a renews its leases (renewal is per worker)...
    assert await backend.renew_claims("a", at(9), 10) == 2
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(12), 10, worker="b") == []
    # ...then stalls: at expiry b takes both over, with one more attempt counted.
    taken = await backend.claim_deliveries(Platform.TELEGRAM, at(19), 10, worker="b", lease=10)
    assert sorted(j.delivery.id for j in taken) == sorted(j.delivery.id for j in mine)
    assert all(j.delivery.attempts == 2 and j.delivery.claimed_by == "b" for j in taken)
    assert await backend.renew_claims("a", at(20), 10) == 0
    # a wakes up and reports a failure: it no longer owns the claim, so nothing changes.
    await backend.retry_delivery(mine[0].delivery, "late", at(40), at(20))
    await backend.fail_delivery(mine[1].delivery, "late", at(20))
    by_id = {s.delivery.id: s.delivery for s in await backend.deliveries_for_article(1)}  # type: ignore[arg-type]
    assert all(by_id[j.delivery.id].state is DeliveryState.SENDING for j in taken)
    # But a post a made is still recorded: the message exists.
    await backend.complete_delivery(mine[0].delivery, Posted("late-post"), at(21))
    assert await backend.resolve_message(MessageRef(Platform.TELEGRAM, "-0", "late-post"))
    assert await backend.release_claims("b") == 1  # the one a finished is done, not b's
    assert await backend.next_due(Platform.TELEGRAM) is not None


async def test_delivery_counts_by_platform_and_state(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(3)]
    ids.append(await dest(backend, "c1", Platform.DISCORD))
    await article(backend, *ids)
    (job,) = await backend.claim_deliveries(Platform.DISCORD, at(1), 5)
    await backend.complete_delivery(job.delivery, Posted("m"), at(2))
    await backend.claim_deliveries(Platform.TELEGRAM, at(1), 1)
    assert await backend.delivery_counts() == {
        (Platform.TELEGRAM, DeliveryState.PENDING): 2,
        (Platform.TELEGRAM, DeliveryState.SENDING): 1,
        (Platform.DISCORD, DeliveryState.SENT): 1,
    }
