"""The reaction use cases: what chat adapters and the web page ask of reactions.

``NewsService.reactions`` is one of these. The rules (where a reaction lands, one per reader,
what counts) are ``newsbot.reactions``'s; the store applies them (``ReactionStore``). Calls
arriving together are written together (``newsbot.coalescing``): a thousand reactions a
second from every platform are a few dozen transactions, each caller awaiting its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from newsbot.coalescing import Coalescer
from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import ArticleId, CommentId, CountRefresh, MessageRef, Platform
from newsbot.ports import Clock
from newsbot.ports.reactions import ReactionStore
from newsbot.reactions import (
    WEB_OFFERED_MAX,
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
        pace: how often an article's posts may be edited to show new counts (the comment
            count's pace, ``NewsService.count_refresh``); ``None``: they are not edited.
        batch_size: most events one write takes.
        batch_wait: how long a write waits for more events once one arrives (seconds).
    """

    def __init__(
        self,
        store: ReactionStore,
        clock: Clock,
        *,
        web_reactions: Sequence[str] = WEB_REACTIONS,
        pace: Callable[[], CountRefresh | None] = lambda: None,
        batch_size: int = 500,
        batch_wait: float = 0.005,
    ) -> None:
        self.store = store
        self.clock = clock
        self.pace = pace
        self.web_reactions: tuple[str, ...] = ()
        self.offer(web_reactions)
        self.recorded = 0  # reaction changes stored by this process, for monitoring
        self._listeners: list[Callable[[str], None]] = []
        # Key: the reactions accepted (the web's offered set; None: any, from a chat).
        self.batches: Coalescer[tuple[str, ...] | None, ReactionEvent, Target | None] = Coalescer(
            self._write, size=batch_size, wait=batch_wait
        )

    async def _write(
        self, allowed: tuple[str, ...] | None, events: list[ReactionEvent]
    ) -> list[Target | None]:
        return await self.store.record_reactions(events, allowed=allowed, refresh=self.pace())

    def watch(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with ``"article:ID"`` when this process changed reactions of an
        article (other processes hear of it through ``Coordination.watch``)."""
        self._listeners.append(listener)

    def _landed(self, landed: list[Target | None]) -> list[Target | None]:
        self.recorded += sum(1 for t in landed if t is not None)
        for article_id in sorted({t.article_id for t in landed if t is not None}):
            for listener in self._listeners:
                listener(f"article:{article_id}")
        return landed

    def offer(self, web_reactions: Sequence[str]) -> None:
        """Set the reactions the web page offers (at most ``WEB_OFFERED_MAX``; repeats and
        what cannot be a reaction dropped).

        Raises:
            InvalidInput: none is left.
        """
        offered = [e for e in (clean_emoji(r) for r in web_reactions) if e is not None]
        found = tuple(dict.fromkeys(offered))[:WEB_OFFERED_MAX]
        if not found:
            raise InvalidInput(N_("The web page needs at least one reaction to offer."))
        self.web_reactions = found

    async def record(self, events: Sequence[ReactionEvent]) -> list[Target | None]:
        """Record what chat platforms reported, in order, written with the events of the
        calls made meanwhile (``ReactionStore.record_reactions``).

        Returns, per event, the target it counted for, or ``None`` (an unknown message, a
        repeat).

        Raises:
            StorageError: the batch holding these events could not be written.
        """
        if not events:
            return []
        return self._landed(await self.batches.submit(None, list(events)))

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
        self,
        article_id: ArticleId,
        comment_id: CommentId | None,
        reader: str,
        emoji: str,
        *,
        toggle: bool = False,
    ) -> Target | None:
        """A web reader's reaction on the article (``comment_id`` ``None``) or a comment: one
        per reader per target, replacing the one before; ``emoji`` '' takes it back, and so
        does the same reaction again with ``toggle`` (a button pressed twice).

        Returns the target, or ``None`` when nothing changed (no such published article or
        visible comment, or the same choice again).

        Raises:
            InvalidInput: ``emoji`` is not one the page offers.
        """
        if emoji and emoji not in self.web_reactions:
            raise InvalidInput(N_("That reaction is not offered here."))
        if toggle and emoji:
            chosen = await self.web_choices(article_id, reader)
            if chosen.get(comment_id) == emoji:
                emoji = ""
        target = Target(article_id, comment_id)
        event = ReactionEvent(
            web_message(target),
            ReactionOp.SET,
            self.clock.now(),
            reader,
            (emoji,) if emoji else (),
            target=target,
        )
        return self._landed(await self.batches.submit(self.web_reactions, [event]))[0]

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
