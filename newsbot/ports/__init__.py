"""The interfaces the core owns and the outside world implements.

``Store`` is the persistence port, the union of narrow role ports (``ArticleStore``,
``DestinationStore``, ``Outbox``, ``ThreadStore``, ``SharedState``, ``Coordination``,
``FeedStore``; see ``newsbot.ports.store``): a backend implements ``Store``, and each consumer
takes the role it uses. ``Publisher`` is what each platform adapter implements so the
dispatcher can post, edit and delete messages. ``FeedSource`` fetches and reads feeds.
``Clock`` lets tests control time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from newsbot.models import Fetched, Job, Platform, Posted
from newsbot.ports.store import (
    ArticleStore,
    Coordination,
    DestinationStore,
    FeedStore,
    Outbox,
    SharedState,
    Store,
    StoreMetrics,
    ThreadStore,
)

__all__ = [
    "ArticleStore",
    "Clock",
    "Coordination",
    "DestinationStore",
    "FeedSource",
    "FeedStore",
    "Outbox",
    "Publisher",
    "SharedState",
    "Store",
    "StoreMetrics",
    "SystemClock",
    "ThreadStore",
]


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return ``datetime.now(UTC)``."""
        return datetime.now(UTC)


@runtime_checkable
class Publisher(Protocol):
    """Posts, edits and deletes messages on one platform on behalf of the dispatcher.

    Each method receives a ``Job`` that carries the delivery, the destination, the article and,
    for a mirrored comment, the comment. Implementations render the content natively for their
    platform and translate every SDK failure into a ``DeliveryError``:

    - ``RateLimited(retry_after, scope=...)`` when the platform (or the publisher's own
      limiter, to avoid asking) says to wait; the dispatcher reschedules without counting an
      attempt.
    - ``DestinationGone`` when the chat is gone or the bot is removed or forbidden; the
      dispatcher deactivates the destination.
    - any other ``DeliveryError`` for transient failures (timeouts, 5xx); retried with backoff.

    A publisher must not wait for long inside a call: a per-chat limit that would hold the
    call up should be raised as ``RateLimited`` so that other chats proceed.
    """

    @property
    def platform(self) -> Platform:
        """The platform this publisher serves."""
        ...

    async def post(self, job: Job) -> Posted:
        """Post the article or comment of ``job`` and return the ids of what was posted.

        For a comment, ``job.reply_to`` names the message to reply to in this destination.
        Use ``job.nonce`` as an idempotency key where the platform supports one.
        """
        ...

    async def edit(self, job: Job) -> None:
        """Replace the content of the message ``job.delivery.message_id`` with current content.

        A platform answer that the content is unchanged counts as success.
        """
        ...

    async def delete(self, job: Job) -> None:
        """Delete the message ``job.delivery.message_id`` (and lock its thread, if any).

        A message that is already gone counts as success.
        """
        ...


class FeedSource(Protocol):
    """Fetches and reads feeds over HTTP for the feed poller (``adapters.feeds`` implements it).

    The source does the HTTP (conditional GET, redirects, size and time limits, which
    addresses may be reached) and the parsing (RSS, Atom, JSON Feed; HTML sanitised and turned
    into Markdown). Identity, dedup, edits and scheduling are the core's (``newsbot.feeds``).
    """

    async def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> Fetched:
        """Fetch ``url``, conditionally when ``etag`` or ``last_modified`` is given.

        Returns whatever HTTP status came (304, 404, 429, ...), with the entries read on a
        200. A malformed feed gives the entries that could be read and names the rest in
        ``Fetched.problems``. Reading a document must not hold the event loop, whatever
        the document: parse it elsewhere, within a budget.

        Raises:
            FeedError: no HTTP answer (connection, timeout, a refused address, too many
                redirects, too big), a 200 that is not a feed or did not arrive whole, or a
                document past what reading one may cost.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
