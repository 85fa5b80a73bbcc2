"""Scheduled articles on the command line: the time options of ``publish`` and
``reschedule``, ``articles --scheduled``, ``reschedule`` and ``cancel``; and whom breaking news
mentions in a Discord channel (``breaking-mention``)."""

from __future__ import annotations

import argparse

from adapters.cli.output import article_json, plain
from newsbot import Actor, ArticleId, NewsService, Platform
from newsbot.scheduling import Schedule, ScheduledArticle, describe, plan


def add_time_options(p: argparse.ArgumentParser) -> None:
    """``--at``, ``--in``, ``--telegram-at`` and ``--discord-at``."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--at", help="when it goes out: 2026-12-24T06:00+01:00 (with the offset)")
    group.add_argument("--in", dest="after", help="when it goes out, from now: 2h, 90m, 1d12h")
    p.add_argument("--telegram-at", help="a later time (or delay) for the Telegram posts")
    p.add_argument("--discord-at", help="a later time (or delay) for the Discord posts")


def schedule_of(service: NewsService, args: argparse.Namespace) -> Schedule | None:
    """The schedule the time options ask for, or ``None`` for now (``scheduling.plan``)."""
    return plan(
        service.clock.now(),
        at=args.at,
        after=args.after,
        platforms={Platform.TELEGRAM: args.telegram_at, Platform.DISCORD: args.discord_at},
    )


def item_json(service: NewsService, item: ScheduledArticle) -> dict[str, object]:
    """A scheduled article with the time of each platform's posts."""
    return {
        **article_json(service, item.article),
        "platforms": {str(p): t.isoformat() for p, t in item.platforms.items()},
        "waiting": item.waiting,
    }


async def scheduled(service: NewsService, args: argparse.Namespace) -> object:
    """``articles --scheduled``: the articles waiting for their time, soonest first."""
    items = await service.scheduled(Actor.operator())
    if args.json:
        return {"articles": [item_json(service, i) for i in items]}
    lines = [describe(i) for i in items] or ["(nothing scheduled)"]
    return "\n".join(lines)


async def reschedule(service: NewsService, args: argparse.Namespace) -> object:
    """``reschedule ID --at T``: move a scheduled article (no time: out now)."""
    item = await service.reschedule(
        Actor.operator(), ArticleId(args.id), schedule_of(service, args)
    )
    if args.json:
        return {
            "article_id": args.id,
            "scheduled": None if item is None else plain(item.platforms),
        }
    if item is None:
        return f"Article {args.id} goes out now."
    return f"Rescheduled: {describe(item)}"


async def cancel(service: NewsService, args: argparse.Namespace) -> object:
    """``cancel ID``: take a scheduled article back before it goes out (it stays a draft)."""
    await service.cancel_scheduled(Actor.operator(), ArticleId(args.id))
    if args.json:
        return {"article_id": args.id, "cancelled": True}
    return f"Cancelled article {args.id}: it will not go out (kept as a draft)."


async def breaking_mention(service: NewsService, args: argparse.Namespace) -> object:
    """``breaking-mention CHANNEL_ID ROLE``: whom a Discord channel's breaking posts mention."""
    found, mention = await service.set_breaking_mention(
        Actor.operator(), args.chat_id, args.mention, args.thread
    )
    if args.json:
        return {"destination": found.id, "mention": mention or None}
    shown = {"": "nobody", "everyone": "@everyone"}.get(mention, f"role {mention}")
    return f"Breaking news in Discord channel {found.chat_id} will mention {shown}."


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``reschedule`` and ``cancel``."""
    p = sub.add_parser("reschedule", parents=[common], help="move a scheduled article")
    p.add_argument("id", type=int, help="the scheduled article's id")
    add_time_options(p)
    p.set_defaults(handler=reschedule)
    p = sub.add_parser(
        "breaking-mention", parents=[common], help="whom breaking news mentions in a channel"
    )
    p.add_argument("chat_id", help="the subscribed Discord channel")
    p.add_argument("mention", help="a role id, everyone, or none")
    p.add_argument("--thread", help="the forum thread, when the channel has one")
    p.set_defaults(handler=breaking_mention)
    p = sub.add_parser("cancel", parents=[common], help="cancel a scheduled article")
    p.add_argument("id", type=int, help="the scheduled article's id")
    p.set_defaults(handler=cancel)
