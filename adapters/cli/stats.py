"""``stats [ARTICLE] [--json]``: an article's figures, or the latest articles' in short."""

from __future__ import annotations

import argparse

from newsbot import Actor, ArticleId, NewsService
from newsbot.stats import ArticleFigures, as_dict, duration, summary

_ROW = "{:>6}  {:>11}  {:>12}  {:>8}  {:>9}  {:>6}  {}"


async def stats(service: NewsService, args: argparse.Namespace) -> object:
    """``stats [ID]``: one article's figures (deliveries, reach, comments, reactions, views
    and arrivals per chat), or a line for each of the latest articles."""
    actor = Actor.operator()
    if args.id is not None:
        found = await service.figures.article(actor, ArticleId(args.id))
        if args.json:
            return as_dict(found)
        names = await service.figures.chat_names(found)
        return "\n".join([*summary(found, names), *_details(found)])
    latest = await service.figures.latest(actor, args.limit)
    if args.json:
        return {"articles": [as_dict(f) for f in latest]}
    lines = [_ROW.format("ID", "SENT", "REACH", "COMMENTS", "REACTIONS", "VIEWS", "TITLE")]
    for f in latest:
        sent, reach = f"{f.reached}/{f.posts}", duration(f.reach_seconds)
        lines.append(
            _ROW.format(
                f.article.id,
                sent,
                reach,
                f.comment_total,
                f.reaction_total,
                f.views,
                f.article.title,
            )
        )
    return "\n".join(lines)


def _details(f: ArticleFigures) -> list[str]:
    lines = ["", "Deliveries:"]
    lines += [f"  {platform} {state}: {n}" for (platform, state), n in f.deliveries.items()]
    lines.append("Reactions:")
    lines += [f"  {platform} {emoji}: {n}" for (platform, emoji), n in f.reactions.items()]
    lines.append(f"Comments over time ({duration(f.bucket)} a bucket):")
    lines += [
        f"  {at.isoformat(timespec='minutes')} {platform}: {n}"
        for (at, platform), n in f.comments_over_time.items()
    ]
    return lines


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``stats`` to the command line."""
    p = sub.add_parser("stats", parents=[common], help="an article's figures, or the latest")
    p.add_argument("id", type=int, nargs="?", help="the article (default: the latest, in short)")
    p.add_argument("--limit", type=int, default=10, help="how many of the latest articles")
    p.set_defaults(handler=stats)
