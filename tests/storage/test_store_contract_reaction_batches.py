"""The Store contract, reactions written in batches: one ``record_reactions`` call holding many
events is the same as the events one call each (in arrival order, the latest winning), and
the counts read back stay right through copies, bans, hidden comments and channel counts."""

from __future__ import annotations

import random

from newsbot import ArticleId, CommentStatus, MessageLink, MessageRef, Platform, Store
from newsbot.reactions import ReactionEvent, ReactionOp, Target, web_message
from tests.storage.contract_helpers import T0, at, comment, posted_article

TG, DC, WEB = Platform.TELEGRAM, Platform.DISCORD, Platform.WEB
EMOJIS = ("👍", "❤️", "🔥")


def ev(
    ref: MessageRef, op: ReactionOp, reader: str = "", *emojis: str, when: float = 10
) -> ReactionEvent:
    return ReactionEvent(ref, op, at(when), reader, emojis)


async def test_within_a_batch_the_latest_event_wins_in_arrival_order(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1")
    post = posts["-1"]
    landed = await backend.record_reactions(
        [
            ev(post, ReactionOp.SET, "u1", "👍", when=10),
            ev(post, ReactionOp.SET, "u1", "❤️", when=11),
            ev(post, ReactionOp.SET, "u1", "❤️", when=12),  # a repeat: nothing
            ev(post, ReactionOp.SET, "u2", "🔥", when=13),
            ev(post, ReactionOp.SET, "u2", when=14),  # taken back
            ev(post, ReactionOp.SET, "u3", "👍", when=15),
        ]
    )
    target = Target(article_id)
    assert landed == [target, target, None, target, target, target]
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"❤️": 1, "👍": 1}
    assert await backend.reader_reactions(article_id, TG, "u1") == {None: ("❤️",)}
    assert await backend.reader_reactions(article_id, TG, "u2") == {}
    # Taken back and made again within a batch: stored at the later time.
    await backend.record_reactions(
        [ev(post, ReactionOp.SET, "u3", when=20), ev(post, ReactionOp.SET, "u3", "👍", when=21)]
    )
    times = sorted((t, n) for t, _, n in await backend.reaction_times(article_id))
    assert times == [(at(11), 1), (at(21), 1)]


async def test_a_reader_on_a_post_and_its_copy_counts_once_through_batches(
    backend: Store,
) -> None:
    article_id, posts = await posted_article(backend, "-1")
    post, copy = posts["-1"], MessageRef(TG, "-1001", "auto-forward")
    assert await backend.add_link(MessageLink(copy, article_id))
    await backend.record_reactions(
        [ev(post, ReactionOp.SET, "u1", "👍"), ev(copy, ReactionOp.SET, "u1", "👍")]
    )
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"👍": 1}
    await backend.record_reactions([ev(post, ReactionOp.SET, "u1")])
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"👍": 1}
    await backend.record_reactions(
        [ev(copy, ReactionOp.SET, "u1"), ev(post, ReactionOp.SET, "u2", "🔥")]
    )
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"🔥": 1}


async def test_channel_counts_in_a_batch_are_absolute_the_last_one_holding(
    backend: Store,
) -> None:
    article_id, posts = await posted_article(backend, "-1", "-2")
    counts = [
        ReactionEvent(posts["-1"], ReactionOp.COUNTS, at(30), counts=(("👍", 4), ("🔥", 2))),
        ReactionEvent(posts["-2"], ReactionOp.COUNTS, at(30), counts=(("👍", 1),)),
        ReactionEvent(posts["-1"], ReactionOp.COUNTS, at(31), counts=(("👍", 5),)),
    ]
    assert await backend.record_reactions(counts) == [Target(article_id)] * 3
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"👍": 6}
    await backend.record_reactions(
        [ReactionEvent(posts["-1"], ReactionOp.COUNTS, at(32), counts=(("👍", 2),))]
    )
    assert (await backend.reaction_counts(article_id)).article.by_emoji() == {"👍": 3}
    assert await backend.reaction_totals() == {TG: 3}


async def test_bans_and_hidden_comments_leave_batched_reactions_out(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1")
    written, _ = await backend.add_comment(comment(article_id, "c1"))
    copy = MessageRef(TG, "-2", "copy-of-c1")
    assert await backend.add_link(MessageLink(copy, article_id, written.id))
    await backend.set_ban(TG, "bad", True, T0)
    # Reactions of a reader banned already are kept, not counted.
    await backend.record_reactions(
        [
            ev(posts["-1"], ReactionOp.SET, "bad", "👍", "🔥"),
            ev(posts["-1"], ReactionOp.SET, "good", "👍"),
            ev(written.source, ReactionOp.SET, "bad", "❤️"),
            ev(copy, ReactionOp.SET, "bad", "❤️"),
            ev(copy, ReactionOp.SET, "good", "❤️"),
        ]
    )
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 1}
    assert counts.comments[written.id].by_emoji() == {"❤️": 1}
    assert await backend.set_ban(TG, "bad", True, T0) is False  # a repeat changes nothing
    assert await backend.set_ban(TG, "bad", False, T0) is True
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 2, "🔥": 1}
    assert counts.comments[written.id].by_emoji() == {"❤️": 2}  # once each, two copies
    assert await backend.set_ban(TG, "bad", False, T0) is False
    assert (await backend.reaction_counts(article_id)).everything().total == 5
    await backend.set_ban(TG, "good", True, T0)
    await backend.set_comment_status(written.id, CommentStatus.HIDDEN, at(40))
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 1, "🔥": 1}
    assert written.id not in counts.comments
    # Reactions on the hidden comment's copy still land; they show once it is back.
    await backend.record_reactions([ev(copy, ReactionOp.SET, "third", "❤️", when=41)])
    await backend.set_comment_status(written.id, CommentStatus.VISIBLE, at(42))
    counts = await backend.reaction_counts(article_id)
    assert counts.comments[written.id].by_emoji() == {"❤️": 2}


async def test_web_and_chat_reactions_in_one_batch(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1")
    target = Target(article_id)
    web = [
        ReactionEvent(web_message(target), ReactionOp.SET, at(50), "w1", (e,), target=target)
        for e in ("👍", "❤️")
    ]
    landed = await backend.record_reactions(
        [web[0], ev(posts["-1"], ReactionOp.SET, "u1", "👍"), web[1]], allowed=("👍", "❤️")
    )
    assert landed == [target, target, target]
    counts = await backend.reaction_counts(article_id)
    assert counts.article.counts == {(TG, "👍"): 1, (WEB, "❤️"): 1}


async def test_one_batch_counts_as_the_same_events_one_call_each(backend: Store) -> None:
    """Many readers on many posts and copies, adding, removing and changing reactions: the
    counts after one batch equal the counts after the events one by one (on another article
    with the same messages' shape)."""
    batched, posts_a = await posted_article(backend, "-1", "-2", "-3")
    single, posts_b = await posted_article(backend, "-4", "-5", "-6")
    copies = {}
    for article_id, posts in ((batched, posts_a), (single, posts_b)):
        copy = MessageRef(DC, "55", f"copy-{article_id}")
        assert await backend.add_link(MessageLink(copy, article_id))
        copies[article_id] = [*posts.values(), copy]
    rng = random.Random(19)
    script = []
    for n in range(300):
        op = rng.choice([ReactionOp.ADD, ReactionOp.ADD, ReactionOp.REMOVE, ReactionOp.SET])
        emojis = rng.sample(EMOJIS, rng.randint(0, 2)) if op is ReactionOp.SET else EMOJIS[:1]
        if op is not ReactionOp.SET:
            emojis = (rng.choice(EMOJIS),)
        script.append((rng.randrange(4), op, f"r{rng.randrange(12)}", tuple(emojis), n))
    await backend.set_ban(DC, "r3", True, T0)

    def events(article_id: ArticleId) -> list[ReactionEvent]:
        messages = copies[article_id]
        return [
            ReactionEvent(messages[m], op, at(60 + n / 100), reader, emojis)
            for m, op, reader, emojis, n in script
        ]

    landed = await backend.record_reactions(events(batched))
    one_by_one = [(await backend.record_reactions([e]))[0] for e in events(single)]
    assert [t is None for t in landed] == [t is None for t in one_by_one]
    a, b = await backend.reaction_counts(batched), await backend.reaction_counts(single)
    assert a.article.counts == b.article.counts
    assert a.article.total > 0
    for reader in ("r1", "r3", "r7"):
        mine = await backend.reader_reactions(batched, DC, reader)
        theirs = await backend.reader_reactions(single, DC, reader)
        assert {k: set(v) for k, v in mine.items()} == {k: set(v) for k, v in theirs.items()}
    await backend.set_ban(DC, "r3", False, T0)
    a, b = await backend.reaction_counts(batched), await backend.reaction_counts(single)
    assert a.article.counts == b.article.counts
