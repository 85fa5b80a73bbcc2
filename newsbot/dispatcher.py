"""The outbox worker: claims due deliveries, hands them to publishers, records the outcome.

One loop per platform keeps at most ``concurrency`` deliveries in flight (never a task per
destination). A delivery is claimed in the store before it is sent and completed after. The
claim is a lease owned by this dispatcher's ``worker`` id and renewed while the send runs, so
a crash (or a stall) leaves it ``sending`` only until the lease expires; then any dispatcher
takes it over and sends it again: only a send in flight at a crash can be repeated. Starting
never touches other workers' claims. Deliveries enqueued elsewhere are found by ``wake``
(the service's, and the store's ``watch``) or by polling every ``poll_interval`` seconds.

A platform can be attached and detached while running: with several workers only the holder
of a platform's role sends for it (``may_send`` is asked before each claim and each send).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import secrets
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from newsbot.errors import DeliveryError, DestinationGone, RateLimited, StorageError
from newsbot.lane import Lane, LowKind, ReplyNotices, describe
from newsbot.models import Article, ArticleId, DeliveryOp, Job, Platform
from newsbot.ports import Clock, Outbox, Publisher, SystemClock
from newsbot.ports.notifications import NoticeStore
from newsbot.stats import tagged_url

log = logging.getLogger("newsbot.dispatcher")
_DELETE = DeliveryOp.DELETE


T = TypeVar("T")


class ClosedStories(Protocol):
    """Which stories are closed to comments (``newsbot.closing.Closing``)."""

    async def closed(self, articles: Iterable[Article]) -> set[ArticleId]:
        """The ids of ``articles`` closed now."""
        ...


def new_worker_id() -> str:
    """A worker id unique to this process life: ``host-pid-random``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Dispatcher:
    """Delivers the outbox through one ``Publisher`` per platform.

    Args:
        store: an opened store; the dispatcher uses only its outbox.
        publishers: the publisher of each platform that is on; deliveries for other platforms
            wait in the outbox until a publisher for them runs.
        clock: the time source.
        concurrency: deliveries in flight at once, per platform.
        poll_interval: seconds between looks at the outbox when nothing woke the loop.
        max_attempts: transient failures after which a delivery is given up (``dead``).
        backoff_base: the first retry delay in seconds; it doubles per attempt, with jitter.
        backoff_cap: the longest retry delay in seconds.
        send_timeout: seconds after which a publisher call counts as a transient failure.
        article_url: builds an article's web address for the jobs (``NewsService.article_url``).
        worker: the id that owns this dispatcher's claims (``new_worker_id()`` by default).
        lease: seconds a claim stays ours without renewal; renewed every third of it while
            sends run, so a dead worker's claims are taken over this long after its death.
        may_send: asked before each claim and each send; ``False`` (the platform's role was
            lost) gives the claim back untouched instead of sending.
        staff: the staff chat's notices (``NewsService.staffchat``), one at a time per
            platform, so a flood folds into the notice still waiting.
        notices: the store's reply notices (``newsbot.notifications``), sent through the
            publishers that are also a ``Notifier``.
        closing: which stories are closed (``NewsService.desk.closing``): the jobs of their
            own posts and edits carry ``comments_closed``, so the line and the Discord
            thread's lock follow the policy read when the post was claimed.

    Staff and reply notices are the low-priority lane (``newsbot.lane``): claimed only with
    the slots the due article deliveries left free (never ahead of a fan-out), the kinds
    taking turns so a flood of one never starves the other.
    """

    def __init__(
        self,
        store: Outbox,
        publishers: Mapping[Platform, Publisher],
        *,
        clock: Clock | None = None,
        concurrency: int = 16,
        poll_interval: float = 1.0,
        max_attempts: int = 12,
        backoff_base: float = 2.0,
        backoff_cap: float = 900.0,
        send_timeout: float = 60.0,
        article_url: Callable[[ArticleId], str] | None = None,
        worker: str | None = None,
        lease: float = 30.0,
        may_send: Callable[[Platform], bool] | None = None,
        staff: LowKind[Any] | None = None,
        notices: NoticeStore | None = None,
        closing: ClosedStories | None = None,
    ) -> None:
        self.article_url = article_url or (lambda article_id: f"/articles/{article_id}")
        self.store = store
        self.publishers = dict(publishers)
        self.clock: Clock = clock or SystemClock()
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.send_timeout = send_timeout
        self.worker = worker or new_worker_id()
        self.lease = lease
        self.may_send = may_send or (lambda _platform: True)
        kinds: list[LowKind[Any]] = [] if notices is None else [ReplyNotices(self, notices)]
        self.lane = Lane([*kinds, *([] if staff is None else [staff])], self)
        self.closing = closing
        self._wake: dict[Platform, asyncio.Event] = {}
        self._stopping = asyncio.Event()
        self._detaching: dict[Platform, asyncio.Event] = {}
        self._loops: dict[Platform, asyncio.Task[None]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._running = False
        self.in_flight = 0
        # Outcomes by (platform, "sent" | "rate_limited" | "failed" | "gone"), for metrics.
        self.outcomes: Counter[tuple[str, str]] = Counter()

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll."""
        for event in self._wake.values():
            event.set()

    async def start(self) -> None:
        """Start one loop per platform attached so far, and the lease renewal."""
        self._stopping.clear()
        self._running = True
        for platform in list(self.publishers):
            self._start_loop(platform)
        self._renewer = asyncio.create_task(self._renew(), name="dispatch-leases")

    def attach(self, publisher: Publisher) -> None:
        """Deliver for ``publisher.platform`` from now on (at once if running)."""
        platform = publisher.platform
        self.publishers[platform] = publisher
        if self._running and platform not in self._loops:
            self._start_loop(platform)

    async def detach(self, platform: Platform, grace: float = 10.0) -> int:
        """Stop delivering for ``platform``: no more claims, sends in flight get ``grace``
        seconds to finish, and the claims left are given back. Returns how many were."""
        self.publishers.pop(platform, None)
        task = self._loops.pop(platform, None)
        if task is not None:
            self._detaching.setdefault(platform, asyncio.Event()).set()
            self._wake.get(platform, asyncio.Event()).set()
            _done, pending = await asyncio.wait({task}, timeout=grace)
            for late in pending:
                late.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._detaching.pop(platform, None)
        try:
            released = await self.store.release_claims(self.worker, platform)
        except StorageError:
            log.exception("cannot give claims back; they expire with their lease")
            return 0
        if released:
            log.info("claims given back", extra={"platform": str(platform), "count": released})
        return released

    def _start_loop(self, platform: Platform) -> None:
        self._wake[platform] = asyncio.Event()
        self._detaching[platform] = asyncio.Event()
        self._loops[platform] = asyncio.create_task(
            self._loop(platform, self.publishers[platform]), name=f"dispatch-{platform}"
        )

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let sends in flight finish for up to ``grace`` seconds, then cancel
        the rest; their deliveries go back to ``pending`` for whoever sends next."""
        self._stopping.set()
        self._running = False
        self.wake()
        loops = list(self._loops.values())
        if loops:
            _done, pending = await asyncio.wait(loops, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
        self._loops.clear()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        with contextlib.suppress(StorageError):
            await self.store.release_claims(self.worker)
            await self.lane.release(self.worker)

    async def _renew(self) -> None:
        """Renew our claims' leases while sends run, every third of the lease."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if self.in_flight <= 0:
                continue
            # Deliveries and the low lane's notices alike: a slow send keeps its claim, so no
            # other worker sends it again.
            for renew in [self.store.renew_claims, *self.lane.renewals()]:
                try:
                    await renew(self.worker, self.clock.now(), self.lease)
                except StorageError:
                    log.warning("cannot renew leases", exc_info=True)

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def drain(self, max_wait: float = 30.0) -> None:
        """Wait until everything that falls due within ``max_wait`` seconds is delivered.

        Work due later (a retry far in the future, a paced count refresh) does not hold it.
        For tests and the command line.

        Raises:
            TimeoutError: deliveries due within the window remain after ``max_wait`` seconds.
        """
        deadline = self.clock.now() + timedelta(seconds=max_wait)
        async with asyncio.timeout(max_wait):
            while True:
                due = [await self._next_due(p) for p in self.publishers]
                if self.in_flight == 0 and all(d is None or d > deadline for d in due):
                    return
                self.wake()
                await asyncio.sleep(0.01)

    async def _loop(self, platform: Platform, publisher: Publisher) -> None:
        tasks: set[asyncio.Task[None]] = set()
        wake = self._wake[platform]
        detaching = self._detaching[platform]
        slot_free = asyncio.Event()

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            self.in_flight -= 1
            slot_free.set()

        def spawn(send: Coroutine[Any, Any, None]) -> None:
            task = asyncio.create_task(send)
            tasks.add(task)
            task.add_done_callback(finished)

        try:
            while not (self._stopping.is_set() or detaching.is_set()):
                jobs: list[Job] = []
                low: list[Any] = []
                free = self.concurrency - len(tasks)
                if free > 0 and self.may_send(platform):
                    jobs = await self._claiming(
                        "deliveries",
                        platform,
                        self.store.claim_deliveries(
                            platform, self.clock.now(), free, worker=self.worker, lease=self.lease
                        ),
                    )
                closed = await self._closed(jobs)
                for job in jobs:
                    url = tagged_url(self.article_url(job.article.id), job.destination.id)
                    if closed is None:  # the policy is unknown: send it later
                        spawn(self._give_back(job, "policy unknown", 1.0))
                        continue
                    job = dataclasses.replace(
                        job, article_url=url, comments_closed=job.article.id in closed
                    )
                    spawn(self._deliver(publisher, job))
                if len(jobs) < free and self.may_send(platform):
                    # Every article delivery due is claimed: the low lane gets the slots left.
                    low = await self._claiming(
                        "notices",
                        platform,
                        self.lane.claim(
                            platform,
                            self.clock.now(),
                            free - len(jobs),
                            worker=self.worker,
                            lease=self.lease,
                        ),
                    )
                for claimed in low:
                    spawn(self.lane.send(claimed, self.worker))
                if (jobs or low) and len(tasks) < self.concurrency:
                    continue
                timeout = self.poll_interval
                if len(tasks) < self.concurrency:
                    with contextlib.suppress(StorageError):
                        due = await self._next_due(platform)
                        if due is not None:
                            wait = (due - self.clock.now()).total_seconds()
                            timeout = min(timeout, max(wait, 0.0))
                wake.clear()
                slot_free.clear()
                waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(slot_free.wait())]
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _closed(self, jobs: list[Job]) -> set[ArticleId] | None:
        """The closed stories among those of the claimed article posts; ``None`` when the
        store could not say."""
        posts = [j.article for j in jobs if j.comment is None and j.delivery.op is not _DELETE]
        if self.closing is None or not posts:
            return set()
        try:
            return await self.closing.closed(posts)
        except StorageError:
            log.exception("cannot read comment policies")
            return None

    async def _give_back(self, job: Job, reason: str, delay: float = 0.0) -> None:
        """Put a claimed delivery back, due in ``delay`` seconds, not counting an attempt."""
        now = self.clock.now()
        due = now + timedelta(seconds=delay)
        await self._record(
            lambda: self.store.retry_delivery(job.delivery, reason, due, now, count_attempt=False)
        )

    async def _next_due(self, platform: Platform) -> datetime | None:
        due = [await self.store.next_due(platform), await self.lane.next_due(platform)]
        return min((d for d in due if d is not None), default=None)

    async def _claiming(self, what: str, platform: Platform, claim: Awaitable[list[T]]) -> list[T]:
        """Run a claim, counting it in flight while it runs (what it claims is no longer due
        in the store, and drain() must not take that for done), then each item claimed."""
        self.in_flight += 1
        claimed: list[T] = []
        try:
            claimed = await claim
        except StorageError:
            log.exception(f"cannot claim {what}", extra={"platform": platform})
        finally:
            self.in_flight += len(claimed) - 1
        return claimed

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the retry after ``attempts`` failures: doubling from
        ``backoff_base`` up to ``backoff_cap``, with jitter to spread a fan-out's retries."""
        delay = min(self.backoff_cap, self.backoff_base * 2.0 ** (attempts - 1))
        return delay * random.uniform(0.5, 1.0)

    async def _deliver(self, publisher: Publisher, job: Job) -> None:
        delivery = job.delivery
        fields = {
            "delivery_id": delivery.id,
            "article_id": delivery.article_id,
            "comment_id": delivery.comment_id,
            "platform": str(delivery.platform),
            "chat_id": job.destination.chat_id,
            "op": str(delivery.op),
            "attempt": delivery.attempts,
        }
        if not self.may_send(delivery.platform):
            # The platform's role moved to another worker while this job waited: hand it over.
            await self._give_back(job, "role lost")
            log.info("claim given back: not the sender any more", extra=fields)
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sending", extra=fields)
        try:
            posted = None
            async with asyncio.timeout(self.send_timeout):
                if delivery.op is DeliveryOp.DELETE:
                    if delivery.message_id is not None:
                        await publisher.delete(job)
                elif delivery.message_id is None:
                    posted = await publisher.post(job)
                else:
                    await publisher.edit(job)
            await self._record(
                lambda: self.store.complete_delivery(delivery, posted, self.clock.now())
            )
            self.outcomes[(str(delivery.platform), "sent")] += 1
            log.debug("delivered", extra=fields)
        except RateLimited as exc:
            self.outcomes[(str(delivery.platform), "rate_limited")] += 1
            due = self.clock.now() + timedelta(seconds=max(exc.retry_after, 0.0))
            message = str(exc)
            await self._record(
                lambda: self.store.retry_delivery(
                    delivery, message, due, self.clock.now(), count_attempt=False
                )
            )
            log.info(
                "rate limited",
                extra={**fields, "retry_after": exc.retry_after, "scope": exc.scope},
            )
        except DestinationGone as exc:
            self.outcomes[(str(delivery.platform), "gone")] += 1
            reason = str(exc)
            await self._record(
                lambda: self.store.fail_delivery(
                    delivery, f"destination gone: {reason}", self.clock.now()
                )
            )
            await self._record(
                lambda: self.store.deactivate_destination(
                    job.destination.id, reason, self.clock.now()
                )
            )
            log.warning("destination gone, deactivated", extra={**fields, "error": str(exc)})
        except (DeliveryError, TimeoutError, OSError) as exc:
            await self._failed(job, describe(exc), fields)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a publisher bug must not kill the loop
            log.exception("publisher raised an unexpected error", extra=fields)
            await self._failed(job, describe(exc), fields)

    async def _failed(self, job: Job, error: str, fields: Mapping[str, object]) -> None:
        delivery = job.delivery
        self.outcomes[(str(delivery.platform), "failed")] += 1
        now = self.clock.now()
        if delivery.attempts >= self.max_attempts:
            await self._record(
                lambda: self.store.fail_delivery(delivery, f"gave up: {error}", now)
            )
            log.error("delivery given up", extra={**fields, "error": error})
            return
        delay = self.retry_delay(delivery.attempts)
        due = now + timedelta(seconds=delay)
        await self._record(lambda: self.store.retry_delivery(delivery, error, due, now))
        log.warning(
            "delivery failed, will retry",
            extra={**fields, "error": error, "retry_in": round(delay, 1)},
        )

    async def _record(self, operation: Callable[[], Awaitable[object]]) -> None:
        """Record an outcome, retrying while the store fails (a full disk, a locked file).

        The platform has already acted: giving up would leave the claim ``sending`` and the
        next start would send again. Only a stop abandons the record, with that same result.
        """
        delay = 0.1
        while True:
            try:
                await operation()
            except StorageError:
                log.exception("cannot record a delivery outcome; retrying", extra={"in": delay})
                if self._stopping.is_set():
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                return
