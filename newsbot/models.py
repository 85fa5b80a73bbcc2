"""The domain: articles, comment threads, destinations and the delivery outbox.

Every value here is an immutable dataclass. Platform ids are strings: Telegram chat ids are
negative integers and Discord snowflakes are 64-bit, so neither fits one numeric type well.
Timestamps are timezone-aware UTC.

The ids live in ``newsbot.ids`` and the feed models in ``newsbot.feed_models``; every name
is importable from here as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from newsbot.feed_models import Feed as Feed
from newsbot.feed_models import FeedEntry as FeedEntry
from newsbot.feed_models import FeedItem as FeedItem
from newsbot.feed_models import Fetched as Fetched
from newsbot.feed_models import NewFeed as NewFeed
from newsbot.ids import ArticleId as ArticleId
from newsbot.ids import CommentId as CommentId
from newsbot.ids import DeliveryId as DeliveryId
from newsbot.ids import DestinationId as DestinationId
from newsbot.ids import FeedId as FeedId
from newsbot.policy import CommentPolicy


class Platform(StrEnum):
    """Where a message lives or where an actor comes from."""

    TELEGRAM = "telegram"
    DISCORD = "discord"
    WEB = "web"
    CLI = "cli"


class ArticleStatus(StrEnum):
    """Lifecycle of an article."""

    DRAFT = "draft"
    PUBLISHED = "published"
    RETRACTED = "retracted"
    # Published with a web time still ahead: never stored as such, the service shows it so
    # (``newsbot.scheduling``); readers see no such article before its time.
    SCHEDULED = "scheduled"


class CommentStatus(StrEnum):
    """Visibility of a comment."""

    VISIBLE = "visible"
    HIDDEN = "hidden"
    DELETED = "deleted"


class DestinationKind(StrEnum):
    """What sort of chat a destination is; publishers render and thread differently per kind."""

    CHANNEL = "channel"
    GROUP = "group"
    FORUM = "forum"
    ANNOUNCEMENT = "announcement"
    PRIVATE = "private"


class DeliveryState(StrEnum):
    """Where a delivery stands in the outbox.

    ``pending`` is due now or at ``next_attempt_at``; ``sending`` is claimed by a dispatcher;
    ``failed`` failed transiently and waits for its retry; ``sent`` is done; ``dead`` will not
    be tried again (the destination is gone, the job was cancelled, or retries ran out).
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


class DeliveryOp(StrEnum):
    """What a delivery asks the publisher to do with its message."""

    POST = "post"
    EDIT = "edit"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class MessageRef:
    """The key of one chat message: the platform, the chat (or thread) and the message id."""

    platform: Platform
    chat_id: str
    message_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote an article or comment, as the platform names them."""

    name: str
    platform: Platform
    user_id: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks the service to do something, with what the adapter verified about them.

    Attributes:
        platform: where the request comes from; ``Platform.CLI`` is the local operator and
            may do anything.
        user_id: the platform user id, compared with the configured admin lists.
        name: a display name, for logs and refusals.
        platform_admin: the adapter verified a platform-level right that grants publishing
            (Discord's Manage Server in a server the operator named); rights from a place the
            operator did not name must never set it.
        chat_admin: the adapter verified that the actor administers the chat being
            subscribed or unsubscribed. It lets them ask for a subscription, which waits for
            a newsbot admin's approval unless subscriptions are open.
    """

    platform: Platform
    user_id: str
    name: str = ""
    platform_admin: bool = False
    chat_admin: bool = False

    @classmethod
    def operator(cls) -> Actor:
        """The local operator on the command line."""
        return cls(Platform.CLI, "operator", "operator")


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """What an author submits to publish (or the new content of an edit)."""

    title: str
    body: str
    summary: str = ""
    url: str | None = None
    image_url: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article."""

    id: ArticleId
    title: str
    body: str
    summary: str
    url: str | None
    image_url: str | None
    author: Author
    tags: tuple[str, ...]
    status: ArticleStatus
    created_at: datetime
    published_at: datetime | None
    updated_at: datetime
    revision: int


@dataclass(frozen=True, slots=True)
class Comment:
    """A stored comment in an article's thread.

    ``source`` is the message the comment was written as (a web comment gets a synthetic
    ``web`` key); it makes storing idempotent, so a redelivered update never doubles a comment.
    """

    id: CommentId
    article_id: ArticleId
    parent_id: CommentId | None
    author: Author
    text: str
    source: MessageRef
    status: CommentStatus
    created_at: datetime
    edited_at: datetime | None = None
    deleted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewComment:
    """A comment to store: everything but the id the store assigns."""

    article_id: ArticleId
    parent_id: CommentId | None
    author: Author
    text: str
    source: MessageRef
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CountRefresh:
    """How often posts are edited to show a new comment count.

    One post is edited at most every ``min_interval`` seconds, and an article's posts all
    together at most ``per_second`` times a second on average (so a post in 10,000 chats is
    refreshed about once an hour at 3 a second), leaving the platforms' budgets to new posts.
    """

    min_interval: float = 300.0
    per_second: float = 3.0


@dataclass(frozen=True, slots=True)
class IncomingComment:
    """A comment as it arrives, before the store has resolved where it belongs.

    Either ``reply_to`` names the chat message it answers (the store resolves the article and
    the parent from it), or ``article_id`` (and ``parent_id``) say so directly (the web).

    Attributes:
        source: the message the comment was written as; storing is idempotent on it.
        author: who wrote it.
        text: the cleaned text.
        created_at: when it was written.
        reply_to: the message it replies to, if it came from a chat.
        article_id: the article, when there is no ``reply_to``.
        parent_id: the parent comment, when there is no ``reply_to``.
        mirror: whether to enqueue copies to the other chats where the article was posted.
        mirror_due: when those copies are due (``None``: at once).
        count_refresh: when set, the article's posts are re-enqueued as edits (showing the
            new comment count) at the pace it allows.
        hidden: store the comment hidden (over an intake limit, say): it is kept for
            moderators, counted nowhere, never mirrored and never refreshes a count.
        policy: the comment policy of articles that have none of their own
            (``newsbot.policy``); one that is not open stores the comment hidden.
        close_before: articles published before this are closed to comments, unless a
            policy of their own was set (the automatic close).
    """

    source: MessageRef
    author: Author
    text: str
    created_at: datetime
    reply_to: MessageRef | None = None
    article_id: ArticleId | None = None
    parent_id: CommentId | None = None
    mirror: bool = True
    mirror_due: datetime | None = None
    count_refresh: CountRefresh | None = None
    hidden: bool = False
    policy: CommentPolicy = CommentPolicy.OPEN
    close_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Destination:
    """A chat that receives articles.

    ``tags`` filters what it receives: empty means every article, otherwise articles sharing at
    least one tag. ``thread_id`` names a topic or thread inside the chat when there is one.
    A ``pending`` destination was asked for by a chat admin who is not a newsbot admin: it is
    inactive (receives nothing) until a newsbot admin approves it.
    """

    id: DestinationId
    platform: Platform
    chat_id: str
    thread_id: str | None
    title: str
    kind: DestinationKind
    active: bool
    tags: tuple[str, ...] = ()
    deactivated_reason: str | None = None
    pending: bool = False

    def accepts(self, tags: tuple[str, ...]) -> bool:
        """Whether an article with these tags should go to this destination."""
        return not self.tags or bool(set(self.tags) & set(tags))


@dataclass(frozen=True, slots=True)
class NewDestination:
    """A chat to subscribe."""

    platform: Platform
    chat_id: str
    kind: DestinationKind
    title: str = ""
    thread_id: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One article (or one mirrored comment) in one destination, as the outbox tracks it.

    ``generation`` grows each time the delivery is re-enqueued (an edit or a retraction while
    it was in flight), so a dispatcher finishing an older generation leaves it pending.
    ``claimed_by`` names the worker holding the claim while it is ``sending``; the claim is a
    lease, and ``next_attempt_at`` is then when it expires and others may take it over.
    """

    id: DeliveryId
    article_id: ArticleId
    comment_id: CommentId | None
    destination_id: DestinationId
    platform: Platform
    op: DeliveryOp
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    message_id: str | None
    thread_id: str | None
    generation: int
    updated_at: datetime
    claimed_by: str | None = None
    lane: int = 0  # above 0: the breaking-news lane, claimed first (``scheduling.Priority``)


@dataclass(frozen=True, slots=True)
class Posted:
    """What a publisher reports after posting: the message and every id that refers to it.

    ``links`` are all the message keys a reply may point at (a Discord post and the thread
    started on it, say); each is linked to the article or comment the post carries.
    """

    message_id: str
    thread_id: str | None = None
    links: tuple[MessageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Job:
    """Everything a publisher needs for one delivery.

    Attributes:
        delivery: the outbox row; ``delivery.op`` says post, edit or delete.
        destination: the chat.
        article: the article (for a comment mirror, the article the comment belongs to).
        comment: the comment to mirror, or ``None`` for an article post.
        parent: the comment's parent, for quoting when a native reply is impossible.
        reply_to: the message id in this destination that a mirrored comment should reply to.
        thread_id: the thread started on the article's post in this destination, if any; a
            mirrored comment goes there.
        discussion: a copy of the article's post that the platform made in another chat
            where readers comment (a Telegram channel's discussion group); a mirrored comment
            goes there, and ``reply_to`` is then a message of that chat.
        comment_count: visible comments on the article, for the post's footer.
        reaction_count: reactions on the article and its visible comments, for the footer
            (``newsbot.reactions.tally``; counted for the article's own posts only).
        article_url: the article's web page.
        nonce: a deterministic idempotency key (at most 25 characters) for platforms that
            support one, so that a resend after a crash does not double the post.
        comments_closed: the article's comment policy is closed (``newsbot.closing``): its
            posts say so and a Discord thread on them is locked and archived (set by the
            dispatcher on the article's own posts and edits).
    """

    delivery: Delivery
    destination: Destination
    article: Article
    comment: Comment | None
    parent: Comment | None
    reply_to: str | None
    thread_id: str | None
    comment_count: int
    article_url: str
    nonce: str
    discussion: MessageRef | None = None
    reaction_count: int = 0
    comments_closed: bool = False


@dataclass(frozen=True, slots=True)
class MessageLink:
    """What a posted message carries: an article, or a comment of an article."""

    ref: MessageRef
    article_id: ArticleId
    comment_id: CommentId | None = None
    destination_id: DestinationId | None = None


@dataclass(frozen=True, slots=True)
class ThreadCursor:
    """A keyset position in a thread: the last (created_at, id) seen."""

    created_at: datetime
    comment_id: CommentId


@dataclass(frozen=True, slots=True)
class ArticleCursor:
    """A keyset position in the article list: the last (published_at, id) seen."""

    published_at: datetime
    article_id: ArticleId


@dataclass(slots=True)
class CommentNode:
    """A comment with its replies, as a thread is shown."""

    comment: Comment
    replies: list[CommentNode] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ThreadPage:
    """One page of an article's thread: top-level comments with their replies.

    ``next_cursor`` is an opaque string for the following page, or ``None`` at the end.
    ``total`` counts the article's visible comments. ``continued`` is true when the first
    top-level comment was on the page before too, with replies that did not fit there: it is
    shown again, with the ancestors of the replies that follow, for context.
    """

    article_id: ArticleId
    comments: list[CommentNode]
    next_cursor: str | None
    total: int
    continued: bool = False


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """One page of the latest articles, newest first."""

    articles: list[Article]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A delivery together with its destination, for reports."""

    delivery: Delivery
    destination: Destination


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One running newsbot process, as it announces itself to the others.

    Attributes:
        id: unique per process life (``host-pid-random`` by default).
        host: the machine's name.
        pid: the process id on that machine.
        started_at: when the process started.
        heartbeat_at: the last time it said it was alive.
        roles: the roles it held at that heartbeat (``send:telegram``, say).
    """

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleLease:
    """Who holds a role (the right to send for one platform) and until when.

    ``epoch`` grows at every change of holder, so a holder can tell that it lost the role
    and took it back in between.
    """

    role: str
    holder: str
    lease_until: datetime
    epoch: int
