"""The persistence port, as roles: each consumer takes only the role it uses.

``Store`` is the union of the role ports below (``storage.SqliteStore``,
``storage.PostgresStore`` and ``storage.memory.MemoryStore`` implement it, and each must pass
``tests/storage/test_store_contract*.py``). Consumers take the narrowest one that serves them: the
dispatcher an ``Outbox``, the role holder ``Coordination``, the feed use cases a ``FeedStore``;
the service, which carries out every use case, the whole ``Store``. Adapters never see a store:
they call the service.

Every method of every role follows the same rules:

- It is one atomic unit of work: it happens completely or not at all, and concurrent callers
  (in this process or in other workers sharing the store) never see each other's half-done
  work.
- Times passed in are timezone-aware UTC, and so are times returned.
- It raises ``StorageError`` when the backend fails, never an SDK or driver exception.
- What a worker claims (a delivery, a role) is a lease with an owner and an expiry: the owner
  renews it while it works, and others take it over only once it has expired, never because
  they started.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from newsbot.models import (
    Article,
    ArticleCursor,
    ArticleDraft,
    ArticleId,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    Delivery,
    DeliveryState,
    DeliveryStatus,
    Destination,
    DestinationId,
    Feed,
    FeedId,
    FeedItem,
    IncomingComment,
    Job,
    MessageLink,
    MessageRef,
    NewComment,
    NewDestination,
    NewFeed,
    Platform,
    Posted,
    RoleLease,
    ThreadCursor,
    WorkerInfo,
)
from newsbot.ports.desk import DeskStore
from newsbot.ports.notifications import NoticeStore
from newsbot.ports.people import PeopleStore
from newsbot.ports.reactions import ReactionStore
from newsbot.ports.routing import RoutingStore
from newsbot.ports.schedule import ScheduleStore
from newsbot.ports.staffchat import StaffNoticeStore
from newsbot.ports.stats import StatsStore


class ArticleStore(Protocol):
    """Articles: publishing, editing and retracting them, and reading them back.

    Writing an article enqueues what it causes (posts, edits, deletions) in the outbox in the
    same unit of work, so a crash never leaves an article without its deliveries or a
    delivery without its article. ``request`` keys make publishing and editing idempotent
    across retries and restarts: a command carried out once is never carried out again.
    """

    async def add_article(
        self,
        draft: ArticleDraft,
        author: Author,
        now: datetime,
        deliver_to: Sequence[DestinationId],
        *,
        request: str | None = None,
    ) -> tuple[Article, bool]:
        """Store a published article and enqueue a post delivery to each destination given.

        ``request`` identifies the command that asks (a chat message, an interaction): when an
        article was already published for the same request, nothing happens and that article
        is returned. Returns the article and whether it was created now.
        """
        ...

    async def update_article(
        self,
        article_id: ArticleId,
        draft: ArticleDraft,
        now: datetime,
        *,
        request: str | None = None,
    ) -> int | None:
        """Replace an article's content, bump its revision and enqueue edits.

        Deliveries already sent are re-enqueued as edits; pending ones will post the new
        content anyway. Returns how many edits were enqueued, or ``None`` (and changes
        nothing) when ``request`` was carried out before.
        """
        ...

    async def retract_article(self, article_id: ArticleId, now: datetime) -> int:
        """Mark an article retracted and enqueue the deletion of every posted message.

        Pending posts that never went out are cancelled (``dead``). Also enqueues deletion of
        the article's mirrored comments. Returns how many deletions were enqueued.
        """
        ...

    async def get_article(self, article_id: ArticleId) -> Article | None:
        """Return the article, whatever its status, or ``None``."""
        ...

    async def latest_articles(self, limit: int, before: ArticleCursor | None) -> list[Article]:
        """Return published articles, newest first, strictly after the cursor position."""
        ...

    async def count_comments(self, article_id: ArticleId) -> int:
        """Count the article's visible comments."""
        ...


class DestinationStore(Protocol):
    """The chats (and threads) articles go to, and how each delivery there stands.

    A destination is unique per ``(platform, chat_id, thread_id)`` and is never deleted: an
    unsubscribed or vanished chat is kept inactive, with the reason, so that its deliveries
    and links keep their meaning. Deactivating one is ``Outbox.deactivate_destination``'s
    (the dispatcher does it when a platform says the chat is gone).
    """

    async def add_destination(
        self, new: NewDestination, now: datetime, *, pending: bool = False
    ) -> tuple[Destination, bool]:
        """Subscribe a chat; reactivate it if it was inactive.

        With ``pending`` a chat that is not active is stored (or left) inactive and marked
        pending, waiting for ``approve_destination``. Returns the destination and whether
        anything changed (``False`` for a chat that was already active, or already pending).
        """
        ...

    async def approve_destination(self, destination_id: DestinationId, now: datetime) -> bool:
        """Activate a pending destination. Returns ``False`` when it was not pending."""
        ...

    async def get_destination(
        self, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination | None:
        """Return the destination for a chat (and thread), active or not."""
        ...

    async def list_destinations(
        self, platform: Platform | None = None, *, active_only: bool = True
    ) -> list[Destination]:
        """Return destinations, ordered by id."""
        ...

    async def deliveries_for_article(self, article_id: ArticleId) -> list[DeliveryStatus]:
        """Return the article's own deliveries (not comment mirrors) with their destinations."""
        ...

    async def deliveries_for_comment(self, comment_id: CommentId) -> list[DeliveryStatus]:
        """Return the mirror deliveries of one comment with their destinations."""
        ...


class Outbox(Protocol):
    """The delivery outbox as the dispatcher works it: claim what is due, record the outcome.

    A delivery is one post, edit or deletion of an article or mirrored comment in one
    destination. Claims are leases: a worker claims deliveries for ``lease`` seconds and
    renews them while it sends; a claim whose lease expired is due again and may be claimed
    by anyone, and every outcome recorded by a worker that lost its claim is ignored, so a
    stalled worker cannot overwrite what its successor did. Every state change happens in
    one unit of work with what it implies (links of the posted messages, cancelled deliveries
    of a deactivated destination).
    """

    async def claim_deliveries(
        self,
        platform: Platform,
        now: datetime,
        limit: int,
        *,
        worker: str = "",
        lease: float = 30.0,
    ) -> list[Job]:
        """Claim up to ``limit`` due deliveries of a platform, oldest due first.

        Claimed deliveries move to ``sending`` with one more attempt counted, owned by
        ``worker`` for ``lease`` seconds (their ``next_attempt_at`` is the lease's expiry), and
        come back as complete jobs (destination, article, comment, reply target). A delivery
        whose lease expired (its worker died or stalled) is due again and claimed like any
        other. Concurrent claims by several workers never return the same delivery.
        """
        ...

    async def renew_claims(self, worker: str, now: datetime, lease: float) -> int:
        """Extend the lease of every delivery ``worker`` holds to ``now + lease``.

        Returns how many it still holds; a claim that expired and was taken over is lost.
        """
        ...

    async def release_claims(self, worker: str, platform: Platform | None = None) -> int:
        """Return the ``sending`` deliveries ``worker`` holds to ``pending``, due at once, giving
        their attempt back.

        Called when a dispatcher stops (or gives up a platform). Claims of other workers are
        never touched: they expire by themselves if their worker is gone. Returns how many
        were released.
        """
        ...

    async def next_due(self, platform: Platform) -> datetime | None:
        """When the platform's earliest pending or failed delivery is due, or ``None``."""
        ...

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        """Record a successful post, edit or delete, and link every message id posted.

        If the delivery was re-enqueued while in flight (its generation moved on), it goes
        back to ``pending`` with the posted message id recorded, so the newer op runs next.
        """
        ...

    async def retry_delivery(
        self,
        delivery: Delivery,
        error: str,
        due_at: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        """Record a transient failure and schedule the next attempt at ``due_at``.

        With ``count_attempt=False`` (a rate limit) the attempt counted by the claim is given
        back. Nothing happens unless the delivery is still claimed by ``delivery.claimed_by``.
        """
        ...

    async def fail_delivery(self, delivery: Delivery, error: str, now: datetime) -> None:
        """Give up on a delivery for good (``dead``).

        Like ``retry_delivery``, it does nothing once another worker has taken the claim over.
        """
        ...

    async def deactivate_destination(
        self, destination_id: DestinationId, reason: str, now: datetime
    ) -> bool:
        """Mark a destination inactive and cancel its unsent deliveries.

        Returns ``False`` when it was already inactive.
        """
        ...

    async def delivery_counts(self) -> dict[tuple[Platform, DeliveryState], int]:
        """How many deliveries are in each state, per platform (for monitoring)."""
        ...


class ThreadStore(Protocol):
    """Comment threads: the comments, and the links that tie chat messages to what they carry.

    Every message the bot posts, and every chat message stored as a comment, is linked under
    its ``MessageRef``; a reply to any of them resolves to its article (and comment). A
    comment is stored once per source message, however often it arrives. Changing a comment
    (editing, hiding, deleting) enqueues what it causes to its mirrored copies in the same
    unit of work. What becomes of an arriving comment is decided by the core
    (``newsbot.intake``, ``newsbot.mirroring``), never by the backend.
    """

    async def resolve_message(self, ref: MessageRef) -> MessageLink | None:
        """Find what a chat message carries: an article post, a mirrored comment, or a comment
        written as that message. ``None`` for an unknown message."""
        ...

    async def add_link(self, link: MessageLink) -> bool:
        """Link one more message (a copy of a post, say) to an article or comment.

        Returns ``False`` if the message was already linked (the old link stays).
        """
        ...

    async def add_comment(
        self,
        new: NewComment,
        mirror_to: Sequence[DestinationId] = (),
        mirror_due: datetime | None = None,
    ) -> tuple[Comment, bool]:
        """Store a comment unless its source message is stored already.

        When created, a post delivery of the comment is enqueued to each ``mirror_to``
        destination, due at ``mirror_due`` (now when ``None``). Returns the comment and
        ``True`` when it was created, or the existing comment and ``False`` when the source
        message was seen before (nothing is enqueued then).
        """
        ...

    async def ingest_comment(self, incoming: IncomingComment) -> tuple[Comment, bool] | None:
        """Resolve, check and store one arriving comment as a single unit of work.

        In order: a comment already stored for ``incoming.source`` is returned as
        ``(existing, False)``; a banned author gives ``None``; ``reply_to`` (when given) is
        resolved like ``resolve_message`` and gives ``None`` when unknown, its article and
        comment becoming the article and parent; an article that is not published gives
        ``None``. Otherwise the comment is stored and returned as ``(comment, True)``, and
        with ``incoming.mirror`` a post of it is enqueued, due at ``incoming.mirror_due``,
        to every active destination where the article's own post was delivered, except where
        it was written: the destination ``reply_to`` was linked to, and any destination whose
        post is in the source's chat (its chat, the thread on the post, or a linked copy of the
        post, such as a channel's discussion group). With ``incoming.count_refresh``, the
        article's sent posts are re-enqueued as edits, each due no sooner than allowed since
        that post was last sent or edited.

        These rules are ``newsbot.intake.decide``'s: an implementation looks up what it needs
        (``newsbot.intake.needs``), asks it, and writes the plan. Implementations may batch
        concurrent calls into one transaction (group commit); each call still succeeds or
        fails on its own.
        """
        ...

    async def get_comment(self, comment_id: CommentId) -> Comment | None:
        """Return a comment by id, whatever its status."""
        ...

    async def get_comment_by_source(self, source: MessageRef) -> Comment | None:
        """Return the comment written as a given message."""
        ...

    async def edit_comment(
        self, comment_id: CommentId, text: str, now: datetime, *, due: datetime | None = None
    ) -> Comment:
        """Replace a comment's text, mark it edited and enqueue edits of its mirrors.

        No mirror gets the new text before ``due`` (``now`` when ``None``): a sent copy is
        re-enqueued as an edit due then; a copy still waiting to be posted or edited, or to
        be retried, waits until then at least (it carries the latest text when it goes); a
        copy being sent is sent again once that send ends, not before ``due`` either.
        Deleted copies stay deleted.
        """
        ...

    async def set_comment_status(
        self, comment_id: CommentId, status: CommentStatus, now: datetime
    ) -> Comment:
        """Hide, delete or restore a comment.

        Hiding or deleting enqueues the deletion of every mirrored copy.
        """
        ...

    async def thread_page(
        self,
        article_id: ArticleId,
        limit: int,
        after: ThreadCursor | None,
        *,
        newest_first: bool,
    ) -> tuple[list[Comment], list[Comment], int]:
        """One page of a thread in one unit of work, consistent and in one round trip.

        Returns the top-level comments in (created_at, id) order (descending with
        ``newest_first``) strictly after the cursor position, at most ``limit`` of them; every
        reply at any depth under those comments, oldest first; and ``count_comments``.
        """
        ...

    async def comments_by_author(self, platform: Platform, user_id: str) -> list[Comment]:
        """Return every visible comment of one author."""
        ...

    async def has_visible_comment(self, platform: Platform, user_id: str) -> bool:
        """Whether one author has a visible comment (an existence check that stops at the
        first: ``NEWSBOT_HOLD_FIRST_COMMENTS`` asks it for each arriving comment)."""
        ...


class SharedState(Protocol):
    """Small values every worker shares: bans, named values, and rate-limit slots.

    What one worker writes here every other worker reads at once (no worker keeps a copy
    that could go stale), and check-and-set steps (``setdefault_state``, ``take_slot``) are
    atomic across workers.
    """

    async def set_ban(self, platform: Platform, user_id: str, banned: bool, now: datetime) -> bool:
        """Ban or unban an author. Returns whether anything changed."""
        ...

    async def is_banned(self, platform: Platform, user_id: str) -> bool:
        """Whether comments of this author are refused."""
        ...

    async def get_state(self, key: str) -> str | None:
        """Read a small named value (an adapter's update offset, say)."""
        ...

    async def set_state(self, key: str, value: str) -> None:
        """Write a small named value."""
        ...

    async def setdefault_state(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value is there; return the stored value.

        Workers starting together agree on one value (the web form secret, say).
        """
        ...

    async def take_slot(self, key: str, limit: int, window: float, now: datetime) -> float:
        """Take one slot of a sliding-window rate limit shared by every worker.

        At most ``limit`` slots of ``key`` are taken in any ``window`` seconds. Checking and
        taking are one atomic step, so concurrent requests cannot both take the last slot.
        Returns 0.0 when a slot was taken, or the seconds until one frees up (nothing taken).
        Each call also deletes a bounded batch of expired slots of any key (a key that is
        never used again, such as a passing visitor's address, leaves nothing behind for
        long), so the slots kept are about those taken within the longest window in use.
        """
        ...


class Coordination(Protocol):
    """Several workers on one store: who is alive, who holds which role, and what changed.

    A role (sending for a platform, polling feeds) is a lease with a holder, an expiry and an
    epoch: its holder renews it before it expires, another worker takes it only once it has
    expired (or was released), and the epoch grows with every change of holder. Heartbeats
    say which workers are alive and what they hold, for operators. ``watch`` tells a worker
    what other workers changed, so that it need not poll.
    """

    async def heartbeat(self, worker: WorkerInfo) -> None:
        """Record that a worker is alive (at ``worker.heartbeat_at``) and what it holds."""
        ...

    async def remove_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""
        ...

    async def list_workers(self, since: datetime) -> list[WorkerInfo]:
        """The workers whose last heartbeat is at or after ``since``, oldest first."""
        ...

    async def acquire_role(
        self, role: str, worker: str, now: datetime, lease: float
    ) -> RoleLease | None:
        """Take or renew a role for ``lease`` seconds.

        Succeeds when the role is free, its lease expired, or ``worker`` holds it; the epoch
        grows when the holder changes. Returns the lease, or ``None`` when another worker
        holds it.
        """
        ...

    async def release_role(self, role: str, worker: str) -> bool:
        """Give a role up at once if ``worker`` holds it (a clean stop). Returns whether it
        did."""
        ...

    async def list_roles(self) -> list[RoleLease]:
        """Every role with its last holder and lease, expired or not, by name."""
        ...

    def watch(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` when another process changed something the listener may care
        about.

        The argument names what changed: ``"outbox"`` (deliveries were enqueued),
        ``"article:ID"`` (an article or its thread changed), or ``"*"`` (something did; a
        backend that cannot tell says this). Listeners run on the event loop and must not
        block. Changes made through this very store may be reported too.
        """
        ...


class FeedStore(Protocol):
    """The feeds followed and the items seen in each, for ``newsbot.feeds``.

    A feed's poll state (validators, errors, next poll) is written back whole by its poller.
    An item is recorded per ``(feed, key)`` with the article it became (if any) and the
    fingerprint of its content, so that an item is published once and edited when it changes.
    Removing a feed forgets its items but never its articles.
    """

    async def add_feed(self, new: NewFeed, now: datetime) -> tuple[Feed, bool]:
        """Follow a feed, due for its first poll at ``now``.

        A feed with the same URL is returned as it is when active (``False``); an inactive
        one is reactivated with ``new``'s tags, interval and backfill, due at ``now``, its
        error count, reason, ``etag``, ``last_modified`` and ``last_success_at`` cleared, so
        that its next poll is a first poll again (``True``). Returns the feed and whether anything
        changed.

        A new feed gets an id never given before, not even to a feed since removed: the
        request keys of a feed's publishes (``feed:ID:ITEM``) and its articles' author name
        its id, and must never be taken for another feed's.
        """
        ...

    async def list_feeds(self) -> list[Feed]:
        """Every feed, active or not, by id, each with ``items_seen`` counted."""
        ...

    async def save_feed(self, feed: Feed) -> None:
        """Write a feed's fields back (its poll state, URL, title, activity); ``id``,
        ``created_at`` and ``items_seen`` are not written. A feed removed meanwhile stays
        removed."""
        ...

    async def remove_feed(self, feed_id: FeedId) -> bool:
        """Stop following a feed and forget its items (their articles stay). Returns
        whether it existed."""
        ...

    async def feed_items(self, feed_id: FeedId, keys: Sequence[str]) -> dict[str, FeedItem]:
        """The items of a feed recorded under any of ``keys``, by key."""
        ...

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        """Record items (in one unit of work), each replacing what was recorded under its
        (feed, key). Nothing is recorded for a feed removed meanwhile."""
        ...


class Store(
    ArticleStore,
    DestinationStore,
    Outbox,
    ThreadStore,
    SharedState,
    Coordination,
    FeedStore,
    PeopleStore,
    NoticeStore,
    ReactionStore,
    DeskStore,
    StaffNoticeStore,
    ScheduleStore,
    RoutingStore,
    StatsStore,
    Protocol,
):
    """The whole persistence port: every role, and the store's own life cycle.

    A backend implements this one class; each consumer is handed it as the role it uses.
    Methods follow the rules in this module's docstring.
    """

    async def open(self) -> None:
        """Connect and bring the schema up to date. Raises ``SchemaTooNew`` for newer files."""
        ...

    async def close(self) -> None:
        """Release every resource. Safe to call twice."""
        ...


@runtime_checkable
class StoreMetrics(Protocol):
    """What a backend may also count for monitoring, beyond the ``Store`` port.

    Optional: a backend without it reports no database errors and no batch times. Only this
    process's work is counted.

    Attributes:
        errors: how many database operations failed in this process.
        observe_batch: called with the seconds and the size of every group-commit batch of
            arriving comments the backend wrote, when set (the operations endpoint sets it).
    """

    errors: int
    observe_batch: Callable[[float, int], None] | None
