"""Where a comment is copied, where each copy lands, and how posts show new counts.

Pure rules shared by every store: the intake (``newsbot.intake``) asks ``mirror_targets`` and
``refresh_interval`` when a comment arrives; a store building a ``Job`` for a mirrored comment
asks ``discussion_copy``, ``reply_target`` and ``nonce``. Nothing here does I/O.

An article posted in a destination may be visible in more than one chat there: the chat itself,
a thread the platform opened on the post (Discord), and a copy the platform made in another chat
where readers comment (a Telegram channel's discussion group). A comment written in any of them
belongs to that destination, so it is never mirrored back into it; a comment mirrored into the
destination lands where its readers comment (the discussion group, or the post's thread).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsbot.models import (
    Article,
    ArticleId,
    Comment,
    CommentId,
    CountRefresh,
    Delivery,
    DeliveryId,
    Destination,
    DestinationId,
    Job,
    MessageLink,
    MessageRef,
    Platform,
)

NONCE_MAX = 25  # Discord's limit on a message nonce


@dataclass(frozen=True, slots=True)
class ArticlePost:
    """An article's own post in one destination, once it went out.

    Attributes:
        delivery_id: the outbox row of the post.
        destination_id: the destination.
        platform: the destination's platform.
        chat_id: the destination's chat.
        thread_id: the thread the platform opened on the post, if any.
        active: whether the destination still receives (a mirror goes only to active ones).
        settled: sent and not being deleted: a count refresh may edit it.
        updated_at: when the post was last sent or edited (a refresh is paced from it).
    """

    delivery_id: DeliveryId
    destination_id: DestinationId
    platform: Platform
    chat_id: str
    thread_id: str | None
    active: bool
    settled: bool
    updated_at: datetime


def mirror_targets(
    posts: Sequence[ArticlePost],
    post_links: Iterable[MessageLink],
    source: MessageRef,
    replied_in: DestinationId | None,
) -> tuple[DestinationId, ...]:
    """The destinations a comment written as ``source`` is copied to: every active one where
    the article was posted, except where the comment was written.

    A destination is where it was written when ``source`` is in its chat, in the thread on the
    article's post there, or in any chat holding a linked copy of that post (``post_links``:
    the links of the article's own posts); or when the comment replies to a message the bot
    posted there (``replied_in``, the destination of the reply target's link).
    """
    platform, chat = source.platform, source.chat_id
    here = {
        link.destination_id
        for link in post_links
        if link.ref.chat_id == chat and link.ref.platform == platform
    }
    return tuple(
        post.destination_id
        for post in posts
        if post.active
        and post.destination_id != replied_in
        and post.destination_id not in here
        and not (post.platform == platform and chat in (post.chat_id, post.thread_id))
    )


def refresh_interval(pace: CountRefresh, posts: int) -> timedelta:
    """How long each of an article's ``posts`` waits between count refreshes: at least
    ``pace.min_interval``, and long enough for all of them together to stay under
    ``pace.per_second`` edits a second."""
    return timedelta(seconds=max(pace.min_interval, posts / max(pace.per_second, 0.001)))


def refresh_due(now: datetime, last_update: datetime, interval: timedelta) -> datetime:
    """When a post last sent or edited at ``last_update`` may show a new count."""
    return max(now, last_update + interval)


def count_refreshes(
    posts: Sequence[ArticlePost], pace: CountRefresh, now: datetime
) -> list[tuple[DeliveryId, datetime]]:
    """When each of an article's settled posts may show a new count, for a comment shown
    at ``now`` outside the intake (an approval): as the intake's ``Refresh`` paces them."""
    interval = refresh_interval(pace, len(posts))
    return [(p.delivery_id, refresh_due(now, p.updated_at, interval)) for p in posts if p.settled]


def discussion_copy(
    destination: Destination, post_thread: str | None, post_links: Iterable[MessageLink]
) -> MessageRef | None:
    """The copy of the article's post that the platform made in another chat of
    ``destination``'s platform (a channel's discussion group), where mirrored comments go.

    ``post_links`` are the links of the article's own posts, in a stable order; the first
    copy found wins.
    """
    for link in post_links:
        ref = link.ref
        if (
            link.destination_id == destination.id
            and ref.platform == destination.platform
            and ref.chat_id not in (destination.chat_id, post_thread)
        ):
            return ref
    return None


def reply_target(
    destination: Destination,
    post_message: str | None,
    post_thread: str | None,
    discussion: MessageRef | None,
    parent: Comment | None,
    parent_copy: str | None,
) -> str | None:
    """The message a comment mirrored into ``destination`` answers.

    A reply answers its ``parent`` natively when the parent was written where the copy lands,
    else the parent's own mirrored copy there (``parent_copy``); a top-level comment, or a
    reply whose parent has neither, answers the article's post (or its discussion copy).
    """
    fallback = discussion.message_id if discussion is not None else post_message
    if parent is None:
        return fallback
    if discussion is not None:
        chats: tuple[str | None, ...] = (discussion.chat_id,)
    else:
        chats = (destination.chat_id, destination.thread_id, post_thread)
    if parent.source.platform == destination.platform and parent.source.chat_id in chats:
        return parent.source.message_id
    return parent_copy or fallback


def nonce(article_id: ArticleId, comment_id: CommentId | None, destination_id: int) -> str:
    """A deterministic idempotency key for one post in one destination (at most 25
    characters), so that a resend after a crash finds the first one."""
    kind, number = ("a", article_id) if comment_id is None else ("c", comment_id)
    return f"nb{kind}{number}d{destination_id}"[:NONCE_MAX]


def job(
    delivery: Delivery,
    destination: Destination,
    article: Article,
    comment: Comment | None,
    parent: Comment | None,
    *,
    post_message: str | None,
    post_thread: str | None,
    post_links: Iterable[MessageLink],
    parent_copy: str | None,
    comment_count: int,
    reaction_count: int = 0,
) -> Job:
    """The ``Job`` for one claimed delivery: an article's post, or a comment's mirror with
    where it lands.

    Args:
        delivery: the claimed outbox row.
        destination: its destination.
        article: the article (a mirrored comment's article).
        comment: the mirrored comment, ``None`` for the article's own post.
        parent: the comment's parent, if it has one.
        post_message: the article's own post in ``destination``, once sent.
        post_thread: the thread the platform opened on that post, if any.
        post_links: the links of the article's own posts, in a stable order.
        parent_copy: the parent's mirrored copy in ``destination``, once sent.
        comment_count: the article's visible comments.
        reaction_count: the article's reactions (on it and its visible comments).
    """
    discussion = reply_to = None
    if delivery.comment_id is not None:
        discussion = discussion_copy(destination, post_thread, post_links)
        reply_to = reply_target(
            destination, post_message, post_thread, discussion, parent, parent_copy
        )
    return Job(
        delivery=delivery,
        destination=destination,
        article=article,
        comment=comment,
        parent=parent,
        reply_to=reply_to,
        thread_id=post_thread,
        comment_count=comment_count,
        reaction_count=reaction_count,
        article_url="",
        nonce=nonce(article.id, None if comment is None else comment.id, destination.id),
        discussion=discussion,
    )
