"""Chats and authors: subscribe, approve, unsubscribe, destinations, language, ban, unban."""

from __future__ import annotations

import argparse

from adapters.cli.inputs import tags
from adapters.cli.output import plain
from newsbot import Actor, DestinationKind, InvalidInput, NewDestination, NewsService, Platform
from newsbot.people import PersonId


async def subscribe(service: NewsService, args: argparse.Namespace) -> object:
    """``subscribe PLATFORM CHAT_ID``: send future articles to a chat."""
    new = NewDestination(
        platform=Platform(args.platform),
        chat_id=args.chat_id,
        kind=DestinationKind(args.kind),
        title=args.title or "",
        thread_id=args.thread,
        tags=tags(args.tags),
    )
    result = await service.subscribe(Actor.operator(), new)
    if args.json:
        return {**plain(result.destination), "created": result.created}
    d = result.destination
    if result.created:
        return f"Subscribed {d.platform} chat {d.chat_id} (destination {d.id})."
    return f"{d.platform} chat {d.chat_id} was already subscribed (destination {d.id})."


async def approve(service: NewsService, args: argparse.Namespace) -> object:
    """``approve PLATFORM CHAT_ID``: approve a chat admin's pending subscription."""
    d = await service.approve(Actor.operator(), Platform(args.platform), args.chat_id, args.thread)
    if args.json:
        return plain(d)
    return f"Approved {d.platform} chat {d.chat_id} (destination {d.id}): articles go there now."


async def unsubscribe(service: NewsService, args: argparse.Namespace) -> object:
    """``unsubscribe PLATFORM CHAT_ID``: stop sending to a chat."""
    d = await service.unsubscribe(
        Actor.operator(), Platform(args.platform), args.chat_id, args.thread
    )
    if args.json:
        return {"id": d.id, "active": False}
    return f"Unsubscribed {d.platform} chat {d.chat_id}."


async def destinations(service: NewsService, args: argparse.Namespace) -> object:
    """``destinations``: every subscribed chat, pending and stopped ones too."""
    found = await service.destinations()
    languages = [await service.chat_language(d.platform, d.chat_id) for d in found]
    filters = await service.routing.filters()
    if args.json:
        return [
            {**plain(d), "language": lang, "filter": filters.get(d.id)}
            for d, lang in zip(found, languages, strict=True)
        ]
    lines = [f"{'ID':>5}  {'PLATFORM':<9} {'KIND':<12} {'ACTIVE':<7}  {'LANG':<7} CHAT"]
    for d, lang in zip(found, languages, strict=True):
        chat = d.chat_id + (f"/{d.thread_id}" if d.thread_id else "")
        title = f" {d.title}" if d.title else ""
        note = f"  ({d.deactivated_reason})" if not d.active and d.deactivated_reason else ""
        if d.pending:
            note = f"  (approve with: bot.py approve {d.platform} {d.chat_id})"
        active = "yes" if d.active else "pending" if d.pending else "no"
        shown = lang or "-"
        lines.append(
            f"{d.id:>5}  {d.platform:<9} {d.kind:<12} {active:<7}  {shown:<7} {chat}{title}{note}"
        )
        if d.id in filters:
            lines.append(f"{'':>7}filter: {filters[d.id]}")
    if not found:
        lines.append("(no destinations yet: python bot.py subscribe PLATFORM CHAT_ID)")
    return "\n".join(lines)


async def language(service: NewsService, args: argparse.Namespace) -> object:
    """``language PLATFORM CHAT_ID [LANG]``: a chat's own language (none: the default)."""
    platform = Platform(args.platform)
    if args.language is None:
        code = await service.chat_language(platform, args.chat_id)
    else:
        wanted = None if args.language == "default" else args.language
        code = await service.set_chat_language(Actor.operator(), platform, args.chat_id, wanted)
    if args.json:
        return {"platform": platform, "chat_id": args.chat_id, "language": code}
    if code is None:
        return f"{platform} chat {args.chat_id} speaks the default (NEWSBOT_LANGUAGE)."
    return f"{platform} chat {args.chat_id} speaks {code}: its posts' counts and answers."


async def ban(service: NewsService, args: argparse.Namespace) -> object:
    """``ban PLATFORM USER_ID``: store no more of an author's comments, delete theirs (of
    every account of the person, for ``ban person ID`` or an author linked to a person)."""
    if args.platform == "person":
        count = await service.people.ban(Actor.operator(), _person_id(args.user_id))
    else:
        count = await service.ban(Actor.operator(), Platform(args.platform), args.user_id)
    if args.json:
        return {"banned": True, "deleted_comments": count}
    return f"Banned {args.platform} user {args.user_id}; deleted {count} comment(s)."


async def unban(service: NewsService, args: argparse.Namespace) -> object:
    """``unban PLATFORM USER_ID``: let an author (or ``person ID``) comment again."""
    if args.platform == "person":
        changed = await service.people.unban(Actor.operator(), _person_id(args.user_id))
    else:
        changed = await service.unban(Actor.operator(), Platform(args.platform), args.user_id)
    if args.json:
        return {"unbanned": changed}
    return (
        f"Unbanned {args.platform} user {args.user_id}."
        if changed
        else "That user was not banned."
    )


def _person_id(value: str) -> PersonId:
    if not value.isdigit():
        raise InvalidInput("A person's id is a number (see: bot.py people).")
    return PersonId(int(value))
