"""The use cases: everything an adapter, the command line or an embedding program may ask.

``NewsService`` validates input, checks permissions, and calls the ``Store``; it never talks
to a platform. Outgoing messages are enqueued in the store's outbox in the same transaction as
the change that causes them, and the ``Dispatcher`` sends them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from newsbot import threads
from newsbot.cursors import MALFORMED as MALFORMED_CURSOR
from newsbot.cursors import Cursors
from newsbot.drafts import TITLE_MAX, clean_draft, clean_tags
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
    CommentStatus,
    CountRefresh,
    DeliveryOp,
    DeliveryState,
    DeliveryStatus,
    Destination,
    DestinationId,
    IncomingComment,
    MessageLink,
    MessageRef,
    NewDestination,
    Platform,
    RoleLease,
    ThreadPage,
    WorkerInfo,
)
from newsbot.ports import Clock, Store, StoreMetrics, SystemClock
from newsbot.text import (
    clean_name,
    has_control_chars,
    name_key,
    name_keys,
    strip_control_chars,
    valid_unicode,
)
from newsbot.threads import PAGE_COMMENTS
from newsbot.workers import LIVE_HORIZON, live_workers

if TYPE_CHECKING:
    from newsbot.feeds import FeedService

log = logging.getLogger("newsbot.service")

COMMENT_MAX = 4096
NAME_MAX = 64
CHAT_ID_MAX = 128
PAGE_MAX = 100
WEB_IDENTITY = "w:"
"""The prefix of a web commenter's user id: a keyed hash of their browser session."""
NAME_BAN = "name:"
"""The prefix of a ban on a web name, compared by ``newsbot.text.name_key``."""
PENDING_MAX = 100
"""The most subscription requests that wait for approval at once; past it a request is refused."""
REQUESTS_PER_DAY = 10
"""New subscription requests one person may make in 24 hours."""
CURSOR_KEY = "cursor.key"
"""The state key of the secret that signs page cursors (``newsbot.cursors``)."""


def web_identity(key: bytes, session: str) -> str:
    """A web commenter's user id: a keyed hash of their session, so the id cannot be guessed
    or claimed by typing a name, and the session itself is never stored."""
    digest = hmac.new(key, f"web-identity|{session}".encode(), hashlib.sha256).digest()
    return WEB_IDENTITY + base64.urlsafe_b64encode(digest[:15]).decode()


@dataclass(frozen=True, slots=True)
class Change:
    """The result of publishing, editing or retracting: the article and the messages queued.

    ``repeated`` is true when the same request (a chat message, an interaction) had been
    carried out before: nothing was done again, and ``article`` is what it did then.
    """

    article: Article
    queued: int
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Subscription:
    """The result of subscribing: the destination and whether it is new (or reactivated).

    A ``destination.pending`` subscription waits for a newsbot admin's approval.
    """

    destination: Destination
    created: bool


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
        """Subscribe a chat to future articles; subscribing an active chat again is a no-op.

        Admins, and actors the adapter verified as administrators of that chat, may subscribe.
        A chat admin who is not a newsbot admin gets a pending subscription (the chat receives
        nothing until a newsbot admin approves it), unless subscriptions are open. At most
        ``PENDING_MAX`` requests wait at once, and one person makes at most
        ``REQUESTS_PER_DAY`` new ones a day, so nobody can bury the others' requests;
        ``moved`` (a request that only changes its chat id, the old one withdrawn next) counts
        against neither.

        Raises:
            PermissionDenied: the actor administers neither newsbot nor the chat.
            InvalidInput: the chat id or tags are malformed, or the request is over a limit
                (the message says which, and what to do).
        """
        if not (actor.chat_admin or self.is_admin(actor)):
            raise PermissionDenied(
                "Only an administrator of this chat or a newsbot admin can subscribe it."
            )
        chat_id = valid_unicode(new.chat_id).strip()
        if (
            not chat_id
            or len(chat_id) > CHAT_ID_MAX
            or has_control_chars(chat_id, allow_newlines=False)
        ):
            raise InvalidInput("The chat id is empty or malformed.", field="chat_id")
        check_chat_id(new.platform, chat_id, new.thread_id or None)
        new = NewDestination(
            platform=new.platform,
            chat_id=chat_id,
            kind=new.kind,
            title=clean_name(new.title)[:TITLE_MAX],
            thread_id=new.thread_id or None,
            tags=clean_tags(new.tags),
        )
        pending = not (self.open_subscriptions or self.is_admin(actor))
        if pending and not moved:
            await self._admit_request(actor, new)
        destination, created = await self.store.add_destination(
            new, self.clock.now(), pending=pending
        )
        if created:
            log.info(
                "subscription waiting for approval"
                if destination.pending
                else "destination subscribed",
                extra={
                    "platform": new.platform,
                    "chat_id": chat_id,
                    "destination_id": destination.id,
                    "by": f"{actor.platform}:{actor.user_id}",
                },
            )
        return Subscription(destination, created)

    async def _admit_request(self, actor: Actor, new: NewDestination) -> None:
        """Refuse a new subscription request past ``PENDING_MAX`` waiting or past the actor's
        ``REQUESTS_PER_DAY``; asking again for a chat that waits (or is subscribed) is free."""
        known = await self.store.get_destination(new.platform, new.chat_id, new.thread_id)
        if known is not None and (known.pending or known.active):
            return
        fields = {"platform": new.platform, "chat_id": new.chat_id, "by": actor.user_id}
        if len(await self.pending_destinations()) >= PENDING_MAX:
            log.warning("subscription request refused: too many waiting", extra=fields)
            raise InvalidInput(
                f"{PENDING_MAX} chats are already waiting for a newsbot admin's approval, the "
                "most that can wait. Ask a newsbot admin to go through them, then try again."
            )
        key = f"subscription-requests:{actor.platform}:{actor.user_id}"
        if await self.rate_slot(key, REQUESTS_PER_DAY, 86400):
            log.warning("subscription request refused: too many from one person", extra=fields)
            raise InvalidInput(
                f"You have asked for {REQUESTS_PER_DAY} subscriptions in the last 24 hours, "
                "the most one person may; they wait for a newsbot admin. Try again tomorrow."
            )

    async def approve(
        self, actor: Actor, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination:
        """Approve a pending subscription: the chat receives articles from now on.

        Raises:
            PermissionDenied: the actor is not a newsbot admin.
            NotFound: no subscription of that chat waits for approval.
        """
        self.require_admin(actor, "approve subscriptions")
        destination = await self.store.get_destination(platform, chat_id.strip(), thread_id)
        if destination is None or not destination.pending:
            raise NotFound("No subscription of that chat is waiting for approval.")
        await self.store.approve_destination(destination.id, self.clock.now())
        log.info(
            "subscription approved",
            extra={"destination_id": destination.id, "by": f"{actor.platform}:{actor.user_id}"},
        )
        approved = await self.store.get_destination(platform, destination.chat_id, thread_id)
        assert approved is not None
        return approved

    async def pending_destinations(self) -> list[Destination]:
        """Subscriptions waiting for a newsbot admin's approval, oldest first."""
        return [d for d in await self.store.list_destinations(active_only=False) if d.pending]

    async def unsubscribe(
        self, actor: Actor, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination:
        """Stop sending articles to a chat.

        Raises:
            PermissionDenied: the actor administers neither newsbot nor the chat.
            NotFound: the chat is not subscribed.
        """
        if not (actor.chat_admin or self.is_admin(actor)):
            raise PermissionDenied(
                "Only an administrator of this chat or a newsbot admin can unsubscribe it."
            )
        destination = await self.store.get_destination(platform, chat_id.strip(), thread_id)
        if destination is None or not (destination.active or destination.pending):
            raise NotFound("This chat is not subscribed.")
        await self.store.deactivate_destination(
            destination.id, f"unsubscribed by {actor.platform}:{actor.user_id}", self.clock.now()
        )
        log.info("destination unsubscribed", extra={"destination_id": destination.id})
        return destination

    async def destination_gone(self, platform: Platform, chat_id: str, reason: str) -> int:
        """Deactivate every destination in a chat the bot was removed from. Returns how many."""
        count = 0
        for destination in await self.store.list_destinations(platform, active_only=True):
            if destination.chat_id == chat_id and await self.store.deactivate_destination(
                destination.id, reason, self.clock.now()
            ):
                count += 1
                log.warning(
                    "destination deactivated",
                    extra={"destination_id": destination.id, "chat_id": chat_id, "reason": reason},
                )
        return count

    async def chat_migrated(self, platform: Platform, old_id: str, new_id: str) -> int:
        """Move a chat's subscriptions to the chat's new id (a Telegram group that became a
        supergroup). Returns how many moved.

        Only the platform reports such a move (nobody can forge it), so no actor is asked:
        an approved subscription stays approved and a request keeps waiting (it counts
        against no request limit), under the new id only; the old id's are deactivated.
        Reported again, the move finds nothing left to move.

        Raises:
            InvalidInput: the new id cannot name a chat on ``platform``.
        """
        new_id = new_id.strip()
        now = self.clock.now()
        moved = 0
        for old in await self.store.list_destinations(platform, active_only=False):
            if old.chat_id != old_id or not (old.active or old.pending):
                continue
            check_chat_id(platform, new_id, old.thread_id)
            new = NewDestination(platform, new_id, old.kind, old.title, old.thread_id, old.tags)
            pending = old.pending and not self.open_subscriptions
            destination, _ = await self.store.add_destination(new, now, pending=pending)
            await self.store.deactivate_destination(old.id, f"the chat moved to {new_id}", now)
            moved += 1
            log.info(
                "subscription moved to a new chat id",
                extra={"from": old.id, "to": destination.id, "chat_id": new_id},
            )
        return moved

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
        """Store a chat message that replies to an article post or to a comment.

        Returns the stored comment (the existing one when ``source`` was recorded before), or
        ``None`` when ``reply_to`` carries no article or comment, the article is not
        published, or the author is banned. The text is cleaned of control characters and cut
        to ``COMMENT_MAX`` characters; names to ``NAME_MAX``.

        Raises:
            InvalidInput: the text is empty after cleaning.
        """
        return await self._add_comment(
            None, None, author, text, source, sent_at, reply_to=reply_to
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
        """Store a comment written on the article's web page.

        ``client_key`` identifies the submission (a form token, say) so a double submit stores
        one comment. ``user_id`` is who wrote it: ``web_identity`` of their session. A name
        is only what they typed; bans on names (``ban_name``) compare ``name_key`` forms, so
        "Nina." or a Cyrillic "Nіna" is the banned "Nina".

        Raises:
            NotFound: no such article, or the parent comment is not in its thread.
            InvalidInput: the name or text is empty or too long, or the article is retracted.
            PermissionDenied: the author (their identity or their name) is banned.
        """
        article = await self.article(article_id)
        if article.status is not ArticleStatus.PUBLISHED:
            raise InvalidInput("This article is not open for comments.")
        name = clean_name(name)
        text = strip_control_chars(text).strip()
        if not name:
            raise InvalidInput("Please enter a name.", field="name")
        if len(name) > NAME_MAX:
            raise InvalidInput(f"The name is longer than {NAME_MAX} characters.", field="name")
        if not text:
            raise InvalidInput("Please write a comment.", field="text")
        if parent_id is not None:
            parent = await self.store.get_comment(parent_id)
            if parent is None or parent.article_id != article_id:
                raise NotFound(f"There is no comment {parent_id} in this thread.")
        author = Author(name, Platform.WEB, user_id or name)
        if await self.store.is_banned(Platform.WEB, author.user_id) or any(
            [await self.store.is_banned(Platform.WEB, NAME_BAN + key) for key in name_keys(name)]
        ):
            log.info("web comment refused: banned", extra={"user_id": author.user_id})
            raise PermissionDenied("You can no longer comment here.")
        comment = await self._add_comment(
            article_id,
            parent_id,
            author,
            text,
            MessageRef(Platform.WEB, str(article_id), client_key),
            None,
            reply_to=None,
        )
        if comment is None:  # pragma: no cover - checked above
            raise InvalidInput("This article is not open for comments.")
        return comment

    async def rate_slot(self, key: str, limit: int, window: float) -> float:
        """Take one of ``limit`` slots per ``window`` seconds for ``key``, shared by every
        worker of this store. Returns 0.0 when taken, else the seconds to wait."""
        return await self.store.take_slot(key, limit, window, self.clock.now())

    async def _add_comment(
        self,
        article_id: ArticleId | None,
        parent_id: CommentId | None,
        author: Author,
        text: str,
        source: MessageRef,
        sent_at: datetime | None,
        *,
        reply_to: MessageRef | None,
    ) -> Comment | None:
        text = strip_control_chars(text).strip()
        if not text:
            raise InvalidInput("The comment is empty.", field="text")
        if len(text) > COMMENT_MAX:
            text = text[: COMMENT_MAX - 1] + "…"
        name = clean_name(author.name)[:NAME_MAX] or "anonymous"
        now = self.clock.now()
        hidden = self._over_intake(author, source, now)
        result = await self.store.ingest_comment(
            IncomingComment(
                source=source,
                author=Author(name, author.platform, author.user_id),
                text=text,
                created_at=sent_at or now,
                reply_to=reply_to,
                article_id=article_id,
                parent_id=parent_id,
                mirror=self.mirror and not hidden,
                mirror_due=now + timedelta(seconds=self.mirror_delay)
                if self.mirror_delay
                else None,
                count_refresh=None if hidden else self.count_refresh,
                hidden=hidden,
            )
        )
        if result is None:
            return None
        comment, created = result
        if created:
            self.comments_stored += 1
            if log.isEnabledFor(logging.INFO):  # skip building the record at full ingest rates
                log.info(
                    "comment stored",
                    extra={
                        "comment_id": comment.id,
                        "article_id": comment.article_id,
                        "source": str(source),
                    },
                )
            self._enqueued()
        return comment

    def _over_intake(self, author: Author, source: MessageRef, now: datetime) -> bool:
        """Count a comment against its author's and its chat's limits if it is accepted;
        whether it is held back instead."""
        if self.intake is None:
            return False
        held = self._intake.admit(
            (author.platform, author.user_id), (source.platform, source.chat_id), now.timestamp()
        )
        if held is not None and log.isEnabledFor(logging.INFO):
            log.info(
                "comment over the intake limit; stored hidden, not mirrored",
                extra={
                    "platform": str(author.platform),
                    "user_id": author.user_id,
                    "chat_id": source.chat_id,
                    "limit": str(held),
                },
            )
        return held is not None

    async def edit_comment(self, source: MessageRef, text: str) -> Comment | None:
        """Update the comment written as ``source`` after its author edited the message.

        The new text reaches the comment's mirrored copies like a new comment would: held
        ``mirror_delay`` seconds (a moderator who deletes the comment meanwhile stops it), and
        counted against the intake limits. An edit over them is not refused (the author's own
        chat shows it already) but paced: the copies get the latest text a whole intake window
        later. Repeated edits before the copies are updated make one update, of the latest
        text. An edit of a comment that has no copies counts against nothing.

        Returns ``None`` when no comment was written as that message; an edit to empty text
        is ignored.
        """
        comment = await self.store.get_comment_by_source(source)
        if comment is None or comment.status is CommentStatus.DELETED:
            return comment
        text = strip_control_chars(text).strip()[:COMMENT_MAX]
        if not text or text == comment.text:
            return comment
        now = self.clock.now()
        hold = self.mirror_delay
        if (
            self.intake is not None
            and comment.status is CommentStatus.VISIBLE
            and await self._has_copies(comment.id)
        ):
            held = self._intake.admit(
                (comment.author.platform, comment.author.user_id),
                (source.platform, source.chat_id),
                now.timestamp(),
            )
            if held is not None:
                hold = max(hold, self.intake.window)
                log.info(
                    "comment edit over the intake limit; its copies are updated later",
                    extra={"comment_id": comment.id, "limit": str(held), "after": hold},
                )
        updated = await self.store.edit_comment(
            comment.id, text, now, due=now + timedelta(seconds=hold)
        )
        log.info("comment edited", extra={"comment_id": comment.id})
        self._enqueued()
        return updated

    async def _has_copies(self, comment_id: CommentId) -> bool:
        """Whether a comment has mirrored copies, sent or to be sent."""
        return any(
            s.delivery.op is not DeliveryOp.DELETE and s.delivery.state is not DeliveryState.DEAD
            for s in await self.store.deliveries_for_comment(comment_id)
        )

    async def delete_comment_by_source(self, source: MessageRef) -> Comment | None:
        """Mark deleted the comment written as ``source`` (its author deleted the message)."""
        comment = await self.store.get_comment_by_source(source)
        if comment is None or comment.status is CommentStatus.DELETED:
            return comment
        return await self._delete(comment)

    async def delete_comment(self, actor: Actor, comment_id: CommentId) -> Comment:
        """Delete a comment as a moderator, everywhere it was mirrored.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such comment.
        """
        self.require_admin(actor, "delete comments")
        comment = await self.store.get_comment(comment_id)
        if comment is None:
            raise NotFound(f"There is no comment {comment_id}.")
        if comment.status is CommentStatus.DELETED:
            return comment
        return await self._delete(comment)

    async def _delete(self, comment: Comment) -> Comment:
        deleted = await self.store.set_comment_status(
            comment.id, CommentStatus.DELETED, self.clock.now()
        )
        log.info("comment deleted", extra={"comment_id": comment.id})
        self._enqueued()
        return deleted

    async def ban(self, actor: Actor, platform: Platform, user_id: str) -> int:
        """Stop storing an author's comments and delete the ones stored. Returns how many.

        Banning twice is harmless: the second ban finds nothing left to delete. On the web a
        user id that is not a ``web_identity`` (a name, as older comments were keyed) is
        banned as a name too (see ``ban_name``).

        Raises:
            PermissionDenied: the actor is not an admin.
            InvalidInput: the user id is empty.
        """
        self.require_admin(actor, "ban authors")
        user_id = valid_unicode(user_id).strip()
        if not user_id or len(user_id) > CHAT_ID_MAX:
            raise InvalidInput("The user id is empty or malformed.", field="user_id")
        now = self.clock.now()
        await self.store.set_ban(platform, user_id, True, now)
        if platform is Platform.WEB and not user_id.startswith((WEB_IDENTITY, NAME_BAN)):
            key = name_key(user_id)
            if key:
                await self.store.set_ban(platform, NAME_BAN + key, True, now)
        comments = await self.store.comments_by_author(platform, user_id)
        for comment in comments:
            await self._delete(comment)
        log.info(
            "author banned",
            extra={
                "platform": platform,
                "user_id": user_id,
                "deleted": len(comments),
                "by": f"{actor.platform}:{actor.user_id}",
            },
        )
        return len(comments)

    async def ban_name(self, actor: Actor, name: str) -> str:
        """Refuse web comments under a name and every name that looks like it. Returns the
        name's key (``name_key``).

        Raises:
            PermissionDenied: the actor is not an admin.
            InvalidInput: the name has no letters or digits.
        """
        self.require_admin(actor, "ban names")
        key = name_key(valid_unicode(name))
        if not key:
            raise InvalidInput("The name has no letters or digits to ban.", field="name")
        await self.store.set_ban(Platform.WEB, NAME_BAN + key, True, self.clock.now())
        log.info("web name banned", extra={"key": key, "by": f"{actor.platform}:{actor.user_id}"})
        return key

    async def unban(self, actor: Actor, platform: Platform, user_id: str) -> bool:
        """Allow an author to comment again. Returns whether they were banned."""
        self.require_admin(actor, "unban authors")
        user_id = user_id.strip()
        changed = await self.store.set_ban(platform, user_id, False, self.clock.now())
        if platform is Platform.WEB and not user_id.startswith((WEB_IDENTITY, NAME_BAN)):
            for key in name_keys(user_id):
                changed |= await self.store.set_ban(
                    platform, NAME_BAN + key, False, self.clock.now()
                )
        return changed

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


# Ids as each platform spells them, in ASCII digits (int() takes any script's digits): a
# Telegram chat is a (negative) number or an @username, a Discord channel a snowflake.
_TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,19}|@[A-Za-z][A-Za-z0-9_]{2,31}")
_NUMBER = re.compile(r"[0-9]{1,20}")


def check_chat_id(platform: Platform, chat_id: str, thread_id: str | None = None) -> None:
    """Refuse a chat (and thread or topic) id that cannot name a chat on ``platform``: it
    could never receive anything.

    Raises:
        InvalidInput: the id is not one the platform uses.
    """
    shown = repr(chat_id[:40])
    if platform is Platform.DISCORD and not (_NUMBER.fullmatch(chat_id) and int(chat_id) < 2**64):
        raise InvalidInput(
            f"A Discord channel id is a number (in Developer Mode, right click the channel, "
            f"Copy Channel ID), not {shown}.",
            field="chat_id",
        )
    if platform is Platform.TELEGRAM and not _TELEGRAM_CHAT.fullmatch(chat_id):
        raise InvalidInput(
            f"A Telegram chat id is a number (-100… for a channel or supergroup) or an "
            f"@username, not {shown}.",
            field="chat_id",
        )
    if (
        thread_id is not None
        and platform in (Platform.DISCORD, Platform.TELEGRAM)
        and not (_NUMBER.fullmatch(thread_id) and int(thread_id) < 2**64)
    ):
        raise InvalidInput(
            f"A thread or topic id is a number, not {thread_id[:40]!r}.", field="thread_id"
        )


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
