"""The Store contract, a Discord message's reaction counts read back after downtime: the
counts become the message's state (removals made unseen disappear), other messages' readers
(web, Telegram) stay as they are."""

from __future__ import annotations

from newsbot import MessageLink, MessageRef, Platform, Store
from newsbot.reactions import ReactionEvent, ReactionOp, Target, web_message
from tests.storage.contract_helpers import at, posted_article

DC, TG, WEB = Platform.DISCORD, Platform.TELEGRAM, Platform.WEB


def ev(ref: MessageRef, op: ReactionOp, reader: str, emoji: str, when: float) -> ReactionEvent:
    return ReactionEvent(ref, op, at(when), reader, (emoji,))


def read_back(ref: MessageRef, when: float, *counts: tuple[str, int]) -> ReactionEvent:
    return ReactionEvent(ref, ReactionOp.COUNTS, at(when), counts=counts, includes_readers=True)


async def test_counts_read_back_replace_what_the_message_had(backend: Store) -> None:
    article_id, posts = await posted_article(backend, "-1")
    post = MessageRef(DC, "55", "777")
    assert await backend.add_link(MessageLink(post, article_id))
    await backend.record_reactions(
        [
            ev(post, ReactionOp.ADD, "a", "👍", 10),
            ev(post, ReactionOp.ADD, "b", "👍", 11),
            ev(post, ReactionOp.ADD, "b", "🎉", 12),
            ev(posts["-1"], ReactionOp.SET, "t", "👍", 13),
        ]
    )
    web = Target(article_id)
    await backend.record_reactions(
        [ReactionEvent(web_message(web), ReactionOp.SET, at(14), "w", ("👍",), target=web)]
    )
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 4, "🎉": 1}
    # While we were away: one 👍 taken back, 🎉 gone, a 🔥 added.
    landed = await backend.record_reactions([read_back(post, 20, ("👍", 1), ("🔥", 1))])
    assert landed == [Target(article_id)]
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 3, "🔥": 1}
    assert dict(counts.article.by_platform()) == {DC: 2, TG: 1, WEB: 1}
    # The same counts again change nothing; the Telegram reader is still one.
    assert await backend.record_reactions([read_back(post, 21, ("👍", 1), ("🔥", 1))]) == [None]
    assert await backend.reader_reactions(article_id, TG, "t") == {None: ("👍",)}
    assert await backend.reader_reactions(article_id, WEB, "w") == {None: ("👍",)}
    # Live again: the remaining 👍 taken back counts down the bare count.
    await backend.record_reactions([ev(post, ReactionOp.REMOVE, "a", "👍", 22)])
    counts = await backend.reaction_counts(article_id)
    assert counts.article.by_emoji() == {"👍": 2, "🔥": 1}
