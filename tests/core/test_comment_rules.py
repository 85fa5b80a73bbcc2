"""The core's comment rules as pure functions: what becomes of a batch (``newsbot.intake``)
and where copies go and land (``newsbot.mirroring``), with no store at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from newsbot import intake, mirroring
from newsbot.intake import Accepted, ArticlePost, Known, Lineage, Lookups, Repeat
from newsbot.models import (
    ArticleId,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    CountRefresh,
    DeliveryId,
    Destination,
    DestinationId,
    DestinationKind,
    IncomingComment,
    MessageLink,
    MessageRef,
    Platform,
)

TG, DC = Platform.TELEGRAM, Platform.DISCORD
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A1 = ArticleId(1)
CHANNEL, GROUP, THREADED = DestinationId(1), DestinationId(2), DestinationId(3)
POSTS = [
    ArticlePost(DeliveryId(11), CHANNEL, TG, "-100", None, True, True, T0),
    ArticlePost(DeliveryId(12), GROUP, TG, "-200", None, True, True, T0),
    ArticlePost(DeliveryId(13), THREADED, DC, "c1", "th1", True, False, T0),
]
POST_LINKS = [  # the channel's post, its copy in the discussion group -300, Discord's thread
    MessageLink(MessageRef(TG, "-100", "p1"), A1, None, CHANNEL),
    MessageLink(MessageRef(TG, "-200", "p2"), A1, None, GROUP),
    MessageLink(MessageRef(TG, "-300", "copy"), A1, None, CHANNEL),
    MessageLink(MessageRef(DC, "th1", "th1"), A1, None, THREADED),
]


def ref(chat: str, message: str, platform: Platform = TG) -> MessageRef:
    return MessageRef(platform, chat, message)


def web(message: str) -> MessageRef:
    return MessageRef(Platform.WEB, "1", message)


def item(source: MessageRef, reply_to: MessageRef | None = None, **kw: Any) -> IncomingComment:
    kw.setdefault("author", Author("Rita", source.platform, "7"))
    return IncomingComment(source=source, text="hi", created_at=T0, reply_to=reply_to, **kw)


def lookups(**kw: Any) -> Lookups:
    values: dict[str, Any] = {
        "next_id": 100,
        "stored": {},
        "banned": set(),
        "links": {link.ref: link for link in POST_LINKS},
        "published": {A1},
        "posts": {A1: POSTS},
        "post_links": {A1: POST_LINKS},
        "post_counts": {A1: 3},
        "parents": {},
    }
    return Lookups(**(values | kw))


def accepted(plan: intake.Plan, index: int) -> Accepted:
    outcome = plan.outcomes[index]
    assert isinstance(outcome, Accepted), outcome
    return outcome


def test_new_comments_are_numbered_on_and_answered() -> None:
    batch = [item(ref("-100", "1"), ref("-100", "p1")), item(ref("-200", "2"), ref("-200", "p2"))]
    plan = intake.decide(batch, lookups())
    assert [a.id for a in plan.accepted] == [100, 101]
    answers = intake.results(batch, plan.outcomes)
    assert [(a[0].id, a[0].article_id, a[0].parent_id, a[1]) for a in answers if a] == [
        (100, A1, None, True),
        (101, A1, None, True),
    ]


def test_a_message_seen_before_or_twice_is_stored_once() -> None:
    old = Comment(
        CommentId(5), A1, None, Author("R", TG, "7"), "old", ref("-100", "1"),
        CommentStatus.VISIBLE, T0,
    )  # fmt: skip
    batch = [
        item(ref("-100", "1"), ref("-100", "p1")),
        item(ref("-100", "2"), ref("-100", "p1")),
        item(ref("-100", "2"), ref("-100", "p1")),
    ]
    plan = intake.decide(batch, lookups(stored={old.source: old}))
    assert plan.outcomes[0] == Known(old) and plan.outcomes[2] == Repeat(1)
    assert len(plan.accepted) == 1
    answers = intake.results(batch, plan.outcomes)
    assert answers[0] == (old, False)
    assert answers[1] is not None and answers[1][1] and answers[2] == (answers[1][0], False)


def test_banned_unknown_and_unpublished_are_dropped() -> None:
    banned = item(ref("-100", "1"), ref("-100", "p1"), author=Author("B", TG, "66"))
    unknown = item(ref("-100", "2"), ref("-100", "nope"))
    elsewhere = item(web("2"), article_id=ArticleId(2))
    plan = intake.decide([banned, unknown, elsewhere], lookups(banned={("telegram", "66")}))
    assert plan.outcomes == [None, None, None] and plan.accepted == []


def test_replies_inside_a_batch_find_their_parents_and_root() -> None:
    first = item(ref("-100", "1"), ref("-100", "p1"))
    second = item(ref("-100", "2"), first.source)
    third = item(ref("-100", "3"), second.source)
    plan = intake.decide([first, second, third], lookups())
    assert [(a.id, a.parent_id, a.root_id) for a in plan.accepted] == [
        (100, None, None),
        (101, 100, 100),
        (102, 101, 100),
    ]


def test_a_parent_outside_the_article_is_forgotten() -> None:
    from_web = item(web("1"), article_id=A1, parent_id=CommentId(7))
    plan = intake.decide(
        [from_web], lookups(parents={CommentId(7): Lineage(ArticleId(2), CommentId(7))})
    )
    assert accepted(plan, 0).parent_id is None and accepted(plan, 0).root_id is None
    plan = intake.decide([from_web], lookups(parents={CommentId(7): Lineage(A1, CommentId(3))}))
    assert (accepted(plan, 0).parent_id, accepted(plan, 0).root_id) == (7, 3)


def test_a_comment_is_never_mirrored_where_it_was_written() -> None:
    batch = [
        item(ref("-100", "1"), ref("-100", "p1")),  # in the channel itself
        item(ref("-300", "2"), ref("-300", "copy")),  # in its discussion group
        item(ref("-300", "3"), ref("-300", "2")),  # a reply there to a reader's comment
        item(ref("th1", "4", DC), ref("th1", "th1", DC)),  # in the post's Discord thread
        item(web("5"), article_id=A1),  # on the web
    ]
    plan = intake.decide(batch, lookups())
    assert [a.mirror_to for a in plan.accepted] == [
        (GROUP, THREADED),
        (GROUP, THREADED),
        (GROUP, THREADED),
        (CHANNEL, GROUP),
        (CHANNEL, GROUP, THREADED),
    ]


def test_hidden_or_unmirrored_comments_go_nowhere_and_inactive_chats_get_nothing() -> None:
    posts = [POSTS[0], replace(POSTS[1], active=False)]
    batch = [
        item(web("1"), article_id=A1, hidden=True, count_refresh=CountRefresh()),
        item(web("2"), article_id=A1, mirror=False),
        item(web("3"), article_id=A1, mirror_due=T0 + timedelta(minutes=5)),
    ]
    plan = intake.decide(batch, lookups(posts={A1: posts}))
    assert [a.mirror_to for a in plan.accepted] == [(), (), (CHANNEL,)]
    assert accepted(plan, 0).hidden and plan.refreshes == []
    assert accepted(plan, 2).mirror_due == T0 + timedelta(minutes=5)
    answers = intake.results(batch, plan.outcomes)
    assert answers[0] is not None and answers[0][0].status is CommentStatus.HIDDEN


def test_counts_refresh_once_per_article_at_the_pace_given() -> None:
    pace = CountRefresh(min_interval=60, per_second=0.01)  # 3 posts: every 300 s at most
    batch = [item(web(str(n)), article_id=A1, count_refresh=pace) for n in range(3)]
    plan = intake.decide(batch, lookups())
    (refresh,) = plan.refreshes
    assert refresh.interval == timedelta(seconds=300)
    assert [p.delivery_id for p in refresh.posts] == [11, 12]  # the Discord post is unsettled
    assert refresh.due(POSTS[0]) == T0 + timedelta(seconds=300)
    late = replace(POSTS[0], updated_at=T0 - timedelta(hours=1))
    assert refresh.due(late) == T0  # not before the comment itself


def test_needs_names_each_key_once() -> None:
    batch = [
        item(ref("-100", "1"), ref("-100", "p1")),
        item(ref("-100", "1"), ref("-100", "p1")),
        item(web("2"), article_id=A1, parent_id=CommentId(9)),
    ]
    needs = intake.needs(batch)
    assert needs.sources == [ref("-100", "1"), web("2")]
    assert needs.replies == {ref("-100", "p1")} and needs.authors == {
        ("telegram", "7"),
        ("web", "7"),
    }
    link = MessageLink(ref("-100", "c"), ArticleId(4), CommentId(8))
    assert needs.then([link]) == ({A1, ArticleId(4)}, {CommentId(8), CommentId(9)})


# -- where a mirrored copy lands --------------------------------------------------------------


def destination(id_: int, platform: Platform, chat: str) -> Destination:
    return Destination(DestinationId(id_), platform, chat, None, "", DestinationKind.CHANNEL, True)


def comment(chat: str, message: str, parent: int | None = None) -> Comment:
    return Comment(
        CommentId(50), A1, None if parent is None else CommentId(parent), Author("R", TG, "7"),
        "hi", ref(chat, message), CommentStatus.VISIBLE, T0,
    )  # fmt: skip


def test_a_copy_lands_under_the_discussion_copy_and_answers_natively_there() -> None:
    channel = destination(CHANNEL, TG, "-100")
    copy = mirroring.discussion_copy(channel, None, POST_LINKS)
    assert copy == ref("-300", "copy")
    assert mirroring.discussion_copy(destination(GROUP, TG, "-200"), None, POST_LINKS) is None
    assert mirroring.reply_target(channel, "p1", None, copy, None, None) == "copy"
    parent_here = comment("-300", "41")
    assert mirroring.reply_target(channel, "p1", None, copy, parent_here, "99") == "41"
    parent_elsewhere = comment("c1", "42")
    assert mirroring.reply_target(channel, "p1", None, copy, parent_elsewhere, "99") == "99"
    assert mirroring.reply_target(channel, "p1", None, copy, parent_elsewhere, None) == "copy"


def test_a_copy_in_a_thread_answers_a_parent_written_in_that_thread() -> None:
    discord = destination(THREADED, DC, "c1")
    parent = Comment(
        CommentId(60), A1, None, Author("D", DC, "6"), "x", ref("th1", "61", DC),
        CommentStatus.VISIBLE, T0,
    )  # fmt: skip
    assert mirroring.reply_target(discord, "m1", "th1", None, parent, None) == "61"
    assert mirroring.reply_target(discord, "m1", "th1", None, None, None) == "m1"


def test_nonces_are_short_and_name_the_post_or_the_comment() -> None:
    posts = {mirroring.nonce(ArticleId(a), None, d) for a in (1, 10**12) for d in (1, 10**6)}
    copies = {mirroring.nonce(A1, CommentId(c), d) for c in (1, 10**12) for d in (1, 10**6)}
    assert len(posts | copies) == 8
    assert all(len(n) <= mirroring.NONCE_MAX for n in posts | copies)
    assert mirroring.nonce(ArticleId(7), CommentId(5), 3) == mirroring.nonce(A1, CommentId(5), 3)
