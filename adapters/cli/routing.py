"""What each chat receives and how, on the command line: ``filter set|clear DEST``
(shown in ``destinations``)."""

from __future__ import annotations

import argparse

from newsbot import Actor, DestinationId, DomainError, NewsService


async def filter_set(service: NewsService, args: argparse.Namespace) -> object:
    """``filter set DEST TERMS...``: only articles the filter passes go to that chat."""
    text = " ".join(args.terms)
    if not text.strip():
        raise DomainError("Give the filter's terms after DEST (filter clear DEST removes it).")
    parsed = await service.routing.set_filter(Actor.operator(), DestinationId(args.dest), text)
    if args.json:
        return {"destination": args.dest, "filter": None if parsed is None else str(parsed)}
    if parsed is None:
        return f"Destination {args.dest} has no filter: it gets every article its tags allow."
    return f"Destination {args.dest} now gets only articles that pass: {parsed}"


async def filter_clear(service: NewsService, args: argparse.Namespace) -> object:
    """``filter clear DEST``: remove a chat's filter."""
    await service.routing.set_filter(Actor.operator(), DestinationId(args.dest), None)
    if args.json:
        return {"destination": args.dest, "filter": None}
    return f"Destination {args.dest} has no filter: it gets every article its tags allow."


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``filter set`` and ``filter clear``."""
    p = sub.add_parser("filter", help="which articles a chat receives, besides its tags")
    actions = p.add_subparsers(dest="filter_command", metavar="ACTION", required=True)
    f = actions.add_parser(
        "set",
        parents=[common],
        help="set a chat's filter: terms (AND), OR between groups, -term excludes; "
        "field:word, field~PATTERN (title, summary, body, author, tags)",
    )
    f.add_argument("dest", type=int, help="the destination's ID (see destinations)")
    f.add_argument(
        "terms",
        nargs=argparse.REMAINDER,
        help='the rest of the line, e.g. quake OR tags:breaking -body~"(?i)sponsored"',
    )
    f.set_defaults(handler=filter_set)
    f = actions.add_parser("clear", parents=[common], help="remove a chat's filter")
    f.add_argument("dest", type=int)
    f.set_defaults(handler=filter_clear)
