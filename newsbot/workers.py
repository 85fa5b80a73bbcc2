"""Several workers on one store: heartbeats, and roles held as leases.

A platform's rate budget belongs to its bot token, Telegram lets one process poll for updates
and Discord one process hold the gateway session: so exactly one worker at a time sends and
receives for a platform. It holds that platform's *role*, a lease in the store (``Store.
acquire_role``) renewed every ``renew_every`` seconds. The others try to take it at the same
pace and succeed only once the lease has expired: at most ``lease + renew_every`` seconds after
the holder died.

A holder never acts on a role it may have lost. It counts the lease from its own monotonic
clock *before* asking the store, so its idea of the expiry is never later than the store's,
and it stops ``margin`` seconds before that: a worker that was paused (SIGSTOP, a long GC, a
frozen VM) past its lease finds on waking that it no longer holds the role, before it can
send anything. The margin also lets the platform's rate windows (a second for the global
limits) empty before the next holder starts, so two holders together never exceed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsbot.errors import StorageError
from newsbot.models import RoleLease, WorkerInfo
from newsbot.ports import Clock, Coordination, SystemClock

log = logging.getLogger("newsbot.workers")

RoleListener = Callable[[str, bool], Awaitable[None]]


class Roles:
    """Takes, renews and gives up this worker's roles, and heartbeats the worker.

    Args:
        store: the shared store; roles and heartbeats are its ``Coordination``.
        worker: this worker's id (unique per process life).
        wanted: the roles to hold when possible (``send:telegram``, ...).
        lease: seconds a role is held without renewal.
        renew_every: seconds between renewals (and between tries by workers standing by).
        margin: seconds before the lease's expiry at which the holder stops acting.
        clock: the wall clock (heartbeat times, lease times passed to the store).
        monotonic: the clock that measures validity; it must keep counting while the
            process is paused.
    """

    def __init__(
        self,
        store: Coordination,
        worker: str,
        wanted: Collection[str],
        *,
        lease: float = 5.0,
        renew_every: float = 1.0,
        margin: float = 1.5,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < margin < lease or renew_every >= lease - margin:
            raise ValueError("need 0 < margin < lease and renew_every < lease - margin")
        self.store = store
        self.worker = worker
        self.wanted = tuple(wanted)
        self.lease = lease
        self.renew_every = renew_every
        self.margin = margin
        self.clock: Clock = clock or SystemClock()
        self.monotonic = monotonic
        self.started_at = self.clock.now()
        self._valid_until: dict[str, float] = {}
        # Roles whose last renewal failed because the store did not answer, and those of them
        # whose lease ran out meanwhile (kept, not acted on: see ``keeps``).
        self._unreachable: set[str] = set()
        self._suspended: set[str] = set()
        self._epochs: dict[str, int] = {}
        # Roles given up for a while (monotonic time until which this worker does not try).
        self._resting: dict[str, float] = {}
        self._listeners: list[RoleListener] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.takeovers: dict[str, int] = dict.fromkeys(self.wanted, 0)

    def on_change(self, listener: RoleListener) -> None:
        """Await ``listener(role, held)`` when a role is gained (``True``) or lost."""
        self._listeners.append(listener)

    def holds(self, role: str) -> bool:
        """Whether this worker may act on ``role`` now (it holds a lease not about to end)."""
        return self.monotonic() < self._valid_until.get(role, 0.0)

    def keeps(self, role: str) -> bool:
        """Whether this worker holds ``role`` or keeps it suspended: its lease ran out while
        the store did not answer, so nobody can have taken it. What needs the store (sending)
        waits for ``holds``; what answers people (a poll for commands, to say "try again")
        may go on. The role is lost for good as soon as the store answers that someone else
        holds it."""
        return self.holds(role) or role in self._suspended

    @property
    def held(self) -> tuple[str, ...]:
        """The roles this worker holds now."""
        return tuple(r for r in self.wanted if self.holds(r))

    def info(self) -> WorkerInfo:
        """How this worker announces itself in its heartbeat."""
        return WorkerInfo(
            id=self.worker,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            heartbeat_at=self.clock.now(),
            roles=self.held,
        )

    async def start(self) -> None:
        """Try for every role once now, then keep trying and renewing in the background."""
        await self._round()
        self._task = asyncio.create_task(self._run(), name="roles")

    async def stop(self) -> None:
        """Stop renewing, give every held role up (the others take over at once) and remove
        this worker from the list. Listeners hear of each role lost."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for role in list(self._valid_until):
            await self._lose(role, "stopping")
            with contextlib.suppress(StorageError):
                await self.store.release_role(role, self.worker)
        with contextlib.suppress(StorageError):
            await self.store.remove_worker(self.worker)

    async def stand_down(self, role: str, seconds: float, why: str) -> None:
        """Give ``role`` up now and do not try for it again for ``seconds``: this worker
        cannot do its work for now (the platform did not answer its adapter), and another
        worker may take it over at once. Listeners hear of the loss."""
        self._resting[role] = self.monotonic() + seconds
        await self._lose(role, why)
        try:
            await self.store.release_role(role, self.worker)
        except StorageError as exc:  # the lease then runs out by itself
            log.warning("cannot give a role up", extra={"role": role, "error": str(exc)})

    def resting(self, role: str) -> bool:
        """Whether this worker has stood down from ``role`` and does not try for it yet."""
        return self.monotonic() < self._resting.get(role, 0.0)

    async def wait_for(self, role: str, within: float) -> bool:
        """Wait up to ``within`` seconds until ``role`` is held (for tests and tools); returns
        whether it is."""
        deadline = self.monotonic() + within
        while not self.holds(role):
            remaining = deadline - self.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._next_wait())
            await self._round()

    def _next_wait(self) -> float:
        # Wake in time to notice a lease running out even when the store stops answering.
        now = self.monotonic()
        ends = [until - now for until in self._valid_until.values() if until > now]
        return max(0.05, min([self.renew_every, *ends]))

    async def _round(self) -> None:
        for role in self.wanted:
            if self.resting(role):
                continue
            asked = self.monotonic()
            try:
                lease = await self.store.acquire_role(
                    role, self.worker, self.clock.now(), self.lease
                )
            except StorageError as exc:
                log.warning("cannot renew a role", extra={"role": role, "error": str(exc)})
                if role in self._valid_until:
                    self._unreachable.add(role)
                continue  # ours until its local expiry, then suspended; try again next round
            if lease is not None and self.resting(role):
                # stand_down ran while this renewal was on its way: give the role up again.
                with contextlib.suppress(StorageError):
                    await self.store.release_role(role, self.worker)
                continue
            self._unreachable.discard(role)
            if lease is None:
                if role in self._valid_until:
                    await self._lose(role, "taken over or expired")
                continue
            previous = self._epochs.get(role)
            self._epochs[role] = lease.epoch
            # The same epoch means nobody else held the role meanwhile: a renewal that came
            # late (a slow database) continues the tenure; we only stopped acting while our
            # own idea of the lease had run out.
            continued = role in self._valid_until and previous == lease.epoch
            gained = not continued
            if gained and role in self._valid_until:
                await self._lose(role, "another worker held the role meanwhile")
            self._valid_until[role] = asked + self.lease - self.margin
            if role in self._suspended:
                self._suspended.discard(role)
                log.info("role resumed: the store answers again", extra={"role": role})
            if gained:
                self.takeovers[role] = self.takeovers.get(role, 0) + 1
                log.info("role taken", extra={"role": role, "epoch": lease.epoch})
                await self._tell(role, True)
        for role, until in list(self._valid_until.items()):
            if self.monotonic() < until:
                continue
            if role in self._unreachable:
                # The store does not answer, so nobody can take the role either: this worker
                # stops acting on it (no sends) but keeps what it runs, to answer people.
                if role not in self._suspended:
                    self._suspended.add(role)
                    log.warning(
                        "role suspended: the store does not answer; not sending until it does",
                        extra={"role": role},
                    )
                continue
            await self._lose(role, "lease ran out")
        try:
            await self.store.heartbeat(self.info())
        except StorageError as exc:
            log.warning("cannot write the heartbeat", extra={"error": str(exc)})

    async def _lose(self, role: str, why: str) -> None:
        self._suspended.discard(role)
        self._unreachable.discard(role)
        if self._valid_until.pop(role, None) is None:
            return
        log.warning("role lost", extra={"role": role, "why": why})
        await self._tell(role, False)

    async def _tell(self, role: str, held: bool) -> None:
        self._changed.set()
        for listener in list(self._listeners):
            try:
                await listener(role, held)
            except Exception:
                log.exception("a role listener failed", extra={"role": role, "held": held})


class Backoff:
    """Growing pauses between attempts at something that keeps failing: ``first`` seconds,
    doubling up to ``cap``, each drawn at random between half and all of that (so that
    workers failing together do not retry together).

    A platform's gateway counts its logins (Discord allows 1000 a day per token): at the
    default cap a worker tries at most once every 150 s, under 600 times a day.
    """

    def __init__(self, first: float = 1.0, cap: float = 300.0) -> None:
        if not 0 < first <= cap:
            raise ValueError("need 0 < first <= cap")
        self.first = first
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        """Count a failure; return the seconds to wait before the next attempt."""
        self.failures += 1
        longest = min(self.cap, self.first * 2.0 ** min(self.failures - 1, 60))
        return random.uniform(longest / 2, longest)

    def reset(self) -> None:
        """The attempt succeeded: start from ``first`` again after the next failure."""
        self.failures = 0


LIVE_HORIZON = 15.0
"""Seconds since its last heartbeat within which a worker counts as live (it sends one every
``renew_every``: a second by default)."""


async def live_workers(
    store: Coordination, now: datetime, horizon: float = LIVE_HORIZON
) -> list[WorkerInfo]:
    """Workers that sent a heartbeat in the last ``horizon`` seconds."""
    return await store.list_workers(now - timedelta(seconds=horizon))


@dataclass(frozen=True, slots=True)
class Roster:
    """The workers on one database and the roles they hold, for an operator.

    Attributes:
        at: when it was read (heartbeat ages and lease liveness are counted from it).
        workers: the workers that sent a heartbeat within the horizon asked for.
        roles: every role's lease, live or run out.
    """

    at: datetime
    workers: tuple[WorkerInfo, ...]
    roles: tuple[RoleLease, ...]
