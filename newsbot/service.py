"""The use cases: everything an adapter, the command line or an embedding program may ask.

``NewsService`` validates input, checks permissions, and calls the ``Store``; it never talks
to a platform. Outgoing messages are enqueued in the store's outbox in the same transaction as
the change that causes them, and the ``Dispatcher`` sends them.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from newsbot import comments, moderation, subscriptions, threads
from newsbot.comments import NAME_MAX as NAME_MAX  # re-exported: adapters import it here
from newsbot.comments import web_identity as web_identity
from newsbot.cursors import MALFORMED as MALFORMED_CURSOR
from newsbot.cursors import Cursors
from newsbot.drafts import clean_draft
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.limits import IntakeGate, IntakeLimits
from newsbot.models import (
    Actor,
    Article,
    ArticleCursor,
    ArticleDraft,
    ArticleId,
    ArticlePage,
    ArticleStatus,
    Author,
    Comment,
    CommentId,
    CountRefresh,
    DeliveryState,
    DeliveryStatus,
    Destination,
    DestinationId,
    MessageLink,
    MessageRef,
    NewDestination,
    Platform,
    RoleLease,
    ThreadPage,
    WorkerInfo,
)
from newsbot.ports import Clock, Store, StoreMetrics, SystemClock
from newsbot.subscriptions import PENDING_MAX as PENDING_MAX  # re-exported
from newsbot.subscriptions import REQUESTS_PER_DAY as REQUESTS_PER_DAY
from newsbot.subscriptions import Subscription as Subscription
from newsbot.text import (
    clean_name,
)
from newsbot.threads import PAGE_COMMENTS
from newsbot.workers import LIVE_HORIZON, live_workers

if TYPE_CHECKING:
    from newsbot.feeds import FeedService

log = logging.getLogger("newsbot.service")

PAGE_MAX = 100
CURSOR_KEY = "cursor.key"
"""The state key of the secret that signs page cursors (``newsbot.cursors``)."""


@dataclass(frozen=True, slots=True)
class Change:
    """The result of publishing, editing or retracting: the article and the messages queued.

    ``repeated`` is true when the same request (a chat message, an interaction) had been
    carried out before: nothing was done again, and ``article`` is what it did then.
    """

    article: Article
    queued: int
    repeated: bool = False


class NewsService:
    """Every use case of newsbot.

    Args:
        store: an opened ``Store``.
        admins: per platform, the user ids allowed to publish, edit, retract and moderate.
        public_url: where the article pages live; ``article_url`` builds on it.
        clock: the time source (tests pass a controllable one).
        mirror: whether comments are copied to the other chats where the article was posted.
        mirror_delay: seconds to hold a comment before mirroring it, so a moderator can remove
            spam before it spreads.
        count_refresh: how often posts are edited to show a new comment count.
        open_subscriptions: let chat admins subscribe their chats without a newsbot admin's
            approval (by default their subscriptions wait, pending).
        intake: comments allowed per author and per chat; those over a limit are stored
            hidden and never mirrored. ``None`` (the library's default; the bot sets
            ``IntakeLimits()``) turns the limits off.

    Refusals raise a ``DomainError`` subclass whose message can be shown to the user as is.
    """

    def __init__(
        self,
        store: Store,
        *,
        admins: Mapping[Platform, Collection[str]] | None = None,
        public_url: str = "http://127.0.0.1:8080",
        clock: Clock | None = None,
        mirror: bool = True,
        mirror_delay: float = 0.0,
        count_refresh: CountRefresh | None = None,
        open_subscriptions: bool = False,
        intake: IntakeLimits | None = None,
    ) -> None:
        self.store = store
        self.admins = {p: frozenset(ids) for p, ids in (admins or {}).items()}
        self.public_url = public_url.rstrip("/")
        self.clock: Clock = clock or SystemClock()
        self.mirror = mirror
        self.mirror_delay = mirror_delay
        self.count_refresh = count_refresh if count_refresh is not None else CountRefresh()
        self.open_subscriptions = open_subscriptions
        self.intake = intake
        self._intake = IntakeGate(intake)
        self._listeners: list[Callable[[], None]] = []
        self.comments_stored = 0  # comments created by this process, for monitoring
        self._cursors: Cursors | None = None
        # The feed use cases, when the program follows feeds: chat adapters reach /feed here.
        self.feeds: FeedService | None = None

    # -- wiring ---------------------------------------------------------------------------

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously, without arguments) whenever work is enqueued.

        The dispatcher registers here to wake up at once instead of at its next poll.
        """
        self._listeners.append(listener)

    def _enqueued(self) -> None:
        for listener in self._listeners:
            listener()

    def article_url(self, article_id: ArticleId) -> str:
        """The public web address of an article."""
        return f"{self.public_url}/articles/{article_id}"

    # -- permissions ----------------------------------------------------------------------

    def is_admin(self, actor: Actor) -> bool:
        """Whether the actor may publish, edit, retract and moderate."""
        if actor.platform is Platform.CLI or actor.platform_admin:
            return True
        return actor.user_id in self.admins.get(actor.platform, frozenset())

    def require_admin(self, actor: Actor, action: str) -> None:
        """Raise ``PermissionDenied`` with a helpful message unless the actor is an admin."""
        if self.is_admin(actor):
            return
        log.info(
            "refused",
            extra={"action": action, "platform": actor.platform, "user_id": actor.user_id},
        )
        variable = f"NEWSBOT_{actor.platform.upper()}_ADMINS"
        raise PermissionDenied(
            f"Only newsbot admins can {action}. An operator can add your user id "
            f"{actor.user_id} to {variable}."
        )

    # -- articles -------------------------------------------------------------------------

    async def publish(
        self, actor: Actor, draft: ArticleDraft, *, request: str | None = None
    ) -> Change:
        """Validate and store an article, and enqueue it to every matching active destination.

        ``request`` names what asked (``telegram:CHAT:MESSAGE``, ``discord:interaction:ID``):
        the same request is carried out once, however often it arrives (a redelivered update,
        a retried interaction, a restart in between); again, it returns the first article
        with ``repeated`` set.

        Raises:
            PermissionDenied: the actor is not an admin.
            InvalidInput: a field is empty, too long or malformed.
        """
        self.require_admin(actor, "publish")
        draft = clean_draft(draft)
        author = Author(
            clean_name(actor.name)[:NAME_MAX] or actor.user_id, actor.platform, actor.user_id
        )
        destinations = await self.store.list_destinations(active_only=True)
        targets = [d.id for d in destinations if d.accepts(draft.tags)]
        article, created = await self.store.add_article(
            draft, author, self.clock.now(), targets, request=request
        )
        if not created:
            log.info(
                "publish request seen before; nothing done",
                extra={"article_id": article.id, "request": request},
            )
            return Change(article, 0, repeated=True)
        log.info(
            "article published",
            extra={
                "article_id": article.id,
                "queued": len(targets),
                "by": str(actor.platform),
                "request": request,
            },
        )
        self._enqueued()
        return Change(article, len(targets))

    async def edit(
        self,
        actor: Actor,
        article_id: ArticleId,
        draft: ArticleDraft,
        *,
        request: str | None = None,
    ) -> Change:
        """Replace an article's content and enqueue an edit of every message already posted.

        Like ``publish``, one ``request`` is carried out once (``repeated`` after that).

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such article.
            InvalidInput: a field is invalid, or the article was retracted.
        """
        self.require_admin(actor, "edit articles")
        current = await self.article(article_id)
        if current.status is ArticleStatus.RETRACTED:
            raise InvalidInput(f"Article {article_id} was retracted and can no longer be edited.")
        draft = clean_draft(draft)
        queued = await self.store.update_article(
            article_id, draft, self.clock.now(), request=request
        )
        article = await self.article(article_id)
        if queued is None:
            log.info(
                "edit request seen before; nothing done",
                extra={"article_id": article_id, "request": request},
            )
            return Change(article, 0, repeated=True)
        log.info(
            "article edited",
            extra={"article_id": article_id, "queued": queued, "request": request},
        )
        self._enqueued()
        return Change(article, queued)

    async def retract(self, actor: Actor, article_id: ArticleId) -> Change:
        """Retract an article and enqueue the deletion of every message posted for it.

        Retracting an article twice is a no-op.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such article.
        """
        self.require_admin(actor, "retract articles")
        current = await self.article(article_id)
        if current.status is ArticleStatus.RETRACTED:
            return Change(current, 0)
        queued = await self.store.retract_article(article_id, self.clock.now())
        article = await self.article(article_id)
        log.info("article retracted", extra={"article_id": article_id, "queued": queued})
        self._enqueued()
        return Change(article, queued)

    async def article(self, article_id: ArticleId) -> Article:
        """Return an article by id, whatever its status (for admins and internal use).

        Raises:
            NotFound: no such article.
        """
        article = await self.store.get_article(article_id)
        if article is None:
            raise NotFound(f"There is no article {article_id}.")
        return article

    async def readable_article(self, article_id: ArticleId, viewer: Actor | None) -> Article:
        """Return an article as ``viewer`` may read it: a draft or retracted article is gone
        for everyone but newsbot admins.

        Raises:
            NotFound: no such article, or not one the viewer may read.
        """
        article = await self.store.get_article(article_id)
        if article is None or not self._readable(article, viewer):
            raise NotFound(f"There is no article {article_id}.")
        return article

    def _readable(self, article: Article, viewer: Actor | None) -> bool:
        if article.status is ArticleStatus.PUBLISHED:
            return True
        return viewer is not None and self.is_admin(viewer)

    async def latest(self, limit: int = 20, cursor: str | None = None) -> ArticlePage:
        """Return published articles, newest first, one keyset page at a time.

        Raises:
            InvalidInput: the cursor is malformed or the limit out of range.
        """
        limit = _page_limit(limit)
        position = (await self.cursors(make=False)).read_article(cursor) if cursor else None
        articles = await self.store.latest_articles(limit + 1, position)
        next_cursor = None
        if len(articles) > limit:
            articles = articles[:limit]
            last = articles[-1]
            assert last.published_at is not None
            next_cursor = (await self.cursors()).article(ArticleCursor(last.published_at, last.id))
        return ArticlePage(articles, next_cursor)

    async def deliveries(self, article_id: ArticleId) -> list[DeliveryStatus]:
        """Return the state of an article's delivery to each destination.

        Raises:
            NotFound: no such article.
        """
        await self.article(article_id)
        return await self.store.deliveries_for_article(article_id)

    async def comment_count(self, article_id: ArticleId) -> int:
        """Count an article's visible comments."""
        return await self.store.count_comments(article_id)

    # -- destinations ---------------------------------------------------------------------

    async def subscribe(
        self, actor: Actor, new: NewDestination, *, moved: bool = False
    ) -> Subscription:
        """Subscribe a chat to future articles (``subscriptions.subscribe``)."""
        return await subscriptions.subscribe(self, actor, new, moved=moved)

    async def approve(
        self, actor: Actor, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination:
        """Approve a pending subscription (``subscriptions.approve``)."""
        return await subscriptions.approve(self, actor, platform, chat_id, thread_id)

    async def pending_destinations(self) -> list[Destination]:
        """Subscriptions waiting for a newsbot admin's approval, oldest first."""
        return await subscriptions.pending_destinations(self)

    async def unsubscribe(
        self, actor: Actor, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination:
        """Stop sending articles to a chat (``subscriptions.unsubscribe``)."""
        return await subscriptions.unsubscribe(self, actor, platform, chat_id, thread_id)

    async def destination_gone(self, platform: Platform, chat_id: str, reason: str) -> int:
        """Deactivate every destination in a chat the bot was removed from. Returns how many."""
        return await subscriptions.destination_gone(self, platform, chat_id, reason)

    async def chat_migrated(self, platform: Platform, old_id: str, new_id: str) -> int:
        """Move a chat's subscriptions to the chat's new id (``subscriptions.chat_migrated``)."""
        return await subscriptions.chat_migrated(self, platform, old_id, new_id)

    async def destinations(self, platform: Platform | None = None) -> list[Destination]:
        """Return every destination, active or not."""
        return await self.store.list_destinations(platform, active_only=False)

    # -- comments -------------------------------------------------------------------------

    async def resolve(self, ref: MessageRef) -> MessageLink | None:
        """What a chat message carries (an article post, or a comment), if anything."""
        return await self.store.resolve_message(ref)

    async def link_copy(
        self, original: MessageRef, copy: MessageRef, destination_id: DestinationId | None = None
    ) -> bool:
        """Link a platform-made copy of a posted message (a Telegram channel post forwarded
        into its discussion group) to what the original carries, so replies to the copy land
        in the right thread. Returns ``False`` when the original is unknown."""
        link = await self.store.resolve_message(original)
        if link is None:
            return False
        await self.store.add_link(
            MessageLink(
                copy, link.article_id, link.comment_id, destination_id or link.destination_id
            )
        )
        return True

    def article_in_url(self, url: str) -> ArticleId | None:
        """The article whose page ``url`` is (``article_url``, any slug), or ``None``."""
        prefix = self.public_url + "/articles/"
        if not url.startswith(prefix):
            return None
        digits = re.match(r"\d+", url[len(prefix) :])
        return ArticleId(int(digits.group())) if digits else None

    async def link_article_copy(
        self, copy: MessageRef, article_id: ArticleId, chat_id: str
    ) -> bool:
        """Link a platform-made copy of an article's post in chat ``chat_id`` to the article,
        when the copy's original cannot be resolved (a post sent but never recorded because
        the bot crashed), so that replies to the copy still land in the thread.

        Returns ``False`` unless the article is published and ``chat_id`` is an active
        destination on the copy's platform.
        """
        article = await self.store.get_article(article_id)
        if article is None or article.status is not ArticleStatus.PUBLISHED:
            return False
        destination = await self.store.get_destination(copy.platform, chat_id)
        if destination is None or not destination.active:
            return False
        await self.store.add_link(MessageLink(copy, article_id, None, destination.id))
        return True

    async def record_reply(
        self,
        *,
        reply_to: MessageRef,
        source: MessageRef,
        author: Author,
        text: str,
        sent_at: datetime | None = None,
    ) -> Comment | None:
        """Store a chat message that replies to an article post or to a comment
        (``comments.record_reply``)."""
        return await comments.record_reply(
            self, reply_to=reply_to, source=source, author=author, text=text, sent_at=sent_at
        )

    async def add_web_comment(
        self,
        article_id: ArticleId,
        name: str,
        text: str,
        *,
        parent_id: CommentId | None = None,
        client_key: str,
        user_id: str = "",
    ) -> Comment:
        """Store a comment written on the article's web page (``comments.add_web_comment``)."""
        return await comments.add_web_comment(
            self,
            article_id,
            name,
            text,
            parent_id=parent_id,
            client_key=client_key,
            user_id=user_id,
        )

    async def rate_slot(self, key: str, limit: int, window: float) -> float:
        """Take one of ``limit`` slots per ``window`` seconds for ``key``, shared by every
        worker of this store. Returns 0.0 when taken, else the seconds to wait."""
        return await self.store.take_slot(key, limit, window, self.clock.now())

    async def edit_comment(self, source: MessageRef, text: str) -> Comment | None:
        """Update the comment written as ``source`` after its author edited the message
        (``comments.edit_comment``)."""
        return await comments.edit_comment(self, source, text)

    async def delete_comment_by_source(self, source: MessageRef) -> Comment | None:
        """Mark deleted the comment written as ``source`` (its author deleted the message)."""
        return await comments.delete_comment_by_source(self, source)

    async def delete_comment(self, actor: Actor, comment_id: CommentId) -> Comment:
        """Delete a comment as a moderator, everywhere it was mirrored
        (``comments.delete_comment``)."""
        return await comments.delete_comment(self, actor, comment_id)

    async def ban(self, actor: Actor, platform: Platform, user_id: str) -> int:
        """Stop storing an author's comments and delete the ones stored
        (``moderation.ban``)."""
        return await moderation.ban(self, actor, platform, user_id)

    async def ban_name(self, actor: Actor, name: str) -> str:
        """Refuse web comments under a name and its look-alikes (``moderation.ban_name``)."""
        return await moderation.ban_name(self, actor, name)

    async def unban(self, actor: Actor, platform: Platform, user_id: str) -> bool:
        """Allow an author to comment again. Returns whether they were banned."""
        return await moderation.unban(self, actor, platform, user_id)

    async def comment(self, comment_id: CommentId) -> Comment:
        """Return a comment by id.

        Raises:
            NotFound: no such comment.
        """
        comment = await self.store.get_comment(comment_id)
        if comment is None:
            raise NotFound(f"There is no comment {comment_id}.")
        return comment

    async def thread(
        self,
        article_id: ArticleId,
        *,
        cursor: str | None = None,
        limit: int = 50,
        newest_first: bool = False,
        viewer: Actor | None = None,
        size: int = PAGE_COMMENTS,
    ) -> ThreadPage:
        """Return one page of an article's thread: ``limit`` top-level comments, each with its
        replies nested under it, at most ``size`` comments in all.

        Replies nest ``THREAD_DEPTH`` levels deep at most; deeper ones are listed flat at that
        level (``newsbot.threads``). A top-level comment whose replies do not fit in ``size``
        continues on the next page (``ThreadPage.continued``). Deleted and hidden comments
        are left out, except as empty placeholders where visible replies hang under them.
        The thread of a retracted (or draft) article is gone, as the article is, for every
        viewer but newsbot admins (``readable_article``).

        Raises:
            NotFound: no such article, or not one the viewer may read.
            InvalidInput: the cursor was not made for this thread in this order, or the
                limit is out of range.
        """
        limit = _page_limit(limit)
        start = None
        if cursor:
            start = (await self.cursors(make=False)).read_thread(cursor, article_id, newest_first)
        await self.readable_article(article_id, viewer)
        roots, replies, total = await self.store.thread_page(
            article_id, limit + 1, start.after if start else None, newest_first=newest_first
        )
        trees = threads.build(roots[:limit], replies)
        comments, following, continued = threads.paginate(
            roots, trees, limit=limit, size=max(size, 1), start=start
        )
        next_cursor = None
        if following is not None:
            next_cursor = (await self.cursors()).thread(article_id, newest_first, following)
        return ThreadPage(article_id, comments, next_cursor, total, continued)

    async def cursors(self, *, make: bool = True) -> Cursors:
        """The signer of this installation's page cursors; its key is kept in the store, so
        that every worker (and the next start) reads the cursors of the others. The key is
        made with the first cursor (``make``): reading one never writes.

        Raises:
            InvalidInput: asked to read a cursor before any was made.
        """
        if self._cursors is None:
            if make:
                key = await self.store.setdefault_state(CURSOR_KEY, secrets.token_hex(32))
            else:
                found = await self.store.get_state(CURSOR_KEY)
                if found is None:
                    raise InvalidInput(MALFORMED_CURSOR, field="cursor")
                key = found
            self._cursors = Cursors(key.encode())
        return self._cursors

    async def last_state(self, key: str) -> str | None:
        """Read a small named value kept for an adapter (an update offset, say)."""
        return await self.store.get_state(key)

    async def save_state(self, key: str, value: str) -> None:
        """Write a small named value kept for an adapter."""
        await self.store.set_state(key, value)

    async def live_workers(self, horizon: float = LIVE_HORIZON) -> list[WorkerInfo]:
        """The workers (bot processes) that sent a heartbeat in the last ``horizon`` seconds."""
        return await live_workers(self.store, self.clock.now(), horizon)

    async def roster(self, horizon: float = LIVE_HORIZON) -> Roster:
        """The live workers and every role's lease, as seen at one moment (``Roster.at``)."""
        now = self.clock.now()
        workers = await live_workers(self.store, now, horizon)
        return Roster(now, tuple(workers), tuple(await self.store.list_roles()))

    async def shared_secret(self, key: str) -> bytes:
        """A random 32-byte secret every worker shares, kept under ``key`` (an adapter's
        signing key, say): the first worker to ask makes it, the others read the same one.

        A stored value that is not hexadecimal is replaced with a new secret (logged).
        """
        stored = await self.store.setdefault_state(key, secrets.token_hex(32))
        try:
            return bytes.fromhex(stored)
        except ValueError:
            log.warning("stored secret is malformed; replacing it", extra={"key": key})
            secret = secrets.token_bytes(32)
            await self.store.set_state(key, secret.hex())
            return secret

    async def comment_by_source(self, source: MessageRef) -> Comment | None:
        """The comment stored as the message ``source``, whatever its status, or ``None``."""
        return await self.store.get_comment_by_source(source)

    def watch(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` when another worker changed something, with what changed:
        ``"outbox"``, ``"article:ID"`` or ``"*"`` (``Coordination.watch``). It runs on the
        event loop and must not block."""
        self.store.watch(listener)

    # -- monitoring -----------------------------------------------------------------------

    async def health(self) -> None:
        """Return once the store answers a trivial question.

        Raises:
            StorageError: the store failed.
        """
        await self.store.get_state("health")

    async def delivery_counts(self) -> dict[tuple[Platform, DeliveryState], int]:
        """How many deliveries the outbox holds in each state, per platform."""
        return await self.store.delivery_counts()

    async def next_due(self, platform: Platform) -> datetime | None:
        """When the platform's earliest pending or failed delivery is due, or ``None``."""
        return await self.store.next_due(platform)

    def storage_errors(self) -> int:
        """Database operations that failed in this process (0 when the store does not count
        them: ``StoreMetrics``)."""
        return self.store.errors if isinstance(self.store, StoreMetrics) else 0

    def observe_ingest(self, observer: Callable[[float, int], None]) -> bool:
        """Call ``observer`` with the seconds and size of every group-commit batch of arriving
        comments this process writes. Returns ``False`` when the store does not report them
        (``StoreMetrics``)."""
        if not isinstance(self.store, StoreMetrics):
            return False
        self.store.observe_batch = observer
        return True


def _page_limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"The page size must be between 1 and {PAGE_MAX}.", field="limit")
    return limit


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
