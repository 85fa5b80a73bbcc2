"""Reactions from every platform, aggregated (pure).

A platform tells us about reactions on one of its messages; ``decide`` says what that changes
for the message's rows, and where the message's reactions count (its *target*): the article
for one of the article's posts or copies, the comment for a comment written as that message or
for a mirrored copy of it (found through the message links the mirroring keeps). ``tally``
turns the stored rows of an article back into counts, per article and per comment, per
platform and emoji.

Two kinds of rows are kept per message:

- a reader's reaction, ``(reader, emoji)``: a reader identity is ``(platform, user id)``, as
  authors are (on the web, the commenter identity derived from the session). One per reader
  per emoji per target on platforms that allow several reactions; one per reader per target on
  the web (a new one replaces the old one).
- anonymous counts, ``emoji -> count``: what a platform gives without readers (Telegram's
  ``message_reaction_count`` on channel posts; a Discord message's counts read back after
  downtime, minus the readers already known), stored as absolute counts per message. A
  message read back is reconciled: where its count of an emoji fell below the readers known to
  have it (removals unseen), those readers' rows give way to the bare count.

Reactions of banned readers are kept but not counted (unbanning counts them again); a
comment that is not visible shows no counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from newsbot.mirroring import refresh_due, refresh_interval
from newsbot.models import ArticleId, CommentId, CountRefresh, MessageLink, MessageRef, Platform

EMOJI_MAX = 64
"""Longest reaction key kept (an emoji, or a platform's custom emoji id)."""

READER_EMOJIS_MAX = 20
"""Most reactions one reader may have on one message (Discord allows 20 distinct ones)."""

WEB_REACTIONS = ("👍", "❤️", "😂", "😮", "😢")
"""The reactions the web page offers unless configured otherwise."""

WEB_OFFERED_MAX = 12
"""Most reactions the web page may offer."""


class ReactionOp(StrEnum):
    """What a platform said happened on a message."""

    SET = "set"  # the reader's reactions on the message are now ``emojis`` (empty: none)
    ADD = "add"  # the reader added ``emojis[0]``
    REMOVE = "remove"  # the reader removed ``emojis[0]``
    CLEAR = "clear"  # every reaction on the message was removed
    CLEAR_EMOJI = "clear_emoji"  # every ``emojis[0]`` on the message was removed
    COUNTS = "counts"  # the message's counts are now ``counts`` (see ``includes_readers``)


@dataclass(frozen=True, slots=True)
class Target:
    """What reactions count for: an article, or one of its comments."""

    article_id: ArticleId
    comment_id: CommentId | None = None


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    """One change of reactions on one message, as a platform reports it.

    Attributes:
        message: the message reacted on (a post, a copy, a comment's own message). A web
            reaction names its ``target`` and uses ``web_message(target)``.
        op: what happened.
        at: when (timezone-aware UTC).
        reader: the reader's user id on ``message.platform`` ('' for ``CLEAR``,
            ``CLEAR_EMOJI`` and ``COUNTS``).
        emojis: the reactions concerned (see ``ReactionOp``).
        counts: for ``COUNTS``, ``(emoji, count)`` pairs; an emoji not named has none.
        includes_readers: for ``COUNTS``, whether the counts include the readers already
            known (a Discord message read back) or only anonymous reactions (Telegram).
        target: for the web, where the reaction goes; chat reactions are resolved through
            the message links instead.
    """

    message: MessageRef
    op: ReactionOp
    at: datetime
    reader: str = ""
    emojis: tuple[str, ...] = ()
    counts: tuple[tuple[str, int], ...] = ()
    includes_readers: bool = False
    target: Target | None = None


@dataclass(frozen=True, slots=True)
class MessageReactions:
    """What is stored for one message: readers' reactions and anonymous counts."""

    readers: frozenset[tuple[str, str]] = frozenset()  # (reader, emoji)
    anonymous: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReactionPlan:
    """What to write for one event: rows of ``message`` removed and added, and the message's
    anonymous counts replaced whole (``None``: unchanged)."""

    message: MessageRef
    target: Target
    at: datetime
    remove: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    anonymous: tuple[tuple[str, int], ...] | None = None


def web_message(target: Target) -> MessageRef:
    """The key under which web reactions on ``target`` are stored."""
    return MessageRef(
        Platform.WEB, f"article:{target.article_id}", f"comment:{target.comment_id or 0}"
    )


def target_of(link: MessageLink | None) -> Target | None:
    """Where reactions on a linked message count: its comment if it carries one (a mirrored
    copy, or the comment's own message), else its article (a post or a copy of it)."""
    if link is None:
        return None
    return Target(link.article_id, link.comment_id)


def clean_emoji(emoji: str) -> str | None:
    """A reaction key as stored, or ``None`` when it cannot be one."""
    emoji = emoji.strip()
    if not emoji or len(emoji) > EMOJI_MAX or not emoji.isprintable():
        return None
    return emoji


def decide(
    event: ReactionEvent,
    link: MessageLink | None,
    current: MessageReactions,
    *,
    allowed: Sequence[str] | None = None,
) -> ReactionPlan | None:
    """What ``event`` changes for its message, or ``None`` when nothing counts.

    ``link`` is what the message carries (``None``: unknown, the reaction is ignored);
    ``current`` is what the message has stored. ``allowed`` limits the reactions accepted
    (the web's configured set). On the web a reader holds one reaction per target.
    """
    target = target_of(link)
    if target is None:
        return None
    emojis = _clean(event.emojis, allowed)
    reader = event.reader
    mine = {e for r, e in current.readers if r == reader}
    anonymous = dict(current.anonymous)
    remove: set[str] = set()
    add: set[str] = set()
    if event.op is ReactionOp.SET:
        wanted = set(emojis[-1:] if event.message.platform is Platform.WEB else emojis)
        remove, add = mine - wanted, wanted - mine
    elif event.op is ReactionOp.ADD and emojis:
        if event.message.platform is Platform.WEB:
            remove = mine - {emojis[0]}
        add = {emojis[0]} - mine
    elif event.op is ReactionOp.REMOVE and emojis:
        if emojis[0] in mine:
            remove = {emojis[0]}
        elif anonymous.get(emojis[0], 0) > 0:
            # A reaction made while we could not see it (counted anonymously) is taken back.
            anonymous[emojis[0]] -= 1
    elif event.op is ReactionOp.CLEAR:
        return ReactionPlan(
            event.message, target, event.at, tuple(sorted(current.readers)), (), ()
        )
    elif event.op is ReactionOp.CLEAR_EMOJI and emojis:
        gone = tuple(sorted((r, e) for r, e in current.readers if e == emojis[0]))
        anonymous.pop(emojis[0], None)
        return ReactionPlan(event.message, target, event.at, gone, (), _pairs(anonymous))
    elif event.op is ReactionOp.COUNTS:
        return _counted(event, target, current, allowed)
    if len(mine - remove | add) > READER_EMOJIS_MAX:
        add = set()
    plan = ReactionPlan(
        event.message,
        target,
        event.at,
        tuple(sorted((reader, e) for e in remove)),
        tuple(sorted((reader, e) for e in add)),
        None if anonymous == dict(current.anonymous) else _pairs(anonymous),
    )
    if not (plan.remove or plan.add or plan.anonymous is not None):
        return None
    return plan


def _clean(emojis: Iterable[str], allowed: Sequence[str] | None) -> list[str]:
    found: list[str] = []
    for raw in emojis:
        emoji = clean_emoji(raw)
        if emoji is None or (allowed is not None and emoji not in allowed) or emoji in found:
            continue
        found.append(emoji)
    return found


def _counted(
    event: ReactionEvent, target: Target, current: MessageReactions, allowed: Sequence[str] | None
) -> ReactionPlan | None:
    """A message's counts as the platform gives them, made the message's state.

    Without ``includes_readers`` the counts are anonymous ones, replaced whole. With it (a
    message read back) they are absolute: per emoji, the readers known to have it are kept
    when the count still holds them all, the rest counted anonymously; when the count fell
    below them (removals made while we could not see them, by readers we cannot tell apart)
    that emoji's reader rows give way to the bare count, and so do an emoji's rows when the
    message no longer has it.
    """
    counts: dict[str, int] = {}
    for raw, count in event.counts:
        emoji = clean_emoji(raw)
        if emoji is not None and (allowed is None or emoji in allowed) and count > 0:
            counts[emoji] = counts.get(emoji, 0) + count
    gone: tuple[tuple[str, str], ...] = ()
    if event.includes_readers:
        known = Counter(e for _, e in current.readers)
        stale = {e for e, n in known.items() if counts.get(e, 0) < n}
        gone = tuple(sorted((r, e) for r, e in current.readers if e in stale))
        counts = {e: n - (0 if e in stale else known[e]) for e, n in counts.items()}
    anonymous = _pairs(counts)
    if not gone and anonymous == _pairs(current.anonymous):
        return None
    return ReactionPlan(event.message, target, event.at, gone, (), anonymous)


def _pairs(counts: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((e, n) for e, n in counts.items() if n > 0))


# -- counting -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReaderRow:
    """A stored reader's reaction, as the tally reads it."""

    comment_id: CommentId | None
    platform: Platform
    reader: str
    emoji: str
    banned: bool = False


@dataclass(frozen=True, slots=True)
class AnonymousRow:
    """A stored anonymous count of one message, as the tally reads it."""

    comment_id: CommentId | None
    platform: Platform
    emoji: str
    count: int


@dataclass(frozen=True, slots=True)
class Tally:
    """Reactions on one target (or several): how many of each emoji, per platform."""

    counts: Mapping[tuple[Platform, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every reaction counted."""
        return sum(self.counts.values())

    def by_emoji(self) -> dict[str, int]:
        """Counts per emoji, every platform together, most frequent first."""
        found: Counter[str] = Counter()
        for (_, emoji), count in self.counts.items():
            found[emoji] += count
        return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))

    def by_platform(self) -> dict[Platform, int]:
        """Counts per platform."""
        found: Counter[Platform] = Counter()
        for (platform, _), count in self.counts.items():
            found[platform] += count
        return dict(sorted(found.items()))

    def __add__(self, other: Tally) -> Tally:
        merged = Counter(self.counts)
        merged.update(other.counts)
        return Tally(dict(merged))


@dataclass(frozen=True, slots=True)
class ReactionCounts:
    """An article's reactions: on the article itself, and on each visible comment."""

    article_id: ArticleId
    article: Tally = field(default_factory=Tally)
    comments: Mapping[CommentId, Tally] = field(default_factory=dict)

    def everything(self) -> Tally:
        """The article's and its visible comments' reactions together."""
        whole = self.article
        for tally in self.comments.values():
            whole = whole + tally
        return whole


def tally(
    article_id: ArticleId,
    readers: Iterable[ReaderRow],
    anonymous: Iterable[AnonymousRow],
    hidden: Iterable[CommentId] = (),
) -> ReactionCounts:
    """Count an article's stored reactions.

    A reader counts once per target and emoji, however many copies of the target they
    reacted on; banned readers do not count; comments in ``hidden`` (not visible) show none.
    """
    unseen = set(hidden)
    seen: set[tuple[CommentId | None, Platform, str, str]] = set()
    counts: dict[CommentId | None, Counter[tuple[Platform, str]]] = {}
    for row in readers:
        key = (row.comment_id, row.platform, row.reader, row.emoji)
        if row.banned or row.comment_id in unseen or key in seen:
            continue
        seen.add(key)
        counts.setdefault(row.comment_id, Counter())[(row.platform, row.emoji)] += 1
    for anon in anonymous:
        if anon.comment_id in unseen or anon.count <= 0:
            continue
        counts.setdefault(anon.comment_id, Counter())[(anon.platform, anon.emoji)] += anon.count
    own = counts.pop(None, Counter())
    return ReactionCounts(
        article_id,
        Tally(dict(sorted(own.items()))),
        {c: Tally(dict(sorted(n.items()))) for c, n in sorted(counts.items()) if c is not None},
    )


def from_tally(
    article_id: ArticleId, found: Iterable[tuple[CommentId | None, Platform, str, int]]
) -> ReactionCounts:
    """An article's counts from per-target counts a store keeps (banned readers and hidden
    comments already left out): (comment or ``None``, platform, emoji, count)."""
    counts: dict[CommentId | None, dict[tuple[Platform, str], int]] = {}
    for comment_id, platform, emoji, count in found:
        if count > 0:
            counts.setdefault(comment_id, {})[(platform, emoji)] = count
    own = counts.pop(None, {})
    return ReactionCounts(
        article_id,
        Tally(dict(sorted(own.items()))),
        {c: Tally(dict(sorted(n.items()))) for c, n in sorted(counts.items()) if c is not None},
    )


def total(
    readers: Iterable[tuple[CommentId | None, str, str, str, bool]],
    anonymous: Iterable[tuple[CommentId | None, int]],
    hidden: Iterable[CommentId] = (),
) -> int:
    """``tally(...).everything().total`` from plain rows, for a post's count line: readers as
    (comment, platform, reader, emoji, banned), anonymous counts as (comment, count)."""
    unseen = set(hidden)
    counted = {
        (comment, platform, reader, emoji)
        for comment, platform, reader, emoji, banned in readers
        if not banned and comment not in unseen
    }
    return len(counted) + sum(n for comment, n in anonymous if comment not in unseen and n > 0)


def summary(tally_: Tally, limit: int = 5) -> str:
    """A short line of counts for a post or a chat answer: ``👍 3 · ❤️ 1``."""
    return " · ".join(
        f"{emoji} {count}" for emoji, count in list(tally_.by_emoji().items())[:limit]
    )


def refreshes(
    posts: Sequence[tuple[int, bool, datetime]], pace: CountRefresh, at: datetime
) -> list[tuple[int, datetime]]:
    """The article's posts to edit so that their count line shows new reaction totals, at
    the comment count's pace (``newsbot.mirroring.refresh_interval``): ``posts`` are the
    article's own deliveries as (id, settled, last sent or edited), and the answer the
    settled ones with when each may be edited, never before ``at``."""
    interval = refresh_interval(pace, len(posts))
    return [
        (post, refresh_due(at, updated, interval)) for post, settled, updated in posts if settled
    ]
