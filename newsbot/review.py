"""The moderation desk's values and pure rules: why a comment waits for a moderator, what
a moderator decided, the audit log's entries, and the word list.

Nothing here does I/O. The use cases are in ``newsbot.desk``; the storage port is
``newsbot.ports.desk.DeskStore``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from newsbot.limits import Held
from newsbot.models import Comment, CommentId
from newsbot.policy import CommentPolicy
from newsbot.text import name_key


class Reason(StrEnum):
    """Why a comment is in the moderation queue."""

    AUTHOR = "author"
    """Held: its author was over the intake limit."""
    CHAT = "chat"
    """Held: the chat it was written in was over the intake limit."""
    SLOW_MODE = "slow mode"
    """Held: the chat was in slow mode and its author had had their share."""
    PREMODERATED = "premoderated"
    """Held: the story's comments wait for a moderator."""
    CLOSED = "closed"
    """Held: the story is closed to comments (a Telegram reply cannot be refused)."""
    SLOW = "slow"
    """Held: the story is in slow mode and its reader commented on it too recently (a
    Telegram reply cannot be refused; ``newsbot.slowmode``)."""
    WORDS = "words"
    """Held: it contains a word of the operator's list."""
    FIRST_TIME = "first time"
    """Held: its author's first comment (when the operator asks for that)."""
    REPORTED = "reported"
    """Readers reported it."""


HELD_BY_LIMIT = {
    Held.AUTHOR: Reason.AUTHOR,
    Held.CHAT: Reason.CHAT,
    Held.SLOW_MODE: Reason.SLOW_MODE,
}


class Decision(StrEnum):
    """What became of a queue item."""

    OPEN = "open"
    """Waiting for a moderator."""
    APPROVED = "approved"
    """Shown (and mirrored)."""
    HIDDEN = "hidden"
    """Kept hidden."""
    DELETED = "deleted"
    """Deleted everywhere (or its author banned)."""


class View(StrEnum):
    """The queue's tabs."""

    HELD = "held"
    """Open items whose comment is hidden: waiting to be shown or kept hidden."""
    REPORTED = "reported"
    """Open items that readers reported, most reported first."""
    RECENT = "recent"
    """Items decided lately, newest decision first (to undo one)."""


class Action(StrEnum):
    """What the audit log records."""

    APPROVE = "approve"
    HIDE = "hide"
    DELETE = "delete"
    BAN = "ban"
    UNDO_APPROVE = "undo approve"
    UNDO_HIDE = "undo hide"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A comment in the moderation queue.

    Attributes:
        comment: the comment as stored (its status says whether readers see it).
        reasons: why it is there, in the order they arose (``Reason`` values).
        reports: how many readers reported it (each counted once).
        report_reasons: what the reporters said, oldest first.
        entered_at: when it entered the queue (first time).
        decision: what a moderator decided (``Decision.OPEN`` while it waits).
        decided_by: who decided (``platform:user_id``), if anybody.
        decided_at: when.
    """

    comment: Comment
    reasons: tuple[str, ...]
    reports: int
    report_reasons: tuple[str, ...]
    entered_at: datetime
    decision: Decision = Decision.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One moderator's action, as the audit log keeps it.

    Attributes:
        id: its place in the log (ascending).
        at: when.
        actor: who (``platform:user_id``, ``cli:`` for the operator's command line).
        action: what (an ``Action`` value).
        comment_id: on which comment.
        detail: what else is worth keeping (the banned author, say).
    """

    id: int
    at: datetime
    actor: str
    action: str
    comment_id: CommentId
    detail: str = ""


@dataclass(frozen=True, slots=True)
class QueuePosition:
    """Where the next page of a queue tab starts (keyset paging): after the item with
    ``reports`` reports, entered (held, reported) or decided (recent) at ``at``, on
    ``comment_id``. A tab's order is its key: held ``(at, id)`` ascending, reported
    ``(-reports, at, id)`` ascending, recent ``(at, id)`` descending."""

    at: datetime
    comment_id: CommentId
    reports: int = 0

    def token(self) -> str:
        """The position as a page address carries it: ``MICROS.ID.REPORTS``."""
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.comment_id}.{self.reports}"

    @classmethod
    def parse(cls, token: str) -> QueuePosition | None:
        """The position ``token`` carries, or ``None`` when it is not one (a page address
        typed by hand starts the tab over)."""
        match = _POSITION.fullmatch(token)
        if match is None:
            return None
        micros, comment_id, reports = (int(g) for g in match.groups())
        try:
            at = _EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            return None
        return cls(at, CommentId(comment_id), reports)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# At most 18 digits each: within the stores' 64-bit integers and datetime's range.
_POSITION = re.compile(r"(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,8})")


def position_of(view: View, item: ReviewItem) -> QueuePosition:
    """The position just after ``item`` in ``view``."""
    if view is View.RECENT and item.decided_at is not None:
        return QueuePosition(item.decided_at, item.comment.id, item.reports)
    return QueuePosition(item.entered_at, item.comment.id, item.reports)


def merge_reasons(old: Iterable[str], new: Iterable[str]) -> tuple[str, ...]:
    """``old`` then what ``new`` adds, each once."""
    return tuple(dict.fromkeys([*old, *new]))


def merge_items(
    items: Iterable[tuple[CommentId, Sequence[str]]],
) -> dict[CommentId, tuple[str, ...]]:
    """Comments entering the queue together (``DeskStore.hold_comments``): each once, with
    every reason it was named for (``merge_reasons``), in the order first named."""
    merged: dict[CommentId, tuple[str, ...]] = {}
    for comment_id, reasons in items:
        merged[comment_id] = merge_reasons(merged.get(comment_id, ()), reasons)
    return merged


def parse_reasons(value: str) -> tuple[str, ...]:
    """Reasons as stored: comma-separated (no reason holds a comma)."""
    return tuple(r for r in value.split(",") if r)


def reasons_text(reasons: Sequence[str]) -> str:
    """Reasons as stored."""
    return ",".join(reasons)


_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[\W_]+")


def words_key(text: str, separators: re.Pattern[str] = _SPACES) -> str:
    """Text as the word list compares it: each word (between ``separators``) by
    ``newsbot.text.name_key`` (NFKC/NFKD, case folding, look-alikes of other scripts and
    styled letters made plain ASCII, punctuation inside a word dropped), the words joined
    by single spaces and padded with one at each end."""
    words = (name_key(w) for w in separators.split(unicodedata.normalize("NFKC", text)))
    return " " + " ".join(w for w in words if w) + " "


class WordList:
    """Words and phrases that hold a comment for a moderator, matched as whole words on
    normalised text (``words_key``): "Spam", "ＳＰＡＭ", "s.p.a.m" and a Cyrillic "ѕраm"
    "<b>spam</b>" all match "spam"; "spammer" does not.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        keys = (words_key(e).strip() for e in entries if not e.lstrip().startswith("#"))
        self.keys = tuple(dict.fromkeys(k for k in keys if k))

    @classmethod
    def from_text(cls, text: str) -> WordList:
        """One word or phrase a line; blank lines and ``#`` comments are skipped."""
        return cls(text.splitlines())

    def __bool__(self) -> bool:
        return bool(self.keys)

    def match(self, text: str) -> str | None:
        """The first listed word or phrase ``text`` contains, else ``None``."""
        if not self.keys:
            return None
        # Words between spaces ("s.p.a.m" is one) and between any punctuation ("<b>spam</b>").
        keys = (words_key(text), words_key(text, _NOT_WORD))
        for word in self.keys:
            if any(f" {word} " in key for key in keys):
                return word
        return None


@dataclass(frozen=True, slots=True)
class DeskSettings:
    """What the operator set for the moderation desk.

    Attributes:
        words: comments with one of these words or phrases are held.
        first_time: hold each author's first comment (until one of theirs was approved).
        reports_to_hide: this many readers' reports hide a comment pending review (0: never).
        policy: the comment policy of stories that have none of their own.
        close_after: stories close to comments this long after they were published, unless
            a policy of their own was set (``None``: never).
    """

    words: WordList | None = None
    first_time: bool = False
    reports_to_hide: int = 3
    policy: CommentPolicy = CommentPolicy.OPEN
    close_after: timedelta | None = None


def hold_reasons(
    settings: DeskSettings,
    limit: Held | None,
    text: str,
    *,
    first_time: bool = False,
) -> tuple[Reason, ...]:
    """Why an arriving comment is held for a moderator (empty: it is not).

    ``limit`` is what the intake limits said; ``first_time`` whether its author has no
    visible comment yet (asked only when ``settings.first_time``).
    """
    reasons: list[Reason] = []
    if limit is not None:
        reasons.append(HELD_BY_LIMIT[limit])
    if settings.words is not None and settings.words.match(text) is not None:
        reasons.append(Reason.WORDS)
    if settings.first_time and first_time:
        reasons.append(Reason.FIRST_TIME)
    return tuple(reasons)


def actor_key(platform: str, user_id: str) -> str:
    """Who acted, as the audit log and the queue name them."""
    return f"{platform}:{user_id}"
