"""The outbox worker: claims due deliveries, hands them to publishers, records the outcome.

One loop per platform keeps at most ``concurrency`` deliveries in flight (never a task per
destination). A delivery is claimed in the store before it is sent and completed after, so a
crash leaves it ``sending``; the next start returns such claims to ``pending`` and they are
sent again: only a send in flight at a crash can be repeated. Deliveries enqueued by another
process are found by polling every ``poll_interval`` seconds; the service wakes the loop at
once for its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from newsbot.errors import DeliveryError, DestinationGone, RateLimited, StorageError
from newsbot.models import ArticleId, DeliveryOp, Job, Platform
from newsbot.ports import Clock, Publisher, Store, SystemClock

log = logging.getLogger("newsbot.dispatcher")


class Dispatcher:
    """Delivers the outbox through one ``Publisher`` per platform.

    Args:
        store: an opened store.
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
    """

    def __init__(
        self,
        store: Store,
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
        self._wake = {platform: asyncio.Event() for platform in self.publishers}
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self.in_flight = 0

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll."""
        for event in self._wake.values():
            event.set()

    async def start(self) -> int:
        """Release claims left by a previous run and start one loop per platform.

        Returns how many claims were released: sends that were in flight at a crash, which
        will be sent again.
        """
        released = await self.store.release_claims()
        if released:
            log.warning("released deliveries in flight at last stop", extra={"count": released})
        self._stopping.clear()
        for platform, publisher in self.publishers.items():
            task = asyncio.create_task(
                self._loop(platform, publisher), name=f"dispatch-{platform}"
            )
            self._loops.append(task)
        return released

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let sends in flight finish for up to ``grace`` seconds, then cancel
        the rest; their deliveries go back to ``pending`` for the next start."""
        self._stopping.set()
        self.wake()
        if self._loops:
            _done, pending = await asyncio.wait(self._loops, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        with contextlib.suppress(StorageError):
            await self.store.release_claims()

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
                due = [await self.store.next_due(p) for p in self.publishers]
                if self.in_flight == 0 and all(d is None or d > deadline for d in due):
                    return
                self.wake()
                await asyncio.sleep(0.01)

    async def _loop(self, platform: Platform, publisher: Publisher) -> None:
        tasks: set[asyncio.Task[None]] = set()
        wake = self._wake[platform]
        slot_free = asyncio.Event()

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            self.in_flight -= 1
            slot_free.set()

        try:
            while not self._stopping.is_set():
                jobs: list[Job] = []
                free = self.concurrency - len(tasks)
                if free > 0:
                    # A claim in progress counts as in flight: its deliveries are no longer due
                    # in the store, and drain() must not take that for done.
                    self.in_flight += 1
                    try:
                        jobs = await self.store.claim_deliveries(platform, self.clock.now(), free)
                    except StorageError:
                        log.exception("cannot claim deliveries", extra={"platform": platform})
                    finally:
                        self.in_flight += len(jobs) - 1
                for job in jobs:
                    job = dataclasses.replace(job, article_url=self.article_url(job.article.id))
                    task = asyncio.create_task(self._deliver(publisher, job))
                    tasks.add(task)
                    task.add_done_callback(finished)
                if jobs and len(tasks) < self.concurrency:
                    continue
                timeout = self.poll_interval
                if len(tasks) < self.concurrency:
                    with contextlib.suppress(StorageError):
                        due = await self.store.next_due(platform)
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
            log.debug("delivered", extra=fields)
        except RateLimited as exc:
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
            await self._failed(job, _describe(exc), fields)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a publisher bug must not kill the loop
            log.exception("publisher raised an unexpected error", extra=fields)
            await self._failed(job, _describe(exc), fields)

    async def _failed(self, job: Job, error: str, fields: Mapping[str, object]) -> None:
        delivery = job.delivery
        now = self.clock.now()
        if delivery.attempts >= self.max_attempts:
            await self._record(
                lambda: self.store.fail_delivery(delivery, f"gave up: {error}", now)
            )
            log.error("delivery given up", extra={**fields, "error": error})
            return
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (delivery.attempts - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter spreads retries of a fan-out
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


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
