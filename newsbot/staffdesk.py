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
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from newsbot.desk import Desk, Outcome
from newsbot.errors import StorageError
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
    worth_posting,
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
"""Seconds after which a notice's send counts as failed (its claim is renewed meanwhile:
``Dispatcher`` renews staff claims as it renews deliveries'; ``newsbot.lane`` settles a
failure)."""


class StaffDesk:
    """The staff chat: ``chat`` is ``NEWSBOT_STAFF_CHAT`` (``None``: no staff chat)."""

    name = "staff_notice"
    at_once = 1
    """Notices in flight at once per platform (``newsbot.lane.LowKind``): one, so a flood
    folds into the notice still waiting."""
    max_attempts = MAX_ATTEMPTS

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
        await self.announce_all([(comment_id, reasons)])

    async def announce_all(self, items: Sequence[tuple[CommentId, Sequence[str]]]) -> None:
        """Items entered the queue together, in this order: one write enqueues a notice led
        by the first (or folds them all into the pending one; ``staffchat.enter_all``).

        Best effort: the items are in the queue whatever happens here.
        """
        chat = self.chat
        if chat is None or not items:
            return
        svc = self._svc
        entered = [(comment_id, kind_of(tuple(reasons))) for comment_id, reasons in items]
        try:
            new = await svc.store.enqueue_staff_notices(chat, entered, svc.clock.now(), self.gap)
        except StorageError:
            log.exception(
                "cannot enqueue a staff notice",
                extra={"comment_id": items[0][0], "items": len(items)},
            )
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

    async def renew(self, worker: str, now: datetime, lease: float) -> int:
        """Extend ``worker``'s claims while their sends run (as deliveries' are)."""
        return await self._svc.store.renew_staff_claims(worker, now, lease)

    async def text(self, notice: StaffNotice) -> NoticeText | None:
        """What the notice says (read at send time: ``decided`` says what a moderator did
        meanwhile), or ``None`` when its comment is gone from the queue."""
        svc = self._svc
        item = await svc.store.review_item(notice.notice.lead)
        if item is None:
            return None
        article = await svc.store.get_article(item.comment.article_id)
        title = "" if article is None else article.title
        return notice_text(item, title, notice.notice.more, self.tr)

    def about(self, notice: StaffNotice) -> tuple[Platform, int, dict[str, object]]:
        """The notice's platform, attempts and log fields (``newsbot.lane.LowKind``)."""
        fields = {"notice_id": notice.id, "chat": str(notice.chat), "attempt": notice.attempts}
        return notice.chat.platform, notice.attempts, fields

    def retry_delay(self, attempts: int) -> float:
        """Doubling from 2 s up to 5 minutes, with jitter."""
        return min(300.0, 2.0**attempts) * random.uniform(0.5, 1.0)

    async def send(self, notice: StaffNotice, worker: str) -> bool:
        """Post a claimed notice and record it (``False``: dropped, its comment left the
        queue or was decided before it went out). Failures raise for ``newsbot.lane``."""
        store, clock = self._svc.store, self._svc.clock
        poster = self.posters[notice.chat.platform]
        text = await self.text(notice)
        if text is None or not worth_posting(text):
            why = "not in the queue" if text is None else f"decided: {text.decided}"
            await store.fail_staff_notice(notice.id, worker, why, clock.now())
            log.info("staff notice dropped", extra={"notice_id": notice.id, "error": why})
            return False
        async with asyncio.timeout(SEND_TIMEOUT):
            message_id = await poster.post_notice(notice.chat.chat_id, notice.notice.lead, text)
        await store.complete_staff_notice(notice.id, worker, message_id, clock.now())
        log.info("staff notice sent", extra={"notice_id": notice.id, "chat": str(notice.chat)})
        return True

    async def retry(
        self, notice: StaffNotice, worker: str, error: str, due: datetime, *, count_attempt: bool
    ) -> None:
        """Due again at ``due``, if ``worker`` still holds the claim."""
        await self._svc.store.retry_staff_notice(
            notice.id, worker, error, due, self._svc.clock.now(), count_attempt=count_attempt
        )

    async def give_up(self, notice: StaffNotice, worker: str, error: str, *, gone: bool) -> None:
        """Dead: failed too often, or the staff chat is gone."""
        await self._svc.store.fail_staff_notice(notice.id, worker, error, self._svc.clock.now())

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
