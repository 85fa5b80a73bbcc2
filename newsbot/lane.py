"""The dispatcher's low-priority lane: notices of every kind, claimed only with the slots the
due article deliveries left free, fairly between the kinds.

A kind (``LowKind``) is one queue of the outbox: reply notices (``ReplyNotices`` below, the
store's ``NoticeStore`` sent through the publishers that are a ``Notifier``) and staff notices
(``newsbot.staffdesk.StaffDesk``). The ``Lane`` claims, counts in flight, renews and gives
back for all of them alike, and settles a failed send alike (a rate limit waits, a refusal
gives up, any other failure is retried with the kind's backoff up to its attempts); which
kind goes first turns per platform (round-robin), so a flood of one kind never starves the
other.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from newsbot.errors import DestinationGone, RateLimited, StorageError
from newsbot.models import Platform
from newsbot.notifications import NoticeJob, to_send
from newsbot.ports import Clock, Publisher
from newsbot.ports.notifications import NoticeStore, Notifier

log = logging.getLogger("newsbot.dispatcher")

T = TypeVar("T")


class LowKind(Protocol[T]):
    """One kind of low-priority item: claimed, sent and settled as a delivery is.

    The kind sends and records a success; the ``Lane`` turns a failure into a retry or a
    give-up, the same way for every kind (``Lane.send``).
    """

    @property
    def name(self) -> str:
        """What the kind is called in the dispatcher's outcomes (``notice_sent``)."""
        ...

    @property
    def at_once(self) -> int | None:
        """Items of this kind in flight at once per platform (``None``: as many as slots)."""
        ...

    @property
    def max_attempts(self) -> int:
        """Failed sends after which an item is given up."""
        ...

    def about(self, item: T) -> tuple[Platform, int, dict[str, object]]:
        """An item's platform, its attempts so far (this one counted) and its log fields."""
        ...

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the retry after ``attempts`` failed sends."""
        ...

    def sends(self, platform: Platform) -> bool:
        """Whether items for ``platform`` are sent here."""
        ...

    async def claim(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[T]:
        """Claim up to ``limit`` due items for ``platform``, oldest due first."""
        ...

    async def send(self, item: T, worker: str) -> bool:
        """Send a claimed item and record it sent (``True``), or dropped when nothing is to
        be sent any more (``False``).

        Raises:
            RateLimited: wait and try again, without counting an attempt.
            DestinationGone: the platform will not take it: given up (``gone``).
            Exception: any other failure, retried with backoff up to ``max_attempts``.
        """
        ...

    async def retry(
        self, item: T, worker: str, error: str, due: datetime, *, count_attempt: bool
    ) -> None:
        """Give a claimed item back, due again at ``due``."""
        ...

    async def give_up(self, item: T, worker: str, error: str, *, gone: bool) -> None:
        """Settle a claimed item unsent: failed too often, or ``gone`` (refused for good)."""
        ...

    async def next_due(self, platform: Platform) -> datetime | None:
        """When the next item for ``platform`` falls due (``None``: found by polling)."""
        ...

    async def renew(self, worker: str, now: datetime, lease: float) -> int:
        """Extend ``worker``'s claims while their sends run; how many."""
        ...

    async def release(self, worker: str) -> int:
        """Give ``worker``'s claims back; how many."""
        ...


@dataclass(frozen=True, slots=True)
class Claimed(Generic[T]):
    """An item the lane claimed: its kind (an index into ``Lane.kinds``) and platform."""

    kind: int
    platform: Platform
    item: T


class Lane:
    """The low-priority lane over ``kinds``, in the order they take turns; ``host`` (the
    ``Dispatcher``) records outcomes."""

    def __init__(self, kinds: Sequence[LowKind[Any]], host: Host) -> None:
        self.kinds = tuple(kinds)
        self._host = host
        self._busy: Counter[tuple[int, Platform]] = Counter()
        self._turn: Counter[Platform] = Counter()

    def _room(self, index: int, platform: Platform) -> int:
        kind = self.kinds[index]
        if not kind.sends(platform):
            return 0
        cap = kind.at_once
        return sys.maxsize if cap is None else cap - self._busy[index, platform]

    def _order(self, platform: Platform) -> list[int]:
        """The kinds with room on ``platform``, the one whose turn it is first."""
        n = len(self.kinds)
        start = self._turn[platform] % n if n else 0
        self._turn[platform] = start + 1
        turns = [(start + i) % n for i in range(n)]
        return [i for i in turns if self._room(i, platform) > 0]

    async def claim(
        self, platform: Platform, now: datetime, free: int, *, worker: str, lease: float
    ) -> list[Claimed[Any]]:
        """Claim for up to ``free`` slots: each kind with room an even share of the slots
        still free, in turn, so what one kind leaves goes to the next."""
        order = self._order(platform)
        claimed: list[Claimed[Any]] = []
        for position, index in enumerate(order):
            left = free - len(claimed)
            if left <= 0:
                break
            share = min(math.ceil(left / (len(order) - position)), self._room(index, platform))
            try:
                items = await self.kinds[index].claim(
                    platform, now, share, worker=worker, lease=lease
                )
            except StorageError:
                log.exception("cannot claim notices", extra={"platform": platform})
                continue
            self._busy[index, platform] += len(items)
            claimed += (Claimed(index, platform, item) for item in items)
        return claimed

    async def send(self, claimed: Claimed[Any], worker: str) -> None:
        """Send a claimed item and settle it; its slot is free again after. Never raises but
        for cancellation."""
        try:
            await self._send(self.kinds[claimed.kind], claimed.item, worker)
        finally:
            self._busy[claimed.kind, claimed.platform] -= 1

    async def _send(self, kind: LowKind[T], item: T, worker: str) -> None:
        host = self._host
        platform, attempts, fields = kind.about(item)
        try:
            sent = await kind.send(item, worker)
            outcome = f"{kind.name}_sent" if sent else f"{kind.name}_dropped"
            log.debug(outcome.replace("_", " "), extra=fields)
        except RateLimited as exc:
            due = host.clock.now() + timedelta(seconds=max(exc.retry_after, 0.0))
            limited = str(exc)
            await host._record(lambda: kind.retry(item, worker, limited, due, count_attempt=False))
            outcome = "rate_limited"
        except DestinationGone as exc:
            # A user who blocked the bot, a staff chat deleted: never retried.
            gone = str(exc)
            await host._record(lambda: kind.give_up(item, worker, gone, gone=True))
            outcome = f"{kind.name}_refused"
            log.warning(f"{_said(kind)} refused", extra={**fields, "error": gone})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a sender's bug must not kill the loop
            await self._failed(kind, item, worker, attempts, describe(exc), fields)
            outcome = "failed"
        host.outcomes[(str(platform), outcome)] += 1

    async def _failed(
        self,
        kind: LowKind[T],
        item: T,
        worker: str,
        attempts: int,
        error: str,
        fields: Mapping[str, object],
    ) -> None:
        host = self._host
        if attempts >= kind.max_attempts:
            await host._record(lambda: kind.give_up(item, worker, error, gone=False))
            log.error(f"{_said(kind)} given up", extra={**fields, "error": error})
            return
        due = host.clock.now() + timedelta(seconds=kind.retry_delay(attempts))
        await host._record(lambda: kind.retry(item, worker, error, due, count_attempt=True))
        log.warning(f"{_said(kind)} failed, will retry", extra={**fields, "error": error})

    async def next_due(self, platform: Platform) -> datetime | None:
        """When the next item a kind with room on ``platform`` falls due."""
        due: list[datetime] = []
        for index, kind in enumerate(self.kinds):
            if self._room(index, platform) > 0:
                when = await kind.next_due(platform)
                due += [] if when is None else [when]
        return min(due, default=None)

    def renewals(self) -> list[Callable[[str, datetime, float], Awaitable[int]]]:
        """The renewals of the kinds with sends running."""
        busy = {index for (index, _), n in self._busy.items() if n > 0}
        return [self.kinds[index].renew for index in sorted(busy)]

    async def release(self, worker: str) -> None:
        """Give every kind's claims of ``worker`` back."""
        for kind in self.kinds:
            await kind.release(worker)


class Host(Protocol):
    """What reply notices need of the ``Dispatcher``."""

    publishers: dict[Platform, Publisher]
    clock: Clock
    outcomes: Counter[tuple[str, str]]
    send_timeout: float
    max_attempts: int

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the retry after ``attempts`` failures."""
        ...

    async def _record(self, operation: Callable[[], Awaitable[object]]) -> None: ...


class ReplyNotices:
    """Reply notices (``NoticeStore``) as a lane kind: sent in private through the
    publisher of their platform when it is a ``Notifier``."""

    name = "notice"
    at_once: int | None = None

    def __init__(self, host: Host, store: NoticeStore) -> None:
        self._host = host
        self.store = store

    @property
    def max_attempts(self) -> int:
        """The dispatcher's, as for deliveries."""
        return self._host.max_attempts

    def retry_delay(self, attempts: int) -> float:
        """The dispatcher's backoff, as for deliveries."""
        return self._host.retry_delay(attempts)

    def about(self, item: tuple[Notifier, NoticeJob]) -> tuple[Platform, int, dict[str, object]]:
        """The notice's platform, attempts and log fields."""
        job = item[1]
        fields = {"notice_id": job.id, "platform": str(job.platform), "attempt": job.attempts}
        return job.platform, job.attempts, fields

    def sends(self, platform: Platform) -> bool:
        """Whether the publisher of ``platform`` writes private messages."""
        return isinstance(self._host.publishers.get(platform), Notifier)

    async def claim(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[tuple[Notifier, NoticeJob]]:
        """Claim due notices, each with the publisher that sends it."""
        publisher: object = self._host.publishers.get(platform)
        if not isinstance(publisher, Notifier):
            return []
        jobs = await self.store.claim_notices(platform, now, limit, worker=worker, lease=lease)
        return [(publisher, job) for job in jobs]

    async def next_due(self, platform: Platform) -> datetime | None:
        """``NoticeStore.next_notice_due``."""
        return await self.store.next_notice_due(platform)

    async def renew(self, worker: str, now: datetime, lease: float) -> int:
        """``NoticeStore.renew_notice_claims``."""
        return await self.store.renew_notice_claims(worker, now, lease)

    async def release(self, worker: str) -> int:
        """Nothing: the store has no release for notices."""
        return 0  # a stopped worker's notice claims fall due again when their lease ends

    async def send(self, item: tuple[Notifier, NoticeJob], worker: str) -> bool:
        """Send a notice as things stand now: nothing to a recipient banned, or of replies
        hidden, since it was queued."""
        publisher, job = item
        store = self.store
        banned = await store.is_banned(job.platform, job.account_id)
        visible = await store.visible_comments(n.comment_id for n in job.notices)
        shown = to_send(job, visible, banned)
        if shown is not None:
            async with asyncio.timeout(self._host.send_timeout):
                await publisher.notify(shown)
        await self._host._record(lambda: store.finish_notice(job.id))
        return shown is not None

    async def retry(
        self,
        item: tuple[Notifier, NoticeJob],
        worker: str,
        error: str,
        due: datetime,
        *,
        count_attempt: bool,
    ) -> None:
        """``NoticeStore.retry_notice`` (a claim always counts an attempt)."""
        await self.store.retry_notice(item[1].id, due, error)

    async def give_up(
        self, item: tuple[Notifier, NoticeJob], worker: str, error: str, *, gone: bool
    ) -> None:
        """Remove the notice; refused (the user never started the bot, blocked it or closed
        their DMs): the account's notices off until they say /notifications on."""
        job = item[1]
        await self.store.finish_notice(job.id)
        if gone:
            await self.store.set_account_prefs(
                job.platform, job.account_id, started=False, notify=False
            )


def _said(kind: LowKind[Any]) -> str:
    return kind.name.replace("_", " ")


def describe(exc: BaseException) -> str:
    """An error as recorded with a retry: its type and message, at most 500 characters."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
