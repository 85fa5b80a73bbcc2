"""What the feed commands show: a poll's result, a feed in one line, a page of the feed list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsbot.i18n import ENGLISH, N_, Message, Translator
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


def feed_summary(feed: Feed, quote: Callable[[str], str] = str, tr: Translator = ENGLISH) -> str:
    """A feed in one line of plain text, for chat commands, in ``tr``'s language; ``quote``
    escapes what came from the feed (its title, an error) for the platform's markup."""
    title = f" ({quote(feed.title)})" if feed.title else ""
    last = (
        feed.last_poll_at.strftime("%Y-%m-%d %H:%M")
        if feed.last_poll_at
        else tr.gettext(N_("never"))
    )
    status = f" HTTP {feed.last_status}" if feed.last_status is not None else ""
    if not feed.active:
        reason = quote(feed.deactivated_reason or tr.gettext(N_("inactive")))
        state = Message(N_("stopped: %(reason)s"), values={"reason": reason}).render(tr)
    else:
        nxt = feed.next_poll_at.strftime("%Y-%m-%d %H:%M")
        every = {"every": _minutes(feed.interval), "next": nxt}
        state = Message(N_("every %(every)s, next %(next)s UTC"), values=every).render(tr)
        if feed.last_error:
            error = {"error": quote(feed.last_error)}
            state += Message(N_(", last error: %(error)s"), values=error).render(tr)
    seen = Message.ngettext(
        "%(count)s items seen, last poll %(last)s%(status)s; %(state)s",
        "%(count)s items seen, last poll %(last)s%(status)s; %(state)s",
        feed.items_seen,
        last=last,
        status=status,
        state=state,
    )
    return f"{feed.url}{title}: {seen.render(tr)}"


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
        return self.heading_in(ENGLISH)

    def heading_in(self, tr: Translator) -> str:
        """``heading`` in ``tr``'s language."""
        if not self.lines:
            if not self.total:
                return tr.gettext(N_("No feeds yet."))
            return Message.ngettext(
                "No more feeds (%(count)s in all).",
                "No more feeds (%(count)s in all).",
                self.total,
            ).render(tr)
        last = self.first + len(self.lines) - 1
        values = {"first": self.first, "last": last, "total": self.total}
        if self.first == 1 and last == self.total:
            return Message.ngettext("%(count)s feed", "%(count)s feeds", self.total).render(tr)
        if last == self.first:
            return Message(N_("Feed %(last)s of %(total)s"), values=values).render(tr)
        return Message(N_("Feeds %(first)s–%(last)s of %(total)s"), values=values).render(tr)


def feed_page(
    feeds: Sequence[Feed],
    after: int = 0,
    *,
    budget: int,
    quote: Callable[[str], str] = str,
    separator: int = 2,
    per_page: int = FEED_PAGE,
    tr: Translator = ENGLISH,
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
        line = feed_summary(feed, quote, tr)
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


def poll_summary(
    result: PollResult, quote: Callable[[str], str] = str, tr: Translator = ENGLISH
) -> str:
    """What a poll did, in one sentence of plain text (``quote`` and ``tr`` as in
    ``feed_summary``)."""
    url = result.feed.url
    if result.error:
        failed = {"url": url, "error": quote(result.error)}
        return Message(N_("Polling %(url)s failed: %(error)s."), values=failed).render(tr)
    unreadable = ""
    if result.problems:
        unreadable = Message.ngettext(
            "; %(count)s part(s) unreadable",
            "; %(count)s part(s) unreadable",
            len(result.problems),
        ).render(tr)
    values = {
        "url": url,
        "status": result.status,
        "published": result.published,
        "edited": result.edited,
        "recorded": result.recorded,
        "unreadable": unreadable,
    }
    polled = N_(
        "Polled %(url)s (HTTP %(status)s): %(published)s published, %(edited)s edited, "
        "%(recorded)s recorded as seen%(unreadable)s."
    )
    return Message(polled, values=values).render(tr)


NO_FEEDS = N_("Feeds are not available in this newsbot.")
ALREADY_FOLLOWED = N_("%(url)s is already followed.")
UNFOLLOWED = N_("No longer following %(url)s; its articles stay.")


def following(feed: Feed, result: PollResult, url: str | None = None) -> Message:
    """What an admin is told after adding a feed (``url``: the address as the platform
    shows it, the feed's own by default)."""
    title = feed.title or Message(N_("untitled"))
    return Message.ngettext(
        "Following %(url)s (%(title)s): new items will be published; "
        "%(count)s already there were recorded as seen.",
        "Following %(url)s (%(title)s): new items will be published; "
        "%(count)s already there were recorded as seen.",
        result.recorded,
        url=url or feed.url,
        title=title,
    )
