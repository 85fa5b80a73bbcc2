"""Reply notices told in batches: the replies of a moment looked up and queued together,
the rules unchanged, a failed write failing (and logging) every reply of its batch."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from newsbot import NewsService, Platform
from newsbot.errors import StorageError
from newsbot.models import ArticleId, Comment, CommentId, CommentStatus
from newsbot.notifications import Notice, encode, folded
from newsbot.people import Proof, Proven, web_author_id
from tests.conftest import ADMIN, draft
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM
NINA = Proven(TG, "777", "Nina", Proof.TELEGRAM_LOGIN)
OLGA = Proven(TG, "888", "Olga", Proof.TELEGRAM_LOGIN)


def test_rule_a_batch_folds_per_account_in_key_order_up_to_the_limit() -> None:
    def item(n: int) -> str:
        return encode(Notice(n, 1, "T", "A", "x" * 50, "/c"))  # type: ignore[arg-type]

    one, two = (TG, "9"), (Platform.DISCORD, "1")
    batch = folded([(one, item(1)), (two, item(2)), (one, item(3)), (one, item(4))], limit=100)
    assert [q.key for q in batch] == [two, one]  # sorted: concurrent writers lock in one order
    assert batch[1].count == 3 and batch[1].items == item(1) + item(3)  # item 4 only counted
    assert batch[0].items == item(2) and batch[0].count == 1
    assert folded([]) == []


async def _setup(service: NewsService) -> tuple[ArticleId, Comment, Comment]:
    article_id = (await service.publish(ADMIN, draft(title="Rates"))).article.id
    parents = []
    for who in (NINA, OLGA):
        await service.people.sign_in(who)
        parents.append(
            await service.add_web_comment(
                article_id, who.name, "first", client_key=who.name, user_id=web_author_id(who)
            )
        )
    return article_id, parents[0], parents[1]


def _as_reply(parent: Comment, n: int, user: str, *, held: bool = False) -> Comment:
    """A reply as the ingestion hands it to ``replied`` (the store's own row is not needed:
    ``replied`` is told what was stored)."""
    status = CommentStatus.HIDDEN if held else CommentStatus.VISIBLE
    author = replace(parent.author, name="Bob", user_id=user)
    return replace(
        parent,
        id=CommentId(parent.id + 1000 + n),
        parent_id=parent.id,
        author=author,
        status=status,
    )


async def test_replies_of_a_moment_are_one_batch_with_the_rules_kept(
    service: NewsService,
) -> None:
    _article_id, nina, olga = await _setup(service)
    olga_person = await service.people.find(TG, "888")
    assert olga_person is not None
    await service.people.ban(ADMIN, olga_person.id)
    replies = [
        *(_as_reply(nina, n, f"w:b{n}") for n in range(4)),  # told
        _as_reply(nina, 9, "w:held", held=True),  # held: not told
        _as_reply(nina, 10, web_author_id(NINA)),  # Nina to herself: not told
        _as_reply(olga, 11, "w:c"),  # Olga is banned: not told
    ]
    notes = service.notifications
    notes.batches.size, notes.batches.wait = len(replies), 30.0  # flushed when all arrived
    writes = notes.batches.writes
    told = await asyncio.gather(*(notes.replied(r) for r in replies))
    assert told == [1, 1, 1, 1, 0, 0, 0]
    assert notes.batches.writes == writes + 1
    [job] = await service.store.claim_notices(
        TG, service.clock.now() + notes.delay, 9, worker="t", lease=30
    )
    assert job.account_id == "777" and job.count == 4


async def test_a_failed_write_fails_every_reply_of_its_batch(
    service: NewsService, caplog: pytest.LogCaptureFixture
) -> None:
    _article_id, nina, _olga = await _setup(service)

    async def broken(*_args: object) -> None:
        raise StorageError("disk full")

    # No backend fails on demand: this store object's batch write is replaced (as the
    # bench replaces a look-up), the look-ups before it stay real.
    setattr(service.store, "queue_notices", broken)  # noqa: B010
    notes = service.notifications
    notes.batches.size, notes.batches.wait = 3, 30.0
    with caplog.at_level(logging.ERROR, "newsbot.notifications"):
        told = await asyncio.gather(
            *(notes.replied(_as_reply(nina, n, f"w:{n}")) for n in range(3))
        )
    assert told == [0, 0, 0]
    assert [r.message for r in caplog.records].count("cannot queue a reply notice") == 3
