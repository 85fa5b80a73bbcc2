"""The reaction use cases: what chat adapters and the web page ask of reactions.

``NewsService.reactions`` is one of these. The rules (where a reaction lands, one per reader,
what counts) are ``newsbot.reactions``'s; the store applies them (``ReactionStore``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from newsbot.errors import InvalidInput
from newsbot.models import ArticleId, CommentId, MessageRef, Platform
from newsbot.ports import Clock
from newsbot.ports.reactions import ReactionStore
from newsbot.reactions import (
    WEB_REACTIONS,
    ReactionCounts,
    ReactionEvent,
    ReactionOp,
    Target,
    clean_emoji,
    web_message,
)


class ReactionService:
    """Reactions recorded from every platform, and their counts.

    Args:
        store: where reactions are kept.
        clock: the time source.
        web_reactions: the reactions the web page offers (the only ones it accepts).
    """

    def __init__(
        self, store: ReactionStore, clock: Clock, *, web_reactions: Sequence[str] = WEB_REACTIONS
    ) -> None:
        self.store = store
        self.clock = clock
        offered = [e for e in (clean_emoji(r) for r in web_reactions) if e is not None]
        self.web_reactions: tuple[str, ...] = tuple(dict.fromkeys(offered))
        self.recorded = 0  # reaction changes stored by this process, for monitoring

    async def record(self, events: Sequence[ReactionEvent]) -> list[Target | None]:
        """Record what chat platforms reported, in order (``ReactionStore.record_reactions``).

        Returns, per event, the target it counted for, or ``None`` (an unknown message, a
        repeat)."""
        if not events:
            return []
        landed = await self.store.record_reactions(events)
        self.recorded += sum(1 for t in landed if t is not None)
        return landed

    async def set_reader(
        self,
        message: MessageRef,
        reader: str,
        emojis: Sequence[str],
        *,
        at: datetime | None = None,
    ) -> Target | None:
        """A chat reader's reactions on a message are now ``emojis`` (none: all removed)."""
        event = ReactionEvent(
            message, ReactionOp.SET, at or self.clock.now(), reader, tuple(emojis)
        )
        return (await self.record([event]))[0]

    async def react_on_web(
        self, article_id: ArticleId, comment_id: CommentId | None, reader: str, emoji: str
    ) -> Target | None:
        """A web reader's reaction on the article (``comment_id`` ``None``) or a comment: one
        per reader per target, replacing the one before; ``emoji`` '' takes it back.

        Raises:
            InvalidInput: ``emoji`` is not one the page offers.
        """
        if emoji and emoji not in self.web_reactions:
            raise InvalidInput("That reaction is not offered here.")
        target = Target(article_id, comment_id)
        event = ReactionEvent(
            web_message(target),
            ReactionOp.SET,
            self.clock.now(),
            reader,
            (emoji,) if emoji else (),
            target=target,
        )
        landed = await self.store.record_reactions([event], allowed=self.web_reactions)
        self.recorded += sum(1 for t in landed if t is not None)
        return landed[0]

    async def counts(self, article_id: ArticleId) -> ReactionCounts:
        """The article's counts, on it and per visible comment (banned readers left out)."""
        return await self.store.reaction_counts(article_id)

    async def web_choices(self, article_id: ArticleId, reader: str) -> dict[CommentId | None, str]:
        """The reaction a web reader chose on the article (``None``) and on each comment."""
        found = await self.store.reader_reactions(article_id, Platform.WEB, reader)
        return {target: emojis[-1] for target, emojis in found.items() if emojis}

    async def totals(self) -> dict[Platform, int]:
        """Every reaction stored, per platform (for monitoring)."""
        return await self.store.reaction_totals()
