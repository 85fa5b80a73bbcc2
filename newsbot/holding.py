"""Held comments entering the moderation queue together (``NewsService.holding``).

A comment stored hidden for a reason (an intake limit, the word list, a first comment, the
story's policy or slow mode: ``newsbot.comments``) enters the queue and is announced to the
staff chat. In a flood most comments are held, so the held comments of a moment are written
together (``newsbot.coalescing``, as reply notices and reactions are: up to 500 or 5 ms):
their queue items in one unit of work (``DeskStore.hold_comments``), then one staff notice
write for the batch (``StaffDesk.announce_all``: the items folded into the pending notice in
one step). Each caller awaits its own comment's turn; a failed queue write fails every caller
of its batch, and the announcement stays best effort, as for one item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from newsbot.coalescing import Coalescer
from newsbot.models import CommentId
from newsbot.ports import Clock, Store

Item = tuple[CommentId, tuple[str, ...]]
"""A held comment and why it is held."""


class Announcer(Protocol):
    """The staff chat as holding sees it (``newsbot.staffdesk.StaffDesk``)."""

    async def announce_all(self, items: Sequence[tuple[CommentId, Sequence[str]]]) -> None:
        """Items entered the queue together, in this order."""


class Host(Protocol):
    """What holding needs of ``NewsService``."""

    store: Store
    clock: Clock

    @property
    def staffchat(self) -> Announcer:
        """``NewsService.staffchat``."""


class Holding:
    """The buffer held comments wait in to enter the queue together.

    Attributes:
        batches: the buffer (``size``: most comments a batch takes; ``wait``: how long a
            batch waits for company, in seconds).
    """

    def __init__(self, svc: Host, *, batch_size: int = 500, batch_wait: float = 0.005) -> None:
        self._svc = svc
        self.batches: Coalescer[None, Item, None] = Coalescer(
            self._enter, size=batch_size, wait=batch_wait
        )

    async def hold(self, comment_id: CommentId, reasons: Sequence[str]) -> None:
        """Put a comment in the queue for ``reasons`` and announce it, with the other held
        comments of the moment.

        Raises:
            StorageError: the batch's queue items could not be written.
        """
        await self.batches.submit(None, [(comment_id, tuple(reasons))])

    async def _enter(self, _key: None, items: list[Item]) -> list[None]:
        svc = self._svc
        await svc.store.hold_comments(items, svc.clock.now())
        await svc.staffchat.announce_all(items)
        return [None] * len(items)
