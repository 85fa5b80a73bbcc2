"""The Store contract, held comments entering the moderation queue together
(``DeskStore.hold_comments``): one unit of work a batch, reasons merged as ``hold_comment``
merges them, a failed batch entering nothing, two writers at once."""

from __future__ import annotations

import asyncio

import pytest

from newsbot import CommentId, CommentStatus, StorageError, Store
from newsbot.review import Decision, Reason, View
from tests.storage.contract_helpers import at, incoming, posted_article


async def _hidden(store: Store, count: int) -> list[CommentId]:
    """``count`` comments stored hidden, in id order."""
    _, refs = await posted_article(store, "-100")
    found = await asyncio.gather(
        *(store.ingest_comment(incoming(f"h{n}", refs["-100"], hidden=True)) for n in range(count))
    )
    ids = [r[0].id for r in found if r is not None and r[0].status is CommentStatus.HIDDEN]
    assert len(ids) == count
    return sorted(ids)


async def test_a_batch_enters_each_comment_once_with_all_its_reasons(backend: Store) -> None:
    first, second, decided = await _hidden(backend, 3)
    await backend.hold_comment(decided, [Reason.AUTHOR], at(5))
    assert await backend.decide_review(decided, Decision.HIDDEN, "cli:", at(6))
    await backend.hold_comments([], at(7))  # nothing
    await backend.hold_comments(
        [
            (first, [Reason.WORDS]),
            (second, [Reason.PREMODERATED]),
            (first, [Reason.AUTHOR, Reason.WORDS]),
            (decided, [Reason.SLOW]),
        ],
        at(10),
    )
    items = {i.comment.id: i for i in await backend.review_queue(View.HELD, 10)}
    assert {k: (i.reasons, i.entered_at) for k, i in items.items()} == {
        first: (("words", "author"), at(10)),
        second: (("premoderated",), at(10)),
        decided: (("author", "slow"), at(5)),  # in the queue before: merged, kept its time
    }
    assert items[decided].decision is Decision.OPEN and items[decided].decided_by is None


async def test_a_large_batch_enters_every_comment(backend: Store) -> None:
    ids = await _hidden(backend, 300)  # more than one statement's worth
    await backend.hold_comments([(c, [Reason.SLOW]) for c in reversed(ids)], at(10))
    queue = await backend.review_queue(View.HELD, 500)
    assert [i.comment.id for i in queue] == ids
    assert {i.reasons for i in queue} == {("slow",)}


async def test_a_batch_naming_an_unknown_comment_enters_nothing(backend: Store) -> None:
    [known] = await _hidden(backend, 1)
    with pytest.raises(StorageError):
        await backend.hold_comments(
            [(known, [Reason.WORDS]), (CommentId(known + 1000), [Reason.WORDS])], at(10)
        )
    assert await backend.review_item(known) is None
    await backend.hold_comments([(known, [Reason.WORDS])], at(11))  # the store still works
    assert await backend.review_queue(View.HELD, 10) != []


async def test_two_writers_batches_meet_on_the_same_comments(
    two_handles: tuple[Store, Store],
) -> None:
    first, second = two_handles
    ids = await _hidden(first, 40)
    await asyncio.gather(
        first.hold_comments([(c, [Reason.AUTHOR]) for c in ids], at(10)),
        second.hold_comments([(c, [Reason.WORDS]) for c in reversed(ids)], at(10)),
    )
    queue = await first.review_queue(View.HELD, 100)
    assert [i.comment.id for i in queue] == ids
    assert {frozenset(i.reasons) for i in queue} == {frozenset({"author", "words"})}
