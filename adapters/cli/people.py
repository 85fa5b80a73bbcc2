"""Readers as people: ``people``, ``person ID`` and what an operator does to a person
(``person unlink|ban|unban|hide|export|forget ID ...``)."""

from __future__ import annotations

import argparse

from adapters.cli.output import plain
from newsbot import Actor, InvalidInput, NewsService, Platform
from newsbot.identity import accounts_text
from newsbot.people import Person, PersonId

ACTIONS = ("show", "unlink", "ban", "unban", "hide", "export", "forget")
USAGE = (
    "person ID | person unlink ID PLATFORM ACCOUNT_ID | person ban|unban|hide ID | "
    "person export ID | person forget ID [--remove-comments]"
)


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``people`` and ``person``."""
    p = sub.add_parser("people", parents=[common], help="readers and their linked accounts")
    p.add_argument("--after", type=int, default=0, help="people after this id")
    p.add_argument("--limit", type=int, default=50, help="how many (default: 50)")
    p.set_defaults(handler=people)
    p = sub.add_parser("person", parents=[common], help="one person: " + USAGE)
    p.add_argument(
        "words",
        nargs="+",
        metavar="[ACTION] ID ...",
        help="a person's id, or unlink|ban|unban|hide|export|forget and the id",
    )
    p.add_argument(
        "--remove-comments",
        action="store_true",
        help="forget: remove their comments everywhere (default: keep them as a deleted user)",
    )
    p.set_defaults(handler=person)


def _line(p: Person) -> str:
    flag = "  (banned)" if p.banned else ""
    return f"{p.id:>5}  {accounts_text(p.accounts)}{flag}"


async def people(service: NewsService, args: argparse.Namespace) -> object:
    """``people``: readers by id with their accounts."""
    found = await service.people.people(args.limit, PersonId(args.after) if args.after else None)
    if args.json:
        return [plain(p) for p in found]
    return "\n".join(_line(p) for p in found) or "(nobody has signed in or linked yet)"


def _words(args: argparse.Namespace) -> tuple[str, PersonId, list[str]]:
    words: list[str] = list(args.words)
    action = "show" if words[0].isdigit() else words.pop(0)
    if action not in ACTIONS or not words or not words[0].isdigit():
        raise InvalidInput(f"usage: {USAGE}")
    return action, PersonId(int(words[0])), words[1:]


async def person(service: NewsService, args: argparse.Namespace) -> object:
    """``person [ACTION] ID ...``."""
    action, person_id, rest = _words(args)
    people, operator = service.people, Actor.operator()
    if action == "unlink":
        if len(rest) != 2 or rest[0] not in ("telegram", "discord", "web"):
            raise InvalidInput(f"usage: {USAGE}")
        held = await people.find(Platform(rest[0]), rest[1])
        if held is None or held.id != person_id:
            raise InvalidInput(f"{rest[0]} account {rest[1]} is not linked to person {person_id}.")
        await people.unlink(Platform(rest[0]), rest[1], actor=operator)
        return f"Unlinked {rest[0]} account {rest[1]} from person {person_id}."
    if action == "ban":
        count = await people.ban(operator, person_id)
        return (
            {"banned": True, "deleted_comments": count}
            if args.json
            else (
                f"Banned person {person_id} on every linked account; deleted {count} comment(s)."
            )
        )
    if action == "unban":
        changed = await people.unban(operator, person_id)
        return {"unbanned": changed} if args.json else f"Unbanned person {person_id}."
    if action == "hide":
        count = await people.hide_all(operator, person_id)
        return (
            {"deleted_comments": count}
            if args.json
            else (f"Deleted {count} comment(s) of person {person_id}, everywhere.")
        )
    if action == "export":
        return await people.export(operator, person_id)
    if action == "forget":
        count = await people.forget(operator, person_id, remove_comments=args.remove_comments)
        kept = "removed everywhere" if args.remove_comments else "kept as a deleted user"
        return (
            {"forgotten": True, "comments": count}
            if args.json
            else f"Forgot person {person_id}; {count} comment(s) {kept}."
        )
    found = await people.person(person_id)
    comments = await people.comments(found)
    reached: dict[tuple[Platform, str], bool] = {
        (a.platform, a.account_id): await service.notifications.enabled(a.platform, a.account_id)
        for a in found.accounts
        if a.platform is not Platform.WEB
    }
    if args.json:
        told = [f"{p}:{a}" for (p, a), on in reached.items() if on]
        return {**plain(found), "notified_on": told, "comments": [plain(c) for c in comments]}
    lines = [
        f"person {found.id}{'  (banned)' if found.banned else ''}, since "
        f"{found.created_at:%Y-%m-%d}; reply notifications {'on' if found.notify else 'off'}",
        *(
            f"  {a.platform:<9} {a.account_id:<22} {a.name}  (by {a.verified_by}, "
            f"{a.linked_at:%Y-%m-%d}){_told(reached.get((a.platform, a.account_id)))}"
            for a in found.accounts
        ),
        f"{len(comments)} visible comment(s):",
        *(
            f"  #{c.id} article {c.article_id} {c.author.platform}: {c.text[:60]}"
            for c in comments
        ),
    ]
    return "\n".join(lines)


def _told(on: bool | None) -> str:
    """Whether replies reach a chat account in private (nothing for a web account)."""
    return "" if on is None else ("  replies told here" if on else "  replies not told here")
