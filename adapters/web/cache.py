"""The rendered-page cache: each public GET page rendered (and gzip-compressed) once per change.

An entry is a page's finished bytes (identity and gzip), its strong ``ETag`` (a hash of the
body, so every worker serving the same content gives the same tag) and its ``Last-Modified``.
It is stamped with the cache's *generations* when it was loaded; a request finds it current
when the stamps still match, and then costs a dictionary look-up and no database read.

Generations move on when something changed:

- in this process at once: the service's ``on_enqueue`` hook, called after every stored,
  edited or deleted comment (so a ban's deletions too) and every published, edited or
  retracted article, moves the global generation;
- in other processes through ``Store.watch``: ``"article:ID"`` (PostgreSQL's NOTIFY) moves
  that article's generation and the lists'; ``"*"`` (SQLite's ``PRAGMA data_version`` poll,
  every 50 ms, for any commit by any connection) moves the global one.

A stale entry is not thrown away: the page's data is read again (one query or a few) and
compared with the data the entry was made from. Only when it differs is the template
rendered and the body compressed again. SQLite's ``"*"`` fires for every commit, deliveries
and rate-limit slots included, so during a fan-out most "changes" change no page; the check
keeps them from costing a render, and keeps the ``ETag`` (and so 304s) unchanged.

Concurrent requests for a stale or missing page wait for one load (a single flight), so a
spike after a change costs one read and at most one render. The cache is bounded by entries
and by bytes, least recently used first out. Pages that failed (404, 400) are not kept.

A page that shows relative times ("5 minutes ago") says when its text goes out of date
(``Page.until``, from ``newsbot.ages``): its entry is checked again on the first request from
then, and its data (the ages shown) differ, so it is rendered anew.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime

from aiohttp import web

GZIP_MIN = 512  # below this, compression saves too little to be worth a second body
GZIP_LEVEL = 6


def public_cache_control(max_age: int, s_maxage: int, stale: int) -> str:
    """The ``Cache-Control`` of a public page: browsers keep it ``max_age`` seconds, shared
    caches ``s_maxage``, and either may serve it ``stale`` seconds more while refreshing."""
    return f"public, max-age={max_age}, s-maxage={s_maxage}, stale-while-revalidate={stale}"


@dataclass(slots=True)
class Page:
    """What a handler loaded: the data the body is made from, and how to make it.

    ``data`` must have a ``repr`` that changes whenever the body would (dataclasses of the
    models do); ``make`` renders the body, called only when ``data`` changed.
    """

    data: object
    make: Callable[[], str]
    content_type: str = "text/html"
    status: int = 200
    cache_control: str = "no-cache"
    vary: str = "Accept-Encoding"  # add ", Cookie" where a cookie holder gets another page
    until: datetime | None = None  # the body goes out of date then ("5 minutes ago")


@dataclass(slots=True)
class Entry:
    """A finished page, ready to be answered as it is."""

    status: int
    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: int  # whole seconds since the epoch
    headers: dict[str, str]
    gzip_headers: dict[str, str]
    fingerprint: bytes
    stamp: tuple[int, int]
    tags: frozenset[str] = field(default_factory=frozenset)
    until: datetime | None = None  # checked again on the first request from then (Page.until)
    not_modified: dict[str, str] = field(default_factory=dict)
    gzip_not_modified: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 512


Load = Callable[[], Awaitable[Page]]


class PageCache:
    """Rendered pages by key, kept current by generations (see the module's docstring).

    Args:
        max_entries: pages kept at most.
        max_bytes: bytes of bodies (identity and gzip) kept at most.
        clock: wall-clock seconds, for ``Last-Modified``.
        now: the service's time, for ``lists_until``.
    """

    def __init__(
        self,
        max_entries: int = 1024,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.now = now
        self._lists_until: datetime | None = None
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._pending: dict[Hashable, asyncio.Future[Entry]] = {}
        self._bytes = 0
        self._global = 0
        self._lists = 0
        self._articles: dict[int, int] = {}
        self.hits = 0
        self.checks = 0  # stale entries whose data was read again
        self.renders = 0

    # -- what changed ---------------------------------------------------------------------

    def changed(self) -> None:
        """Something may have changed anywhere: every page is checked on its next request."""
        self._global += 1

    def heard(self, topic: str) -> None:
        """A ``Store.watch`` listener: ``"article:ID"``, ``"outbox"`` or ``"*"``."""
        if topic.startswith("article:"):
            try:
                article_id = int(topic.split(":", 1)[1])
            except ValueError:
                self.changed()
                return
            self._articles[article_id] = self._articles.get(article_id, 0) + 1
            self._lists += 1
        elif topic != "outbox":  # enqueued deliveries change no page
            self.changed()

    def lists_until(self, when: datetime | None) -> None:
        """The lists of articles change at ``when`` with nothing written then (a scheduled
        article's time): they are checked again on the first request after it."""
        if when is not None and (self._lists_until is None or when < self._lists_until):
            self._lists_until = when

    def stamp(self, scope: int | None) -> tuple[int, int]:
        """The generations a page of ``scope`` (an article id, or ``None`` for the lists of
        articles) depends on."""
        if scope is None:
            until = self._lists_until
            if until is not None and self.now is not None and self.now() >= until:
                self._lists_until = None
                self._lists += 1
            return (self._global, self._lists)
        return (self._global, self._articles.get(scope, 0))

    # -- reading --------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        """Entries and bytes kept."""
        return len(self._entries), self._bytes

    async def get(self, key: Hashable, scope: int | None, load: Load) -> Entry:
        """The current entry for ``key``: kept, checked against fresh data, or made.

        Exceptions of ``load`` (a missing article, a bad cursor) propagate to every request
        waiting on it, and nothing is kept.
        """
        while True:
            stamp = self.stamp(scope)
            entry = self._entries.get(key)
            if entry is not None and entry.stamp == stamp and not self._expired(entry):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
            pending = self._pending.get(key)
            if pending is None:
                return await self._load(key, stamp, load)
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled
                # the loading request was cancelled: load again

    def _expired(self, entry: Entry) -> bool:
        return entry.until is not None and self.now is not None and self.now() >= entry.until

    async def _load(self, key: Hashable, stamp: tuple[int, int], load: Load) -> Entry:
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            page = await load()
            fingerprint = hashlib.blake2b(
                repr(
                    (page.status, page.content_type, page.cache_control, page.vary, page.data)
                ).encode(),
                digest_size=16,
            ).digest()
            entry = self._entries.get(key)
            if entry is not None and entry.fingerprint == fingerprint:
                self.checks += 1
                entry.stamp, entry.until = stamp, page.until
                self._entries.move_to_end(key)
            else:
                entry = self._make(page, fingerprint, stamp)
                self._keep(key, entry)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(entry)
            return entry
        finally:
            del self._pending[key]

    def _make(self, page: Page, fingerprint: bytes, stamp: tuple[int, int]) -> Entry:
        self.renders += 1
        body = page.make().encode("utf-8")
        gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MIN else None
        etag = hashlib.blake2b(body, digest_size=12).hexdigest()
        last_modified = int(self.clock())
        headers = {
            "Content-Type": f"{page.content_type}; charset=utf-8",
            "Cache-Control": page.cache_control,
            "Vary": page.vary,
            "ETag": f'"{etag}"',
            "Last-Modified": formatdate(last_modified, usegmt=True),
        }
        gzip_headers = {**headers, "ETag": f'"{etag}-gz"', "Content-Encoding": "gzip"}
        return Entry(
            status=page.status,
            body=body,
            gzipped=gzipped,
            etag=etag,
            last_modified=last_modified,
            headers=headers,
            gzip_headers=gzip_headers,
            fingerprint=fingerprint,
            stamp=stamp,
            until=page.until,
            tags=frozenset({f'"{etag}"', f'"{etag}-gz"'}),
            not_modified={k: v for k, v in headers.items() if k != "Content-Type"},
            gzip_not_modified={k: v for k, v in gzip_headers.items() if k != "Content-Type"},
        )

    def _keep(self, key: Hashable, entry: Entry) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        if entry.size > self.max_bytes:
            return
        self._entries[key] = entry
        self._bytes += entry.size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size


# -- answering ---------------------------------------------------------------------------


_GZIP_ANSWERS: dict[str, bool] = {}


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` does not).

    Browsers send a handful of distinct values: the answers are remembered (a few hundred).
    """
    known = _GZIP_ANSWERS.get(accept_encoding)
    if known is None:
        known = _accepts_gzip(accept_encoding)
        if len(_GZIP_ANSWERS) < 256:
            _GZIP_ANSWERS[accept_encoding] = known
    return known


def _accepts_gzip(accept_encoding: str) -> bool:
    if "gzip" not in accept_encoding:
        return False
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def _none_match(header: str, entry: Entry) -> bool:
    if header in entry.tags:
        return True
    for part in header.split(","):
        tag = part.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/")  # If-None-Match compares weakly (RFC 9110, 13.1.2)
        if tag in entry.tags:
            return True
    return False


def _not_modified_since(header: str, entry: Entry) -> bool:
    try:
        since = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return entry.last_modified <= since


def respond(request: web.Request, entry: Entry) -> web.Response:
    """Answer ``entry``: 304 when the request's validators match, else the body, gzip-encoded
    as stored when the client accepts it."""
    gz = entry.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding", ""))
    headers = entry.gzip_headers if gz else entry.headers
    if entry.status == 200:
        none_match = request.headers.get("If-None-Match")
        if none_match is not None:
            fresh = _none_match(none_match, entry)
        else:
            since = request.headers.get("If-Modified-Since")
            fresh = since is not None and _not_modified_since(since, entry)
        if fresh:
            return web.Response(
                status=304, headers=entry.gzip_not_modified if gz else entry.not_modified
            )
    body = entry.gzipped if gz and entry.gzipped is not None else entry.body
    return web.Response(status=entry.status, body=body, headers=headers)
