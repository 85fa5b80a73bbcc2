"""Edits of mirrored comments are held and paced like new comments (issue 16, item 12).

The store keeps an edit's copies from going out before the time the service gives (the
moderation hold, or the intake pace), whatever state each copy is in; the service holds
edits ``mirror_delay`` seconds and counts them against the intake limits. Real SQLite files
and real PostgreSQL; the end-to-end tests through the fakes are in test_comment_edits_e2e.
"""

from __future__ import annotations

from newsbot import (
    Actor,
    Author,
    CommentStatus,
    DeliveryOp,
    DeliveryState,
    DestinationKind,
    IntakeLimits,
    MessageRef,
    NewDestination,
    NewsService,
    Platform,
    Posted,
)
from newsbot.models import DeliveryStatus, Job
from newsbot.ports import Store
from tests.conftest import ADMIN, FakeClock, draft
from tests.pg import BOTH
from tests.storage.test_store_contract import article, at, comment, dest

STORE_BACKENDS = ("memory", *BOTH)

TG = Platform.TELEGRAM


async def claim_all(store: Store, when: float) -> list[Job]:
    return await store.claim_deliveries(TG, at(when), 50, worker="w")


async def mirror_of(store: Store, comment_id: int) -> DeliveryStatus:
    (status,) = await store.deliveries_for_comment(comment_id)  # type: ignore[arg-type]
    return status


async def test_an_edit_of_a_sent_copy_waits_until_its_due_time(store: Store) -> None:
    here, there = await dest(store, "-1"), await dest(store, "-2")
    article_id = await article(store, here, there)
    c, _ = await store.add_comment(comment(article_id, "1"), mirror_to=[there])
    jobs = await claim_all(store, 2)
    for job in jobs:
        await store.complete_delivery(job.delivery, Posted(f"m{job.delivery.id}"), at(3))
    await store.edit_comment(c.id, "spam", at(10), due=at(40))
    status = await mirror_of(store, c.id)
    assert (status.delivery.op, status.delivery.state) == (DeliveryOp.EDIT, DeliveryState.PENDING)
    assert status.delivery.next_attempt_at == at(40)
    assert await claim_all(store, 39) == []
    (job,) = await claim_all(store, 40)
    assert job.delivery.op is DeliveryOp.EDIT and job.comment is not None
    assert job.comment.text == "spam"


async def test_a_copy_not_yet_posted_waits_for_the_latest_edit(store: Store) -> None:
    """The comment was held before its first mirroring; an edit in the hold extends it."""
    here, there = await dest(store, "-1"), await dest(store, "-2")
    article_id = await article(store, here, there)
    for job in await claim_all(store, 0):
        await store.complete_delivery(job.delivery, Posted(f"a{job.delivery.id}"), at(0))
    c, _ = await store.add_comment(comment(article_id, "1"), mirror_to=[there], mirror_due=at(31))
    await store.edit_comment(c.id, "spam", at(30), due=at(60))
    status = await mirror_of(store, c.id)
    assert status.delivery.op is DeliveryOp.POST and status.delivery.next_attempt_at == at(60)
    # An earlier due time never brings it forward.
    await store.edit_comment(c.id, "spam again", at(31), due=at(31))
    assert (await mirror_of(store, c.id)).delivery.next_attempt_at == at(60)
    assert await claim_all(store, 59) == []
    (job,) = await claim_all(store, 60)
    assert job.delivery.op is DeliveryOp.POST and job.comment is not None
    assert job.comment.text == "spam again"


async def test_a_copy_being_sent_is_sent_again_no_sooner_than_due(store: Store) -> None:
    here, there = await dest(store, "-1"), await dest(store, "-2")
    article_id = await article(store, here, there)
    c, _ = await store.add_comment(comment(article_id, "1"), mirror_to=[there])
    jobs = await claim_all(store, 2)
    in_flight = next(j for j in jobs if j.delivery.comment_id == c.id)
    for job in jobs:
        if job is not in_flight:
            await store.complete_delivery(job.delivery, Posted(f"a{job.delivery.id}"), at(2))
    await store.edit_comment(c.id, "spam", at(3), due=at(33))
    await store.complete_delivery(in_flight.delivery, Posted("m1"), at(4))
    status = await mirror_of(store, c.id)
    assert (status.delivery.op, status.delivery.state) == (DeliveryOp.EDIT, DeliveryState.PENDING)
    assert status.delivery.next_attempt_at == at(33)
    # A failed send of it is retried no sooner either, nor is a claim given back.
    (job,) = await claim_all(store, 33)
    await store.edit_comment(c.id, "spam 2", at(34), due=at(64))
    await store.retry_delivery(job.delivery, "502", at(35), at(35))
    assert (await mirror_of(store, c.id)).delivery.next_attempt_at == at(64)
    (job,) = await claim_all(store, 64)
    await store.edit_comment(c.id, "spam 3", at(65), due=at(95))
    assert await store.release_claims("w") == 1
    assert (await mirror_of(store, c.id)).delivery.next_attempt_at == at(95)


async def test_a_moderator_delete_is_never_held(store: Store) -> None:
    here, there = await dest(store, "-1"), await dest(store, "-2")
    article_id = await article(store, here, there)
    c, _ = await store.add_comment(comment(article_id, "1"), mirror_to=[there])
    jobs = await claim_all(store, 2)
    for job in jobs:
        await store.complete_delivery(job.delivery, Posted(f"m{job.delivery.id}"), at(3))
    await store.edit_comment(c.id, "spam", at(10), due=at(40))
    await store.set_comment_status(c.id, CommentStatus.DELETED, at(11))
    (job,) = await claim_all(store, 11)
    assert job.delivery.op is DeliveryOp.DELETE
    # Deleted while an edit was being sent: the delete follows at once, not at the hold.
    c2, _ = await store.add_comment(comment(article_id, "2"), mirror_to=[there])
    (post,) = await claim_all(store, 12)
    await store.complete_delivery(post.delivery, Posted("m2"), at(13))
    await store.edit_comment(c2.id, "spam", at(14), due=at(14))
    (edit,) = await claim_all(store, 14)
    await store.edit_comment(c2.id, "worse", at(15), due=at(45))
    await store.set_comment_status(c2.id, CommentStatus.DELETED, at(16))
    await store.complete_delivery(edit.delivery, None, at(17))
    status = await mirror_of(store, c2.id)
    assert status.delivery.op is DeliveryOp.DELETE and status.delivery.next_attempt_at == at(17)


async def test_an_edit_without_a_due_time_goes_at_once(store: Store) -> None:
    here, there = await dest(store, "-1"), await dest(store, "-2")
    article_id = await article(store, here, there)
    c, _ = await store.add_comment(comment(article_id, "1"), mirror_to=[there])
    for job in await claim_all(store, 2):
        await store.complete_delivery(job.delivery, Posted(f"m{job.delivery.id}"), at(3))
    await store.edit_comment(c.id, "typo fixed", at(10))
    assert (await mirror_of(store, c.id)).delivery.next_attempt_at == at(10)


# -- the service --------------------------------------------------------------------------


class Mirrored:
    """A service whose comments in chat -1 are mirrored to chat -2, with a fake clock."""

    def __init__(self, store: Store, **options: object) -> None:
        self.store = store
        self.clock = FakeClock()
        self.service = NewsService(
            store,
            admins={TG: {"42"}},
            clock=self.clock,
            **options,  # type: ignore[arg-type]
        )
        self.post = MessageRef(TG, "-1", "post")

    async def setup(self) -> None:
        for chat in ("-1", "-2"):
            await self.service.subscribe(ADMIN, NewDestination(TG, chat, DestinationKind.GROUP))
        await self.service.publish(ADMIN, draft())
        await self.send_due()

    async def send_due(self) -> list[Job]:
        """Claim and complete everything due now, as a dispatcher would."""
        jobs = await self.store.claim_deliveries(TG, self.clock.now(), 50, worker="w")
        for job in jobs:
            ref = MessageRef(TG, job.destination.chat_id, f"m{job.delivery.id}")
            if job.comment is None:
                ref = MessageRef(TG, job.destination.chat_id, "post")
            await self.store.complete_delivery(
                job.delivery, Posted(ref.message_id, links=(ref,)), self.clock.now()
            )
        return jobs

    async def reply(self, n: int, user: str = "7") -> MessageRef:
        source = MessageRef(TG, "-1", f"r{n}")
        stored = await self.service.record_reply(
            reply_to=self.post,
            source=source,
            author=Author(f"user {user}", TG, user),
            text=f"reply {n}",
        )
        assert stored is not None
        return source

    async def due_of(self, source: MessageRef) -> float | None:
        comment = await self.store.get_comment_by_source(source)
        assert comment is not None
        (status,) = await self.store.deliveries_for_comment(comment.id)
        due = status.delivery.next_attempt_at
        return None if due is None else (due - self.clock.now()).total_seconds()


async def test_edits_are_held_like_new_comments(store: Store) -> None:
    m = Mirrored(store, mirror_delay=30)
    await m.setup()
    source = await m.reply(1)
    assert await m.due_of(source) == 30  # the comment itself is held
    m.clock.advance(30)
    assert [j.comment.text for j in await m.send_due() if j.comment] == ["reply 1"]
    # Innocent text mirrored; then edited into spam: the copies wait the same hold.
    await m.service.edit_comment(source, "buy now at spam.example")
    assert await m.due_of(source) == 30
    m.clock.advance(29)
    assert await m.send_due() == []
    comment = await store.get_comment_by_source(source)
    assert comment is not None
    await m.service.delete_comment(Actor.operator(), comment.id)
    m.clock.advance(1)
    ops = [(j.delivery.op, j.comment.text if j.comment else "") for j in await m.send_due()]
    assert ops == [(DeliveryOp.DELETE, "buy now at spam.example")]  # deleted, never edited


async def test_edits_count_against_the_intake_limits_and_are_paced(store: Store) -> None:
    m = Mirrored(store, intake=IntakeLimits(per_author=3, per_chat=60, window=60))
    await m.setup()
    source = await m.reply(1)  # one of the author's three
    await m.send_due()
    for n in range(2):  # two more: at once
        await m.service.edit_comment(source, f"edit {n}")
        assert await m.due_of(source) == 0
        assert len(await m.send_due()) == 1
    for n in range(2, 30):  # over the limit: the copies get the latest text a window later
        m.clock.advance(0.5)
        await m.service.edit_comment(source, f"edit {n}")
        assert await m.due_of(source) == 60
        assert await m.send_due() == []
    m.clock.advance(60)
    assert [j.comment.text for j in await m.send_due() if j.comment] == ["edit 29"]
    # The edits held back took nobody's place: a new reply of the author is accepted.
    fresh = await m.reply(2)
    comment = await store.get_comment_by_source(fresh)
    assert comment is not None and comment.status is CommentStatus.VISIBLE


async def test_edits_of_comments_without_copies_count_against_nothing(store: Store) -> None:
    m = Mirrored(store, intake=IntakeLimits(per_author=3, per_chat=60, window=60))
    await m.setup()
    for n in range(3):
        await m.reply(n)
    hidden = await m.reply(3)  # over the author's limit: stored hidden, without copies
    m.clock.advance(61)
    for n in range(5):
        edited = await m.service.edit_comment(hidden, f"still hidden {n}")
        assert edited is not None and edited.status is CommentStatus.HIDDEN
        assert edited.text == f"still hidden {n}"
    assert edited is not None  # as checked in the loop; narrows the type for mypy
    assert await store.deliveries_for_comment(edited.id) == []
    for n in range(4, 7):  # the author's three of this window are all theirs
        comment = await store.get_comment_by_source(await m.reply(n))
        assert comment is not None and comment.status is CommentStatus.VISIBLE
