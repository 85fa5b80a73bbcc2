"""The Store contract, the staff chat's notices: folded while pending, claimed once, settled."""

from __future__ import annotations

import asyncio

from newsbot import CommentId, Platform, Store
from newsbot.staffchat import Kind, Notice, StaffChat
from tests.storage.contract_helpers import at

CHAT = StaffChat(Platform.TELEGRAM, "-1009")
OTHER = StaffChat(Platform.DISCORD, "77")


async def test_items_fold_into_the_pending_notice(backend: Store) -> None:
    assert await backend.enqueue_staff_notice(CHAT, CommentId(1), Kind.HELD, at(1))
    assert await backend.enqueue_staff_notice(OTHER, CommentId(1), Kind.HELD, at(1))
    for number in range(2, 25):
        assert not await backend.enqueue_staff_notice(CHAT, CommentId(number), Kind.HELD, at(2))
    assert not await backend.enqueue_staff_notice(CHAT, CommentId(30), Kind.REPORTED, at(3))
    assert not await backend.enqueue_staff_notice(CHAT, CommentId(1), Kind.HELD, at(3))
    [notice] = await backend.staff_notices(CHAT, 10)
    assert notice.state == "pending" and notice.chat == CHAT
    assert notice.notice == Notice(CommentId(1), Kind.HELD, {Kind.HELD: 23, Kind.REPORTED: 1})
    assert [n.notice.folded for n in await backend.staff_notices(OTHER, 10)] == [0]


async def test_a_claimed_notice_stops_folding_and_is_sent_once(backend: Store) -> None:
    await backend.enqueue_staff_notice(CHAT, CommentId(1), Kind.HELD, at(1))
    assert await backend.next_staff_notice_due(Platform.TELEGRAM) == at(1)
    assert await backend.next_staff_notice_due(Platform.DISCORD) is None
    assert (
        await backend.claim_staff_notices(Platform.DISCORD, at(5), 5, worker="w", lease=30) == []
    )
    [claimed] = await backend.claim_staff_notices(
        Platform.TELEGRAM, at(5), 5, worker="w", lease=30
    )
    assert claimed.state == "sending" and claimed.attempts == 1 and claimed.claimed_by == "w"
    assert (
        await backend.claim_staff_notices(Platform.TELEGRAM, at(6), 5, worker="x", lease=30) == []
    )
    # A new item while the first notice is being sent starts the next notice.
    assert await backend.enqueue_staff_notice(CHAT, CommentId(2), Kind.REPORTED, at(6))
    await backend.complete_staff_notice(claimed.id, "w", "m1", at(7))
    newest, first = await backend.staff_notices(CHAT, 10)
    assert first.state == "sent" and first.message_id == "m1" and first.claimed_by is None
    assert newest.state == "pending" and newest.notice == Notice(CommentId(2), Kind.REPORTED)


async def test_retry_failure_lease_and_release(backend: Store) -> None:
    await backend.enqueue_staff_notice(CHAT, CommentId(1), Kind.HELD, at(1))
    [claimed] = await backend.claim_staff_notices(
        Platform.TELEGRAM, at(2), 5, worker="w", lease=30
    )
    # Only the claim's holder settles it.
    await backend.retry_staff_notice(claimed.id, "x", "boom", at(10), at(3))
    assert (await backend.staff_notices(CHAT, 1))[0].state == "sending"
    await backend.retry_staff_notice(claimed.id, "w", "boom", at(10), at(3))
    [waiting] = await backend.staff_notices(CHAT, 1)
    assert waiting.state == "waiting" and waiting.last_error == "boom"
    assert await backend.next_staff_notice_due(Platform.TELEGRAM) == at(10)
    # A waiting notice does not fold: a new item gets its own.
    assert await backend.enqueue_staff_notice(CHAT, CommentId(2), Kind.HELD, at(4))
    assert await backend.claim_staff_notices(Platform.TELEGRAM, at(9), 1, worker="w", lease=30)
    [again] = await backend.claim_staff_notices(Platform.TELEGRAM, at(10), 5, worker="w", lease=30)
    assert again.id == claimed.id and again.attempts == 2
    # Expired leases are due again, for anybody.
    taken = await backend.claim_staff_notices(Platform.TELEGRAM, at(41), 5, worker="y", lease=30)
    assert claimed.id in {n.id for n in taken} and len(taken) == 2
    assert {n.claimed_by for n in taken} == {"y"}
    await backend.fail_staff_notice(claimed.id, "y", "gave up", at(42))
    dead = [n for n in await backend.staff_notices(CHAT, 5) if n.id == claimed.id]
    assert dead[0].state == "dead" and dead[0].last_error == "gave up"
    assert await backend.next_staff_notice_due(Platform.TELEGRAM) == at(71)
    # Release gives a worker's claims back, due at once.
    assert await backend.release_staff_claims("nobody") == 0
    assert await backend.release_staff_claims("y") == 1
    [back] = await backend.claim_staff_notices(Platform.TELEGRAM, at(43), 5, worker="z", lease=30)
    assert back.id != claimed.id and back.attempts == 2


async def test_concurrent_claims_take_each_notice_once(two_handles: tuple[Store, Store]) -> None:
    first, second = two_handles
    chats = [StaffChat(Platform.TELEGRAM, str(-n)) for n in range(1, 11)]
    for chat in chats:
        await first.enqueue_staff_notice(chat, CommentId(1), Kind.HELD, at(1))

    async def claim(store: Store, worker: str) -> list[int]:
        got: list[int] = []
        for _ in range(10):
            found = await store.claim_staff_notices(
                Platform.TELEGRAM, at(2), 1, worker=worker, lease=30
            )
            got.extend(n.id for n in found)
        return got

    a, b = await asyncio.gather(claim(first, "a"), claim(second, "b"))
    assert sorted(a + b) == sorted(set(a + b)) and len(a + b) == 10


async def test_concurrent_enqueues_keep_one_pending_notice(
    two_handles: tuple[Store, Store],
) -> None:
    first, second = two_handles

    async def enqueue(store: Store, start: int) -> int:
        made = 0
        for number in range(start, start + 20):
            made += await store.enqueue_staff_notice(CHAT, CommentId(number), Kind.HELD, at(1))
        return made

    made = await asyncio.gather(enqueue(first, 1), enqueue(second, 100))
    assert sum(made) == 1
    [notice] = await first.staff_notices(CHAT, 5)
    assert 1 + notice.notice.folded == 40


async def test_a_batch_of_items_folds_in_one_step(backend: Store) -> None:
    assert not await backend.enqueue_staff_notices(CHAT, [], at(1))
    assert await backend.staff_notices(CHAT, 5) == []
    batch = [(CommentId(1), Kind.HELD), (CommentId(2), Kind.HELD), (CommentId(3), Kind.REPORTED)]
    assert await backend.enqueue_staff_notices(CHAT, batch, at(1))
    [notice] = await backend.staff_notices(CHAT, 5)
    assert notice.state == "pending"
    assert notice.notice == Notice(CommentId(1), Kind.HELD, {Kind.HELD: 1, Kind.REPORTED: 1})
    assert await backend.next_staff_notice_due(Platform.TELEGRAM) == at(1)
    # Into the pending notice; its lead named again for its reason counts nothing.
    again = [(CommentId(1), Kind.HELD), (CommentId(4), Kind.HELD), (CommentId(1), Kind.REPORTED)]
    assert not await backend.enqueue_staff_notices(CHAT, again, at(2))
    [notice] = await backend.staff_notices(CHAT, 5)
    assert notice.notice == Notice(CommentId(1), Kind.HELD, {Kind.HELD: 2, Kind.REPORTED: 2})
    # A batch after the notice was claimed starts the next one, the gap after it.
    await backend.claim_staff_notices(Platform.TELEGRAM, at(3), 5, worker="w", lease=30)
    assert await backend.enqueue_staff_notices(CHAT, batch[1:], at(4), 3.0)
    newest, _ = await backend.staff_notices(CHAT, 5)
    assert newest.notice == Notice(CommentId(2), Kind.HELD, {Kind.REPORTED: 1})
    [due] = [n for n in await backend.staff_notices(CHAT, 5) if n.state == "pending"]
    assert due.id == newest.id
    assert (
        await backend.claim_staff_notices(Platform.TELEGRAM, at(5.9), 5, worker="w", lease=30)
        == []
    )


async def test_concurrent_batch_enqueues_keep_one_pending_notice(
    two_handles: tuple[Store, Store],
) -> None:
    first, second = two_handles

    async def enqueue(store: Store, start: int) -> int:
        made = 0
        for batch in range(start, start + 40, 10):
            items = [(CommentId(n), Kind.HELD) for n in range(batch, batch + 10)]
            made += await store.enqueue_staff_notices(CHAT, items, at(1))
        return made

    made = await asyncio.gather(enqueue(first, 1), enqueue(second, 100))
    assert sum(made) == 1
    [notice] = await first.staff_notices(CHAT, 5)
    assert notice.state == "pending" and 1 + notice.notice.folded == 80


async def test_a_new_notice_waits_the_gap_after_the_last_one(backend: Store) -> None:
    assert await backend.enqueue_staff_notice(CHAT, CommentId(1), Kind.HELD, at(1), 3.0)
    assert await backend.next_staff_notice_due(Platform.TELEGRAM) == at(1)  # the first: at once
    [sent] = await backend.claim_staff_notices(Platform.TELEGRAM, at(2), 5, worker="w", lease=30)
    await backend.complete_staff_notice(sent.id, "w", "m1", at(2.5))
    assert await backend.enqueue_staff_notice(CHAT, CommentId(2), Kind.HELD, at(3), 3.0)
    assert await backend.next_staff_notice_due(Platform.TELEGRAM) == at(5.5)
    assert (
        await backend.claim_staff_notices(Platform.TELEGRAM, at(5), 5, worker="w", lease=30) == []
    )
    # Items arriving meanwhile fold into the waiting notice.
    assert not await backend.enqueue_staff_notice(CHAT, CommentId(3), Kind.HELD, at(4), 3.0)
    [late] = await backend.claim_staff_notices(Platform.TELEGRAM, at(6), 5, worker="w", lease=30)
    assert late.notice.lead == CommentId(2) and late.notice.folded == 1


async def test_a_renewed_claim_is_not_taken_over(backend: Store) -> None:
    await backend.enqueue_staff_notice(CHAT, CommentId(1), Kind.HELD, at(1))
    [claimed] = await backend.claim_staff_notices(
        Platform.TELEGRAM, at(2), 5, worker="w", lease=30
    )
    # A slow send: its worker renews the claim before the lease runs out, another worker's
    # does not count.
    assert await backend.renew_staff_claims("w", at(25), 30) == 1
    assert await backend.renew_staff_claims("x", at(25), 30) == 0
    assert await backend.next_staff_notice_due(Platform.TELEGRAM) == at(55)
    taken = await backend.claim_staff_notices(Platform.TELEGRAM, at(40), 5, worker="x", lease=30)
    assert taken == []
    await backend.complete_staff_notice(claimed.id, "w", "m1", at(41))
    assert await backend.renew_staff_claims("w", at(42), 30) == 0
    [sent] = await backend.staff_notices(CHAT, 10)
    assert sent.state == "sent" and sent.attempts == 1
    # Without renewal the lease runs out and the notice is due again.
    await backend.enqueue_staff_notice(CHAT, CommentId(2), Kind.HELD, at(50))
    [second] = await backend.claim_staff_notices(
        Platform.TELEGRAM, at(50), 5, worker="w", lease=30
    )
    [again] = await backend.claim_staff_notices(Platform.TELEGRAM, at(81), 5, worker="x", lease=30)
    assert again.id == second.id and again.claimed_by == "x"
