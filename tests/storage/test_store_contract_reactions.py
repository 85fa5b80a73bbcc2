"""The Store contract, reactions: where they land, one per reader, changes, bans, hiding."""

from __future__ import annotations

from newsbot import (
    CommentId,
    CommentStatus,
    CountRefresh,
    DeliveryOp,
    MessageLink,
    MessageRef,
    Platform,
    Store,
)
from newsbot.reactions import ReactionEvent, ReactionOp, Target, web_message
from tests.storage.contract_helpers import T0, at, comment, posted_article

TG, DC, WEB = Platform.TELEGRAM, Platform.DISCORD, Platform.WEB


def ev(
    ref: MessageRef, op: ReactionOp, reader: str = "", *emojis: str, when: float = 10
) -> ReactionEvent:
    return ReactionEvent(ref, op, at(when), reader, emojis)


async def test_reactions_on_posts_and_on_copies_of_a_comment(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1", "-2")
    written, _ = await backend.add_comment(comment(article_id, "c1"))
    copy = MessageRef(TG, "-2", "copy-of-c1")
    assert await backend.add_link(MessageLink(copy, article_id, written.id))
    landed = await backend.record_reactions(
        [
            ev(posts["-1"], ReactionOp.SET, "u1", "👍", "❤️"),
            ev(posts["-2"], ReactionOp.SET, "u2", "👍"),
            ev(written.source, ReactionOp.SET, "u1", "😂"),
            ev(copy, ReactionOp.SET, "u3", "😂"),
            ev(MessageRef(TG, "-9", "unknown"), ReactionOp.SET, "u1", "👍"),
        ]
    )
    article_target = Target(article_id)
    on_comment = Target(article_id, written.id)
    assert landed == [article_target, article_target, on_comment, on_comment, None]
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 2, "❤️": 1}
    assert counts.comments[written.id].by_emoji() == {"😂": 2}
    assert counts.everything().total == 5
    assert counts.article.by_platform() == {TG: 3}
    assert await backend.reaction_totals() == {TG: 5}


async def test_one_per_reader_per_target_and_changes(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1")
    post = posts["-1"]
    copy = MessageRef(TG, "-1001", "auto-forward")
    assert await backend.add_link(MessageLink(copy, article_id))
    # The same reader on the post and on its copy counts once per emoji.
    await backend.record_reactions(
        [ev(post, ReactionOp.SET, "u1", "👍"), ev(copy, ReactionOp.SET, "u1", "👍", "🔥")]
    )
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 1, "🔥": 1}
    # Changed, then removed; a repeat changes nothing.
    assert await backend.record_reactions([ev(post, ReactionOp.SET, "u1", "❤️")]) == [
        Target(article_id)
    ]
    assert await backend.record_reactions([ev(post, ReactionOp.SET, "u1", "❤️")]) == [None]
    await backend.record_reactions([ev(copy, ReactionOp.SET, "u1")])
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"❤️": 1}
    assert await backend.reader_reactions(article_id, TG, "u1") == {None: ("❤️",)}


async def test_add_remove_clear_and_counts_read_back(backend: Store) -> None:
    article_id, _ = await posted_article(backend, "-1")
    post = MessageRef(DC, "55", "777")
    assert await backend.add_link(MessageLink(post, article_id))
    await backend.record_reactions(
        [
            ev(post, ReactionOp.ADD, "a", "👍"),
            ev(post, ReactionOp.ADD, "b", "👍"),
            ev(post, ReactionOp.ADD, "b", "🎉"),
            ev(post, ReactionOp.REMOVE, "a", "👍"),
        ]
    )
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"👍": 1, "🎉": 1}
    # Read back after downtime: 3 👍 in all, one of them known (b): two more made meanwhile.
    await backend.record_reactions(
        [
            ReactionEvent(
                post,
                ReactionOp.COUNTS,
                at(20),
                counts=(("👍", 3), ("🎉", 1)),
                includes_readers=True,
            )
        ]
    )
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"👍": 3, "🎉": 1}
    # One of those unseen readers takes theirs back.
    await backend.record_reactions([ev(post, ReactionOp.REMOVE, "c", "👍", when=21)])
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"👍": 2, "🎉": 1}
    await backend.record_reactions([ev(post, ReactionOp.CLEAR_EMOJI, "", "👍", when=22)])
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"🎉": 1}
    await backend.record_reactions([ev(post, ReactionOp.CLEAR, when=23)])
    assert (await backend.reaction_counts(article_id)).article.total == 0
    times = await backend.reaction_times(article_id)
    assert times == []


async def test_anonymous_channel_counts_are_absolute(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1")
    post = posts["-1"]
    for given in ((("👍", 4), ("🔥", 1)), (("👍", 5),)):
        await backend.record_reactions(
            [ReactionEvent(post, ReactionOp.COUNTS, at(30), counts=given)]
        )
    await backend.record_reactions([ev(post, ReactionOp.SET, "u1", "👍", when=31)])
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 6}
    times = await backend.reaction_times(article_id)
    assert [(t, p, n) for t, p, n in times] == [(at(30), TG, 5), (at(31), TG, 1)]


async def test_banned_readers_and_hidden_comments_are_not_counted(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1")
    written, _ = await backend.add_comment(comment(article_id, "c1"))
    await backend.record_reactions(
        [
            ev(posts["-1"], ReactionOp.SET, "bad", "👍"),
            ev(posts["-1"], ReactionOp.SET, "good", "👍"),
            ev(written.source, ReactionOp.SET, "good", "❤️"),
        ]
    )
    await backend.set_ban(TG, "bad", True, T0)
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 1}
    await backend.set_comment_status(written.id, CommentStatus.HIDDEN, at(40))
    counts = await backend.reaction_counts(article_id)
    assert written.id not in counts.comments
    await backend.set_ban(TG, "bad", False, T0)
    await backend.set_comment_status(written.id, CommentStatus.VISIBLE, at(41))
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 2}
    assert counts.comments[written.id].by_emoji() == {"❤️": 1}


async def test_web_reactions_one_per_reader_from_the_allowed_set(backend: Store) -> None:
    article_id, _ = await posted_article(backend, "-1")
    written, _ = await backend.add_comment(comment(article_id, "c1"))
    allowed = ("👍", "❤️")
    on_article, on_comment = Target(article_id), Target(article_id, written.id)

    def web(target: Target, reader: str, *emojis: str) -> ReactionEvent:
        return ReactionEvent(
            web_message(target), ReactionOp.SET, at(50), reader, emojis, target=target
        )

    landed = await backend.record_reactions(
        [
            web(on_article, "w1", "👍"),
            web(on_article, "w1", "❤️"),  # changed: one per reader
            web(on_comment, "w1", "👍"),
            web(on_comment, "w2", "💩"),  # not offered
            web(Target(article_id, CommentId(written.id + 100)), "w1", "👍"),  # no such comment
        ],
        allowed=allowed,
    )
    assert landed == [on_article, on_article, on_comment, None, None]
    counts = await backend.reaction_counts(article_id)
    assert counts.article.counts == {(WEB, "❤️"): 1}
    assert counts.comments[written.id].counts == {(WEB, "👍"): 1}
    assert await backend.reader_reactions(article_id, WEB, "w1") == {
        None: ("❤️",),
        written.id: ("👍",),
    }
    assert await backend.reader_reactions(article_id, WEB, "w2") == {}


async def test_changed_counts_refresh_the_posts_at_the_comment_count_pace(
    backend: Store,
) -> None:
    article_id, posts = await posted_article(backend, "-1", "-2")  # sent at at(2)
    pace = CountRefresh(min_interval=60, per_second=100)
    landed = await backend.record_reactions(
        [ev(posts["-1"], ReactionOp.SET, "u1", "👍", when=10)], refresh=pace
    )
    assert landed == [Target(article_id)]
    assert await backend.claim_deliveries(TG, at(61), 10) == []  # 60 s after each was sent
    jobs = await backend.claim_deliveries(TG, at(62), 10)
    assert sorted(j.delivery.op for j in jobs) == [DeliveryOp.EDIT, DeliveryOp.EDIT]
    assert [j.reaction_count for j in jobs] == [1, 1]
    # A repeat changes no count and enqueues nothing; nor does an unknown message.
    await backend.record_reactions([ev(posts["-1"], ReactionOp.SET, "u1", "👍")], refresh=pace)
    await backend.record_reactions(
        [ev(MessageRef(TG, "-9", "9"), ReactionOp.SET, "u1", "👍")], refresh=pace
    )
    for job in jobs:
        await backend.complete_delivery(job.delivery, None, at(63))
    assert await backend.next_due(TG) is None


async def test_an_edit_in_flight_is_sent_again_with_the_new_counts(backend: Store) -> None:
    _, posts = await posted_article(backend, "-1")
    pace = CountRefresh(min_interval=0, per_second=100)
    await backend.record_reactions([ev(posts["-1"], ReactionOp.SET, "u1", "👍")], refresh=pace)
    (job,) = await backend.claim_deliveries(TG, at(11), 10)  # the refresh edit, being sent
    assert job.reaction_count == 1
    await backend.record_reactions(
        [ev(posts["-1"], ReactionOp.SET, "u2", "👍", when=12)], refresh=pace
    )
    await backend.complete_delivery(job.delivery, None, at(13))
    (again,) = await backend.claim_deliveries(TG, at(14), 10)
    assert again.delivery.op is DeliveryOp.EDIT and again.reaction_count == 2
