"""The moderation desk's rules (``newsbot.review``) and use cases (``newsbot.desk``) on real
stores with a recording publisher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsbot import (
    Actor,
    Author,
    CommentId,
    CommentStatus,
    DestinationKind,
    Dispatcher,
    InvalidInput,
    MessageRef,
    NewsService,
    NotFound,
    PermissionDenied,
    Platform,
)
from newsbot.limits import Held, IntakeGate, IntakeLimits
from newsbot.models import Comment
from newsbot.policy import CommentPolicy
from newsbot.ports import Store
from newsbot.review import Action, Decision, DeskSettings, Reason, View, WordList, hold_reasons
from tests.conftest import ADMIN, READER, FakeClock, draft, subscribe
from tests.fakes.publisher import RecordingPublisher
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM


# -- the pure rules ------------------------------------------------------------------------


def test_word_list_matches_whole_words_on_normalised_text() -> None:
    words = WordList.from_text("# comment line\nspam\n\nbuy now\n")
    assert words.keys == ("spam", "buy now")
    for text in (
        "Spam!",
        "so much ＳＰＡＭ here",
        "s.p.a.m",
        "ѕраm",
        "𝐬𝐩𝐚𝐦",
        "BUY   now",
        "<b>spam</b>",
        "buy-now",
    ):
        assert words.match(text) is not None, text
    for text in ("spammer", "aspam", "buy", "now buy", ""):
        assert words.match(text) is None, text
    assert not WordList([]) and WordList.from_text("# only\n").match("only") is None


def test_hold_reasons_combine_limits_words_and_first_time() -> None:
    settings = DeskSettings(words=WordList(["scam"]), first_time=True)
    assert hold_reasons(settings, None, "hello") == ()
    assert hold_reasons(settings, Held.SLOW_MODE, "a SCAM", first_time=True) == (
        Reason.SLOW_MODE,
        Reason.WORDS,
        Reason.FIRST_TIME,
    )
    assert hold_reasons(DeskSettings(), None, "scam", first_time=True) == ()


# -- the use cases -------------------------------------------------------------------------


@pytest.fixture
def flood_service(service: NewsService) -> NewsService:
    service.intake = IntakeLimits(per_author=2, per_chat=0)
    service._intake = IntakeGate(service.intake)
    return service


async def _posted(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> str:
    """An article posted to the groups -1 and -2; the id of its post in -1."""
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    await subscribe(service, "-2", kind=DestinationKind.GROUP)
    await service.publish(ADMIN, draft())
    await dispatcher.drain()
    (call,) = publisher.ops("post", "-1")
    assert call.message_id is not None
    return call.message_id


async def _reply(
    service: NewsService, post: str, n: int, text: str = "hello", user: str = "7"
) -> Comment:
    comment = await service.record_reply(
        reply_to=MessageRef(TG, "-1", post),
        source=MessageRef(TG, "-1", f"m{n}"),
        author=Author("Rita", TG, user),
        text=text,
    )
    assert comment is not None
    return comment


async def test_flood_is_held_then_approved_and_mirrored_once(
    flood_service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    service = flood_service
    post = await _posted(service, dispatcher, publisher)
    flood = [await _reply(service, post, n) for n in range(4)]
    assert [c.status for c in flood] == [CommentStatus.VISIBLE] * 2 + [CommentStatus.HIDDEN] * 2
    held = await service.desk.queue(ADMIN, View.HELD)
    assert [(i.comment.id, i.reasons) for i in held] == [
        (flood[2].id, ("author",)),
        (flood[3].id, ("author",)),
    ]
    await dispatcher.drain()
    assert len(publisher.ops("post", "-2")) == 3  # the article and the two accepted
    outcome = await service.desk.approve(ADMIN, flood[2].id)
    assert outcome.changed and outcome.comment.status is CommentStatus.VISIBLE
    again = await service.desk.approve(ADMIN, flood[2].id)
    assert not again.changed
    await dispatcher.drain()
    copies = [c for c in publisher.ops("post", "-2") if c.job.comment is not None]
    assert [c.job.comment.id for c in copies if c.job.comment] == [
        flood[0].id,
        flood[1].id,
        flood[2].id,
    ]
    assert publisher.ops("post", "-1") and all(
        c.job.comment is None for c in publisher.ops("post", "-1")
    )
    assert [i.comment.id for i in await service.desk.queue(ADMIN, View.HELD)] == [flood[3].id]
    recent = await service.desk.queue(ADMIN, View.RECENT)
    assert [(i.comment.id, i.decision, i.decided_by) for i in recent] == [
        (flood[2].id, Decision.APPROVED, "telegram:42")
    ]
    log = await service.desk.audit(ADMIN)
    assert [(e.actor, e.action, e.comment_id) for e in log] == [
        ("telegram:42", Action.APPROVE, flood[2].id)
    ]


async def test_undo_approve_hides_again_and_requeues(
    flood_service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    service = flood_service
    post = await _posted(service, dispatcher, publisher)
    flood = [await _reply(service, post, n) for n in range(3)]
    await service.desk.approve(ADMIN, flood[2].id)
    await dispatcher.drain()
    undone = await service.desk.undo(ADMIN, flood[2].id)
    assert undone.action is Action.UNDO_APPROVE
    assert undone.comment.status is CommentStatus.HIDDEN
    await dispatcher.drain()
    assert len(publisher.ops("delete", "-2")) == 1
    assert [i.comment.id for i in await service.desk.queue(ADMIN, View.HELD)] == [flood[2].id]
    with pytest.raises(InvalidInput):
        await service.desk.undo(ADMIN, flood[2].id)  # nothing left to undo
    # Approved again, it is posted again.
    await service.desk.approve(ADMIN, flood[2].id)
    await dispatcher.drain()
    copies = [c for c in publisher.ops("post", "-2") if c.job.comment is not None]
    assert [c.job.comment.id for c in copies if c.job.comment].count(flood[2].id) == 2


async def test_hide_and_undo_hide_of_a_visible_comment(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    post = await _posted(service, dispatcher, publisher)
    comment = await _reply(service, post, 1)
    await dispatcher.drain()
    hidden = await service.desk.hide(ADMIN, comment.id)
    assert hidden.comment.status is CommentStatus.HIDDEN and hidden.detail == "was visible"
    await dispatcher.drain()
    assert len(publisher.ops("delete", "-2")) == 1
    assert (await service.thread(comment.article_id)).total == 0
    undone = await service.desk.undo(ADMIN, comment.id)
    assert undone.action is Action.UNDO_HIDE and undone.comment.status is CommentStatus.VISIBLE
    await dispatcher.drain()
    copies = [c for c in publisher.ops("post", "-2") if c.job.comment is not None]
    assert len(copies) == 2
    assert (await service.thread(comment.article_id)).total == 1


async def test_word_list_and_first_time_hold(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    service.desk_settings = DeskSettings(words=WordList(["casino"]), first_time=True)
    post = await _posted(service, dispatcher, publisher)
    first = await _reply(service, post, 1, "hi all")
    assert first.status is CommentStatus.HIDDEN
    await service.desk.approve(ADMIN, first.id)
    second = await _reply(service, post, 2, "hi again")
    assert second.status is CommentStatus.VISIBLE  # no longer a first-timer
    worded = await _reply(service, post, 3, "Best CАSINO in town")
    assert worded.status is CommentStatus.HIDDEN
    item = await service.desk.item(ADMIN, worded.id)
    assert item is not None and item.reasons == ("words",)
    other = await _reply(service, post, 4, "hello", user="8")
    item = await service.desk.item(ADMIN, other.id)
    assert item is not None and item.reasons == ("first time",)


async def test_delete_and_ban_close_the_item(
    flood_service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    service = flood_service
    post = await _posted(service, dispatcher, publisher)
    flood = [await _reply(service, post, n) for n in range(4)]
    deleted = await service.desk.delete(ADMIN, flood[3].id)
    assert deleted.comment.status is CommentStatus.DELETED
    banned = await service.desk.ban(ADMIN, flood[2].id)
    assert banned.detail.startswith("telegram:7 (")
    assert await service.desk.queue(ADMIN, View.HELD) == []
    for c in flood:
        got = await service.store.get_comment(c.id)
        assert got is not None and got.status is CommentStatus.DELETED
    assert await service.store.is_banned(TG, "7")
    assert await _banned_reply(service, post) is None
    actions = [e.action for e in await service.desk.audit(ADMIN)]
    assert actions == [Action.BAN, Action.DELETE]


async def _banned_reply(service: NewsService, post: str) -> Comment | None:
    return await service.record_reply(
        reply_to=MessageRef(TG, "-1", post),
        source=MessageRef(TG, "-1", "after-ban"),
        author=Author("Rita", TG, "7"),
        text="still here",
    )


async def test_reports_add_up_and_hide_at_the_threshold(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    post = await _posted(service, dispatcher, publisher)
    comment = await _reply(service, post, 1)
    for n, who in enumerate(("1", "2", "2")):
        _, count = await service.desk.report(comment.id, Actor(TG, who), f"reason {n}")
    assert count == 2
    reported = await service.desk.queue(ADMIN, View.REPORTED)
    assert [(i.comment.id, i.reports, i.report_reasons) for i in reported] == [
        (comment.id, 2, ("reason 0", "reason 1"))
    ]
    assert reported[0].comment.status is CommentStatus.VISIBLE
    shown, count = await service.desk.report(comment.id, Actor(Platform.WEB, "w:x"), "x\x00y")
    assert count == 3 and shown.status is CommentStatus.HIDDEN
    held = await service.desk.queue(ADMIN, View.HELD)
    assert [(i.comment.id, i.reasons) for i in held] == [(comment.id, ("reported",))]
    with pytest.raises(NotFound):
        await service.desk.report(comment.id, Actor(TG, "9"), "again")
    with pytest.raises(NotFound):
        await service.desk.report(CommentId(9999), Actor(TG, "9"), "none")


async def test_non_admins_are_refused(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    post = await _posted(service, dispatcher, publisher)
    comment = await _reply(service, post, 1)
    for call in (
        service.desk.queue(READER, View.HELD),
        service.desk.approve(READER, comment.id),
        service.desk.hide(READER, comment.id),
        service.desk.delete(READER, comment.id),
        service.desk.ban(READER, comment.id),
        service.desk.undo(READER, comment.id),
        service.desk.audit(READER),
    ):
        with pytest.raises(PermissionDenied):
            await call
    got = await service.store.get_comment(comment.id)
    assert got is not None and got.status is CommentStatus.VISIBLE
    assert await service.store.audit_log(10) == []


# -- comment policies ----------------------------------------------------------------------


async def test_premoderated_story_holds_every_comment_until_approved(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    post = await _posted(service, dispatcher, publisher)
    article_id = (await service.latest()).articles[0].id
    assert await service.desk.policy(article_id) is CommentPolicy.OPEN
    assert (
        await service.desk.set_policy(ADMIN, article_id, CommentPolicy.PREMODERATED)
        is CommentPolicy.PREMODERATED
    )
    held = await _reply(service, post, 1)
    assert held.status is CommentStatus.HIDDEN
    item = await service.desk.item(ADMIN, held.id)
    assert item is not None and item.reasons == ("premoderated",)
    await dispatcher.drain()
    assert [c for c in publisher.ops("post", "-2") if c.job.comment is not None] == []
    await service.desk.approve(ADMIN, held.id)
    await dispatcher.drain()
    assert len([c for c in publisher.ops("post", "-2") if c.job.comment is not None]) == 1
    with pytest.raises(PermissionDenied):
        await service.desk.set_policy(READER, article_id, CommentPolicy.OPEN)


async def test_closed_story_stores_replies_hidden_and_refuses_the_web(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    post = await _posted(service, dispatcher, publisher)
    article_id = (await service.latest()).articles[0].id
    await service.desk.set_policy(ADMIN, article_id, CommentPolicy.CLOSED)
    late = await _reply(service, post, 1)
    assert late.status is CommentStatus.HIDDEN
    item = await service.desk.item(ADMIN, late.id)
    assert item is not None and item.reasons == ("closed",)
    with pytest.raises(InvalidInput, match="closed"):
        await service.add_web_comment(article_id, "Ann", "hi", client_key="k")
    await dispatcher.drain()
    assert [c for c in publisher.ops("post", "-2") if c.job.comment is not None] == []
    # Reopening restores: new comments are shown and mirrored again.
    assert await service.desk.set_policy(ADMIN, article_id, None) is CommentPolicy.OPEN
    fine = await _reply(service, post, 2)
    assert fine.status is CommentStatus.VISIBLE
    await service.add_web_comment(article_id, "Ann", "hi", client_key="k")


async def test_stories_close_by_themselves_after_n_days(
    store: Store, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    service = NewsService(
        store,
        admins={TG: {"42"}},
        clock=clock,
        desk=DeskSettings(close_after=timedelta(days=2)),
    )
    dispatcher = Dispatcher(store, {TG: publisher}, poll_interval=0.05)
    await dispatcher.start()
    try:
        post = await _posted(service, dispatcher, publisher)
        article_id = (await service.latest()).articles[0].id
        clock.advance(2 * 86400 - 60)
        assert (await _reply(service, post, 1)).status is CommentStatus.VISIBLE
        clock.advance(120)
        assert await service.desk.policy(article_id) is CommentPolicy.CLOSED
        late = await _reply(service, post, 2)
        assert late.status is CommentStatus.HIDDEN
        item = await service.desk.item(ADMIN, late.id)
        assert item is not None and item.reasons == ("closed",)
        # An editor reopening an old story keeps it open.
        await service.desk.set_policy(ADMIN, article_id, CommentPolicy.OPEN)
        assert (await _reply(service, post, 3)).status is CommentStatus.VISIBLE
    finally:
        await dispatcher.stop()
