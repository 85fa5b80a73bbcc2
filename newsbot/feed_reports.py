"""What the feed commands show: a poll's result, a feed in one line, a page of the feed list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsbot.models import Feed, FeedId
from newsbot.text import cut_utf16, utf16_len

FEED_PAGE = 10


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll did.

    Attributes:
        feed: the feed as it stands after the poll.
        status: the HTTP status, or ``None`` when no answer came.
        published: items published as new articles.
        edited: articles edited because their item changed.
        recorded: items recorded as seen without publishing (the first poll, stale ones).
        deferred: work was left for a later poll (items over ``PUBLISH_MAX``, an edit within
            its pause); that poll then asks unconditionally, so a 304 cannot hide it.
        problems: what could not be read of a malformed feed.
        error: why the poll failed, or ``None``.
    """

    feed: Feed
    status: int | None
    published: int = 0
    edited: int = 0
    recorded: int = 0
    deferred: bool = False
    problems: tuple[str, ...] = ()
    error: str | None = None


def _minutes(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


def feed_summary(feed: Feed, quote: Callable[[str], str] = str) -> str:
    """A feed in one line of plain text, for chat commands; ``quote`` escapes what came from
    the feed (its title, an error) for the platform's markup."""
    title = f" ({quote(feed.title)})" if feed.title else ""
    last = feed.last_poll_at.strftime("%Y-%m-%d %H:%M") if feed.last_poll_at else "never"
    status = f" HTTP {feed.last_status}" if feed.last_status is not None else ""
    if not feed.active:
        state = f"stopped: {quote(feed.deactivated_reason or 'inactive')}"
    else:
        nxt = feed.next_poll_at.strftime("%Y-%m-%d %H:%M")
        state = f"every {_minutes(feed.interval)}, next {nxt} UTC"
        if feed.last_error:
            state += f", last error: {quote(feed.last_error)}"
    return f"{feed.url}{title}: {feed.items_seen} items seen, last poll {last}{status}; {state}"


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of the feed list, for chat commands that page with buttons.

    Attributes:
        lines: one ``feed_summary`` per feed shown, in id order.
        first: the position (from 1) of the first feed shown; 0 when none is.
        total: how many feeds there are in all.
        next_after: the id to ask the next page after, or ``None`` on the last page.
    """

    lines: tuple[str, ...]
    first: int
    total: int
    next_after: FeedId | None

    @property
    def heading(self) -> str:
        """``Feeds 11–20 of 57``, ``3 feeds`` when all are shown, or ``No feeds yet.``"""
        if not self.lines:
            return f"No more feeds ({self.total} in all)." if self.total else "No feeds yet."
        last = self.first + len(self.lines) - 1
        if self.first == 1 and last == self.total:
            return f"{self.total} feed{'s' if self.total > 1 else ''}"
        if last == self.first:
            return f"Feed {last} of {self.total}"
        return f"Feeds {self.first}–{last} of {self.total}"


def feed_page(
    feeds: Sequence[Feed],
    after: int = 0,
    *,
    budget: int,
    quote: Callable[[str], str] = str,
    separator: int = 2,
    per_page: int = FEED_PAGE,
) -> FeedPage:
    """The feeds whose id is above ``after``, by id, as many as fit: at most ``per_page``,
    their lines together (``separator`` UTF-16 units between two) within ``budget`` UTF-16
    units; a first line longer than that alone is cut. Keyed by id, a page stays right when
    feeds are added or removed between two presses of a button."""
    ordered = sorted(feeds, key=lambda f: f.id)
    rest = [f for f in ordered if f.id > after]
    lines: list[str] = []
    used = 0
    for feed in rest[:per_page]:
        line = feed_summary(feed, quote)
        if not lines:
            line = cut_utf16(line, budget)
        elif used + separator + utf16_len(line) > budget:
            break
        used += utf16_len(line) + (separator if lines else 0)
        lines.append(line)
    more = len(rest) > len(lines)
    return FeedPage(
        tuple(lines),
        len(ordered) - len(rest) + 1 if lines else 0,
        len(ordered),
        rest[len(lines) - 1].id if more and lines else None,
    )


def poll_summary(result: PollResult, quote: Callable[[str], str] = str) -> str:
    """What a poll did, in one sentence of plain text (``quote`` as in ``feed_summary``)."""
    url = result.feed.url
    if result.error:
        return f"Polling {url} failed: {quote(result.error)}."
    unreadable = f"; {len(result.problems)} part(s) unreadable" if result.problems else ""
    return (
        f"Polled {url} (HTTP {result.status}): {result.published} published, "
        f"{result.edited} edited, {result.recorded} recorded as seen{unreadable}."
    )
