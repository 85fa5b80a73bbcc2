"""The moderation desk from the command line: ``queue`` (list, approve, hide, delete, ban,
undo) and ``audit``."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.cli.output import plain, when
from newsbot import Actor, ArticleId, CommentId, NewsService, slowmode
from newsbot.desk import Outcome
from newsbot.errors import ConfigError
from newsbot.policy import CommentPolicy, parse
from newsbot.review import (
    AuditEntry,
    DeskSettings,
    QueuePosition,
    ReviewItem,
    View,
    WordList,
    position_of,
)
from newsbot.text import one_line

_TEXT_SHOWN = 60


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``queue`` and ``audit``."""
    p = sub.add_parser(
        "queue", parents=[common], help="the moderation queue: comments waiting for a moderator"
    )
    actions = p.add_subparsers(dest="queue_command", metavar="ACTION")
    p.set_defaults(handler=queue_list, view=str(View.HELD), limit=50, after=None)
    q = actions.add_parser("list", parents=[common], help="list one tab of the queue")
    q.add_argument(
        "--view",
        choices=[str(v) for v in View],
        default=str(View.HELD),
        help="held, reported or recent (default: held)",
    )
    q.add_argument("--limit", type=int, default=50, help="how many (default: 50)")
    q.add_argument(
        "--after",
        type=_position,
        default=None,
        metavar="POSITION",
        help="the next page: the items after this position (a full page ends by naming it)",
    )
    q.set_defaults(handler=queue_list)
    for name, text in (
        ("approve", "show a held comment everywhere (it is mirrored as if just written)"),
        ("hide", "hide a comment everywhere"),
        ("delete", "delete a comment everywhere"),
        ("ban", "ban a comment's author and delete their comments"),
        ("undo", "undo the latest approval or hiding of a comment"),
    ):
        q = actions.add_parser(name, parents=[common], help=text)
        q.add_argument("id", type=int, help="the comment's id")
        q.set_defaults(handler=queue_act, action=name)
    p = sub.add_parser("policy", parents=[common], help="show or set a story's comment policy")
    p.add_argument("id", type=int, help="the article's id")
    p.add_argument(
        "policy",
        nargs="?",
        choices=[*(str(c) for c in CommentPolicy), "default"],
        help="open, premoderated, closed, or default (the setting); none: show it",
    )
    add_slow_option(p)
    p.set_defaults(handler=policy)
    p = sub.add_parser("audit", parents=[common], help="the moderators' actions, newest first")
    p.add_argument("--limit", type=int, default=50, help="how many (default: 50)")
    p.set_defaults(handler=audit)


def _slow_seconds(value: str) -> int:
    try:
        return slowmode.parse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give 0 to {slowmode.SLOW_MAX} seconds, or none"
        ) from None


def add_slow_option(parser: argparse.ArgumentParser) -> None:
    """``--slow SECONDS``: a story's slow mode (``policy``, ``publish``)."""
    parser.add_argument(
        "--slow",
        type=_slow_seconds,
        metavar="SECONDS",
        help="slow mode: one comment per reader per SECONDS on every platform (0 or none: off)",
    )


def _position(value: str) -> QueuePosition:
    position = QueuePosition.parse(value)
    if position is None:
        raise argparse.ArgumentTypeError(f"not a queue position: {value!r}")
    return position


def item_json(item: ReviewItem, view: View = View.HELD) -> dict[str, Any]:
    """A queue item for scripts, with its ``position`` in ``view`` (for ``--after``)."""
    data: dict[str, Any] = plain(item)
    data["position"] = position_of(view, item).token()
    return data


async def queue_list(service: NewsService, args: argparse.Namespace) -> object:
    """``queue [list] [--view held|reported|recent] [--after POSITION]``: one tab of the
    queue, a page at a time."""
    view = View(args.view)
    items = await service.desk.queue(Actor.operator(), view, args.limit, args.after)
    if args.json:
        return [item_json(i, view) for i in items]
    if not items:
        return f"Nothing {args.view} in the queue."
    lines = [f"{'ID':>7}  {'ARTICLE':>7}  {'WHEN':<16}  {'AUTHOR':<32}  WHY / TEXT"]
    for item in items:
        c = item.comment
        author = one_line(f"{c.author.platform}:{c.author.user_id} {c.author.name}")[:32]
        why = ", ".join(item.reasons) or "-"
        if item.reports:
            why += f" ({item.reports} reports: {'; '.join(item.report_reasons)})"
        if item.decided_by:
            why += f" [{item.decision} by {item.decided_by}]"
        text = one_line(c.text)
        if len(text) > _TEXT_SHOWN:
            text = text[: _TEXT_SHOWN - 1] + "…"
        lines.append(
            f"{c.id:>7}  {c.article_id:>7}  {when(item.entered_at):<16}  {author:<32}  {why}\n"
            f"{'':>7}  {'':>7}  {c.status!s:<16}  {'':<32}  {text}"
        )
    if len(items) == args.limit:
        lines.append(f"Next page: --after {position_of(view, items[-1]).token()}")
    return "\n".join(lines)


async def queue_act(service: NewsService, args: argparse.Namespace) -> object:
    """``queue approve|hide|delete|ban|undo ID``."""
    desk, actor, comment_id = service.desk, Actor.operator(), CommentId(args.id)
    act = {
        "approve": desk.approve,
        "hide": desk.hide,
        "delete": desk.delete,
        "ban": desk.ban,
        "undo": desk.undo,
    }[args.action]
    outcome: Outcome = await act(actor, comment_id)
    if args.json:
        return {
            "action": str(outcome.action),
            "id": outcome.comment.id,
            "status": str(outcome.comment.status),
            "changed": outcome.changed,
            "detail": outcome.detail,
        }
    done = "" if outcome.changed else " (nothing to change)"
    detail = f": {outcome.detail}" if outcome.detail else ""
    return (
        f"{str(outcome.action).capitalize()} comment {outcome.comment.id}{done}{detail}; "
        f"it is {outcome.comment.status}."
    )


async def policy(service: NewsService, args: argparse.Namespace) -> object:
    """``policy ID [open|premoderated|closed|default] [--slow SECONDS]``: show or set a
    story's policy and slow mode."""
    article_id = ArticleId(args.id)
    if args.policy is None:
        await service.article(article_id)  # NotFound for no such article
        meets = await service.desk.policy(article_id)
    else:
        wanted = None if args.policy == "default" else parse(args.policy)
        meets = await service.desk.set_policy(Actor.operator(), article_id, wanted)
    if args.slow is None:
        slow = await service.desk.slow_mode(article_id)
    else:
        slow = await service.desk.set_slow_mode(Actor.operator(), article_id, args.slow)
    if args.json:
        return {"id": article_id, "policy": str(meets), "slow": slow}
    pace = f"; slow mode: one comment per reader every {slow} seconds" if slow else ""
    return f"Article {article_id}: comments are {_POLICY_TEXT[meets]}{pace}."


_POLICY_TEXT = {
    CommentPolicy.OPEN: "open",
    CommentPolicy.PREMODERATED: "pre-moderated (each waits for a moderator)",
    CommentPolicy.CLOSED: "closed",
}


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry for scripts."""
    data: dict[str, Any] = plain(entry)
    return data


async def audit(service: NewsService, args: argparse.Namespace) -> object:
    """``audit``: the moderators' actions, newest first."""
    entries = await service.desk.audit(Actor.operator(), args.limit)
    if args.json:
        return [entry_json(e) for e in entries]
    if not entries:
        return "No moderator has acted yet."
    return "\n".join(
        f"{when(e.at)}  {e.actor:<24}  {e.action:<12}  comment {e.comment_id}"
        + (f"  {one_line(e.detail)}" if e.detail else "")
        for e in entries
    )


def desk_settings(
    words_file: str,
    first_time: bool,
    reports_to_hide: int,
    policy: str = "open",
    close_after_days: float = 0,
) -> DeskSettings:
    """The desk's settings, the word list read from ``words_file`` (none when empty);
    stories close ``close_after_days`` after they were published (0: never).

    Raises:
        ConfigError: the file cannot be read as UTF-8 text.
    """
    words = None
    if words_file:
        try:
            words = WordList.from_text(Path(words_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"NEWSBOT_MODERATION_WORDS: cannot read {words_file}: {exc}"
            ) from exc
    return DeskSettings(
        words=words,
        first_time=first_time,
        reports_to_hide=reports_to_hide,
        policy=parse(policy),
        close_after=timedelta(days=close_after_days) if close_after_days > 0 else None,
    )
