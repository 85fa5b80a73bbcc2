"""The Store contract, notices in batches: the set-wise look-ups of a batch of replies and
``queue_notices``, one transaction for a batch, coalescing per account across writers."""

from __future__ import annotations

import asyncio

from newsbot import Platform, Store
from newsbot.ids import ArticleId, CommentId
from newsbot.notifications import ITEMS_MAX, Notice, Prefs, Queued, encode, folded
from newsbot.people import Account
from storage.rows import IN_CHUNK
from tests.storage.contract_helpers import article, at, comment

TG = Platform.TELEGRAM
DC = Platform.DISCORD


def item(n: int) -> str:
    return encode(Notice(CommentId(n), ArticleId(1), "Title", "Ann", f"reply {n}", f"/a#c{n}"))


async def pending(store: Store, platform: Platform = TG) -> dict[str, tuple[int, list[int]]]:
    """Every due notice of ``platform``: account -> (count, comment ids kept)."""
    jobs = await store.claim_notices(platform, at(10_000), 1000, worker="check", lease=30)
    return {j.account_id: (j.count, [n.comment_id for n in j.notices]) for j in jobs}


async def test_a_batch_appends_to_pending_rows_and_opens_new_ones(backend: Store) -> None:
    await backend.queue_notice(TG, "7", item(1), at(60), at(0))
    batch = folded([((TG, "7"), item(2)), ((TG, "8"), item(3)), ((TG, "7"), item(4))])
    assert [(q.key, q.count) for q in batch] == [((TG, "7"), 2), ((TG, "8"), 1)]
    await backend.queue_notices(batch, at(90), at(1))
    await backend.queue_notices([], at(90), at(1))  # nothing: no write
    assert await backend.next_notice_due(TG) == at(60)  # the pending row keeps its due time
    assert await pending(backend) == {"7": (3, [1, 2, 4]), "8": (1, [3])}


async def test_a_full_row_only_counts_a_batch(backend: Store) -> None:
    filler = "\n" + "x" * ITEMS_MAX  # a line that decodes to nothing
    await backend.queue_notices([Queued((TG, "7"), item(1) + filler, 1)], at(0), at(0))
    await backend.queue_notices([Queued((TG, "7"), item(2) + item(3), 2)], at(0), at(0))
    [job] = await backend.claim_notices(TG, at(1), 10, worker="w", lease=30)
    assert job.count == 3 and [n.comment_id for n in job.notices] == [1]


async def test_concurrent_batches_keep_one_pending_row_per_account(
    two_handles: tuple[Store, Store],
) -> None:
    first, second = two_handles
    accounts = [(TG, str(n)) for n in range(5)] + [(DC, "5")]

    async def queue(store: Store, start: int, order: list[tuple[Platform, str]]) -> None:
        for n in range(start, start + 20):
            # Every account in each batch, by both writers at once, found in opposite orders
            # (``folded`` sorts them: no deadlock): one pending row each.
            batch = folded([(key, item(n)) for key in order])
            await store.queue_notices(batch, at(60), at(0))

    async def single(store: Store, start: int) -> None:
        for n in range(start, start + 10):
            await store.queue_notice(TG, "0", item(n), at(60), at(0))

    await asyncio.gather(
        queue(first, 100, accounts), queue(second, 200, accounts[::-1]), single(first, 300)
    )
    found = await pending(first)
    assert sorted(found) == [str(n) for n in range(5)]
    assert found["0"][0] == 50 and sorted(found["0"][1]) == [
        *range(100, 120),
        *range(200, 220),
        *range(300, 310),
    ]
    for account_id in "1234":
        count, kept = found[account_id]
        assert count == 40 and sorted(kept) == [*range(100, 120), *range(200, 220)]
    assert (await pending(second, DC))["5"][0] == 40


async def test_comments_and_articles_are_looked_up_by_many_ids(backend: Store) -> None:
    article_id = await article(backend)
    made = [await backend.add_comment(comment(article_id, str(n))) for n in range(3)]
    ids = [c.id for c, _ in made]
    found = await backend.comments_by_ids([*ids, ids[0], CommentId(ids[-1] + 1000)])
    assert found == {c.id: c for c, _ in made}
    assert found[ids[1]] == await backend.get_comment(ids[1])
    assert await backend.comments_by_ids([]) == {}
    articles = await backend.articles_by_ids([article_id, ArticleId(article_id + 1000)])
    assert articles == {article_id: await backend.get_article(article_id)}


async def test_people_and_prefs_are_looked_up_by_many_accounts(backend: Store) -> None:
    nina = await backend.link_account(Account(TG, "7", "Nina", "telegram-login", at(0)), None)
    nina = await backend.link_account(Account(DC, "9", "nina", "discord-oauth", at(1)), nina.id)
    many = [(TG, str(1000 + n)) for n in range(IN_CHUNK + 10)]  # more than one IN list
    for key in many[-3:]:
        await backend.set_account_prefs(*key, started=True)
    await backend.set_account_prefs(DC, "9", notify=False)
    people = await backend.people_by_accounts([(TG, "7"), (DC, "9"), (TG, "8"), *many])
    assert people == {(TG, "7"): nina, (DC, "9"): nina}
    assert await backend.people_by_accounts([]) == {}
    prefs = await backend.account_prefs([*many, (DC, "9"), (TG, "7")])
    assert prefs == {**{k: Prefs(True, None) for k in many[-3:]}, (DC, "9"): Prefs(False, False)}
