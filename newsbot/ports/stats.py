"""The figures port: what ``newsbot.stats`` aggregates, read per article, and web views.

Implemented by every ``Store`` backend (see ``newsbot.ports.store`` for the rules every method
follows) and checked by ``tests/storage/test_store_contract_stats.py``. The backends only read
and add up; ``newsbot.stats`` decides what the figures are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from newsbot.models import ArticleId
from newsbot.stats import CommentTime, PostTime


class StatsStore(Protocol):
    """Per-article reads for its figures, and web page views counted per source.

    Views come in batches from every worker's in-memory counters and are added up: two
    workers adding views of one article and source in any order end with their sum.
    """

    async def add_views(self, counts: Sequence[tuple[ArticleId, str, int]]) -> None:
        """Add ``(article, source, views)`` counts in one unit of work. Counts for an
        article that does not exist are dropped."""
        ...

    async def article_views(self, article_id: ArticleId) -> dict[str, int]:
        """The article's views per source (``""``: not from a chat's post)."""
        ...

    async def view_totals(self) -> int:
        """Every view counted, of every article (for monitoring)."""
        ...

    async def post_times(self, article_id: ArticleId) -> list[PostTime]:
        """The article's own deliveries (not mirrored comments): platform, state, when each
        message first existed, and the destination's id as ``destination``."""
        ...

    async def comment_times(self, article_id: ArticleId) -> list[CommentTime]:
        """The article's comments, oldest first: the platform each was written on, when,
        and whether it is visible."""
        ...
