"""A batch of reaction events decided at once (pure).

Reactions arrive by the thousand a second (``NewsService.reactions`` coalesces the calls of
every platform into batches); a store writes each batch in one unit of work, set-wise:

1. ``needs(events)``: what it reads first, in one query each: the messages' anonymous
   counts, and their readers' rows (every row of a message an event clears or counts with
   its readers, else only the rows of the readers the batch names).
2. ``decide_batch``: the events applied in arrival order, each against what the ones before
   it left (``reactions.decide``: the latest event wins), and per message the net change
   (``MessageChange``) to write.
3. ``reader_keys`` and ``tally_deltas`` (for a store that keeps per-target counts beside
   the rows, so that reading an article's counts does not read every reader's row): a
   reader counts once per target, platform and emoji however many copies they reacted on,
   and a banned reader not at all, so the store reads how many rows each touched
   ``(target, platform, reader, emoji)`` had before the batch and the readers' bans, and
   adds the deltas.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from newsbot.models import ArticleId, CommentId, MessageLink, MessageRef, Platform
from newsbot.reactions import MessageReactions, ReactionEvent, ReactionOp, Target, decide

_WHOLE = (ReactionOp.CLEAR, ReactionOp.CLEAR_EMOJI)

TallyKey = tuple[ArticleId, CommentId | None, Platform, str]
"""A per-target count: (article, comment or ``None`` for the article, platform, emoji)."""

ReaderKey = tuple[ArticleId, CommentId | None, Platform, str, str]
"""One reader's reaction on a target: (article, comment, platform, reader, emoji)."""


@dataclass(frozen=True, slots=True)
class Needs:
    """What a store reads before deciding a batch."""

    messages: tuple[MessageRef, ...]  # every message of the batch (links, anonymous counts)
    whole: tuple[MessageRef, ...]  # messages whose every reader row is read
    readers: tuple[tuple[MessageRef, str], ...]  # else the rows of these (message, reader)


def needs(events: Iterable[ReactionEvent]) -> Needs:
    """What ``decide_batch`` must be given for ``events``: ``decide`` reads only the event's
    reader's rows, except where an event clears a message or counts it with its readers."""
    events = list(events)
    whole = {
        e.message
        for e in events
        if e.op in _WHOLE or (e.op is ReactionOp.COUNTS and e.includes_readers)
    }
    readers = {(e.message, e.reader) for e in events if e.message not in whole and e.reader}
    return Needs(
        tuple(sorted({e.message for e in events}, key=_order)),
        tuple(sorted(whole, key=_order)),
        tuple(sorted(readers, key=lambda item: (_order(item[0]), item[1]))),
    )


@dataclass(frozen=True, slots=True)
class MessageChange:
    """The net change of one message's rows after a batch.

    ``remove`` rows are deleted before ``add`` rows are inserted (a reaction taken back and
    made again within the batch is both: its time is the later one); ``anonymous`` replaces
    the message's anonymous counts whole (``None``: unchanged), counted at ``at``."""

    message: MessageRef
    target: Target
    at: datetime
    remove: tuple[tuple[str, str], ...]
    add: tuple[tuple[str, str, datetime], ...]
    anonymous: tuple[tuple[str, int], ...] | None
    anonymous_before: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a batch does: per event the target it counted for (``None``: nothing changed),
    and per message the rows to write."""

    landed: tuple[Target | None, ...]
    changes: tuple[MessageChange, ...]

    def articles(self) -> dict[ArticleId, datetime]:
        """The articles whose counts changed, with the latest change of each."""
        found: dict[ArticleId, datetime] = {}
        for change in self.changes:
            article_id = change.target.article_id
            found[article_id] = max(found.get(article_id, change.at), change.at)
        return dict(sorted(found.items()))


@dataclass(slots=True)
class _Message:
    rows: dict[tuple[str, str], datetime | None]  # None: stored before the batch, kept
    anonymous: dict[str, int]
    target: Target | None = None
    at: datetime | None = None
    counted: datetime | None = None


def decide_batch(
    events: Sequence[ReactionEvent],
    links: Mapping[MessageRef, MessageLink | None],
    current: Mapping[MessageRef, MessageReactions],
    *,
    allowed: Sequence[str] | None = None,
) -> BatchPlan:
    """Apply ``events`` in order, each as ``reactions.decide`` would against what the ones
    before it left; ``links`` and ``current`` hold what ``needs`` names (a message absent
    from ``links`` is unknown, from ``current`` has nothing stored)."""
    state: dict[MessageRef, _Message] = {}
    landed: list[Target | None] = []
    for event in events:
        ref = event.message
        message = state.get(ref)
        if message is None:
            start = current.get(ref, MessageReactions())
            message = state[ref] = _Message(dict.fromkeys(start.readers), dict(start.anonymous))
        now = MessageReactions(frozenset(message.rows), message.anonymous)
        plan = decide(event, links.get(ref), now, allowed=allowed)
        landed.append(None if plan is None else plan.target)
        if plan is None:
            continue
        for key in plan.remove:
            message.rows.pop(key, None)
        for key in plan.add:
            message.rows[key] = plan.at
        if plan.anonymous is not None:
            message.anonymous, message.counted = dict(plan.anonymous), plan.at
        message.target = plan.target
        message.at = plan.at if message.at is None else max(message.at, plan.at)
    changes = [
        _change(ref, message, current.get(ref, MessageReactions()))
        for ref, message in sorted(state.items(), key=lambda item: _order(item[0]))
        if message.target is not None and message.at is not None
    ]
    return BatchPlan(tuple(landed), tuple(changes))


def _change(ref: MessageRef, message: _Message, before: MessageReactions) -> MessageChange:
    assert message.target is not None
    assert message.at is not None
    kept = {key for key, at in message.rows.items() if at is None}
    return MessageChange(
        ref,
        message.target,
        message.at,
        tuple(sorted(before.readers - kept)),
        tuple(sorted((r, e, at) for (r, e), at in message.rows.items() if at is not None)),
        None if message.counted is None else _pairs(message.anonymous),
        _pairs(before.anonymous),
    )


def _pairs(counts: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((e, n) for e, n in counts.items() if n > 0))


def _order(ref: MessageRef) -> tuple[str, str, str]:
    return str(ref.platform), ref.chat_id, ref.message_id


# -- per-target counts kept beside the rows ---------------------------------------------


def reader_keys(changes: Iterable[MessageChange]) -> list[tuple[ArticleId, Platform, str]]:
    """The (article, platform, reader) whose rows a store counts before writing ``changes``
    (``tally_deltas``'s ``before``)."""
    found = {
        (c.target.article_id, c.message.platform, reader)
        for c in changes
        for reader, _ in (*c.remove, *((r, e) for r, e, _ in c.add))
    }
    return sorted(found)


def tally_deltas(
    changes: Iterable[MessageChange],
    before: Mapping[ReaderKey, int],
    banned: Iterable[tuple[Platform, str]],
) -> dict[TallyKey, tuple[int, int]]:
    """What ``changes`` add to each per-target count, as (readers, anonymous).

    ``before`` is how many rows each ``ReaderKey`` had before the batch, on every message of
    the target (a key not named had none); a reader counts once per key, and a reader in
    ``banned`` not at all (the ban took them off the counts already)."""
    left_out = set(banned)
    rows: Counter[ReaderKey] = Counter()
    readers: Counter[TallyKey] = Counter()
    anonymous: Counter[TallyKey] = Counter()
    for change in changes:
        article_id, comment_id = change.target.article_id, change.target.comment_id
        platform = change.message.platform
        for reader, emoji in change.remove:
            rows[(article_id, comment_id, platform, reader, emoji)] -= 1
        for reader, emoji, _ in change.add:
            rows[(article_id, comment_id, platform, reader, emoji)] += 1
        if change.anonymous is not None:
            anonymous.update(
                {(article_id, comment_id, platform, e): n for e, n in change.anonymous}
            )
            anonymous.subtract(
                {(article_id, comment_id, platform, e): n for e, n in change.anonymous_before}
            )
    for key, moved in rows.items():
        article_id, comment_id, platform, reader, emoji = key
        was = before.get(key, 0)
        step = int(was + moved > 0) - int(was > 0)
        if step and (platform, reader) not in left_out:
            readers[(article_id, comment_id, platform, emoji)] += step
    keys = sorted(
        {k for k, n in readers.items() if n} | {k for k, n in anonymous.items() if n},
        key=lambda k: (k[0], k[1] or 0, k[2], k[3]),
    )
    return {k: (readers[k], anonymous[k]) for k in keys}
