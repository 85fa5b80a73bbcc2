"""The Store contract, notices: account switches and the coalescing notice outbox."""

from __future__ import annotations

from newsbot import Platform, Store
from newsbot.ids import ArticleId, CommentId
from newsbot.notifications import Notice, Prefs, encode
from tests.storage.contract_helpers import at

TG = Platform.TELEGRAM


def item(n: int) -> str:
    return encode(Notice(CommentId(n), ArticleId(1), "Title", "Ann", f"reply {n}", f"/a#c{n}"))


async def test_account_prefs_are_kept_field_by_field(backend: Store) -> None:
    assert await backend.account_prefs([(TG, "7")]) == {}
    await backend.set_account_prefs(TG, "7", started=True)
    assert await backend.account_prefs([(TG, "7"), (TG, "8")]) == {(TG, "7"): Prefs(True, None)}
    await backend.set_account_prefs(TG, "7", notify=False)
    await backend.set_account_prefs(Platform.DISCORD, "7", notify=True)
    assert await backend.account_prefs([(TG, "7"), (Platform.DISCORD, "7")]) == {
        (TG, "7"): Prefs(True, False),
        (Platform.DISCORD, "7"): Prefs(False, True),
    }


async def test_notices_to_one_account_coalesce_until_claimed(backend: Store) -> None:
    for n in range(10):
        await backend.queue_notice(TG, "7", item(n), at(60), at(n))
    await backend.queue_notice(TG, "8", item(99), at(30), at(0))
    assert await backend.claim_notices(TG, at(29), 10, worker="w", lease=30) == []
    assert await backend.claim_notices(Platform.DISCORD, at(100), 10, worker="w", lease=30) == []
    first = await backend.claim_notices(TG, at(60), 1, worker="w", lease=30)
    assert [(j.account_id, j.count, j.attempts) for j in first] == [("8", 1, 1)]
    jobs = await backend.claim_notices(TG, at(60), 10, worker="w", lease=30)
    assert len(jobs) == 1 and jobs[0].account_id == "7" and jobs[0].count == 10
    assert [n.comment_id for n in jobs[0].notices] == list(range(10))
    assert jobs[0].notices[3].text == "reply 3" and jobs[0].notices[3].title == "Title"
    # Claimed: a new notice opens a new row; the claim is not handed out twice.
    await backend.queue_notice(TG, "7", item(10), at(120), at(61))
    assert await backend.claim_notices(TG, at(61), 10, worker="v", lease=30) == []
    await backend.finish_notice(jobs[0].id)
    await backend.finish_notice(first[0].id)
    again = await backend.claim_notices(TG, at(120), 10, worker="w", lease=30)
    assert [(j.count, [n.comment_id for n in j.notices]) for j in again] == [(1, [10])]


async def test_the_next_notice_due_is_the_earliest_pending_or_lease_end(backend: Store) -> None:
    assert await backend.next_notice_due(TG) is None
    await backend.queue_notice(TG, "7", item(1), at(60), at(0))
    await backend.queue_notice(TG, "8", item(2), at(30), at(0))
    await backend.queue_notice(Platform.DISCORD, "9", item(3), at(10), at(0))
    assert await backend.next_notice_due(TG) == at(30)
    assert await backend.next_notice_due(Platform.DISCORD) == at(10)
    [job] = await backend.claim_notices(TG, at(30), 1, worker="w", lease=100)
    assert await backend.next_notice_due(TG) == at(60)  # the claim is due at its lease's end
    await backend.finish_notice(job.id)
    [other] = await backend.claim_notices(TG, at(60), 1, worker="w", lease=30)
    assert await backend.next_notice_due(TG) == at(90)
    await backend.finish_notice(other.id)
    assert await backend.next_notice_due(TG) is None


async def test_a_lease_expires_and_a_retry_merges_with_newer_notices(backend: Store) -> None:
    await backend.queue_notice(TG, "7", item(1), at(0), at(0))
    [job] = await backend.claim_notices(TG, at(0), 10, worker="dead", lease=30)
    assert await backend.claim_notices(TG, at(29), 10, worker="w", lease=30) == []
    [taken] = await backend.claim_notices(TG, at(31), 10, worker="w", lease=30)
    assert taken.id == job.id and taken.attempts == 2
    await backend.retry_notice(taken.id, at(40), "flaky")
    assert await backend.claim_notices(TG, at(39), 10, worker="w", lease=30) == []
    [third] = await backend.claim_notices(TG, at(40), 10, worker="w", lease=30)
    await backend.queue_notice(TG, "7", item(2), at(100), at(41))
    await backend.retry_notice(third.id, at(50), "flaky")
    [merged] = await backend.claim_notices(TG, at(100), 10, worker="w", lease=30)
    assert merged.count == 2 and [n.comment_id for n in merged.notices] == [1, 2]
    await backend.finish_notice(merged.id)
    assert await backend.claim_notices(TG, at(1000), 10, worker="w", lease=30) == []


async def test_a_renewed_claim_is_not_taken_over(backend: Store) -> None:
    await backend.queue_notice(TG, "7", item(1), at(0), at(0))
    [job] = await backend.claim_notices(TG, at(0), 10, worker="w", lease=30)
    # A slow send: its worker renews the claim; another worker's renewal changes nothing.
    assert await backend.renew_notice_claims("w", at(25), 30) == 1
    assert await backend.renew_notice_claims("v", at(25), 30) == 0
    assert await backend.claim_notices(TG, at(40), 10, worker="v", lease=30) == []
    [taken] = await backend.claim_notices(TG, at(56), 10, worker="v", lease=30)
    assert taken.id == job.id and taken.attempts == 2
    # A retried notice is nobody's claim any more.
    await backend.retry_notice(taken.id, at(60), "flaky")
    assert await backend.renew_notice_claims("v", at(61), 30) == 0
