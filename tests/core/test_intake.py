"""One author cannot silence a chat (issue 16, item 3): only accepted comments count against
the intake limits, and a busy chat slows its heaviest authors before anyone else.

The gate itself is pure; the service is tested on real SQLite and PostgreSQL, and the web
form through the real aiohttp app. The Telegram case is in test_telegram_safety.
"""

from __future__ import annotations

import logging

import pytest

from newsbot import (
    ArticleId,
    Author,
    CommentStatus,
    DestinationKind,
    IntakeLimits,
    MessageRef,
    NewDestination,
    NewsService,
    Platform,
    Posted,
)
from newsbot.limits import Held, IntakeGate
from newsbot.ports import Store
from tests.adapters.web.test_web_helpers import post_comment, publish, web_client
from tests.conftest import ADMIN, FakeClock, draft
from tests.pg import BOTH

STORE_BACKENDS = BOTH

TG = Platform.TELEGRAM


def admit_all(gate: IntakeGate, authors: list[str], at: float = 0.0) -> list[Held | None]:
    return [gate.admit(a, "chat", at) for a in authors]


def test_comments_held_back_take_no_place_in_the_chat() -> None:
    gate = IntakeGate(IntakeLimits(per_author=3, per_chat=8, window=60))
    flood = admit_all(gate, ["mallory"] * 50)
    assert flood == [None] * 3 + [Held.AUTHOR] * 47
    # 3 accepted, not 50: everyone else still has the chat's other five places.
    assert admit_all(gate, ["a", "b", "c", "d", "e"]) == [None] * 5
    assert gate.admit("f", "chat", 0) is Held.CHAT
    assert gate.admit("f", "other chat", 0) is None


def test_slow_mode_holds_the_heaviest_author_first() -> None:
    gate = IntakeGate(IntakeLimits(per_author=0, per_chat=10, window=60))
    # Alone, one author gets half the chat: then slow mode holds them.
    assert admit_all(gate, ["mallory"] * 8) == [None] * 5 + [Held.SLOW_MODE] * 3
    # Someone who has not written is held only when the chat is full.
    assert admit_all(gate, ["a", "b", "c", "d", "e"]) == [None] * 5
    assert admit_all(gate, ["f", "mallory"]) == [Held.CHAT, Held.CHAT]
    # As the window slides, places come back, and the flooder's turn with them.
    assert gate.admit("mallory", "chat", 60.5) is None


def test_slow_mode_shares_a_busy_chat_between_two_floods() -> None:
    gate = IntakeGate(IntakeLimits(per_author=0, per_chat=12, window=60))
    got = admit_all(gate, ["x", "y"] * 10)
    assert got.count(None) == 8  # four each: two floods take two thirds at most
    assert [a for a, h in zip(["x", "y"] * 10, got, strict=True) if h is None] == ["x", "y"] * 4
    assert admit_all(gate, [f"reader {n}" for n in range(4)]) == [None] * 4
    assert gate.admit("late", "chat", 1) is Held.CHAT


def test_no_limits_hold_nothing() -> None:
    gate = IntakeGate(None)
    assert admit_all(gate, ["mallory"] * 1000) == [None] * 1000
    off = IntakeGate(IntakeLimits(per_author=0, per_chat=0))
    assert admit_all(off, ["mallory"] * 1000) == [None] * 1000


def test_memory_stays_bounded() -> None:
    gate = IntakeGate(IntakeLimits(per_author=2, per_chat=5, window=60), max_keys=10, max_chats=3)
    for n in range(1000):
        gate.admit(f"author {n}", f"chat {n % 50}", float(n))
    assert len(gate._authors._events) <= 10
    assert len(gate._chats) <= 3
    assert all(len(w.events) <= 5 for w in gate._chats.values())


# -- the service, on every backend ---------------------------------------------------------


async def test_a_flood_leaves_the_chat_to_the_others(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    service = NewsService(
        store,
        admins={TG: {"42"}},
        clock=clock,
        intake=IntakeLimits(per_author=4, per_chat=10, window=60),
    )
    for chat in ("-1", "-2"):
        await service.subscribe(ADMIN, NewDestination(TG, chat, DestinationKind.GROUP))
    article = (await service.publish(ADMIN, draft())).article
    for job in await store.claim_deliveries(TG, clock.now(), 10):
        ref = MessageRef(TG, job.destination.chat_id, "post")
        await store.complete_delivery(job.delivery, Posted("post", links=(ref,)), clock.now())
    post = MessageRef(TG, "-1", "post")
    sent = 0

    async def by(user: str) -> tuple[CommentStatus, int]:
        nonlocal sent
        sent += 1
        comment = await service.record_reply(
            reply_to=post,
            source=MessageRef(TG, "-1", f"m{sent}"),
            author=Author(f"user {user}", TG, user),
            text=f"reply {sent}",
        )
        assert comment is not None
        return comment.status, len(await store.deliveries_for_comment(comment.id))

    with caplog.at_level(logging.INFO, logger="newsbot.service"):
        flood = [await by("mallory") for _ in range(30)]
        others = [await by(user) for user in ("ann", "bob", "ann", "cy", "dee", "eve")]
        held = [getattr(r, "limit", None) for r in caplog.records if "intake" in r.getMessage()]
    assert held == ["author"] * 26
    assert flood == [(CommentStatus.VISIBLE, 1)] * 4 + [(CommentStatus.HIDDEN, 0)] * 26
    assert others == [(CommentStatus.VISIBLE, 1)] * 6
    assert await service.comment_count(article.id) == 10
    # Full now: the next one is held, whoever writes it; a minute later the chat is open.
    assert await by("fay") == (CommentStatus.HIDDEN, 0)
    clock.advance(61)
    assert await by("fay") == (CommentStatus.VISIBLE, 1)


async def test_web_comments_over_the_limit_leave_the_page_to_the_others(store: Store) -> None:
    service = NewsService(store, intake=IntakeLimits(per_author=3, per_chat=8, window=60))
    article = await publish(service)
    async with web_client(service, rate_limit=100) as client:
        for n in range(10):  # one browser (one session): one author
            posted = await post_comment(client, article.id, "Mallory", f"flood {n}")
            # Over the author's limit: held for moderators, and the reader is told so (202,
            # their text kept in the form) rather than sent to a page without it.
            assert posted.status == (303 if n < 3 else 202)
        for name in ("Nina", "Omar", "Pia"):
            client.session.cookie_jar.clear()  # another reader's browser
            assert (
                await post_comment(client, article.id, name, f"hello from {name}")
            ).status == 303
        page = await (await client.get(f"/articles/{article.id}")).text()
    thread = await service.thread(ArticleId(article.id))
    shown = [n.comment.text for n in thread.comments]
    assert shown == [f"flood {n}" for n in range(3)] + [
        f"hello from {name}" for name in ("Nina", "Omar", "Pia")
    ]
    for text in shown:
        assert text in page
    assert "flood 3" not in page
