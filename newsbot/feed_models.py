"""The feed models: feeds followed, their items remembered, and what one poll fetched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from newsbot.ids import ArticleId, FeedId


@dataclass(frozen=True, slots=True)
class NewFeed:
    """A site's feed to follow.

    Attributes:
        url: the feed's http or https address.
        tags: added to the tags of every article the feed publishes, so destinations' tag
            filters apply to it.
        interval: seconds between polls (at least a minute).
        backfill: how many of the items present at the first poll to publish (newest first);
            the others are only recorded as seen.
    """

    url: str
    tags: tuple[str, ...] = ()
    interval: float = 600.0
    backfill: int = 0


@dataclass(frozen=True, slots=True)
class Feed:
    """A followed feed and where its polling stands.

    Attributes:
        id: the store's id.
        url: where it is fetched; a permanent redirect replaces it.
        title: the feed's own title, from its last successful poll.
        tags: added to its articles' tags.
        interval: seconds between polls.
        backfill: items to publish at the first poll (``NewFeed.backfill``).
        active: polled at all; a feed that answered 410, or 404 several times, is not.
        created_at: when it was added.
        next_poll_at: when it is due.
        last_poll_at: when it was last fetched, successfully or not.
        last_success_at: when it last answered with a feed (200 or 304); ``None`` until the
            first poll, which only records the items present (see ``backfill``).
        last_status: the last HTTP status, or ``None`` when no answer came.
        etag: the last ``ETag``, for a conditional GET.
        last_modified: the last ``Last-Modified``, for a conditional GET.
        errors: failed polls in a row; the backoff grows with it.
        last_error: what went wrong the last time, ``None`` after a success.
        deactivated_reason: why the feed is no longer polled.
        items_seen: how many distinct items it has had (filled in by the store).
    """

    id: FeedId
    url: str
    title: str
    tags: tuple[str, ...]
    interval: float
    backfill: int
    active: bool
    created_at: datetime
    next_poll_at: datetime
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    errors: int = 0
    last_error: str | None = None
    deactivated_reason: str | None = None
    items_seen: int = 0


@dataclass(frozen=True, slots=True)
class FeedItem:
    """What newsbot remembers of one item of a feed, so that it is published once.

    Attributes:
        feed_id: the feed.
        key: the item's identity within the feed (a hash of its guid, link, or raw content).
        article_id: the article it was published as; ``None`` for an item only recorded as
            seen (present when the feed was added).
        fingerprint: a hash of the item's content when it was last published or edited.
        seen_at: when it was first seen.
        edited_at: when its article was last edited because the item changed.
    """

    feed_id: FeedId
    key: str
    article_id: ArticleId | None
    fingerprint: str
    seen_at: datetime
    edited_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a fetched feed, already read and converted by the feed adapter.

    Attributes:
        guid: the item's own id (RSS ``guid``, Atom ``id``, JSON Feed ``id``), if any.
        link: its canonical address, absolute.
        title: plain text.
        body: the content, sanitised and converted to Markdown.
        summary: plain text.
        author: the author's name, if given.
        categories: the item's categories, as the feed spells them.
        image_url: an image (enclosure, ``media:content``, ``media:thumbnail``), absolute.
        published: when the item says it was published (or last updated).
        fingerprint: a hash of the item's content as the feed gave it (title, content,
            summary, link, image): when it changes, the item was edited. It is also the
            identity of an item without guid or link (computed without converting it).
        convert: when given, computes ``(body, summary)`` on demand instead of the two
            fields: a source can leave the conversion of items the core will not publish or
            edit (most of them, at most polls) undone. Use ``text()``. It may take seconds
            or block (a worker process converts): the core calls it in a thread, and only
            for items it publishes or edits.
        lead: for an item without a title, the opening of its text as plain text (the body
            is Markdown): the core makes the article's title of its first words.
    """

    guid: str | None
    link: str | None
    title: str
    body: str
    summary: str = ""
    author: str = ""
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    published: datetime | None = None
    fingerprint: str = ""
    convert: Callable[[], tuple[str, str]] | None = field(default=None, compare=False, repr=False)
    lead: str = ""

    def text(self) -> tuple[str, str]:
        """The body (Markdown) and the summary (plain text)."""
        return (self.body, self.summary) if self.convert is None else self.convert()


@dataclass(frozen=True, slots=True)
class Fetched:
    """The answer to one poll of a feed.

    Attributes:
        status: the HTTP status of the last answer (after redirects).
        url: the address that answered.
        moved_to: the new address when every redirect on the way was permanent (301, 308).
        etag: the answer's ``ETag``.
        last_modified: the answer's ``Last-Modified``.
        max_age: ``Cache-Control: max-age`` in seconds, if given.
        retry_after: ``Retry-After`` in seconds, if given.
        title: the feed's title (on a 200).
        entries: the items that could be read (on a 200), in the feed's order.
        problems: what could not be read (a malformed feed still gives what it can).
    """

    status: int
    url: str
    moved_to: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None
    retry_after: float | None = None
    title: str = ""
    entries: tuple[FeedEntry, ...] = ()
    problems: tuple[str, ...] = ()
