"""The reactions port: readers' reactions from every platform, and their counts.

Implemented by every ``Store`` backend (see ``newsbot.ports.store`` for the rules every method
follows) and checked by ``tests/storage/test_store_contract_reactions.py``. What a reaction
changes, and how rows become counts, is ``newsbot.reactions``'s: a backend looks up what a
message has stored and what it is linked to, asks ``reactions.decide``, and writes the plan;
reading, it hands its rows to ``reactions.tally``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from newsbot.models import ArticleId, CommentId, CountRefresh, Platform
from newsbot.reactions import ReactionCounts, ReactionEvent, Target


class ReactionStore(Protocol):
    """Reactions kept per message (readers' rows and anonymous counts), counted per target.

    A reaction on a message lands on what the message is linked to (``ThreadStore.
    resolve_message``): the article for its posts and their copies, the comment for a comment
    written as that message or a mirrored copy of it. Reactions on unknown messages are
    dropped. Events are applied in order, each against what the ones before it wrote.
    """

    async def record_reactions(
        self,
        events: Sequence[ReactionEvent],
        *,
        allowed: Sequence[str] | None = None,
        refresh: CountRefresh | None = None,
    ) -> list[Target | None]:
        """Apply reaction events in one unit of work, as a batch: the events in order, the
        latest winning (``reaction_batch.decide_batch``), written set-wise. A store that keeps
        per-target counts (``reaction_tally``) updates them in the same unit of work.

        With ``refresh``, the sent posts of every article whose counts changed are
        re-enqueued as edits (their count line shows reactions), each due no sooner than
        ``reactions.refreshes`` allows since it was last sent or edited, as a comment's count
        refresh does (``ThreadStore.ingest_comment``).

        ``allowed`` limits the reactions accepted (the web's configured set). A web event's
        ``target`` must be a published article or a visible comment of it. Returns, per
        event, the target it counted for, or ``None`` when it changed nothing (an unknown
        message, a reaction not allowed, a repeat).
        """
        ...

    async def reaction_counts(self, article_id: ArticleId) -> ReactionCounts:
        """The article's counts: on the article, and per visible comment, per platform and
        emoji; banned readers left out (``reactions.tally``)."""
        ...

    async def reader_reactions(
        self, article_id: ArticleId, platform: Platform, reader: str
    ) -> dict[CommentId | None, tuple[str, ...]]:
        """What one reader reacted with on the article (``None``) and its comments, on
        messages of ``platform`` (the web page shows a reader their own choice)."""
        ...

    async def reaction_totals(self) -> dict[Platform, int]:
        """Every reaction stored per platform, banned readers included (for monitoring)."""
        ...

    async def reaction_times(self, article_id: ArticleId) -> list[tuple[datetime, Platform, int]]:
        """When the article's reactions (on it and its comments) were last set: per stored
        row, its time, platform and how many reactions it holds, oldest first (for the
        article's figures over time)."""
        ...
