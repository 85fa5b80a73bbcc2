"""The staff chat's notices in the outbox: a second queue, claimed after the articles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from newsbot.models import CommentId, Platform
from newsbot.staffchat import Kind, NoticeText, StaffChat, StaffNotice


class StaffNoticeStore(Protocol):
    """Staff notices: enqueued as items enter the moderation queue, folded while pending, and
    claimed, sent and settled like deliveries (a claim is a lease owned by a worker)."""

    async def enqueue_staff_notice(
        self, chat: StaffChat, comment_id: CommentId, kind: Kind, now: datetime, gap: float = 0.0
    ) -> bool:
        """Announce an item: a new pending notice for ``chat`` if none is pending (returns
        ``True``), due ``gap`` seconds after the chat's last notice was claimed
        (``newsbot.staffchat.notice_due``); else the item folds into the pending one
        (``newsbot.staffchat.enter``)."""

    async def enqueue_staff_notices(
        self,
        chat: StaffChat,
        items: Sequence[tuple[CommentId, Kind]],
        now: datetime,
        gap: float = 0.0,
    ) -> bool:
        """Announce items that entered the queue together, in this order, as one unit of work
        under the same lock as ``enqueue_staff_notice``: a new pending notice led by the first
        (the rest folded into it) if none is pending (returns ``True``), else all of them
        folded into the pending one (``newsbot.staffchat.enter_all``). No item: nothing."""

    async def claim_staff_notices(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[StaffNotice]:
        """Claim up to ``limit`` due notices for ``platform`` (oldest first; an expired claim
        is due again). A notice is claimed by one worker at a time."""

    async def complete_staff_notice(
        self, notice_id: int, worker: str, message_id: str, now: datetime
    ) -> None:
        """The notice was sent as ``message_id`` (recorded even if the claim was lost)."""

    async def retry_staff_notice(
        self,
        notice_id: int,
        worker: str,
        error: str,
        due: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        """The send failed: try again at ``due``, if ``worker`` still holds the claim."""

    async def fail_staff_notice(
        self, notice_id: int, worker: str, error: str, now: datetime
    ) -> None:
        """Give the notice up (``dead``), if ``worker`` still holds the claim."""

    async def next_staff_notice_due(self, platform: Platform) -> datetime | None:
        """When the next notice for ``platform`` falls due, if any is waiting."""

    async def renew_staff_claims(self, worker: str, now: datetime, lease: float) -> int:
        """Extend ``worker``'s claims to ``lease`` seconds from ``now`` (a send still running
        keeps its notice: no other worker posts it again); how many."""

    async def release_staff_claims(self, worker: str) -> int:
        """Give ``worker``'s claims back (due now); how many."""

    async def staff_notices(self, chat: StaffChat, limit: int) -> list[StaffNotice]:
        """The chat's latest notices, newest first."""


class StaffPoster(Protocol):
    """Posts staff notices on one platform (a Telegram or Discord adapter).

    Failures are translated as a ``Publisher``'s are: ``RateLimited`` to wait without counting
    an attempt, ``DestinationGone`` when the staff chat is gone, any other ``DeliveryError``
    to retry with backoff.
    """

    @property
    def platform(self) -> Platform:
        """The platform it posts on."""
        ...

    async def post_notice(self, chat_id: str, comment_id: CommentId, text: NoticeText) -> str:
        """Post the notice about ``comment_id`` with its buttons; the message id."""
        ...
