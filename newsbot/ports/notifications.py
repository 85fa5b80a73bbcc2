"""The notifications port: chat accounts' private-message switches and the notice outbox.

``newsbot.notifications`` decides who is told; a backend keeps the facts. A notice row is
keyed per account while pending, so notices queued before it is claimed are appended to it
(coalesced); a claimed row is a lease like a delivery's, and a row sent is removed. The
replies of a batch are looked up and queued set-wise (``comments_by_ids``,
``articles_by_ids``, ``queue_notices``): a few statements for the batch, not a few per reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from newsbot.models import Article, ArticleId, Comment, CommentId, Platform
from newsbot.notifications import Key, NoticeJob, Prefs, Queued


class NoticeStore(Protocol):
    """Private-message switches per chat account, and the coalescing notice outbox."""

    async def account_prefs(self, keys: Iterable[Key]) -> dict[Key, Prefs]:
        """What is known of each account of ``keys`` (accounts never seen are left out)."""
        ...

    async def set_account_prefs(
        self,
        platform: Platform,
        account_id: str,
        *,
        started: bool | None = None,
        notify: bool | None = None,
    ) -> None:
        """Record that an account started the bot, or set its own switch (``None`` leaves
        a field as it is)."""
        ...

    async def queue_notice(
        self, platform: Platform, account_id: str, item: str, due: datetime, now: datetime
    ) -> None:
        """Append ``item`` to the pending notice of an account, or open one due at ``due``
        (a pending row keeps its due time; a full row only counts the item)."""
        ...

    async def queue_notices(self, queued: Sequence[Queued], due: datetime, now: datetime) -> None:
        """``queue_notice`` for many accounts in one transaction: each ``Queued``'s items
        appended to its account's pending row (its count added), or a row opened due at
        ``due``. All or nothing; two writers queuing to one account concurrently still leave
        one pending row holding both. A row under ``ITEMS_MAX`` takes a batch's items whole
        (``notifications.folded`` keeps them under it), so a row ends under twice that."""
        ...

    async def comments_by_ids(self, ids: Iterable[CommentId]) -> dict[CommentId, Comment]:
        """The stored comments of ``ids`` (whatever their status), in one look-up."""
        ...

    async def articles_by_ids(self, ids: Iterable[ArticleId]) -> dict[ArticleId, Article]:
        """The stored articles of ``ids`` (whatever their status), in one look-up."""
        ...

    async def claim_notices(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[NoticeJob]:
        """Claim up to ``limit`` notices due by ``now`` (or whose lease expired), oldest due
        first, for ``lease`` seconds; each claim counts an attempt."""
        ...

    async def next_notice_due(self, platform: Platform) -> datetime | None:
        """When the next notice for ``platform`` falls due (a claimed one: when its lease
        ends), if any is waiting."""
        ...

    async def visible_comments(self, comment_ids: Iterable[CommentId]) -> set[CommentId]:
        """Those of ``comment_ids`` that are stored and visible now."""
        ...

    async def renew_notice_claims(self, worker: str, now: datetime, lease: float) -> int:
        """Extend ``worker``'s claims to ``lease`` seconds from ``now`` while their sends
        run (no other worker sends the message again); how many."""
        ...

    async def is_banned(self, platform: Platform, user_id: str) -> bool:
        """Whether this account is banned now (a person's ban bans each linked account):
        a notice waiting for it is dropped (the same method as the moderation store's)."""
        ...

    async def finish_notice(self, notice_id: int) -> None:
        """Remove a notice: sent, or given up."""
        ...

    async def retry_notice(self, notice_id: int, due: datetime, error: str) -> None:
        """Give a claimed notice back, due again at ``due``."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """A publisher that can also write a private message to a user (Telegram, Discord)."""

    async def notify(self, job: NoticeJob) -> None:
        """Send one coalesced notice to ``job.account_id`` in private.

        Raises:
            RateLimited: wait and try again.
            DestinationGone: the platform will not let the bot write to this user.
            DeliveryError: another failure, worth a retry.
        """
        ...
