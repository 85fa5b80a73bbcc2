"""The reaction rules (pure): where a reaction lands, changes, counts read back, the tally."""

from __future__ import annotations

from datetime import UTC, datetime

from newsbot.models import ArticleId, CommentId, MessageLink, MessageRef, Platform
from newsbot.reactions import (
    READER_EMOJIS_MAX,
    AnonymousRow,
    MessageReactions,
    ReactionEvent,
    ReactionOp,
    ReaderRow,
    Target,
    decide,
    summary,
    tally,
    web_message,
)

T = datetime(2026, 3, 1, tzinfo=UTC)
A = ArticleId(1)
C = CommentId(9)
POST = MessageRef(Platform.TELEGRAM, "-1", "5")
COPY = MessageLink(MessageRef(Platform.DISCORD, "7", "8"), A, C)


def ev(op: ReactionOp, reader: str = "u", *emojis: str, ref: MessageRef = POST) -> ReactionEvent:
    return ReactionEvent(ref, op, T, reader, emojis)


def test_a_reaction_on_a_mirrored_copy_lands_on_its_comment() -> None:
    plan = decide(ev(ReactionOp.ADD, "u", "👍", ref=COPY.ref), COPY, MessageReactions())
    assert plan is not None and plan.target == Target(A, C) and plan.add == (("u", "👍"),)
    assert decide(ev(ReactionOp.ADD, "u", "👍"), None, MessageReactions()) is None


def test_set_replaces_a_readers_reactions_and_repeats_change_nothing() -> None:
    link = MessageLink(POST, A)
    current = MessageReactions(frozenset({("u", "👍"), ("v", "👍")}))
    plan = decide(ev(ReactionOp.SET, "u", "❤️", "❤️", ""), link, current)
    assert plan is not None and plan.remove == (("u", "👍"),) and plan.add == (("u", "❤️"),)
    assert decide(ev(ReactionOp.SET, "u", "👍"), link, current) is None
    assert decide(ev(ReactionOp.ADD, "u", "👍"), link, current) is None
    assert decide(ev(ReactionOp.REMOVE, "w", "👍"), link, current) is None


def test_the_web_holds_one_reaction_per_reader() -> None:
    target = Target(A)
    ref = web_message(target)
    link = MessageLink(ref, A)
    current = MessageReactions(frozenset({("w", "👍")}))
    event = ReactionEvent(ref, ReactionOp.SET, T, "w", ("😂", "❤️"), target=target)
    plan = decide(event, link, current)
    assert plan is not None and plan.add == (("w", "❤️"),) and plan.remove == (("w", "👍"),)
    add = ReactionEvent(ref, ReactionOp.ADD, T, "w", ("😮",), target=target)
    plan = decide(add, link, current, allowed=("👍", "😮"))
    assert plan is not None and plan.remove == (("w", "👍"),)
    assert decide(add, link, current, allowed=("👍",)) is None


def test_counts_read_back_keep_only_what_readers_do_not_explain() -> None:
    link = MessageLink(POST, A)
    current = MessageReactions(frozenset({("u", "👍")}))
    back = ReactionEvent(
        POST, ReactionOp.COUNTS, T, counts=(("👍", 3), ("🎉", 0)), includes_readers=True
    )
    plan = decide(back, link, current)
    assert plan is not None and plan.anonymous == (("👍", 2),)
    after = MessageReactions(current.readers, {"👍": 2})
    plan = decide(ev(ReactionOp.REMOVE, "x", "👍"), link, after)
    assert plan is not None and plan.anonymous == (("👍", 1),) and not plan.remove
    cleared = decide(ev(ReactionOp.CLEAR, ""), link, after)
    assert cleared is not None and cleared.remove == (("u", "👍"),) and cleared.anonymous == ()


def test_counts_read_back_reconcile_removals_made_unseen() -> None:
    """Read back, a message's counts are its state: an emoji whose count fell below the
    readers known to have it (or that is gone) drops those readers for the bare count."""
    link = MessageLink(POST, A)
    current = MessageReactions(
        frozenset({("u", "👍"), ("v", "👍"), ("v", "🎉"), ("w", "❤️")}), {"🔥": 2}
    )
    back = ReactionEvent(
        POST, ReactionOp.COUNTS, T, counts=(("👍", 1), ("❤️", 3)), includes_readers=True
    )
    plan = decide(back, link, current)
    assert plan is not None
    assert set(plan.remove) == {("u", "👍"), ("v", "👍"), ("v", "🎉")}
    assert plan.add == () and plan.anonymous == (("❤️", 2), ("👍", 1))
    same = MessageReactions(frozenset({("w", "❤️")}), {"❤️": 2, "👍": 1})
    assert decide(back, link, same) is None


def test_a_reader_holds_a_bounded_number_of_reactions() -> None:
    link = MessageLink(POST, A)
    many = frozenset(("u", f"e{i}") for i in range(READER_EMOJIS_MAX))
    assert decide(ev(ReactionOp.ADD, "u", "new"), link, MessageReactions(many)) is None


def test_tally_counts_a_reader_once_per_target_and_leaves_out_bans_and_hidden() -> None:
    tg = Platform.TELEGRAM
    readers = [
        ReaderRow(None, tg, "u", "👍"),
        ReaderRow(None, tg, "u", "👍"),  # the same reader on a copy of the post
        ReaderRow(None, tg, "bad", "👍", banned=True),
        ReaderRow(C, tg, "u", "❤️"),
        ReaderRow(CommentId(10), tg, "u", "❤️"),
    ]
    anonymous = [AnonymousRow(None, tg, "👍", 4), AnonymousRow(CommentId(10), tg, "😂", 2)]
    counts = tally(A, readers, anonymous, hidden=[CommentId(10)])
    assert counts.article.by_emoji() == {"👍": 5}
    assert set(counts.comments) == {C}
    assert counts.everything().total == 6
    assert summary(counts.everything()) == "👍 5 · ❤️ 1"


def test_count_lines_are_refreshed_at_the_comment_count_pace() -> None:
    from datetime import timedelta

    from newsbot.models import CountRefresh
    from newsbot.reactions import refreshes

    pace = CountRefresh(min_interval=60, per_second=1)
    sent, old = T - timedelta(seconds=10), T - timedelta(hours=1)
    posts = [(1, True, sent), (2, False, sent), (3, True, old)]
    assert refreshes(posts, pace, T) == [(1, sent + timedelta(seconds=60)), (3, T)]
    many = [(n, True, old) for n in range(600)]  # 600 posts: 10 minutes apart at 1 a second
    assert refreshes(many, pace, T)[0] == (0, T)
    assert refreshes([(1, True, sent)] * 600, pace, T)[0][1] == sent + timedelta(seconds=600)


def test_the_count_line_total_agrees_with_the_tally() -> None:
    import random

    from newsbot.reactions import total

    rng = random.Random(19)
    for _ in range(200):
        readers = [
            ReaderRow(
                rng.choice([None, C, CommentId(10)]),
                rng.choice([Platform.TELEGRAM, Platform.DISCORD]),
                rng.choice("abc"),
                rng.choice("xy"),
                rng.random() < 0.2,
            )
            for _ in range(rng.randrange(12))
        ]
        anonymous = [
            AnonymousRow(rng.choice([None, C]), Platform.TELEGRAM, "x", rng.randrange(-1, 4))
            for _ in range(rng.randrange(3))
        ]
        hidden = [CommentId(10)] if rng.random() < 0.5 else []
        plain = [(r.comment_id, str(r.platform), r.reader, r.emoji, r.banned) for r in readers]
        counts = [(a.comment_id, a.count) for a in anonymous]
        assert (
            total(plain, counts, hidden) == tally(A, readers, anonymous, hidden).everything().total
        )
