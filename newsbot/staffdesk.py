"""The staff chat's use cases (``NewsService.staffchat``): announcing queue items, sending
the notices the dispatcher claims, and acting on a staff member's button press.

The rules are in ``newsbot.staffchat``; the notices wait in the store's outbox
(``newsbot.ports.staffchat.StaffNoticeStore``), which the dispatcher works after the article
deliveries; the platform adapters post them (``StaffPoster``) and pass presses to ``press``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from newsbot.desk import Desk, Outcome
from newsbot.errors import DeliveryError, DestinationGone, RateLimited, StorageError
from newsbot.i18n import ENGLISH, Translator
from newsbot.models import Actor, CommentId, Platform
from newsbot.ports import Clock, Store
from newsbot.ports.staffchat import StaffPoster
from newsbot.review import Action, Reason
from newsbot.staffchat import (
    GAP,
    NoticeText,
    StaffChat,
    StaffNotice,
    acted_text,
    kind_of,
    notice_text,
    parse_button,
)


class Host(Protocol):
    """What the staff chat needs of ``NewsService``."""

    store: Store
    clock: Clock
    desk: Desk

    def _enqueued(self) -> None: ...


log = logging.getLogger("newsbot.staffchat")

MAX_ATTEMPTS = 6
"""Failed sends after which a notice is given up."""
SEND_TIMEOUT = 20.0
"""Seconds after which a notice's send counts as failed (well within a claim's lease)."""


class StaffDesk:
    """The staff chat: ``chat`` is ``NEWSBOT_STAFF_CHAT`` (``None``: no staff chat)."""

    def __init__(self, svc: Host) -> None:
        self._svc = svc
        self.chat: StaffChat | None = None
        self.posters: dict[Platform, StaffPoster] = {}
        self.gap = GAP  # seconds between two notices to the chat (folding meanwhile)
        self.tr: Translator = ENGLISH  # the staff chat's language (NEWSBOT_LANGUAGE)

    # -- announcing -----------------------------------------------------------------------

    async def announce(self, comment_id: CommentId, reasons: Sequence[str]) -> None:
        """An item entered the queue: enqueue a notice (or fold it into the pending one).

        Best effort: the item is in the queue whatever happens here.
        """
        chat = self.chat
        if chat is None:
            return
        svc = self._svc
        try:
            new = await svc.store.enqueue_staff_notice(
                chat, comment_id, kind_of(tuple(reasons)), svc.clock.now(), self.gap
            )
        except StorageError:
            log.exception("cannot enqueue a staff notice", extra={"comment_id": comment_id})
            return
        if new:
            svc._enqueued()

    async def reported(self, comment_id: CommentId, reports: int) -> None:
        """A reader reported a comment: its first report announces it."""
        if reports == 1:
            await self.announce(comment_id, (Reason.REPORTED,))

    # -- sending (the dispatcher's side) --------------------------------------------------

    def sends(self, platform: Platform) -> bool:
        """Whether notices for ``platform`` can be sent by this process."""
        chat = self.chat
        return chat is not None and chat.platform is platform and platform in self.posters

    async def claim(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[StaffNotice]:
        """Claim due notices (``StaffNoticeStore.claim_staff_notices``)."""
        return await self._svc.store.claim_staff_notices(
            platform, now, limit, worker=worker, lease=lease
        )

    async def next_due(self, platform: Platform) -> datetime | None:
        """When the next notice for ``platform`` falls due."""
        return await self._svc.store.next_staff_notice_due(platform)

    async def release(self, worker: str) -> int:
        """Give ``worker``'s claims back."""
        return await self._svc.store.release_staff_claims(worker)

    async def text(self, notice: StaffNotice) -> NoticeText | None:
        """What the notice says, or ``None`` when its comment is gone from the queue."""
        svc = self._svc
        item = await svc.store.review_item(notice.notice.lead)
        if item is None:
            return None
        article = await svc.store.get_article(item.comment.article_id)
        title = "" if article is None else article.title
        return notice_text(item, title, notice.notice.more, self.tr)

    async def send(self, notice: StaffNotice, worker: str) -> None:
        """Send a claimed notice and settle it; never raises but for cancellation."""
        store, clock = self._svc.store, self._svc.clock
        fields = {"notice_id": notice.id, "chat": str(notice.chat), "attempt": notice.attempts}
        try:
            poster = self.posters[notice.chat.platform]
            text = await self.text(notice)
            if text is None:
                await store.fail_staff_notice(notice.id, worker, "not in the queue", clock.now())
                return
            async with asyncio.timeout(SEND_TIMEOUT):
                message_id = await poster.post_notice(
                    notice.chat.chat_id, notice.notice.lead, text
                )
            await store.complete_staff_notice(notice.id, worker, message_id, clock.now())
            log.info("staff notice sent", extra=fields)
        except RateLimited as exc:
            now = clock.now()
            due = now + timedelta(seconds=max(exc.retry_after, 0.0))
            await self._settle(
                store.retry_staff_notice(
                    notice.id, worker, str(exc), due, now, count_attempt=False
                )
            )
        except DestinationGone as exc:
            log.warning("the staff chat is gone", extra={**fields, "error": str(exc)})
            await self._settle(store.fail_staff_notice(notice.id, worker, str(exc), clock.now()))
        except (DeliveryError, TimeoutError, OSError, KeyError, StorageError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            now = clock.now()
            if notice.attempts >= MAX_ATTEMPTS:
                log.warning("staff notice given up", extra={**fields, "error": error})
                await self._settle(store.fail_staff_notice(notice.id, worker, error, now))
                return
            delay = min(300.0, 2.0**notice.attempts) * random.uniform(0.5, 1.0)
            log.warning("staff notice failed, will retry", extra={**fields, "error": error})
            await self._settle(
                store.retry_staff_notice(
                    notice.id, worker, error, now + timedelta(seconds=delay), now
                )
            )

    async def _settle(self, operation: Awaitable[None]) -> None:
        try:
            await operation
        except StorageError:
            log.exception("cannot settle a staff notice; its claim expires with its lease")

    # -- presses --------------------------------------------------------------------------

    async def press(self, actor: Actor, data: str) -> tuple[Outcome, str] | None:
        """A staff member pressed a notice's button: the desk acts as ``actor`` (which must
        be a newsbot admin: ``PermissionDenied`` otherwise). Returns the outcome and the line
        the staff message should end with, or ``None`` for data that is not a staff button.

        Raises:
            PermissionDenied: ``actor`` is not a newsbot admin.
            NotFound: the comment is gone.
        """
        wanted = parse_button(data)
        if wanted is None:
            return None
        comment_id, action = wanted
        desk = self._svc.desk
        act = {
            Action.APPROVE: desk.approve,
            Action.HIDE: desk.hide,
            Action.DELETE: desk.delete,
            Action.BAN: desk.ban,
        }[action]
        outcome = await act(actor, comment_id)
        log.info(
            "staff button",
            extra={"comment_id": comment_id, "action": str(action), "actor": actor.user_id},
        )
        return outcome, acted_text(action, actor.name or actor.user_id, outcome.changed, self.tr)
