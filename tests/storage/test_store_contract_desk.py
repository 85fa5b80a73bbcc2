"""The Store contract, the moderation desk: the queue, reports, approvals, the audit log."""

from __future__ import annotations

import asyncio

from newsbot import (
    ArticleId,
    CommentId,
    CommentStatus,
    DeliveryOp,
    DeliveryState,
    Platform,
    Posted,
    Store,
)
from newsbot.intake import held_by
from newsbot.models import CountRefresh
from newsbot.policy import CommentPolicy
from newsbot.review import Decision, Reason, View
from tests.storage.contract_helpers import at, dest, incoming, posted_article

REFRESH = CountRefresh()


async def _held(store: Store, msg: str = "h1", **kw: object) -> tuple[ArticleId, CommentId]:
    """A hidden comment, written in -100 on an article posted to -100, -200 and -300."""
    article_id, refs = await posted_article(store, "-100", "-200", "-300")
    result = await store.ingest_comment(incoming(msg, refs["-100"], hidden=True, **kw))
    assert result is not None and result[0].status is CommentStatus.HIDDEN
    assert held_by(result) == ""  # hidden by the service: the intake held it for nothing
    return article_id, result[0].id


async def test_held_comment_is_queued_with_its_reasons(backend: Store) -> None:
    _, comment_id = await _held(backend)
    await backend.hold_comment(comment_id, [Reason.AUTHOR], at(10))
    await backend.hold_comment(comment_id, [Reason.WORDS, Reason.AUTHOR], at(11))
    item = await backend.review_item(comment_id)
    assert item is not None
    assert item.reasons == ("author", "words")
    assert item.entered_at == at(10) and item.decision is Decision.OPEN
    assert item.comment.id == comment_id and item.comment.status is CommentStatus.HIDDEN
    held = await backend.review_queue(View.HELD, 10)
    assert [i.comment.id for i in held] == [comment_id]
    assert await backend.review_queue(View.REPORTED, 10) == []
    assert await backend.review_item(CommentId(comment_id + 1000)) is None


async def test_release_shows_and_mirrors_once(two_handles: tuple[Store, Store]) -> None:
    first, second = two_handles
    _, comment_id = await _held(first, mirror=True)
    assert await first.deliveries_for_comment(comment_id) == []
    # Two workers approve at once: one of them releases it.
    released = await asyncio.gather(
        first.release_comment(comment_id, at(20), at(20)),
        second.release_comment(comment_id, at(20), at(20)),
    )
    assert sum(r is not None for r in released) == 1
    shown = next(r for r in released if r is not None)
    assert shown.status is CommentStatus.VISIBLE
    mirrors = await first.deliveries_for_comment(comment_id)
    assert sorted(m.destination.chat_id for m in mirrors) == ["-200", "-300"]
    assert {m.delivery.op for m in mirrors} == {DeliveryOp.POST}
    assert {m.delivery.next_attempt_at for m in mirrors} == {at(20)}
    assert await first.release_comment(comment_id, at(21), at(21)) is None
    assert len(await first.deliveries_for_comment(comment_id)) == 2


async def test_release_without_mirror_enqueues_nothing(backend: Store) -> None:
    _, comment_id = await _held(backend)
    shown = await backend.release_comment(comment_id, at(20), at(20), mirror=False)
    assert shown is not None and shown.status is CommentStatus.VISIBLE
    assert await backend.deliveries_for_comment(comment_id) == []


async def test_hide_then_release_posts_the_copies_again(backend: Store) -> None:
    _, comment_id = await _held(backend)
    await backend.release_comment(comment_id, at(20), at(20))
    for job in await backend.claim_deliveries(Platform.TELEGRAM, at(21), 100):
        await backend.complete_delivery(job.delivery, Posted(f"m{job.delivery.id}"), at(21))
    await backend.set_comment_status(comment_id, CommentStatus.HIDDEN, at(22))
    for job in await backend.claim_deliveries(Platform.TELEGRAM, at(23), 100):
        assert job.delivery.op is DeliveryOp.DELETE
        await backend.complete_delivery(job.delivery, None, at(23))
    again = await backend.release_comment(comment_id, at(24), at(24))
    assert again is not None
    mirrors = await backend.deliveries_for_comment(comment_id)
    assert len(mirrors) == 2
    assert {(m.delivery.op, m.delivery.state) for m in mirrors} == {
        (DeliveryOp.POST, DeliveryState.PENDING)
    }
    assert {m.delivery.message_id for m in mirrors} == {None}
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(25), 100)
    assert len(jobs) == 2 and {j.delivery.op for j in jobs} == {DeliveryOp.POST}


async def test_release_of_a_visible_or_unpublished_comment_does_nothing(backend: Store) -> None:
    article_id, comment_id = await _held(backend)
    await backend.retract_article(article_id, at(15))
    assert await backend.release_comment(comment_id, at(20), at(20)) is None
    got = await backend.get_comment(comment_id)
    assert got is not None and got.status is CommentStatus.HIDDEN


async def test_reports_add_up_once_per_reader(backend: Store) -> None:
    _, refs = await posted_article(backend, "-100")
    result = await backend.ingest_comment(incoming("r1", refs["-100"]))
    assert result is not None
    comment_id = result[0].id
    assert await backend.report_comment(comment_id, "web:a", "spam", at(10)) == 1
    assert await backend.report_comment(comment_id, "web:a", "again", at(11)) == 1
    assert await backend.report_comment(comment_id, "telegram:5", "rude", at(12)) == 2
    item = await backend.review_item(comment_id)
    assert item is not None
    assert item.reasons == ("reported",) and item.reports == 2
    assert item.report_reasons == ("spam", "rude")
    reported = await backend.review_queue(View.REPORTED, 10)
    assert [i.comment.id for i in reported] == [comment_id]
    assert await backend.review_queue(View.HELD, 10) == []  # still visible


async def test_decisions_move_items_to_recent_and_reopen(backend: Store) -> None:
    _, comment_id = await _held(backend)
    await backend.hold_comment(comment_id, [Reason.CHAT], at(10))
    assert await backend.decide_review(comment_id, Decision.HIDDEN, "web:admin", at(30))
    assert not await backend.decide_review(comment_id, Decision.HIDDEN, "web:admin", at(31))
    assert await backend.review_queue(View.HELD, 10) == []
    recent = await backend.review_queue(View.RECENT, 10)
    assert [(i.comment.id, i.decision, i.decided_by) for i in recent] == [
        (comment_id, Decision.HIDDEN, "web:admin")
    ]
    assert recent[0].decided_at == at(30)
    assert await backend.decide_review(comment_id, Decision.OPEN, "web:admin", at(32))
    item = await backend.review_item(comment_id)
    assert item is not None and item.decision is Decision.OPEN and item.decided_by is None
    assert [i.comment.id for i in await backend.review_queue(View.HELD, 10)] == [comment_id]
    # A new reason reopens a decided item.
    await backend.decide_review(comment_id, Decision.APPROVED, "cli:", at(33))
    await backend.hold_comment(comment_id, [Reason.WORDS], at(34))
    item = await backend.review_item(comment_id)
    assert item is not None and item.decision is Decision.OPEN
    assert item.reasons == ("chat", "words")


async def test_decision_on_an_unqueued_comment_makes_an_item(backend: Store) -> None:
    _, refs = await posted_article(backend, "-100")
    result = await backend.ingest_comment(incoming("v1", refs["-100"]))
    assert result is not None
    assert await backend.decide_review(result[0].id, Decision.HIDDEN, "cli:", at(9))
    item = await backend.review_item(result[0].id)
    assert item is not None and item.reasons == () and item.decision is Decision.HIDDEN


async def test_held_view_is_oldest_first_and_limited(backend: Store) -> None:
    _, refs = await posted_article(backend, "-100")
    ids = []
    for n in range(5):
        result = await backend.ingest_comment(incoming(f"q{n}", refs["-100"], hidden=True))
        assert result is not None
        ids.append(result[0].id)
        await backend.hold_comment(result[0].id, [Reason.AUTHOR], at(100 - n))
    held = await backend.review_queue(View.HELD, 3)
    assert [i.comment.id for i in held] == list(reversed(ids))[:3]


async def test_audit_log_newest_first(backend: Store) -> None:
    _, comment_id = await _held(backend)
    await backend.add_audit("web:1", "approve", comment_id, "", at(1))
    await backend.add_audit("cli:", "hide", comment_id, "why", at(2))
    log = await backend.audit_log(10)
    assert [(e.actor, e.action, e.comment_id, e.detail, e.at) for e in log] == [
        ("cli:", "hide", comment_id, "why", at(2)),
        ("web:1", "approve", comment_id, "", at(1)),
    ]
    assert log[0].id > log[1].id
    assert len(await backend.audit_log(1)) == 1


async def test_story_policy_is_kept_and_cleared(backend: Store) -> None:
    article_id, _ = await posted_article(backend, "-100")
    assert await backend.get_policy(article_id) is None
    await backend.set_policy(article_id, CommentPolicy.CLOSED, at(1))
    await backend.set_policy(article_id, CommentPolicy.PREMODERATED, at(2))
    assert await backend.get_policy(article_id) is CommentPolicy.PREMODERATED
    await backend.set_policy(article_id, None, at(3))
    assert await backend.get_policy(article_id) is None


async def test_ingest_meets_the_story_policy(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-100", "-200")
    await backend.set_policy(article_id, CommentPolicy.CLOSED, at(1))
    closed = await backend.ingest_comment(incoming("c1", refs["-100"], count_refresh=REFRESH))
    assert closed is not None and closed[0].status is CommentStatus.HIDDEN
    assert held_by(closed) == "closed"  # the answer says why: the desk asks nothing again
    assert await backend.deliveries_for_comment(closed[0].id) == []
    await backend.set_policy(article_id, CommentPolicy.PREMODERATED, at(2))
    held = await backend.ingest_comment(incoming("c2", refs["-100"]))
    assert held is not None and held[0].status is CommentStatus.HIDDEN
    assert held_by(held) == "premoderated"
    assert await backend.deliveries_for_comment(held[0].id) == []
    again = await backend.ingest_comment(incoming("c2", refs["-100"]))
    assert again == (held[0], False) and held_by(again) == ""  # stored before: not held now
    await backend.set_policy(article_id, CommentPolicy.OPEN, at(3))
    # Its own open policy wins over a closed default and the automatic close.
    shown = await backend.ingest_comment(
        incoming("c3", refs["-100"], policy=CommentPolicy.CLOSED, close_before=at(100))
    )
    assert shown is not None and shown[0].status is CommentStatus.VISIBLE
    assert held_by(shown) == ""
    assert len(await backend.deliveries_for_comment(shown[0].id)) == 1
    assert await backend.count_comments(article_id) == 1
    # Without one: the default, and the automatic close for articles published before.
    await backend.set_policy(article_id, None, at(4))
    defaulted = await backend.ingest_comment(
        incoming("c4", refs["-100"], policy=CommentPolicy.PREMODERATED)
    )
    assert defaulted is not None and defaulted[0].status is CommentStatus.HIDDEN
    assert held_by(defaulted) == "premoderated"
    old = await backend.ingest_comment(incoming("c5", refs["-100"], close_before=at(100)))
    assert old is not None and old[0].status is CommentStatus.HIDDEN
    assert held_by(old) == "closed"
    young = await backend.ingest_comment(incoming("c6", refs["-100"], close_before=at(-100)))
    assert young is not None and young[0].status is CommentStatus.VISIBLE


async def test_release_refreshes_the_posts_counts(backend: Store) -> None:
    _, comment_id = await _held(backend)
    shown = await backend.release_comment(
        comment_id, at(400), at(400), mirror=False, count_refresh=CountRefresh(60.0, 3.0)
    )
    assert shown is not None
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(500), 100)
    assert sorted(j.destination.chat_id for j in jobs) == ["-100", "-200", "-300"]
    assert {j.delivery.op for j in jobs} == {DeliveryOp.EDIT}
    assert {j.delivery.comment_id for j in jobs} == {None}


async def test_concurrent_reports_of_one_comment_all_count(
    two_handles: tuple[Store, Store],
) -> None:
    first, second = two_handles
    _, refs = await posted_article(first, "-100")
    result = await first.ingest_comment(incoming("cc", refs["-100"]))
    assert result is not None
    comment_id = result[0].id
    await asyncio.gather(
        *(
            (first if n % 2 else second).report_comment(comment_id, f"r{n}", "spam", at(n))
            for n in range(6)
        ),
        first.hold_comment(comment_id, [Reason.WORDS], at(3)),
    )
    item = await first.review_item(comment_id)
    assert item is not None and item.reports == 6
    assert sorted(item.reasons) == ["reported", "words"]


async def test_refresh_posts_edits_the_sent_posts_and_resends_those_in_flight(
    backend: Store,
) -> None:
    """Closing or reopening a story edits its posts (``newsbot.closing``): the sent ones are
    queued as edits at the count's pace, and one being sent goes again once done."""
    article_id, _refs = await posted_article(backend, "-100", "-200")
    other = await dest(backend, "-300")
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(3), 100) == []
    queued = await backend.refresh_posts(article_id, CountRefresh(60.0, 3.0), at(400))
    assert queued == 2
    # One edit is claimed (in flight) when the story changes again.
    first, second = await backend.claim_deliveries(Platform.TELEGRAM, at(500), 100)
    assert {first.delivery.op, second.delivery.op} == {DeliveryOp.EDIT}
    await backend.complete_delivery(second.delivery, None, at(501))
    assert await backend.refresh_posts(article_id, CountRefresh(0.0, 100.0), at(502)) == 1
    await backend.complete_delivery(first.delivery, None, at(503))  # older generation
    again = await backend.claim_deliveries(Platform.TELEGRAM, at(600), 100)
    assert sorted(j.destination.chat_id for j in again) == ["-100", "-200"]
    assert all(j.destination.id != other for j in again)
    # A story without posts queues nothing.
    assert await backend.refresh_posts(ArticleId(999), CountRefresh(), at(700)) == 0
