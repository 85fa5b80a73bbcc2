"""The comment use cases behind ``NewsService``: storing replies and web comments, the intake
limits, edits and deletions.

Each function takes the service (any ``Host``) first; ``NewsService`` forwards to them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from newsbot import slowmode
from newsbot.errors import InvalidInput, NotFound, PermissionDenied, TooSoon
from newsbot.i18n import N_, Message
from newsbot.intake import held_by
from newsbot.limits import Held, IntakeGate, IntakeLimits
from newsbot.models import (
    Actor,
    Article,
    ArticleId,
    ArticleStatus,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    CountRefresh,
    DeliveryOp,
    DeliveryState,
    DestinationId,
    IncomingComment,
    MessageLink,
    MessageRef,
    Platform,
)
from newsbot.people import vouched_by
from newsbot.policy import CommentPolicy, Story, effective
from newsbot.ports import Clock, Store
from newsbot.review import DeskSettings, Reason, hold_reasons
from newsbot.staff import IMITATION, imitates_staff, shown_name
from newsbot.text import clean_name, name_keys, strip_control_chars

# The service's logger: the records are the service's, wherever its code lives.
log = logging.getLogger("newsbot.service")

COMMENT_MAX = 4096
NAME_MAX = 64
WEB_IDENTITY = "w:"
"""The prefix of a web commenter's user id: a keyed hash of their browser session."""
NAME_BAN = "name:"
"""The prefix of a ban on a web name, compared by ``newsbot.text.name_key``."""


def web_identity(key: bytes, session: str) -> str:
    """A web commenter's user id: a keyed hash of their session, so the id cannot be guessed
    or claimed by typing a name, and the session itself is never stored."""
    digest = hmac.new(key, f"web-identity|{session}".encode(), hashlib.sha256).digest()
    return WEB_IDENTITY + base64.urlsafe_b64encode(digest[:15]).decode()


class Announcer(Protocol):
    """Tells the staff chat what entered the queue (``newsbot.staffdesk.StaffDesk``)."""

    async def reported(self, comment_id: CommentId, reports: int) -> None:
        """A reader reported a comment (``reports`` readers so far)."""


class Holder(Protocol):
    """Puts held comments in the queue and announces them (``newsbot.holding.Holding``)."""

    async def hold(self, comment_id: CommentId, reasons: Sequence[str]) -> None:
        """A comment stored hidden enters the queue for ``reasons``."""


class Notifier(Protocol):
    """``NewsService.notifications`` as the comment use cases see it."""

    async def replied(self, comment: Comment) -> int:
        """``newsbot.notifying.Notifications.replied``."""


class Host(Protocol):
    """What the comment and moderation use cases need of ``NewsService``."""

    store: Store
    clock: Clock
    mirror: bool
    mirror_delay: float
    count_refresh: CountRefresh
    intake: IntakeLimits | None
    comments_stored: int
    desk_settings: DeskSettings
    _intake: IntakeGate

    @property
    def notifications(self) -> Notifier:
        """``NewsService.notifications``."""

    def _enqueued(self) -> None: ...

    @property
    def staffchat(self) -> Announcer:
        """``NewsService.staffchat``."""

    @property
    def holding(self) -> Holder:
        """``NewsService.holding``."""

    def require_admin(self, actor: Actor, action: str) -> None:
        """``NewsService.require_admin``."""

    def is_staff(self, author: Author) -> bool:
        """``NewsService.is_staff``."""

    async def article(self, article_id: ArticleId) -> Article:
        """``NewsService.article``."""


async def record_reply(
    svc: Host,
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
    return await _add_comment(svc, None, None, author, text, source, sent_at, reply_to=reply_to)


async def add_web_comment(
    svc: Host,
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
        TooSoon: the story is in slow mode and the reader commented on it too recently.
    """
    article = await svc.article(article_id)
    if article.status is not ArticleStatus.PUBLISHED:
        raise InvalidInput(N_("This article is not open for comments."))
    if await policy_of(svc, article_id) is CommentPolicy.CLOSED:
        raise InvalidInput(N_("Comments are closed."))
    name = clean_name(name)
    text = strip_control_chars(text).strip()
    if not name:
        raise InvalidInput(N_("Please enter a name."), field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(
            Message.ngettext(
                "The name is longer than %(count)s character.",
                "The name is longer than %(count)s characters.",
                NAME_MAX,
            ),
            field="name",
        )
    if not text:
        raise InvalidInput(N_("Please write a comment."), field="text")
    if parent_id is not None:
        parent = await svc.store.get_comment(parent_id)
        if parent is None or parent.article_id != article_id:
            raise NotFound(N_("There is no comment %(id)s in this thread."), id=parent_id)
    author = Author(name, Platform.WEB, user_id or name)
    typed = vouched_by(author.user_id) is None  # a signed-in reader's name is the platform's
    if typed and imitates_staff(name) and not svc.is_staff(author):
        raise InvalidInput(IMITATION, field="name")
    if await svc.store.is_banned(Platform.WEB, author.user_id) or any(
        [await svc.store.is_banned(Platform.WEB, NAME_BAN + key) for key in name_keys(name)]
    ):
        log.info("web comment refused: banned", extra={"user_id": author.user_id})
        raise PermissionDenied(N_("You can no longer comment here."))
    await _check_slow(svc, article_id, author)
    comment = await _add_comment(
        svc,
        article_id,
        parent_id,
        author,
        text,
        MessageRef(Platform.WEB, str(article_id), client_key),
        None,
        reply_to=None,
    )
    if comment is None:  # pragma: no cover - checked above
        raise InvalidInput(N_("This article is not open for comments."))
    return comment


async def _add_comment(
    svc: Host,
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
        raise InvalidInput(N_("The comment is empty."), field="text")
    if len(text) > COMMENT_MAX:
        text = text[: COMMENT_MAX - 1] + "…"
    name = shown_name(clean_name(author.name)[:NAME_MAX] or "anonymous", svc.is_staff(author))
    now = svc.clock.now()
    first_time = svc.desk_settings.first_time and not await svc.store.has_visible_comment(
        author.platform, author.user_id
    )
    reasons = hold_reasons(
        svc.desk_settings, _over_intake(svc, author, source, now), text, first_time=first_time
    )
    hidden = bool(reasons)
    desk = svc.desk_settings
    result = await svc.store.ingest_comment(
        IncomingComment(
            source=source,
            author=Author(name, author.platform, author.user_id),
            text=text,
            created_at=sent_at or now,
            reply_to=reply_to,
            article_id=article_id,
            parent_id=parent_id,
            mirror=svc.mirror and not hidden,
            mirror_due=now + timedelta(seconds=svc.mirror_delay) if svc.mirror_delay else None,
            count_refresh=None if hidden else svc.count_refresh,
            hidden=hidden,
            policy=desk.policy,
            close_before=now - desk.close_after if desk.close_after else None,
        )
    )
    if result is None:
        return None
    comment, created = result
    if created and comment.status is CommentStatus.HIDDEN:
        held = held_by(result)  # the story's policy or slow mode (newsbot.intake)
        await svc.holding.hold(comment.id, (*reasons, Reason(held)) if held else reasons)
    if created:
        svc.comments_stored += 1
        if log.isEnabledFor(logging.INFO):  # skip building the record at full ingest rates
            log.info(
                "comment stored",
                extra={
                    "comment_id": comment.id,
                    "article_id": comment.article_id,
                    "source": str(source),
                },
            )
        svc._enqueued()
        if comment.status is CommentStatus.VISIBLE and comment.parent_id is not None:
            await svc.notifications.replied(comment)
    return comment


async def policy_of(svc: Host, article_id: ArticleId) -> CommentPolicy:
    """The comment policy a new comment on the article meets now (``newsbot.policy``)."""
    article = await svc.store.get_article(article_id)
    return await meets(svc, article_id, article.published_at if article is not None else None)


async def meets(svc: Host, article_id: ArticleId, published: datetime | None) -> CommentPolicy:
    """``policy_of`` for an article known to be ``published`` then."""
    own = await svc.store.get_policy(article_id)
    desk = svc.desk_settings
    close_before = svc.clock.now() - desk.close_after if desk.close_after else None
    return effective(Story(own, published), desk.policy, close_before)


async def _check_slow(svc: Host, article_id: ArticleId, author: Author) -> None:
    """Refuse a web comment that comes too soon after its reader's last one on a story in
    slow mode (a chat reply cannot be refused: the intake holds it instead)."""
    seconds = await svc.store.get_slow_mode(article_id)
    if seconds <= 0:
        return
    found = await svc.store.slow_lookups(article_id, [(str(author.platform), author.user_id)])
    last = slowmode.Tracker(found).last(article_id, str(author.platform), author.user_id)
    left = slowmode.wait(last, svc.clock.now(), seconds)
    if left > 0:
        log.info("web comment refused: slow mode", extra={"user_id": author.user_id})
        raise TooSoon(max(1, math.ceil(left)), seconds)


def _over_intake(svc: Host, author: Author, source: MessageRef, now: datetime) -> Held | None:
    """Count a comment against its author's and its chat's limits if it is accepted; why
    it is held back instead."""
    if svc.intake is None:
        return None
    held = svc._intake.admit(
        (author.platform, author.user_id), (source.platform, source.chat_id), now.timestamp()
    )
    if held is not None and log.isEnabledFor(logging.INFO):
        log.info(
            "comment over the intake limit; stored hidden for moderators, not mirrored",
            extra={
                "platform": str(author.platform),
                "user_id": author.user_id,
                "chat_id": source.chat_id,
                "limit": str(held),
            },
        )
    return held


async def edit_comment(svc: Host, source: MessageRef, text: str) -> Comment | None:
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
    comment = await svc.store.get_comment_by_source(source)
    if comment is None or comment.status is CommentStatus.DELETED:
        return comment
    text = strip_control_chars(text).strip()[:COMMENT_MAX]
    if not text or text == comment.text:
        return comment
    now = svc.clock.now()
    hold = svc.mirror_delay
    if (
        svc.intake is not None
        and comment.status is CommentStatus.VISIBLE
        and await _has_copies(svc, comment.id)
    ):
        held = svc._intake.admit(
            (comment.author.platform, comment.author.user_id),
            (source.platform, source.chat_id),
            now.timestamp(),
        )
        if held is not None:
            hold = max(hold, svc.intake.window)
            log.info(
                "comment edit over the intake limit; its copies are updated later",
                extra={"comment_id": comment.id, "limit": str(held), "after": hold},
            )
    updated = await svc.store.edit_comment(
        comment.id, text, now, due=now + timedelta(seconds=hold)
    )
    log.info("comment edited", extra={"comment_id": comment.id})
    svc._enqueued()
    return updated


async def _has_copies(svc: Host, comment_id: CommentId) -> bool:
    """Whether a comment has mirrored copies, sent or to be sent."""
    return any(
        s.delivery.op is not DeliveryOp.DELETE and s.delivery.state is not DeliveryState.DEAD
        for s in await svc.store.deliveries_for_comment(comment_id)
    )


async def delete_comment_by_source(svc: Host, source: MessageRef) -> Comment | None:
    """Mark deleted the comment written as ``source`` (its author deleted the message)."""
    comment = await svc.store.get_comment_by_source(source)
    if comment is None or comment.status is CommentStatus.DELETED:
        return comment
    return await delete(svc, comment)


async def delete_comment(svc: Host, actor: Actor, comment_id: CommentId) -> Comment:
    """Delete a comment as a moderator, everywhere it was mirrored.

    Raises:
        PermissionDenied: the actor is not an admin.
        NotFound: no such comment.
    """
    svc.require_admin(actor, N_("delete comments"))
    comment = await svc.store.get_comment(comment_id)
    if comment is None:
        raise NotFound(N_("There is no comment %(id)s."), id=comment_id)
    if comment.status is CommentStatus.DELETED:
        return comment
    return await delete(svc, comment)


async def delete(svc: Host, comment: Comment) -> Comment:
    """Mark a comment deleted and wake the dispatcher to remove its copies."""
    deleted = await svc.store.set_comment_status(
        comment.id, CommentStatus.DELETED, svc.clock.now()
    )
    log.info("comment deleted", extra={"comment_id": comment.id})
    svc._enqueued()
    return deleted


async def link_copy(
    svc: Host, original: MessageRef, copy: MessageRef, destination_id: DestinationId | None = None
) -> bool:
    """Link a platform-made copy of a posted message (a Telegram channel post forwarded
    into its discussion group) to what the original carries, so replies to the copy land
    in the right thread. Returns ``False`` when the original is unknown."""
    link = await svc.store.resolve_message(original)
    if link is None:
        return False
    await svc.store.add_link(
        MessageLink(copy, link.article_id, link.comment_id, destination_id or link.destination_id)
    )
    return True


async def link_article_copy(
    svc: Host, copy: MessageRef, article_id: ArticleId, chat_id: str
) -> bool:
    """Link a platform-made copy of an article's post in chat ``chat_id`` to the article,
    when the copy's original cannot be resolved (a post sent but never recorded because
    the bot crashed), so that replies to the copy still land in the thread.

    Returns ``False`` unless the article is published and ``chat_id`` is an active
    destination on the copy's platform.
    """
    article = await svc.store.get_article(article_id)
    if article is None or article.status is not ArticleStatus.PUBLISHED:
        return False
    destination = await svc.store.get_destination(copy.platform, chat_id)
    if destination is None or not destination.active:
        return False
    await svc.store.add_link(MessageLink(copy, article_id, None, destination.id))
    return True
