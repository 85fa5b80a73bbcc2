"""Reactions in batches: the pure batch decision and per-target deltas, and the coalescing
buffer in front of the store (calls arriving together written together, each caller
answered with its own results or the write's failure)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from newsbot.coalescing import Coalescer, batches
from newsbot.errors import StorageError
from newsbot.models import ArticleId, CommentId, MessageLink, MessageRef, Platform
from newsbot.reaction_batch import ReaderKey, decide_batch, needs, reader_keys, tally_deltas
from newsbot.reactions import MessageReactions, ReactionEvent, ReactionOp, Target

T = datetime(2026, 3, 1, tzinfo=UTC)
A = ArticleId(1)
TG = Platform.TELEGRAM
POST = MessageRef(TG, "-1", "5")
COPY = MessageRef(TG, "-2", "6")
LINKS = {POST: MessageLink(POST, A), COPY: MessageLink(COPY, A)}


def ev(ref: MessageRef, op: ReactionOp, reader: str, *emojis: str, s: int = 0) -> ReactionEvent:
    return ReactionEvent(ref, op, T + timedelta(seconds=s), reader, emojis)


def test_the_store_reads_only_the_rows_the_batch_needs() -> None:
    found = needs(
        [
            ev(POST, ReactionOp.SET, "u", "👍"),
            ev(COPY, ReactionOp.ADD, "v", "👍"),
            ev(COPY, ReactionOp.CLEAR, ""),
        ]
    )
    assert found.messages == (POST, COPY)
    assert found.whole == (COPY,)
    assert found.readers == ((POST, "u"),)


def test_a_batch_applies_its_events_in_order_and_writes_the_net_change() -> None:
    current = {POST: MessageReactions(frozenset({("u", "👍"), ("w", "🔥")}), {"👍": 3})}
    plan = decide_batch(
        [
            ev(POST, ReactionOp.SET, "u", "❤️", s=1),
            ev(POST, ReactionOp.SET, "u", "😂", s=2),  # the latest wins
            ev(POST, ReactionOp.SET, "v", "👍", s=3),
            ev(POST, ReactionOp.SET, "v", s=4),  # taken back: nothing written for v
            ev(POST, ReactionOp.SET, "w", s=5),
            ev(POST, ReactionOp.SET, "w", "🔥", s=6),  # made again: removed, then added
            ev(MessageRef(TG, "-9", "9"), ReactionOp.SET, "u", "👍"),  # unknown
        ],
        LINKS,
        current,
    )
    assert plan.landed == (Target(A),) * 6 + (None,)
    (change,) = plan.changes
    assert change.remove == (("u", "👍"), ("w", "🔥"))
    assert change.add == (
        ("u", "😂", T + timedelta(seconds=2)),
        ("w", "🔥", T + timedelta(seconds=6)),
    )
    assert change.anonymous is None and change.at == T + timedelta(seconds=6)
    assert plan.articles() == {A: T + timedelta(seconds=6)}


def test_the_deltas_count_a_reader_once_per_target_and_leave_banned_readers_out() -> None:
    comment = CommentId(4)
    copy_link = {**LINKS, COPY: MessageLink(COPY, A, comment)}
    plan = decide_batch(
        [
            ev(POST, ReactionOp.SET, "u", "👍"),  # u had 👍 on another copy: no change
            ev(POST, ReactionOp.SET, "new", "👍"),
            ev(POST, ReactionOp.SET, "bad", "👍"),
            ev(COPY, ReactionOp.SET, "u", "❤️"),
            ReactionEvent(COPY, ReactionOp.COUNTS, T, counts=(("🔥", 2),)),
        ],
        copy_link,
        {COPY: MessageReactions(frozenset(), {"🔥": 5})},
    )
    assert reader_keys(plan.changes) == [(A, TG, "bad"), (A, TG, "new"), (A, TG, "u")]
    before: dict[ReaderKey, int] = {(A, None, TG, "u", "👍"): 1}
    deltas = tally_deltas(plan.changes, before, [(TG, "bad")])
    assert deltas == {
        (A, None, TG, "👍"): (1, 0),  # "new"; "u" had it on another copy, "bad" is banned
        (A, comment, TG, "❤️"): (1, 0),
        (A, comment, TG, "🔥"): (0, -3),  # the channel's count went from 5 to 2
    }


def test_calls_are_cut_into_writes_per_key_up_to_a_size() -> None:
    calls = [("chat", 2), ("web", 1), ("chat", 3), ("chat", 1), ("web", 1), ("chat", 9)]
    assert batches(calls, 6) == [("chat", [0, 2, 3]), ("chat", [5]), ("web", [1, 4])]


async def test_concurrent_calls_share_a_write_and_get_their_own_results() -> None:
    writes: list[list[int]] = []

    async def write(key: str, items: list[int]) -> list[int]:
        writes.append(items)
        await asyncio.sleep(0)
        return [i * 10 for i in items]

    coalescer: Coalescer[str, int, int] = Coalescer(write, size=100, wait=0.05)
    got = await asyncio.gather(*(coalescer.submit("k", [n, n + 100]) for n in range(5)))
    assert got == [[n * 10, (n + 100) * 10] for n in range(5)]
    assert writes == [[0, 100, 1, 101, 2, 102, 3, 103, 4, 104]]
    assert coalescer.writes == 1


async def test_a_full_batch_does_not_wait_and_a_later_call_goes_in_the_next_write() -> None:
    writes: list[list[int]] = []

    async def write(key: str, items: list[int]) -> list[int]:
        writes.append(items)
        return items

    coalescer: Coalescer[str, int, int] = Coalescer(write, size=3, wait=60)
    got = await asyncio.wait_for(coalescer.submit("k", [1, 2, 3]), 5)
    assert got == [1, 2, 3]
    assert await asyncio.wait_for(coalescer.submit("k", [4, 5, 6, 7]), 5) == [4, 5, 6, 7]
    assert writes == [[1, 2, 3], [4, 5, 6, 7]]


async def test_a_failed_write_fails_every_caller_in_it_and_the_next_write_goes_on() -> None:
    fail = True

    async def write(key: str, items: list[int]) -> list[int]:
        if fail:
            raise StorageError("disk full")
        return items

    coalescer: Coalescer[str, int, int] = Coalescer(write, size=10, wait=0)
    got = await asyncio.gather(
        coalescer.submit("k", [1]), coalescer.submit("k", [2]), return_exceptions=True
    )
    assert [type(g) for g in got] == [StorageError, StorageError]
    fail = False
    assert await coalescer.submit("k", [3]) == [3]


async def test_callers_waiting_when_the_writer_stops_are_told() -> None:
    started = asyncio.Event()

    async def write(key: str, items: list[int]) -> list[int]:
        started.set()
        await asyncio.Event().wait()  # never finishes
        return items

    coalescer: Coalescer[str, int, int] = Coalescer(write, size=10, wait=0)
    waiting = asyncio.ensure_future(coalescer.submit("k", [1]))
    await asyncio.wait_for(started.wait(), 5)
    assert coalescer._task is not None
    coalescer._task.cancel()
    with pytest.raises(StorageError):
        await asyncio.wait_for(waiting, 5)


def test_a_coalescer_serves_one_event_loop_after_another() -> None:
    """The command line runs each command in an event loop of its own, with one service."""

    async def write(key: str, items: list[int]) -> list[int]:
        return items

    coalescer: Coalescer[str, int, int] = Coalescer(write, size=10, wait=0.01)
    for n in range(2):
        assert asyncio.run(coalescer.submit("k", [n, n])) == [n, n]
