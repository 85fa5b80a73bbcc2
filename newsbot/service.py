"""The use cases: everything an adapter, the command line or an embedding program may ask.

``NewsService`` validates input, checks permissions, and calls the ``Store``; it never talks
to a platform. Outgoing messages are enqueued in the store's outbox in the same transaction as
the change that causes them, and the ``Dispatcher`` sends them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from newsbot import comments, moderation, publishing, reading, scheduled, staff, subscriptions
from newsbot.comments import NAME_MAX as NAME_MAX  # re-exported: adapters import it here
from newsbot.comments import web_identity as web_identity
from newsbot.cursors import MALFORMED as MALFORMED_CURSOR
from newsbot.cursors import Cursors
from newsbot.desk import Desk
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.figures import FiguresService
from newsbot.filters import RegexEngine
from newsbot.holding import Holding
from newsbot.i18n import N_, Message, chat_language_key
from newsbot.identity import IdentityService
from newsbot.limits import IntakeGate, IntakeLimits
from newsbot.models import (
    Actor,
    Article,
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
    ThreadPage,
    WorkerInfo,
)
from newsbot.notifying import Notifications
from newsbot.policy import CommentPolicy
from newsbot.ports import Clock, Store, StoreMetrics, SystemClock
from newsbot.publishing import Change as Change  # re-exported: adapters import it here
from newsbot.reacting import ReactionService
from newsbot.review import DeskSettings
from newsbot.routing import Routing
from newsbot.scheduling import Priority, Schedule, ScheduledArticle, embargoed
from newsbot.slowmode import check as check_slow
from newsbot.staffdesk import StaffDesk
from newsbot.subscriptions import PENDING_MAX as PENDING_MAX  # re-exported
from newsbot.subscriptions import REQUESTS_PER_DAY as REQUESTS_PER_DAY
from newsbot.subscriptions import Subscription as Subscription
from newsbot.threads import PAGE_COMMENTS
from newsbot.workers import LIVE_HORIZON, Roster, live_workers

if TYPE_CHECKING:
    from newsbot.feeds import FeedService

log = logging.getLogger("newsbot.service")

CURSOR_KEY = "cursor.key"
"""The state key of the secret that signs page cursors (``newsbot.cursors``)."""


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
        desk: what holds a comment for a moderator besides the limits, and how many
            reports hide one (``newsbot.review.DeskSettings``); ``desk`` is the use cases.

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
        desk: DeskSettings | None = None,
        regex: RegexEngine | None = None,
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
        self.desk_settings = desk or DeskSettings()
        self.desk = Desk(self)
        self.staffchat = StaffDesk(self)  # NEWSBOT_STAFF_CHAT: notices with buttons
        self.holding = Holding(self)  # held comments queued and announced in batches
        self._listeners: list[Callable[[], None]] = []
        self._language_listeners: list[Callable[[Platform, str], None]] = []
        self.comments_stored = 0  # comments created by this process, for monitoring
        self._cursors: Cursors | None = None
        # The feed use cases, when the program follows feeds: chat adapters reach /feed here.
        self.feeds: FeedService | None = None
        self.people = IdentityService(self)  # persons and their accounts (newsbot.identity)
        self.notifications = Notifications(self)  # replies told in private (newsbot.notifying)
        self.staff: dict[Platform, frozenset[str]] = {}  # NEWSBOT_STAFF, beside the admins
        # Reactions from every platform; posts show new totals at the comment count's pace.
        self.reactions = ReactionService(store, self.clock, pace=lambda: self.count_refresh)
        # Filters and templates per destination (``regex``: the engine filters' patterns run on).
        self.routing = Routing(self, regex)
        self.figures = FiguresService(store, self.clock, self.reactions, self.require_admin)

    # -- wiring ---------------------------------------------------------------------------

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously, without arguments) whenever work is enqueued.

        The dispatcher registers here to wake up at once instead of at its next poll.
        """
        self._listeners.append(listener)

    def on_chat_language(self, listener: Callable[[Platform, str], None]) -> None:
        """Call ``listener(platform, chat_id)`` when this process changes a chat's language
        (other workers' changes are seen when their caches expire)."""
        self._language_listeners.append(listener)

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

    def is_staff(self, author: Author) -> bool:
        """Whether a comment's author is staff: an admin or in ``staff`` (``newsbot.staff``)."""
        if staff.is_staff(author, self.staff):
            return True
        return staff.is_staff(author, self.admins)

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
            N_(
                "Only newsbot admins can %(action)s. An operator can add your user id "
                "%(user_id)s to %(variable)s."
            ),
            action=Message(action),
            user_id=actor.user_id,
            variable=variable,
        )

    # -- articles -------------------------------------------------------------------------

    async def publish(
        self,
        actor: Actor,
        draft: ArticleDraft,
        *,
        request: str | None = None,
        schedule: Schedule | None = None,
        priority: Priority = Priority.NORMAL,
        comments: CommentPolicy | None = None,
        slow: int | None = None,
    ) -> Change:
        """Validate, store and deliver an article, once per ``request``, now or on
        ``schedule``, in the lane of its ``priority`` (``publishing.publish``), with its own
        ``comments`` policy and ``slow`` mode (seconds) if given, set just after it is stored
        (``Desk.set_policy``, ``Desk.set_slow_mode``); a bad ``slow`` publishes nothing."""
        if slow is not None:
            check_slow(slow)
        change = await publishing.publish(
            self, actor, draft, request=request, schedule=schedule, priority=priority
        )
        if change.repeated:
            return change
        if comments is not None:
            await self.desk.set_policy(actor, change.article.id, comments)
        if slow:
            await self.desk.set_slow_mode(actor, change.article.id, slow)
        return change

    async def next_live_at(self) -> datetime | None:
        """When the next scheduled article's web time comes (the lists of articles change
        then with nothing written), or ``None``."""
        return await self.store.next_live_at(self.clock.now())

    async def set_breaking_mention(
        self, actor: Actor, chat_id: str, value: str, thread_id: str | None = None
    ) -> tuple[Destination, str]:
        """Whom a Discord channel's breaking posts mention (``scheduled.set_breaking_mention``)."""
        return await scheduled.set_breaking_mention(self, actor, chat_id, value, thread_id)

    async def breaking_mention(self, destination_id: DestinationId) -> str:
        """A channel's breaking-news mention, ``""`` for none (``scheduled.breaking_mention``)."""
        return await scheduled.breaking_mention(self, destination_id)

    async def scheduled(self, actor: Actor) -> list[ScheduledArticle]:
        """The articles waiting for their time (``scheduled.scheduled``)."""
        return await scheduled.scheduled(self, actor)

    async def reschedule(
        self, actor: Actor, article_id: ArticleId, schedule: Schedule | None
    ) -> ScheduledArticle | None:
        """Move a scheduled article (``scheduled.reschedule``)."""
        return await scheduled.reschedule(self, actor, article_id, schedule)

    async def cancel_scheduled(self, actor: Actor, article_id: ArticleId) -> None:
        """Take a scheduled article back before it goes out (``scheduled.cancel``)."""
        await scheduled.cancel(self, actor, article_id)

    async def edit(
        self,
        actor: Actor,
        article_id: ArticleId,
        draft: ArticleDraft,
        *,
        request: str | None = None,
    ) -> Change:
        """Replace an article's content everywhere it was posted (``publishing.edit``)."""
        return await publishing.edit(self, actor, article_id, draft, request=request)

    async def retract(self, actor: Actor, article_id: ArticleId) -> Change:
        """Retract an article and delete its posts (``publishing.retract``)."""
        return await publishing.retract(self, actor, article_id)

    async def article(self, article_id: ArticleId) -> Article:
        """Return an article by id, whatever its status (for admins and internal use).

        Raises:
            NotFound: no such article.
        """
        article = await self.store.get_article(article_id)
        if article is None:
            raise NotFound(N_("There is no article %(id)s."), id=article_id)
        return self._as_now(article)

    def _as_now(self, article: Article) -> Article:
        """``article``, ``SCHEDULED`` while its web time is ahead."""
        if article.status is ArticleStatus.PUBLISHED and embargoed(article, self.clock.now()):
            return dataclasses.replace(article, status=ArticleStatus.SCHEDULED)
        return article

    async def readable_article(self, article_id: ArticleId, viewer: Actor | None) -> Article:
        """Return an article as ``viewer`` may read it: a draft or retracted article is gone
        for everyone but newsbot admins.

        Raises:
            NotFound: no such article, or not one the viewer may read.
        """
        article = await self.store.get_article(article_id)
        article = None if article is None else self._as_now(article)
        if article is None or not self._readable(article, viewer):
            raise NotFound(N_("There is no article %(id)s."), id=article_id)
        return article

    def _readable(self, article: Article, viewer: Actor | None) -> bool:
        if article.status is ArticleStatus.PUBLISHED:
            return True
        return viewer is not None and self.is_admin(viewer)

    async def latest(self, limit: int = 20, cursor: str | None = None) -> ArticlePage:
        """Return published articles, newest first, one keyset page at a time
        (``reading.latest``)."""
        return await reading.latest(self, limit, cursor)

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
        """Link a platform-made copy of a posted message to what the original carries
        (``comments.link_copy``)."""
        return await comments.link_copy(self, original, copy, destination_id)

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
        """Link a platform-made copy of an article's post to the article when its original
        cannot be resolved (``comments.link_article_copy``)."""
        return await comments.link_article_copy(self, copy, article_id, chat_id)

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
        """Stop storing an author's comments and delete the ones stored (``moderation.ban``);
        an author linked to a person bans the person (``IdentityService.ban``)."""
        return await self.people.ban_author(actor, platform, user_id)

    async def ban_name(self, actor: Actor, name: str) -> str:
        """Refuse web comments under a name and its look-alikes (``moderation.ban_name``)."""
        return await moderation.ban_name(self, actor, name)

    async def unban(self, actor: Actor, platform: Platform, user_id: str) -> bool:
        """Allow an author to comment again. Returns whether they were banned."""
        return await self.people.unban_author(actor, platform, user_id)

    async def comment(self, comment_id: CommentId) -> Comment:
        """Return a comment by id.

        Raises:
            NotFound: no such comment.
        """
        comment = await self.store.get_comment(comment_id)
        if comment is None:
            raise NotFound(N_("There is no comment %(id)s."), id=comment_id)
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
        """Return one page of an article's thread (``reading.thread``)."""
        return await reading.thread(
            self,
            article_id,
            cursor=cursor,
            limit=limit,
            newest_first=newest_first,
            viewer=viewer,
            size=size,
        )

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

    async def chat_language(self, platform: Platform, chat_id: str) -> str | None:
        """A subscribed chat's own language (its posts' count lines, its answers), or ``None``
        when it speaks ``NEWSBOT_LANGUAGE``."""
        return await self.store.get_state(chat_language_key(platform, chat_id)) or None

    async def set_chat_language(
        self, actor: Actor, platform: Platform, chat_id: str, language: str | None
    ) -> str | None:
        """Set (or with ``None`` clear) a subscribed chat's own language; newsbot admins only
        (``newsbot.subscriptions.set_language`` says what it refuses)."""
        code = await subscriptions.set_language(self, actor, platform, chat_id, language)
        for listener in self._language_listeners:
            listener(platform, chat_id)
        return code or None

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
