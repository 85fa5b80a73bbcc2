"""Following a site's feed: every new item is published once, and an edited item edited.

The rules live here; the HTTP and the parsing are a ``FeedSource``'s (``adapters.feeds``).

- **Identity.** An item is its guid (RSS ``guid``, Atom ``id``), else its link, else its raw
  content (the source's fingerprint of the fields as the feed wrote them: telling items apart
  converts nothing); the key is a hash of that, kept per feed in the store.
- **Off the loop.** Converting an item's HTML costs time that grows with what a site serves:
  it is done only for items published or edited, and in a thread (the source's converter may
  block while a worker process converts).
- **Exactly once.** A new item is published with the request key ``feed:FEED:KEY``, which the
  store carries out once across restarts, and then recorded. A poll interrupted between the
  two (a crash, a lost role) is simply redone: the publish comes back ``repeated``.
- **Nothing old.** The first poll of a feed only records the items present, except the newest
  ``backfill`` ones, which it publishes. Later, an item dated more than ``STALE_AFTER`` before
  the previous successful poll is an old item newly visible (a site that changed its ids or
  re-sorted its archive): it is recorded, not published. At most ``PUBLISH_MAX`` items are
  published per poll; the rest wait for the next one.
- **Edits.** An item whose content changed (its fingerprint) edits its article, and so every
  posted message, at most once per ``edit_pace`` seconds per item. An item gone from the feed
  is left alone; a retracted article is never brought back.
- **Politeness.** Polls of one feed are ``interval`` seconds apart (never less than a minute),
  each feed at its own phase of the interval so that many feeds spread over it (a poll that
  started late keeps the phase, so the next one may come a little sooner);
  ``Cache-Control: max-age`` and ``Retry-After`` push the next poll later; failures back off
  exponentially with jitter; 410, or 404 on ``GONE_AFTER`` polls in a row, deactivates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from newsbot.drafts import BODY_MAX, SUMMARY_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX, URL_MAX, clean_tags
from newsbot.errors import FeedError, InvalidInput, NotFound
from newsbot.models import (
    Actor,
    Article,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Feed,
    FeedEntry,
    FeedId,
    FeedItem,
    Fetched,
    NewFeed,
    Platform,
)
from newsbot.ports import Clock, FeedSource, FeedStore
from newsbot.text import ELLIPSIS, cut_chars, cut_utf16, one_line, utf16_len, valid_unicode

log = logging.getLogger("newsbot.feeds")

MIN_INTERVAL = 60.0
DEFAULT_INTERVAL = 600.0
MAX_INTERVAL = 7 * 86400.0
EDIT_PACE = 600.0
BACKFILL_MAX = 50
PUBLISH_MAX = 20
GONE_AFTER = 3
MADE_UP_TITLE_MAX = 80
FEED_PAGE = 10
STALE_AFTER = timedelta(days=2)
BACKOFF_CAP = 6 * 3600.0
WAIT_CAP = 86400.0
_PHASE = (math.sqrt(5) - 1) / 2  # golden-ratio steps spread ids evenly over the interval
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class _Stopped(Exception):
    """This worker may no longer poll (it lost the role)."""


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll did.

    Attributes:
        feed: the feed as it stands after the poll.
        status: the HTTP status, or ``None`` when no answer came.
        published: items published as new articles.
        edited: articles edited because their item changed.
        recorded: items recorded as seen without publishing (the first poll, stale ones).
        deferred: work was left for a later poll (items over ``PUBLISH_MAX``, an edit within
            its pause); that poll then asks unconditionally, so a 304 cannot hide it.
        problems: what could not be read of a malformed feed.
        error: why the poll failed, or ``None``.
    """

    feed: Feed
    status: int | None
    published: int = 0
    edited: int = 0
    recorded: int = 0
    deferred: bool = False
    problems: tuple[str, ...] = ()
    error: str | None = None


def parse_interval(value: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``1h`` or ``1d``.

    Raises:
        InvalidInput: not a duration.
    """
    match = _DURATION.match(value)
    if match is None:
        raise InvalidInput(
            f"{value!r} is not a duration: write 90s, 10m, 1h or 1d.", field="interval"
        )
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def clean_feed_url(url: str) -> str:
    """A feed address as stored: http or https, with a host, one line, at most URL_MAX.

    Raises:
        InvalidInput: any other address.
    """
    url = valid_unicode(url).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError on a malformed port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or len(url) > URL_MAX
        or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url)
    ):
        raise InvalidInput("A feed address must be an http or https URL.", field="url")
    return url


def item_key(entry: FeedEntry) -> str:
    """An item's identity within its feed: a hash of its guid, else its link, else its raw
    content (its fingerprint; its title and converted content for a source that gives none)."""
    if entry.guid and entry.guid.strip():
        identity = "guid:" + entry.guid.strip()
    elif entry.link and entry.link.strip():
        identity = "link:" + entry.link.strip()
    elif entry.fingerprint:
        identity = "raw:" + entry.fingerprint
    else:
        return _text_key(entry)
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _text_key(entry: FeedEntry) -> str:
    """The key of an item without guid or link from its title and converted content: every
    such item's key before keys came from raw content (``_not_known_by_text``)."""
    identity = "text:" + entry.title + "\n" + entry.text()[0]
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def _converted(entry: FeedEntry) -> FeedEntry:
    """The entry with its body and summary converted, in a thread: a source's conversion may
    take seconds, and must not hold the event loop meanwhile."""
    if entry.convert is None:
        return entry
    try:
        body, summary = await asyncio.to_thread(entry.text)
    except Exception as exc:  # a source's bug must not cost the poll: the item keeps its title
        log.warning(
            "feed item not converted",
            extra={"link": entry.link, "error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        body, summary = "", ""
    return replace(entry, body=body, summary=summary, convert=None)


def fingerprint(entry: FeedEntry) -> str:
    """What tells that an item changed: the source's fingerprint, or a hash of the content."""
    if entry.fingerprint:
        return entry.fingerprint
    text = "\x1f".join((entry.title, *entry.text(), entry.link or ""))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def category_tag(category: str) -> str:
    """A feed category as a newsbot tag (``Breaking News`` is ``breaking-news``), or ``""``
    when nothing of it fits (tags are ASCII letters, digits, ``-`` and ``_``)."""
    folded = unicodedata.normalize("NFKD", category).encode("ascii", "ignore").decode()
    tag = re.sub(r"[^a-z0-9_-]+", "-", folded.lower()).strip("-_")
    return tag[:TAG_MAX].rstrip("-_")


def _text(value: str) -> str:
    return _CONTROL.sub("", valid_unicode(value).replace("\r\n", "\n").replace("\r", "\n"))


def _url(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return clean_feed_url(value)
    except InvalidInput:
        return None


def made_up_title(text: str) -> str:
    """A title for an item that has none: the first words of its plain text, at most
    ``MADE_UP_TITLE_MAX`` characters, cut at a word with "…"."""
    text = one_line(_text(text))
    title = cut_chars(text, MADE_UP_TITLE_MAX)
    if title != text:  # "iPhones…", not "iPhones,…"
        title = title.removesuffix(ELLIPSIS).rstrip(" ,;:.-–—") + ELLIPSIS
    return title


def entry_draft(feed: Feed, entry: FeedEntry) -> ArticleDraft:
    """The article an item becomes: within every limit the service enforces, whatever the
    feed holds."""
    raw_body, raw_summary = entry.text()
    summary = cut_chars(_text(raw_summary).strip(), SUMMARY_MAX)
    body = _text(raw_body).strip()
    title = one_line(_text(entry.title))
    link = _url(entry.link)
    if not title:
        title = made_up_title(summary or entry.lead) or link or feed.title or "Untitled"
    title = cut_chars(title, TITLE_MAX)
    if not body:
        body = summary or title
    if len(body) > BODY_MAX:
        more = f"\n\n[Read the whole article]({link})" if link else ""
        body = cut_chars(body, BODY_MAX - len(more)) + more
    tags: list[str] = list(feed.tags)
    for category in entry.categories:
        tag = category_tag(category)
        if tag and tag not in tags and len(tags) < TAGS_MAX:
            tags.append(tag)
    return ArticleDraft(
        title=title,
        body=body,
        summary=summary,
        url=link,
        image_url=_url(entry.image_url),
        tags=clean_tags(tags),
    )


def _newest_first(entries: Sequence[tuple[str, FeedEntry]]) -> list[tuple[str, FeedEntry]]:
    """Newest first by date where items have one; the feed's own order (newest first, as
    feeds list them) otherwise."""
    indexed = list(enumerate(entries))
    if all(e.published is not None for _, (_, e) in indexed):
        oldest = datetime.min.replace(tzinfo=UTC)
        indexed.sort(key=lambda p: (p[1][1].published or oldest, -p[0]), reverse=True)
    return [pair for _, pair in indexed]


class Changed(Protocol):
    """What publishing or editing an article gives back (``newsbot.service.Change`` is one)."""

    @property
    def article(self) -> Article:
        """The article as it stands after the change."""
        ...


class ArticleUseCases(Protocol):
    """What the feed use cases ask of the service (``NewsService`` is one).

    Feeds publish and edit through the article use cases, so that a feed's article is
    checked, cleaned and delivered like any other; they read and write only feeds in the
    store.
    """

    @property
    def clock(self) -> Clock:
        """The time source."""
        ...

    @property
    def store(self) -> FeedStore:
        """Where feeds and their items are kept."""
        ...

    def require_admin(self, actor: Actor, action: str) -> None:
        """Raise ``PermissionDenied`` unless ``actor`` may manage feeds (``action``)."""
        ...

    async def article(self, article_id: ArticleId) -> Article:
        """Return an article, whatever its status; ``NotFound`` when there is none."""
        ...

    async def publish(
        self, actor: Actor, draft: ArticleDraft, *, request: str | None = None
    ) -> Changed:
        """Publish an article, once per ``request``; ``InvalidInput`` for a bad draft."""
        ...

    async def edit(
        self,
        actor: Actor,
        article_id: ArticleId,
        draft: ArticleDraft,
        *,
        request: str | None = None,
    ) -> Changed:
        """Edit an article, once per ``request``; ``InvalidInput`` for a bad draft."""
        ...


class FeedService:
    """Adds, lists, removes and polls feeds; what the command line and the chat commands call.

    Args:
        service: publishes and edits the articles (its clock is used, and its store's
            ``FeedStore``).
        source: fetches and reads feeds.
        min_interval: the shortest interval allowed (tests lower it; the bot keeps a minute).
        edit_pace: seconds between two edits of one item's article.
        poll_timeout: seconds one fetch may take in all before it counts as failed.
        random: jitter in [0, 1) for backoffs.
        may_poll: asked before each poll and each publish; polling stops when it says no
            (the worker lost the ``poll:feeds`` role).
    """

    def __init__(
        self,
        service: ArticleUseCases,
        source: FeedSource,
        *,
        min_interval: float = MIN_INTERVAL,
        edit_pace: float = EDIT_PACE,
        poll_timeout: float = 60.0,
        random: Callable[[], float] = random.random,
        may_poll: Callable[[], bool] | None = None,
    ) -> None:
        self.service = service
        self.store: FeedStore = service.store
        self.source = source
        self.min_interval = min_interval
        self.edit_pace = edit_pace
        self.poll_timeout = poll_timeout
        self.random = random
        self.may_poll = may_poll

    def _now(self) -> datetime:
        return self.service.clock.now()

    # -- management -----------------------------------------------------------------------

    async def add(self, actor: Actor, new: NewFeed) -> tuple[Feed, PollResult | None]:
        """Follow a feed: read it once now (refusing an address that gives no feed), record
        the items present and publish the newest ``new.backfill`` of them.

        Returns the feed and its first poll, or ``None`` for a feed already followed.

        Raises:
            PermissionDenied: the actor is not a newsbot admin.
            InvalidInput: a bad address, interval, backfill or tag, or no feed there.
        """
        self.service.require_admin(actor, "add feeds")
        url = clean_feed_url(new.url)
        if not self.min_interval <= new.interval <= MAX_INTERVAL:
            low = f"{self.min_interval:g} s" if self.min_interval < 60 else "1 minute"
            raise InvalidInput(
                f"A feed is polled at most every {low} and at least once a week.",
                field="interval",
            )
        if not 0 <= new.backfill <= BACKFILL_MAX:
            raise InvalidInput(
                f"Backfill is between 0 and {BACKFILL_MAX} items.", field="backfill"
            )
        new = replace(new, url=url, tags=clean_tags(new.tags))
        existing = await self._find(url)
        if existing is not None and existing.active:
            return existing, None
        try:
            async with asyncio.timeout(self.poll_timeout):
                fetched = await self.source.fetch(url, etag=None, last_modified=None)
        except (FeedError, TimeoutError) as exc:
            raise InvalidInput(f"Could not read a feed at {url}: {exc or 'timed out'}.") from exc
        if fetched.status != 200:
            raise InvalidInput(f"{url} answered HTTP {fetched.status}; no feed was added.")
        if fetched.moved_to and await self._find(fetched.moved_to) is None:
            new = replace(new, url=fetched.moved_to)
        feed, _ = await self.store.add_feed(new, self._now())
        log.info(
            "feed added",
            extra={"feed_id": feed.id, "url": feed.url, "by": f"{actor.platform}:{actor.user_id}"},
        )
        result = await self._handle(feed, fetched, self._now())
        counted = await self._find(result.feed.url)  # with the items it has now
        return (counted or result.feed), replace(result, feed=counted or result.feed)

    async def feeds(self) -> list[Feed]:
        """Every feed, active or not, by id."""
        return await self.store.list_feeds()

    async def remove(self, actor: Actor, url: str) -> Feed:
        """Stop following a feed (its articles stay published).

        Raises:
            PermissionDenied: the actor is not a newsbot admin.
            NotFound: no feed has that address.
        """
        self.service.require_admin(actor, "remove feeds")
        feed = await self.find(url)
        await self.store.remove_feed(feed.id)
        log.info("feed removed", extra={"feed_id": feed.id, "url": feed.url})
        return feed

    async def poll_now(self, actor: Actor, url: str) -> PollResult:
        """Poll one feed at once, active or not (a deactivated feed that answers again is
        not reactivated: add it again).

        Raises:
            PermissionDenied: the actor is not a newsbot admin.
            NotFound: no feed has that address.
        """
        self.service.require_admin(actor, "poll feeds")
        return await self.poll(await self.find(url))

    async def find(self, url: str) -> Feed:
        """The feed with this address.

        Raises:
            NotFound: none has it.
        """
        feed = await self._find(url.strip())
        if feed is None:
            raise NotFound(f"No feed is followed at {url.strip()}.")
        return feed

    async def _find(self, url: str) -> Feed | None:
        for feed in await self.store.list_feeds():
            if feed.url == url:
                return feed
        return None

    # -- polling --------------------------------------------------------------------------

    async def poll(self, feed: Feed) -> PollResult:
        """Fetch a feed once and act on the answer: publish, edit, back off or deactivate.

        Nothing a feed holds raises here; a storage failure does (the poll is then redone).
        """
        self._check()
        started = self._now()
        try:
            async with asyncio.timeout(self.poll_timeout):
                fetched = await self.source.fetch(
                    feed.url, etag=feed.etag, last_modified=feed.last_modified
                )
        except (FeedError, TimeoutError) as exc:
            return await self._failed(feed, None, str(exc) or "timed out", None, started)
        except Exception as exc:  # a source's bug is still this feed's failure, with backoff
            reason = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("feed source failed", extra={"feed_id": feed.id, "error": reason})
            return await self._failed(feed, None, reason, None, started)
        return await self._handle(feed, fetched, started)

    def _check(self) -> None:
        if self.may_poll is not None and not self.may_poll():
            raise _Stopped

    async def _handle(self, feed: Feed, fetched: Fetched, started: datetime) -> PollResult:
        status = fetched.status
        if fetched.moved_to and fetched.moved_to != feed.url:
            if await self._find(fetched.moved_to) is None:
                log.info(
                    "feed moved permanently",
                    extra={"feed_id": feed.id, "from": feed.url, "to": fetched.moved_to},
                )
                feed = replace(feed, url=fetched.moved_to)
            else:
                log.warning(
                    "feed moved to an address already followed; keeping the old one",
                    extra={"feed_id": feed.id, "to": fetched.moved_to},
                )
        if status == 304:
            return await self._succeeded(feed, fetched, started, PollResult(feed, status))
        if status == 200:
            counts = await self._items(feed, fetched)
            return await self._succeeded(feed, fetched, started, counts)
        if status == 410:
            return await self._deactivate(feed, status, "the feed is gone (HTTP 410)", started)
        if status == 404 and feed.last_status == 404 and feed.errors + 1 >= GONE_AFTER:
            return await self._deactivate(
                feed, status, f"not found (HTTP 404) on {feed.errors + 1} polls in a row", started
            )
        return await self._failed(feed, status, f"HTTP {status}", fetched.retry_after, started)

    async def _succeeded(
        self, feed: Feed, fetched: Fetched, started: datetime, result: PollResult
    ) -> PollResult:
        now = self._now()
        due = self._next_slot(feed, started)
        keep = not result.deferred
        if fetched.max_age:
            due = max(due, now + timedelta(seconds=min(fetched.max_age, WAIT_CAP)))
        feed = replace(
            feed,
            title=cut_chars(one_line(_text(fetched.title)), TITLE_MAX) or feed.title,
            next_poll_at=due,
            last_poll_at=started,
            last_success_at=started,
            last_status=fetched.status,
            etag=(fetched.etag if fetched.status == 200 else fetched.etag or feed.etag)
            if keep
            else None,
            last_modified=(
                fetched.last_modified
                if fetched.status == 200
                else (fetched.last_modified or feed.last_modified)
            )
            if keep
            else None,
            errors=0,
            last_error=None,
        )
        await self.store.save_feed(feed)
        if result.published or result.edited or result.problems:
            log.info(
                "feed polled",
                extra={
                    "feed_id": feed.id,
                    "status": fetched.status,
                    "published": result.published,
                    "edited": result.edited,
                    "recorded": result.recorded,
                    "problems": len(result.problems),
                },
            )
        return replace(result, feed=feed, status=fetched.status)

    async def _failed(
        self,
        feed: Feed,
        status: int | None,
        error: str,
        retry_after: float | None,
        started: datetime,
    ) -> PollResult:
        # A 404 streak counts on its own, so that "three 404s in a row" means just that.
        errors = 1 if status == 404 and feed.last_status != 404 else feed.errors + 1
        wait = min(feed.interval * 2 ** min(errors - 1, 20), BACKOFF_CAP)
        wait *= 1.0 + 0.5 * self.random()
        if retry_after:
            wait = max(wait, min(retry_after, WAIT_CAP))
        feed = replace(
            feed,
            next_poll_at=self._now() + timedelta(seconds=max(wait, feed.interval)),
            last_poll_at=started,
            last_status=status,
            errors=errors,
            last_error=cut_chars(one_line(error), 500),
        )
        await self.store.save_feed(feed)
        log.warning(
            "feed poll failed",
            extra={
                "feed_id": feed.id,
                "url": feed.url,
                "status": status,
                "error": feed.last_error,
                "errors": errors,
                "next_poll_at": feed.next_poll_at.isoformat(),
            },
        )
        return PollResult(feed, status, error=feed.last_error)

    async def _deactivate(
        self, feed: Feed, status: int, reason: str, started: datetime
    ) -> PollResult:
        feed = replace(
            feed,
            active=False,
            last_poll_at=started,
            last_status=status,
            errors=feed.errors + 1,
            last_error=reason,
            deactivated_reason=reason,
        )
        await self.store.save_feed(feed)
        log.warning(
            "feed deactivated", extra={"feed_id": feed.id, "url": feed.url, "reason": reason}
        )
        return PollResult(feed, status, error=reason)

    def _next_slot(self, feed: Feed, started: datetime) -> datetime:
        """The next time of this feed's phase at least half an interval after ``started``.

        A poll that started on time is followed by the next one an interval later; one that
        started late (polls queued behind others) keeps its phase rather than skipping a
        whole interval, so an item waits at most about an interval whatever the load.
        """
        interval = feed.interval
        phase = (feed.id * _PHASE) % 1.0 * interval
        earliest = started.timestamp() + interval / 2
        slot = math.ceil((earliest - phase) / interval) * interval + phase
        return datetime.fromtimestamp(slot, UTC)

    # -- items ----------------------------------------------------------------------------

    async def _items(self, feed: Feed, fetched: Fetched) -> PollResult:
        keyed: dict[str, FeedEntry] = {}
        for entry in fetched.entries:
            keyed.setdefault(item_key(entry), entry)
        known = await self.store.feed_items(feed.id, list(keyed))
        fresh = [(k, e) for k, e in keyed.items() if k not in known]
        now = self._now()
        published = edited = 0
        deferred = False
        seen: list[FeedItem] = []
        oldest_first = list(reversed(_newest_first(fresh)))
        if feed.last_success_at is None:
            cut = max(len(oldest_first) - feed.backfill, 0)
            publish = oldest_first[cut:]
            seen = [FeedItem(feed.id, k, None, fingerprint(e), now) for k, e in oldest_first[:cut]]
        else:
            horizon = feed.last_success_at - STALE_AFTER
            publish = []
            for key, entry in oldest_first:
                if entry.published is not None and entry.published < horizon:
                    seen.append(FeedItem(feed.id, key, None, fingerprint(entry), now))
                else:
                    publish.append((key, entry))
            if seen:
                log.info(
                    "old items newly in a feed recorded, not published",
                    extra={"feed_id": feed.id, "count": len(seen)},
                )
            if len(publish) > PUBLISH_MAX:
                log.warning(
                    "many new items in one poll; the rest wait for the next",
                    extra={"feed_id": feed.id, "new": len(publish), "now": PUBLISH_MAX},
                )
                publish = publish[:PUBLISH_MAX]
                deferred = True
            publish = await self._not_known_by_text(feed, publish)
        await self.store.save_feed_items(seen)
        for key, entry in publish:
            if await self._publish(feed, key, entry):
                published += 1
            else:
                seen.append(FeedItem(feed.id, key, None, fingerprint(entry), now))
                await self.store.save_feed_items(seen[-1:])
        for key, entry in keyed.items():
            item = known.get(key)
            if item is not None and item.article_id is not None:
                outcome = await self._maybe_edit(feed, item, entry)
                edited += outcome > 0
                deferred |= outcome < 0
        return PollResult(
            feed, 200, published, edited, len(seen), deferred, tuple(fetched.problems)
        )

    async def _not_known_by_text(
        self, feed: Feed, publish: list[tuple[str, FeedEntry]]
    ) -> list[tuple[str, FeedEntry]]:
        """``publish`` converted, less the items without guid or link that an older newsbot
        recorded under their text key (``_text_key``): those are recorded under their raw
        key now, and not published again. Only items about to be published are converted
        for it, as publishing needs anyway."""
        older: dict[str, str] = {}
        converted: list[tuple[str, FeedEntry]] = []
        for key, entry in publish:
            anonymous = not (entry.guid or "").strip() and not (entry.link or "").strip()
            if anonymous and entry.fingerprint:
                entry = await _converted(entry)
                older[_text_key(entry)] = key
            converted.append((key, entry))
        found = await self.store.feed_items(feed.id, list(older)) if older else {}
        if not found:
            return converted
        await self.store.save_feed_items([replace(i, key=older[k]) for k, i in found.items()])
        log.info(
            "items recorded under their older key recognised",
            extra={"feed_id": feed.id, "count": len(found)},
        )
        moved = {older[k] for k in found}
        return [(key, entry) for key, entry in converted if key not in moved]

    def _actor(self, feed: Feed, entry: FeedEntry) -> Actor:
        name = one_line(_text(entry.author)) or feed.title or (urlsplit(feed.url).hostname or "")
        return Actor(Platform.CLI, f"feed:{feed.id}", name)

    async def _publish(self, feed: Feed, key: str, entry: FeedEntry) -> bool:
        self._check()
        entry = await _converted(entry)
        self._check()
        try:
            draft = entry_draft(feed, entry)
            change = await self.service.publish(
                self._actor(feed, entry), draft, request=f"feed:{feed.id}:{key}"
            )
        except InvalidInput as exc:
            log.warning(
                "feed item cannot be published; recorded as seen",
                extra={"feed_id": feed.id, "key": key, "error": str(exc)},
            )
            return False
        await self.store.save_feed_items(
            [FeedItem(feed.id, key, change.article.id, fingerprint(entry), self._now())]
        )
        return True

    async def _maybe_edit(self, feed: Feed, item: FeedItem, entry: FeedEntry) -> int:
        """1 when the article was edited, 0 when there was nothing to do, -1 when the edit
        waits for its pause to end."""
        mark = fingerprint(entry)
        if mark == item.fingerprint or item.article_id is None:
            return 0
        now = self._now()
        if item.edited_at is not None and (now - item.edited_at).total_seconds() < self.edit_pace:
            return -1
        self._check()
        try:
            article: Article | None = await self.service.article(item.article_id)
        except NotFound:
            article = None
        done = replace(item, fingerprint=mark)
        if article is None or article.status is not ArticleStatus.PUBLISHED:
            await self.store.save_feed_items([done])
            return 0
        try:
            draft = entry_draft(feed, await _converted(entry))
        except InvalidInput:
            await self.store.save_feed_items([done])
            return 0
        current = (article.title, article.body, article.summary, article.url, article.image_url)
        if current == (draft.title, draft.body, draft.summary, draft.url, draft.image_url):
            await self.store.save_feed_items([done])
            return 0
        try:
            await self.service.edit(
                self._actor(feed, entry),
                article.id,
                draft,
                request=f"feed:{feed.id}:{item.key}:r{article.revision}",
            )
        except InvalidInput as exc:
            log.warning(
                "feed item edit refused", extra={"article_id": article.id, "error": str(exc)}
            )
        await self.store.save_feed_items([replace(done, edited_at=now)])
        return 1


class FeedPoller:
    """Polls every active feed when it is due, a bounded number at a time.

    Feeds are read from the store every ``refresh`` seconds (and on ``wake``) so that feeds
    added or removed by the command line or another worker are picked up; each poll runs in
    its own task under ``FeedService.poll_timeout``, so a slow or hanging feed holds one of
    the ``concurrency`` slots and delays no other feed.

    Args:
        feeds: the feed service.
        concurrency: polls at a time.
        refresh: seconds between readings of the feed list.
        failure_pause: seconds before a feed whose poll raised (the store failed) is tried
            again.
    """

    def __init__(
        self,
        feeds: FeedService,
        *,
        concurrency: int = 16,
        refresh: float = 5.0,
        failure_pause: float = 30.0,
    ) -> None:
        self.feeds = feeds
        self.concurrency = concurrency
        self.refresh = refresh
        self.failure_pause = failure_pause
        self.polls = 0
        self._known: dict[FeedId, Feed] = {}
        self._hold: dict[FeedId, datetime] = {}
        self._running: dict[FeedId, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loaded_at = -math.inf

    async def start(self) -> None:
        """Start polling in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="feed-poller")

    async def stop(self) -> None:
        """Stop polling; polls in flight are cancelled (and redone by whoever polls next)."""
        task, self._task = self._task, None
        for running in [*([task] if task else []), *self._running.values()]:
            running.cancel()
        for running in [*([task] if task else []), *list(self._running.values())]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        self._running.clear()

    def wake(self) -> None:
        """Read the feed list again now (a feed was added or removed)."""
        self._loaded_at = -math.inf
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() - self._loaded_at >= self.refresh:
                try:
                    listed = await self.feeds.store.list_feeds()
                except Exception:
                    log.exception("cannot read the feed list")
                else:
                    self._known = {f.id: f for f in listed if f.active}
                    self._loaded_at = loop.time()
            may_poll = self.feeds.may_poll
            if may_poll is not None and not may_poll():
                # The role is being lost: the listener stops this poller in a moment.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.refresh):
                        await self._wake.wait()
                continue
            now = self.feeds._now()
            due = sorted(
                (f for f in self._known.values() if f.id not in self._running),
                key=lambda f: max(f.next_poll_at, self._hold.get(f.id, f.next_poll_at)),
            )
            wait = self.refresh
            for feed in due:
                when = max(feed.next_poll_at, self._hold.get(feed.id, feed.next_poll_at))
                if when > now:
                    wait = min(wait, (when - now).total_seconds())
                    break
                if len(self._running) >= self.concurrency:
                    break
                self._running[feed.id] = asyncio.create_task(
                    self._poll(feed), name=f"feed-{feed.id}"
                )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.01)):
                    await self._wake.wait()

    async def _poll(self, feed: Feed) -> None:
        try:
            result = await self.feeds.poll(feed)
        except _Stopped:
            return
        except Exception:
            log.exception("feed poll crashed", extra={"feed_id": feed.id})
            self._hold[feed.id] = self.feeds._now() + timedelta(seconds=self.failure_pause)
        else:
            self.polls += 1
            self._hold.pop(feed.id, None)
            if feed.id in self._known:
                if result.feed.active:
                    self._known[feed.id] = result.feed
                else:
                    del self._known[feed.id]
        finally:
            self._running.pop(feed.id, None)
            self._wake.set()


def _minutes(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


def feed_summary(feed: Feed, quote: Callable[[str], str] = str) -> str:
    """A feed in one line of plain text, for chat commands; ``quote`` escapes what came from
    the feed (its title, an error) for the platform's markup."""
    title = f" ({quote(feed.title)})" if feed.title else ""
    last = feed.last_poll_at.strftime("%Y-%m-%d %H:%M") if feed.last_poll_at else "never"
    status = f" HTTP {feed.last_status}" if feed.last_status is not None else ""
    if not feed.active:
        state = f"stopped: {quote(feed.deactivated_reason or 'inactive')}"
    else:
        nxt = feed.next_poll_at.strftime("%Y-%m-%d %H:%M")
        state = f"every {_minutes(feed.interval)}, next {nxt} UTC"
        if feed.last_error:
            state += f", last error: {quote(feed.last_error)}"
    return f"{feed.url}{title}: {feed.items_seen} items seen, last poll {last}{status}; {state}"


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of the feed list, for chat commands that page with buttons.

    Attributes:
        lines: one ``feed_summary`` per feed shown, in id order.
        first: the position (from 1) of the first feed shown; 0 when none is.
        total: how many feeds there are in all.
        next_after: the id to ask the next page after, or ``None`` on the last page.
    """

    lines: tuple[str, ...]
    first: int
    total: int
    next_after: FeedId | None

    @property
    def heading(self) -> str:
        """``Feeds 11–20 of 57``, ``3 feeds`` when all are shown, or ``No feeds yet.``"""
        if not self.lines:
            return f"No more feeds ({self.total} in all)." if self.total else "No feeds yet."
        last = self.first + len(self.lines) - 1
        if self.first == 1 and last == self.total:
            return f"{self.total} feed{'s' if self.total > 1 else ''}"
        if last == self.first:
            return f"Feed {last} of {self.total}"
        return f"Feeds {self.first}–{last} of {self.total}"


def feed_page(
    feeds: Sequence[Feed],
    after: int = 0,
    *,
    budget: int,
    quote: Callable[[str], str] = str,
    separator: int = 2,
    per_page: int = FEED_PAGE,
) -> FeedPage:
    """The feeds whose id is above ``after``, by id, as many as fit: at most ``per_page``,
    their lines together (``separator`` UTF-16 units between two) within ``budget`` UTF-16
    units; a first line longer than that alone is cut. Keyed by id, a page stays right when
    feeds are added or removed between two presses of a button."""
    ordered = sorted(feeds, key=lambda f: f.id)
    rest = [f for f in ordered if f.id > after]
    lines: list[str] = []
    used = 0
    for feed in rest[:per_page]:
        line = feed_summary(feed, quote)
        if not lines:
            line = cut_utf16(line, budget)
        elif used + separator + utf16_len(line) > budget:
            break
        used += utf16_len(line) + (separator if lines else 0)
        lines.append(line)
    more = len(rest) > len(lines)
    return FeedPage(
        tuple(lines),
        len(ordered) - len(rest) + 1 if lines else 0,
        len(ordered),
        rest[len(lines) - 1].id if more and lines else None,
    )


def poll_summary(result: PollResult, quote: Callable[[str], str] = str) -> str:
    """What a poll did, in one sentence of plain text (``quote`` as in ``feed_summary``)."""
    url = result.feed.url
    if result.error:
        return f"Polling {url} failed: {quote(result.error)}."
    unreadable = f"; {len(result.problems)} part(s) unreadable" if result.problems else ""
    return (
        f"Polled {url} (HTTP {result.status}): {result.published} published, "
        f"{result.edited} edited, {result.recorded} recorded as seen{unreadable}."
    )
