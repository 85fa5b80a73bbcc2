"""Reading feeds in worker processes: feedparser, nh3 and markdownify off the event loop, each
document and each item within a budget.

A document's parse and an item's conversion are pure CPU work that grows with what a site
serves (5 MB of links take a minute to convert; a 10 MB malformed feed, minutes to parse).
On the event loop they froze the bot; in a thread they still hold the GIL and cannot be
stopped. A ``FeedReader`` runs them in up to ``processes`` worker processes (started on first
use, at a lower CPU priority, with a capped address space), so that:

- a parse past ``parse_cpu`` seconds of CPU is stopped inside its worker (a SIGPROF timer)
  and fails as a ``FeedError``; a conversion past ``convert_cpu`` keeps the item as plain
  text instead;
- a job that does not come back within its wall-clock deadline, or whose caller gave up
  (the poll's timeout cancelled it), has its worker killed; the next job starts a new one;
- a document that needs more than ``memory`` bytes fails alone (``MemoryError`` in the
  worker, which then exits and is replaced); a worker left holding more than ``recycle``
  bytes after a job (Python keeps what a large document took) is replaced too;
- whatever else a parse raises (a ``RecursionError``) is a ``FeedError`` of that feed with a
  one-line reason, never an exception that escapes to the poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from types import FrameType
from typing import Any

from adapters.feeds.convert import in_callbacks
from newsbot.errors import FeedError
from newsbot.models import FeedEntry

log = logging.getLogger("newsbot.feeds")

PARSE_CPU = 10.0
CONVERT_CPU = 2.0
MEMORY = 384 * 1024 * 1024
RECYCLE = 128 * 1024 * 1024
_MEMORY = "reading the feed needs more memory than allowed"
NICE = 10
_ROOT = str(Path(__file__).resolve().parent.parent.parent)
_START = f"import sys; sys.path.insert(0, {_ROOT!r}); import adapters.feeds.worker as w; w.main()"

Parsed = tuple[str, list[FeedEntry], list[str]]


class _Gone(Exception):
    """The worker died, was killed, or overran its deadline."""


class _Worker:
    """One worker process and the connection to it; used by one thread at a time."""

    def __init__(self, memory: int, recycle: int) -> None:
        ours, theirs = Pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _START, str(theirs.fileno()), str(memory), str(recycle)],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self.connection = ours
        self.pid = self.process.pid

    def call(self, request: tuple[Any, ...], deadline: float) -> Any:
        try:
            self.connection.send(request)
            if not self.connection.poll(deadline):
                raise _Gone(f"no answer within {deadline:g} s")
            return self.connection.recv()
        except (EOFError, OSError) as exc:
            raise _Gone("the worker process ended") from exc

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()

    def close(self) -> None:
        self.kill()
        self.process.wait()
        self.connection.close()


@dataclasses.dataclass
class _Job:
    request: tuple[Any, ...]
    deadline: float
    worker: _Worker | None = None
    cancelled: bool = False


def _shut(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.close()
    workers.clear()


class FeedReader:
    """Parses feed documents and converts items in worker processes (see the module).

    Thread-safe and not bound to an event loop; ``close`` ends the workers (a later call
    starts new ones).

    Args:
        processes: worker processes at most (jobs beyond wait their turn).
        parse_cpu: CPU seconds one document's parse may take.
        convert_cpu: CPU seconds one item's conversion to Markdown may take.
        memory: the address space of a worker, in bytes.
        recycle: a worker holding more resident memory than this (bytes) after a job is
            replaced.
    """

    def __init__(
        self,
        *,
        processes: int = 2,
        parse_cpu: float = PARSE_CPU,
        convert_cpu: float = CONVERT_CPU,
        memory: int = MEMORY,
        recycle: int = RECYCLE,
    ) -> None:
        self.processes = processes
        self.parse_cpu = parse_cpu
        self.convert_cpu = convert_cpu
        self.memory = memory
        self.recycle = recycle
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._executor: ThreadPoolExecutor | None = None
        self._finalizer = weakref.finalize(self, _shut, self._all)

    @property
    def pids(self) -> list[int]:
        """The worker processes alive now."""
        with self._lock:
            return [w.pid for w in self._all if w.process.poll() is None]

    async def parse(self, body: bytes, url: str, content_type: str | None) -> Parsed:
        """``parse_feed`` in a worker: the title, the entries (converted on demand, in a
        worker too) and the problems.

        Raises:
            FeedError: not a feed, cut off, or past a budget.
        """
        deadline = self.parse_cpu * 3 + 10
        title, entries, sources, problems = await self._submit(
            ("parse", (body, url, content_type), self.parse_cpu), deadline
        )
        converted = [
            dataclasses.replace(entry, convert=_RemoteConvert(self, source, entry.link or url))
            for entry, source in zip(entries, sources, strict=True)
        ]
        return title, converted, problems

    def convert(self, source: tuple[str, str, str]) -> tuple[str, str, list[str]]:
        """An item's body (Markdown) and summary (plain text), and what had to be cut; blocks
        the calling thread (never call it on the event loop).

        Raises:
            FeedError: the worker failed.
        """
        deadline = self.convert_cpu * 3 + 10
        job = _Job(("convert", source, self.convert_cpu), deadline)
        result: tuple[str, str, list[str]] = self._pool().submit(self._run, job).result()
        return result

    async def _submit(self, request: tuple[Any, ...], deadline: float) -> Any:
        job = _Job(request, deadline)
        future = asyncio.get_running_loop().run_in_executor(self._pool(), self._run, job)
        try:
            return await future
        except asyncio.CancelledError:
            self._cancel(job)  # the caller gave up: really stop the work
            raise

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.processes, "feed-reader")
            return self._executor

    def _cancel(self, job: _Job) -> None:
        with self._lock:
            job.cancelled = True
            if job.worker is not None:
                job.worker.kill()

    def _run(self, job: _Job) -> Any:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(self.memory, self.recycle)
            with self._lock:
                self._all.append(worker)
        with self._lock:
            job.worker = worker
            cancelled = job.cancelled
        if cancelled:
            worker.kill()
        keep = False
        try:
            kind, value, retired = worker.call(job.request, job.deadline)
            keep = not retired
        except _Gone as exc:
            kind, value = "error", "cancelled" if job.cancelled else f"reading stopped: {exc}"
        finally:
            with self._lock:
                job.worker = None
                if keep:
                    self._idle.append(worker)
                else:
                    self._all.remove(worker)
            if not keep:
                worker.close()
        if kind == "ok":
            return value
        raise FeedError(str(value))

    def close(self) -> None:
        """End the worker processes (jobs under way fail)."""
        with self._lock:
            executor, self._executor = self._executor, None
            idle, self._idle = self._idle, []
            for worker in idle:
                self._all.remove(worker)
            busy = list(self._all)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        for worker in busy:
            worker.kill()  # the thread that waits for it closes it
        _shut(idle)


class _RemoteConvert:
    """``FeedEntry.convert`` for an entry read in a worker: converts it there on first use.
    A failed conversion (the worker died) leaves the body empty, logged, rather than raise."""

    def __init__(self, reader: FeedReader, source: tuple[str, str, str], where: str) -> None:
        self.reader = reader
        self.source: tuple[str, str, str] | None = source
        self.where = where
        self.result = ("", "")

    def __call__(self) -> tuple[str, str]:
        if self.source is not None:
            source, self.source = self.source, None
            try:
                body, summary, notes = self.reader.convert(source)
            except FeedError as exc:
                log.warning(
                    "feed item not converted", extra={"item": self.where, "error": str(exc)}
                )
                return self.result
            if notes:
                log.info(
                    "feed item cut to its budget",
                    extra={"item": self.where, "notes": "; ".join(notes)[:500]},
                )
            self.result = (body, summary)
        return self.result


# -- in the worker process ---------------------------------------------------------------


class _OverBudget(BaseException):
    """The job's CPU budget ran out (a BaseException: feedparser's broad handlers must not
    swallow it)."""


_armed = False


def _on_sigprof(signum: int, frame: FrameType | None) -> None:
    global _armed
    if _armed and not in_callbacks():  # else the timer's next tick, 10 ms on, raises
        _armed = False  # once: not again while the exception unwinds
        raise _OverBudget


@contextlib.contextmanager
def _budget(seconds: float) -> Iterator[None]:
    global _armed
    _armed = True
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.01)
    try:
        yield
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_PROF, 0)


def _parse(
    body: bytes, url: str, content_type: str | None, cpu: float
) -> tuple[str, list[FeedEntry], list[tuple[str, str, str]], list[str]]:
    from adapters.feeds.parse import parse_feed

    try:
        with _budget(cpu):
            title, entries, problems = parse_feed(body, url, content_type)
    except _OverBudget:
        raise FeedError(f"reading the feed took more than {cpu:g} s of CPU") from None
    sources: list[tuple[str, str, str]] = []
    plain: list[FeedEntry] = []
    for entry in entries:
        source = getattr(entry.convert, "source", None) or ("", "", url)
        sources.append(source)
        plain.append(dataclasses.replace(entry, convert=None))
    return title, plain, sources, problems


def _convert(
    body_html: str, summary_html: str, base: str, cpu: float
) -> tuple[str, str, list[str]]:
    from adapters.feeds.convert import cut, plain_markdown, to_text
    from adapters.feeds.parse import convert_item

    try:
        with _budget(cpu):
            return convert_item(body_html, summary_html, base)
    except _OverBudget:
        note = f"converting took more than {cpu:g} s of CPU: kept as plain text"
        return plain_markdown(cut(body_html)), to_text(cut(summary_html)), [note]


_JOBS: dict[str, Callable[..., Any]] = {"parse": _parse, "convert": _convert}


def _answer(kind: str, args: tuple[Any, ...], cpu: float) -> tuple[str, Any]:
    try:
        return "ok", _JOBS[kind](*args, cpu)
    except FeedError as exc:
        return "error", str(exc)
    except _OverBudget:
        return "error", f"took more than {cpu:g} s of CPU"
    except MemoryError:
        return "error", _MEMORY
    except Exception as exc:
        return "error", f"cannot read the feed: {type(exc).__name__}: {str(exc)[:300]}"


def _resident() -> int:
    """This process's resident memory in bytes (0 where /proc is absent)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    """The worker: answers jobs from the connection on ``argv[1]`` until it closes. Each
    answer is ``(kind, value, retired)``; a worker that ran out of memory, or holds more than
    ``argv[3]`` bytes after a job (Python keeps what a large document took), exits after
    answering, and the next job starts a fresh one."""
    import resource

    import adapters.feeds.parse  # noqa: F401  # imported before the address space is capped

    fd, memory, recycle = (int(a) for a in sys.argv[1:4])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us
    signal.signal(signal.SIGPROF, _on_sigprof)
    with contextlib.suppress(OSError):
        os.nice(NICE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    connection = Connection(fd)
    while True:
        try:
            kind, args, cpu = connection.recv()
        except (EOFError, OSError):
            return
        except MemoryError:
            connection.send(("error", _MEMORY, True))
            return
        answer = _answer(kind, args, cpu)
        retire = answer[1] == _MEMORY or _resident() > recycle
        try:
            connection.send((*answer, retire))
        except OSError:  # the parent is gone (or gave up on this job and killed us)
            return
        except (MemoryError, RecursionError, ValueError) as exc:
            retire = True
            connection.send(("error", f"the answer could not be sent: {type(exc).__name__}", True))
        if retire:
            return
