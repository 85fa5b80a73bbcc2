"""Rows to the core's models, written once for both SQL backends.

Both schemas have the same tables and columns; they differ in how a value comes back: SQLite
gives timestamps as ISO 8601 text and flags as 0 or 1, PostgreSQL ``datetime`` and ``bool``.
The mappers take either. The column lists fix the order the mappers read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any, Protocol

from newsbot import mirroring
from newsbot.intake import Accepted, Arrival
from newsbot.models import (
    Article,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    Delivery,
    DeliveryId,
    DeliveryOp,
    DeliveryState,
    Destination,
    DestinationId,
    DestinationKind,
    Feed,
    FeedId,
    FeedItem,
    IncomingComment,
    Job,
    MessageLink,
    MessageRef,
    NewComment,
    Platform,
    RoleLease,
    WorkerInfo,
)

ARTICLE = (
    "id, title, body, summary, url, image_url, author_name, author_platform, author_user_id, "
    "tags, status, created_at, published_at, updated_at, revision"
)
COMMENT = (
    "id, article_id, parent_id, author_name, author_platform, author_user_id, text, "
    "source_platform, source_chat_id, source_message_id, status, created_at, edited_at, "
    "deleted_at"
)
DESTINATION = (
    "id, platform, chat_id, thread_id, title, kind, active, tags, deactivated_reason, pending"
)
DELIVERY = (
    "id, article_id, comment_id, destination_id, platform, op, state, attempts, due_at, "
    "last_error, message_id, thread_id, generation, updated_at, claimed_by, lane"
)
FEED = (
    "id, url, title, tags, interval_s, backfill, active, created_at, next_poll_at, "
    "last_poll_at, last_success_at, last_status, etag, last_modified, errors, last_error, "
    "deactivated_reason"
)
WORKER = "id, host, pid, started_at, heartbeat_at, roles"
ROLE = "role, holder, lease_until, epoch"
FEED_ITEM = "key, article_id, fingerprint, seen_at, edited_at"
POST_LINK = "platform, chat_id, message_id, article_id, destination_id"
PENDING_REASON = "waiting for a newsbot admin's approval"


class Row(Protocol):
    """A row as either driver returns it: values by position."""

    def __getitem__(self, index: int, /) -> Any: ...


# Enum lookups by value through a dict: a page builds ~70 comments, and Enum(value) costs
# more than the rest of a row together.
PLATFORMS = {str(p): p for p in Platform}
_STATUSES = {str(s): s for s in CommentStatus}


def migrations(package: str) -> list[tuple[int, str]]:
    """The numbered scripts in ``package``'s ``migrations`` folder, in order."""
    found = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def at(value: datetime | str) -> datetime:
    """A stored timestamp (SQLite's text or PostgreSQL's ``timestamptz``)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def maybe_at(value: datetime | str | None) -> datetime | None:
    """A stored timestamp that may be missing."""
    return None if value is None else at(value)


def tags(value: str) -> tuple[str, ...]:
    """Tags stored as one space-separated text."""
    return tuple(value.split()) if value else ()


def article(row: Row) -> Article:
    """An ``ARTICLE`` row."""
    return Article(
        id=ArticleId(row[0]),
        title=row[1],
        body=row[2],
        summary=row[3],
        url=row[4],
        image_url=row[5],
        author=Author(row[6], Platform(row[7]), row[8]),
        tags=tags(row[9]),
        status=ArticleStatus(row[10]),
        created_at=at(row[11]),
        published_at=maybe_at(row[12]),
        updated_at=at(row[13]),
        revision=row[14],
    )


def comment(row: Row) -> Comment:
    """A ``COMMENT`` row."""
    edited, deleted = row[12], row[13]
    return Comment(
        row[0],
        row[1],
        row[2],
        Author(row[3], PLATFORMS[row[4]], row[5]),
        row[6],
        MessageRef(PLATFORMS[row[7]], row[8], row[9]),
        _STATUSES[row[10]],
        at(row[11]),
        None if edited is None else at(edited),
        None if deleted is None else at(deleted),
    )


def destination(row: Row) -> Destination:
    """A ``DESTINATION`` row."""
    return Destination(
        id=DestinationId(row[0]),
        platform=Platform(row[1]),
        chat_id=row[2],
        thread_id=row[3] or None,
        title=row[4],
        kind=DestinationKind(row[5]),
        active=bool(row[6]),
        tags=tags(row[7]),
        deactivated_reason=row[8],
        pending=bool(row[9]),
    )


def delivery(row: Row) -> Delivery:
    """A ``DELIVERY`` row."""
    return Delivery(
        id=DeliveryId(row[0]),
        article_id=ArticleId(row[1]),
        comment_id=None if row[2] is None else CommentId(row[2]),
        destination_id=DestinationId(row[3]),
        platform=Platform(row[4]),
        op=DeliveryOp(row[5]),
        state=DeliveryState(row[6]),
        attempts=row[7],
        next_attempt_at=maybe_at(row[8]),
        last_error=row[9],
        message_id=row[10],
        thread_id=row[11],
        generation=row[12],
        updated_at=at(row[13]),
        claimed_by=row[14],
        lane=row[15],
    )


def feed(row: Row, items_seen: int = 0) -> Feed:
    """A ``FEED`` row, with how many of its items are remembered."""
    return Feed(
        id=FeedId(row[0]),
        url=row[1],
        title=row[2],
        tags=tags(row[3]),
        interval=float(row[4]),
        backfill=row[5],
        active=bool(row[6]),
        created_at=at(row[7]),
        next_poll_at=at(row[8]),
        last_poll_at=maybe_at(row[9]),
        last_success_at=maybe_at(row[10]),
        last_status=row[11],
        etag=row[12],
        last_modified=row[13],
        errors=row[14],
        last_error=row[15],
        deactivated_reason=row[16],
        items_seen=items_seen,
    )


def feed_item(feed_id: FeedId, row: Row) -> FeedItem:
    """A ``FEED_ITEM`` row of feed ``feed_id``."""
    return FeedItem(
        feed_id,
        row[0],
        None if row[1] is None else ArticleId(row[1]),
        row[2],
        at(row[3]),
        maybe_at(row[4]),
    )


def worker(row: Row) -> WorkerInfo:
    """A ``WORKER`` row."""
    return WorkerInfo(row[0], row[1], row[2], at(row[3]), at(row[4]), tags(row[5]))


def role(row: Row) -> RoleLease:
    """A ``ROLE`` row."""
    return RoleLease(row[0], row[1], at(row[2]), row[3])


def post_link(row: Row) -> MessageLink:
    """A ``POST_LINK`` row: the link of an article's own post in a destination."""
    return MessageLink(MessageRef(PLATFORMS[row[0]], row[1], row[2]), row[3], None, row[4])


def qualified(prefix: str, columns: str) -> str:
    """``columns`` qualified by the table alias ``prefix`` (``d.id, d.article_id, ...``)."""
    return ", ".join(f"{prefix}.{c.strip()}" for c in columns.split(","))


# A delivery and its destination in one row (``DeliveryStatus``), then the rest of a query
# that names them ``d`` and ``t``; the first ``DELIVERY_WIDTH`` values are the delivery's.
STATUSES = (
    f"SELECT {qualified('d', DELIVERY)}, {qualified('t', DESTINATION)} FROM deliveries d "
    "JOIN destinations t ON t.id = d.destination_id"
)
DELIVERY_WIDTH = len(DELIVERY.split(","))


@dataclass(slots=True)
class JobParts:
    """What a backend fetches for claimed ``deliveries`` to make their jobs: it fills each
    field by the ids the properties name, then calls ``jobs``. Mirrored comments need more:
    the articles' own ``posts`` by (article, destination) and their ``post_links``, the
    ``comments`` and their parents, and the parents' ``copies`` by (parent, destination)."""

    deliveries: list[Delivery]
    destinations: dict[DestinationId, Destination] = field(default_factory=dict)
    articles: dict[ArticleId, Article] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    reactions: dict[int, int] = field(default_factory=dict)  # the posts' articles' totals
    posts: dict[tuple[int, int], tuple[str | None, str | None]] = field(default_factory=dict)
    post_links: dict[int, list[MessageLink]] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    copies: dict[tuple[int, int], str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.deliveries.sort(key=lambda d: (d.next_attempt_at or d.updated_at, d.id))

    @property
    def destination_ids(self) -> list[int]:
        """The destinations to fetch."""
        return sorted({d.destination_id for d in self.deliveries})

    @property
    def article_ids(self) -> list[int]:
        """The articles to fetch, with their comment counts (and posts, for mirrors)."""
        return sorted({d.article_id for d in self.deliveries})

    @property
    def mirrored(self) -> list[int]:
        """The mirrored comments to fetch; none, and nothing more is needed."""
        return sorted({d.comment_id for d in self.deliveries if d.comment_id is not None})

    @property
    def missing_parents(self) -> list[int]:
        """The parents of the fetched comments that are not among them."""
        parents = {c.parent_id for c in self.comments.values() if c.parent_id is not None}
        return sorted(parents - self.comments.keys())

    @property
    def parent_copies(self) -> list[tuple[int, int]]:
        """The (parent, destination) pairs whose copy a mirrored reply answers."""
        pairs = set()
        for one in self.deliveries:
            found = None if one.comment_id is None else self.comments.get(one.comment_id)
            if found is not None and found.parent_id is not None:
                pairs.add((int(found.parent_id), int(one.destination_id)))
        return sorted(pairs)

    @property
    def posted_articles(self) -> list[int]:
        """The articles of the claimed posts and edits of articles (their count lines)."""
        return sorted(
            {
                d.article_id
                for d in self.deliveries
                if d.comment_id is None and d.op is not DeliveryOp.DELETE
            }
        )

    def jobs(self) -> list[Job]:
        """The deliveries as jobs (``newsbot.mirroring.job``)."""
        made = []
        for one in self.deliveries:
            comment_ = None if one.comment_id is None else self.comments.get(one.comment_id)
            parent_id = None if comment_ is None else comment_.parent_id
            post = self.posts.get((one.article_id, one.destination_id), (None, None))
            made.append(
                mirroring.job(
                    one,
                    self.destinations[one.destination_id],
                    self.articles[one.article_id],
                    comment_,
                    None if parent_id is None else self.comments.get(parent_id),
                    post_message=post[0],
                    post_thread=post[1],
                    post_links=self.post_links.get(one.article_id, ()),
                    parent_copy=self.copies.get((parent_id or 0, one.destination_id)),
                    comment_count=self.counts.get(one.article_id, 0),
                    reaction_count=self.reactions.get(one.article_id, 0),
                )
            )
        return made


def group_links(links: Iterable[MessageLink]) -> dict[int, list[MessageLink]]:
    """Post links by their article."""
    grouped: dict[int, list[MessageLink]] = {}
    for link in links:
        grouped.setdefault(link.article_id, []).append(link)
    return grouped


# -- models to rows ----------------------------------------------------------------------


def draft_values(draft: ArticleDraft) -> tuple[str, str, str | None, str | None, str | None]:
    """An article draft's title, body, summary, url and image_url."""
    return draft.title, draft.body, draft.summary, draft.url, draft.image_url


def author_values(author: Author) -> tuple[str, str, str]:
    """An author's name, platform and user id."""
    return author.name, str(author.platform), author.user_id


def comment_values(new: NewComment) -> tuple[str, str, str, str, str, str, str]:
    """A new comment's author (name, platform, user id), text and source message (platform,
    chat id, message id)."""
    source = new.source
    return (
        *author_values(new.author),
        new.text,
        str(source.platform),
        source.chat_id,
        source.message_id,
    )


def added(
    new: NewComment, comment_id: CommentId, parent_id: CommentId | None, created_at: datetime
) -> Comment:
    """The comment ``new`` as stored under ``comment_id``, visible (``parent_id`` is
    ``None`` when its parent is not of its article)."""
    return Comment(
        id=comment_id,
        article_id=new.article_id,
        parent_id=parent_id,
        author=new.author,
        text=new.text,
        source=new.source,
        status=CommentStatus.VISIBLE,
        created_at=created_at,
    )


def ingested(item: IncomingComment, new: Accepted, created_at: Any) -> tuple[Any, ...]:
    """The ``comments`` row of an arriving comment the intake accepted (``INGEST_COLUMNS``),
    with ``created_at`` in the backend's form."""
    source = item.source
    return (
        new.id,
        new.article_id,
        new.parent_id,
        new.root_id,
        *author_values(item.author),
        item.text,
        str(source.platform),
        source.chat_id,
        source.message_id,
        "hidden" if new.hidden else "visible",
        created_at,
    )


def arrived(item: Arrival, new: Accepted, created_at: Any) -> tuple[Any, ...]:
    """``ingested`` for an ``Arrival``: its ``comments`` row (``INGEST_COLUMNS``), with 0 for
    no parent and no root (SQLite's writer binds them through ``NULLIF(?, 0)``: sqlite3 binds
    ``None`` through its adapter lookup, which raises and clears an ``AttributeError``)."""
    platform, chat_id, message_id = item.source
    return (
        new.id,
        new.article_id,
        new.parent_id or 0,
        new.root_id or 0,
        item.author_name,
        str(item.author[0]),
        item.author[1],
        item.text,
        str(platform),
        chat_id,
        message_id,
        "hidden" if new.hidden else "visible",
        created_at,
    )


INGEST_COLUMNS = (
    "id",
    "article_id",
    "parent_id",
    "root_id",
    "author_name",
    "author_platform",
    "author_user_id",
    "text",
    "source_platform",
    "source_chat_id",
    "source_message_id",
    "status",
    "created_at",
)


IN_CHUNK = 256
"""Most values one ``IN (…)`` list of ``in_lists`` holds."""


def in_lists(values: Iterable[Any], start: int = 1) -> Iterator[tuple[str, list[Any]]]:
    """``values`` (repeats dropped) in chunks of at most ``IN_CHUNK``, each as its
    placeholders (``$start, …``) and its values, padded to a power of two with the last
    value: a few statement texts serve every batch size (PostgreSQL prepares each once)."""
    unique = list(dict.fromkeys(values))
    for first in range(0, len(unique), IN_CHUNK):
        chunk = unique[first : first + IN_CHUNK]
        size = 1 << (len(chunk) - 1).bit_length()
        chunk += [chunk[-1]] * (size - len(chunk))
        yield ", ".join(f"${start + n}" for n in range(size)), chunk
