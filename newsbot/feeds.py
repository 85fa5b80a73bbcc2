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
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from newsbot.drafts import clean_tags
from newsbot.errors import FeedError, InvalidInput, NotFound
from newsbot.feed_items import (
    MADE_UP_TITLE_MAX,
    category_tag,
    clean_feed_url,
    converted_entry,
    entry_draft,
    fingerprint,
    item_key,
    newest_first,
    parse_interval,
    plain_text,
    text_key,
)
from newsbot.feed_items import text_key as _text_key
from newsbot.feed_reports import FeedPage, PollResult, feed_page, poll_summary
from newsbot.i18n import N_, Message
from newsbot.models import (
    Actor,
    Article,
    ArticleStatus,
    Feed,
    FeedEntry,
    FeedItem,
    Fetched,
    NewFeed,
    Platform,
)
from newsbot.polling import FeedPoller, Stopped, after_failure, after_success
from newsbot.ports import FeedSource, FeedStore
from newsbot.ports.articles import ArticleUseCases
from newsbot.text import one_line

__all__ = [  # what other modules import from here; the helpers live in feed_items and co.
    "DEFAULT_INTERVAL",
    "MADE_UP_TITLE_MAX",
    "PUBLISH_MAX",
    "FeedPage",
    "FeedPoller",
    "FeedService",
    "PollResult",
    "_text_key",
    "category_tag",
    "entry_draft",
    "feed_page",
    "item_key",
    "parse_interval",
    "poll_summary",
]

log = logging.getLogger("newsbot.feeds")

MIN_INTERVAL = 60.0
DEFAULT_INTERVAL = 600.0
MAX_INTERVAL = 7 * 86400.0
EDIT_PACE = 600.0
BACKFILL_MAX = 50
PUBLISH_MAX = 20
# Told of each item a poll publishes (done, total): the CLI's progress on a long backfill.
Progress = Callable[[int, int], None]


def _quiet(done: int, total: int) -> None:
    """No progress to tell."""


GONE_AFTER = 3
STALE_AFTER = timedelta(days=2)


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

    async def add(
        self, actor: Actor, new: NewFeed, progress: Progress | None = None
    ) -> tuple[Feed, PollResult | None]:
        """Follow a feed: read it once now (refusing an address that gives no feed), record
        the items present and publish the newest ``new.backfill`` of them (``progress`` is
        told of each published: done, total).

        Returns the feed and its first poll, or ``None`` for a feed already followed.

        Raises:
            PermissionDenied: the actor is not a newsbot admin.
            InvalidInput: a bad address, interval, backfill or tag, or no feed there.
        """
        self.service.require_admin(actor, N_("add feeds"))
        url = clean_feed_url(new.url)
        if not self.min_interval <= new.interval <= MAX_INTERVAL:
            low = f"{self.min_interval:g} s" if self.min_interval < 60 else Message(N_("1 minute"))
            raise InvalidInput(
                N_("A feed is polled at most every %(low)s and at least once a week."),
                field="interval",
                low=low,
            )
        if not 0 <= new.backfill <= BACKFILL_MAX:
            raise InvalidInput(
                Message.ngettext(
                    "Backfill is between 0 and %(count)s item.",
                    "Backfill is between 0 and %(count)s items.",
                    BACKFILL_MAX,
                ),
                field="backfill",
            )
        new = replace(new, url=url, tags=clean_tags(new.tags))
        existing = await self._find(url)
        if existing is not None and existing.active:
            return existing, None
        try:
            async with asyncio.timeout(self.poll_timeout):
                fetched = await self.source.fetch(url, etag=None, last_modified=None)
        except (FeedError, TimeoutError) as exc:
            raise InvalidInput(
                N_("Could not read a feed at %(url)s: %(reason)s."),
                url=url,
                reason=str(exc) or Message(N_("timed out")),
            ) from exc
        if fetched.status != 200:
            raise InvalidInput(
                N_("%(url)s answered HTTP %(status)s; no feed was added."),
                url=url,
                status=fetched.status,
            )
        if fetched.moved_to and await self._find(fetched.moved_to) is None:
            new = replace(new, url=fetched.moved_to)
        feed, _ = await self.store.add_feed(new, self._now())
        log.info(
            "feed added",
            extra={"feed_id": feed.id, "url": feed.url, "by": f"{actor.platform}:{actor.user_id}"},
        )
        result = await self._handle(feed, fetched, self._now(), progress)
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
        self.service.require_admin(actor, N_("remove feeds"))
        feed = await self.find(url)
        await self.store.remove_feed(feed.id)
        log.info("feed removed", extra={"feed_id": feed.id, "url": feed.url})
        return feed

    async def poll_now(
        self, actor: Actor, url: str, progress: Progress | None = None
    ) -> PollResult:
        """Poll one feed at once, active or not (a deactivated feed that answers again is
        not reactivated: add it again); ``progress`` as in ``add``.

        Raises:
            PermissionDenied: the actor is not a newsbot admin.
            NotFound: no feed has that address.
        """
        self.service.require_admin(actor, N_("poll feeds"))
        return await self.poll(await self.find(url), progress)

    async def find(self, url: str) -> Feed:
        """The feed with this address.

        Raises:
            NotFound: none has it.
        """
        feed = await self._find(url.strip())
        if feed is None:
            raise NotFound(N_("No feed is followed at %(url)s."), url=url.strip())
        return feed

    async def _find(self, url: str) -> Feed | None:
        for feed in await self.store.list_feeds():
            if feed.url == url:
                return feed
        return None

    # -- polling --------------------------------------------------------------------------

    async def poll(self, feed: Feed, progress: Progress | None = None) -> PollResult:
        """Fetch a feed once and act on the answer: publish, edit, back off or deactivate
        (``progress`` as in ``add``).

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
        return await self._handle(feed, fetched, started, progress)

    def _check(self) -> None:
        if self.may_poll is not None and not self.may_poll():
            raise Stopped

    async def _handle(
        self, feed: Feed, fetched: Fetched, started: datetime, progress: Progress | None = None
    ) -> PollResult:
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
            counts = await self._items(feed, fetched, progress or _quiet)
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
        feed = after_success(feed, fetched, started, self._now(), keep=not result.deferred)
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
        jitter = self.random()
        feed = after_failure(
            feed, status, error, retry_after, started, jitter=jitter, now=self._now()
        )
        await self.store.save_feed(feed)
        log.warning(
            "feed poll failed",
            extra={
                "feed_id": feed.id,
                "url": feed.url,
                "status": status,
                "error": feed.last_error,
                "errors": feed.errors,
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

    # -- items ----------------------------------------------------------------------------

    async def _items(self, feed: Feed, fetched: Fetched, progress: Progress) -> PollResult:
        keyed: dict[str, FeedEntry] = {}
        for entry in fetched.entries:
            keyed.setdefault(item_key(entry), entry)
        known = await self.store.feed_items(feed.id, list(keyed))
        fresh = [(k, e) for k, e in keyed.items() if k not in known]
        now = self._now()
        published = edited = 0
        deferred = False
        seen: list[FeedItem] = []
        oldest_first = list(reversed(newest_first(fresh)))
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
            publish = await self._not_known_byplain_text(feed, publish)
        await self.store.save_feed_items(seen)
        if publish:
            progress(0, len(publish))
        for done, (key, entry) in enumerate(publish, 1):
            if await self._publish(feed, key, entry):
                published += 1
            else:
                seen.append(FeedItem(feed.id, key, None, fingerprint(entry), now))
                await self.store.save_feed_items(seen[-1:])
            progress(done, len(publish))
        for key, entry in keyed.items():
            item = known.get(key)
            if item is not None and item.article_id is not None:
                outcome = await self._maybe_edit(feed, item, entry)
                edited += outcome > 0
                deferred |= outcome < 0
        return PollResult(
            feed, 200, published, edited, len(seen), deferred, tuple(fetched.problems)
        )

    async def _not_known_byplain_text(
        self, feed: Feed, publish: list[tuple[str, FeedEntry]]
    ) -> list[tuple[str, FeedEntry]]:
        """``publish`` converted, less the items without guid or link that an older newsbot
        recorded under their text key (``text_key``): those are recorded under their raw
        key now, and not published again. Only items about to be published are converted
        for it, as publishing needs anyway."""
        older: dict[str, str] = {}
        converted: list[tuple[str, FeedEntry]] = []
        for key, entry in publish:
            anonymous = not (entry.guid or "").strip() and not (entry.link or "").strip()
            if anonymous and entry.fingerprint:
                entry = await converted_entry(entry)
                older[text_key(entry)] = key
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
        name = (
            one_line(plain_text(entry.author)) or feed.title or (urlsplit(feed.url).hostname or "")
        )
        return Actor(Platform.CLI, f"feed:{feed.id}", name)

    async def _publish(self, feed: Feed, key: str, entry: FeedEntry) -> bool:
        self._check()
        entry = await converted_entry(entry)
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
            draft = entry_draft(feed, await converted_entry(entry))
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
