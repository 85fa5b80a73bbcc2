"""How the CLI prints: domain objects as JSON for scripts, safe for a terminal."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from datetime import datetime
from enum import Enum
from typing import Any, TextIO

from newsbot import Article, Comment, CommentNode, NewsService
from newsbot.feeds import PollResult
from newsbot.models import Feed
from newsbot.text import strip_control_chars

# A terminal takes ESC [ and U+009B as the start of a command. json.dumps escapes C0 control
# characters but, with ensure_ascii=False, writes DEL, C1 and lone surrogates as they are.
_RAW_IN_JSON = re.compile("[\x7f-\x9f\ud800-\udfff]")


def json_text(value: object, indent: int | None = None) -> str:
    """JSON that is safe to print to a terminal: every control character escaped."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def error(args: object, message: str, *, prefix: str = "error", kind: str = "error") -> int:
    """Print one error on stderr: a line, or with ``--json`` a JSON object scripts can read
    (``{"error": {"kind": ..., "message": ...}}``). Returns the exit status, 1."""
    message = strip_control_chars(message)
    if getattr(args, "json", False):
        print(json_text({"error": {"kind": kind, "message": message}}), file=sys.stderr)
    else:
        print(f"{prefix}: {message}", file=sys.stderr)
    return 1


class Progress:
    """Progress of long work on stderr: one line rewritten in place on a terminal, else a
    line at every tenth of each part (a log or a pipe is not flooded)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._shown: tuple[str, int] = ("", -1)

    def __call__(self, label: str, done: int, total: int, unit: str = "rows") -> None:
        """Report ``done`` of ``total`` for the part called ``label``."""
        tenth = 10 if total <= 0 else done * 10 // total
        if self.tty:
            end = "\n" if done >= total else ""
            print(f"\r{label}: {done}/{total} {unit}", end=end, file=self.stream, flush=True)
        elif (label, tenth) != self._shown:
            print(f"{label}: {done}/{total} {unit}", file=self.stream, flush=True)
        self._shown = (label, tenth)


def plain(value: Any) -> Any:
    """A dataclass (and what it holds) as JSON-ready dicts, lists and strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def when(value: datetime | None) -> str:
    """A time to the minute, or ``-``."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def article_json(service: NewsService, article: Article) -> dict[str, Any]:
    """An article with its page's address and its canonical one."""
    data = plain(article)
    data["url"] = service.article_url(article.id)
    data["canonical_url"] = article.url
    return dict(data)


def comment_json(node: CommentNode) -> dict[str, Any]:
    """A comment with its replies, nested."""
    top = _comment_fields(node.comment)
    stack = [(node, top)]
    while stack:  # a stack, not recursion: a reply chain may be thousands deep
        current, data = stack.pop()
        for reply in current.replies:
            child = _comment_fields(reply.comment)
            data["replies"].append(child)
            stack.append((reply, child))
    return top


def _comment_fields(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "article_id": comment.article_id,
        "parent_id": comment.parent_id,
        "author_name": comment.author.name,
        "platform": str(comment.author.platform),
        "text": comment.text,
        "status": str(comment.status),
        "created_at": comment.created_at.isoformat(),
        "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
        "replies": [],
    }


def feed_json(feed: Feed) -> dict[str, Any]:
    """A feed as ``feed list --json`` prints it."""
    data: dict[str, Any] = plain(feed)
    data["state"] = "active" if feed.active else "inactive"
    return data


def poll_json(result: PollResult) -> dict[str, Any]:
    """A poll as ``feed poll --json`` prints it."""
    return {
        "feed": feed_json(result.feed),
        "status": result.status,
        "published": result.published,
        "edited": result.edited,
        "recorded": result.recorded,
        "problems": list(result.problems),
        "error": result.error,
    }
