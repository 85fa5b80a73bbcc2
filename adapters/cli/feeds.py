"""Following sites' feeds: feed add, list, remove, poll."""

from __future__ import annotations

import argparse

from adapters.cli.inputs import tags
from adapters.cli.output import Progress, feed_json, poll_json, when
from newsbot import Actor, DomainError, NewsService
from newsbot.feeds import DEFAULT_INTERVAL, FeedService, parse_interval, poll_summary
from newsbot.feeds import Progress as Told
from newsbot.models import NewFeed


def _progress(args: argparse.Namespace, url: str) -> Told | None:
    """Items published so far on stderr (a backfill can take a while), not with ``--json``."""
    if args.json:
        return None
    shown = Progress()
    return lambda done, total: shown(f"publishing from {url}", done, total, "items")


def _feeds(service: NewsService) -> FeedService:
    if service.feeds is None:  # pragma: no cover - the composition root always sets it
        raise DomainError("Feeds are not available.")
    return service.feeds


async def feed_add(service: NewsService, args: argparse.Namespace) -> object:
    """``feed add URL``: follow a feed (publishing nothing old unless ``--backfill N``)."""
    interval = parse_interval(args.every) if args.every else DEFAULT_INTERVAL
    new = NewFeed(args.url, tags(args.tags), interval, args.backfill)
    feed, result = await _feeds(service).add(Actor.operator(), new, _progress(args, args.url))
    if args.json:
        return {
            **feed_json(feed),
            "added": result is not None,
            "published": (result.published if result else 0),
        }
    if result is None:
        return f"{feed.url} is already followed (feed {feed.id})."
    return (
        f"Following {feed.url} ({feed.title or 'untitled'}), every {feed.interval:g} s: "
        f"{result.recorded} item(s) recorded as seen, {result.published} published."
    )


async def feed_list(service: NewsService, args: argparse.Namespace) -> object:
    """``feed list``: followed feeds and their state."""
    found = await _feeds(service).feeds()
    if args.json:
        return [feed_json(f) for f in found]
    lines = [
        f"{'ID':>4}  {'STATE':<8} {'LAST POLL':<16} {'STATUS':>6} {'NEXT POLL':<16} "
        f"{'ITEMS':>5}  URL (TITLE)  ERROR"
    ]
    for f in found:
        state = "active" if f.active else "inactive"
        status = str(f.last_status) if f.last_status is not None else "-"
        error = f"  {f.deactivated_reason or f.last_error}" if f.last_error or not f.active else ""
        nxt = when(f.next_poll_at) if f.active else "never"
        title = f" ({f.title})" if f.title else ""
        lines.append(
            f"{f.id:>4}  {state:<8} {when(f.last_poll_at):<16} {status:>6} {nxt:<16} "
            f"{f.items_seen:>5}  {f.url}{title}{error}"
        )
    if not found:
        lines.append("(no feeds yet: python bot.py feed add URL)")
    return "\n".join(lines)


async def feed_remove(service: NewsService, args: argparse.Namespace) -> object:
    """``feed remove URL``: stop following a feed; its articles stay."""
    feed = await _feeds(service).remove(Actor.operator(), args.url)
    if args.json:
        return {"id": feed.id, "url": feed.url, "removed": True}
    return f"No longer following {feed.url}; its articles stay published."


async def feed_poll(service: NewsService, args: argparse.Namespace) -> object:
    """``feed poll URL``: poll a feed now."""
    result = await _feeds(service).poll_now(Actor.operator(), args.url, _progress(args, args.url))
    return poll_json(result) if args.json else poll_summary(result)
