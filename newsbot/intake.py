"""What becomes of a batch of arriving comments, decided once for every store.

A store takes comments in batches (group commit). For each batch it looks up, in the
transaction that will write it, what the rules need to know (``Lookups``: what ``needs``
names, in as few round trips as the backend allows), asks ``decide`` for a ``Plan``, and writes
the plan set-wise. The rules live here, not in SQL::

    batch ──needs()──► store looks up ──Lookups──► decide() ──Plan──► store writes set-wise
                                                                  └──► results() for callers

In order, for each comment of the batch (see ``Store.ingest_comment``):

1. a comment already stored for its source message is returned as it is (``Known``), and the
   same message twice in a batch is stored once (``Repeat``);
2. a banned author's comment is dropped;
3. ``reply_to`` is resolved: to a comment earlier in the same batch, else through the link of
   a message the bot posted or a comment stored before; an unknown target drops the comment;
4. a comment on an article that is missing or not published is dropped;
5. a parent outside the article is forgotten (the comment becomes top-level); the root is the
   parent's root;
6. the comment is stored (``Accepted``), hidden when the service said so or when the
   article's comment policy is not open (``newsbot.policy.effective``: pre-moderated, or
   closed), or when the story is in slow mode and its reader's last visible comment on it
   is more recent than that (``newsbot.slowmode``: held ``slow``); a visible one is
   mirrored (``newsbot.mirroring.mirror_targets``) when asked,
   and asks for the article's posts to show the new count (``Refresh``) at the pace the
   service gave.

``needs`` and ``decide`` take the batch as ``IncomingComment`` values or flattened to
``Arrival`` tuples (what SQLite's writer process receives: cheap to carry between processes);
``results`` reads the plan's outcomes or the same as columns (``Answer``, what that process
sends back). Nothing here does I/O; every input is a value.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, TypeVar, cast

from newsbot import slowmode
from newsbot.mirroring import ArticlePost, mirror_targets, refresh_due, refresh_interval
from newsbot.models import (
    ArticleId,
    Comment,
    CommentId,
    CommentStatus,
    CountRefresh,
    DestinationId,
    IncomingComment,
    MessageLink,
    MessageRef,
    Platform,
)
from newsbot.policy import CommentPolicy, Story, effective

_T = TypeVar("_T")
_OPEN = CommentPolicy.OPEN

SLOW = "slow"
"""``Accepted.held`` of a comment held by its story's slow mode."""

__all__ = [
    "Accepted",
    "Answer",
    "Arrival",
    "ArticlePost",
    "Known",
    "Lineage",
    "Lookups",
    "Needs",
    "Outcome",
    "Plan",
    "Refresh",
    "Repeat",
    "Stored",
    "answer",
    "arrival",
    "arrival_values",
    "arrivals",
    "decide",
    "held_by",
    "needs",
    "results",
    "stored",
]


# A message as a plain (platform, chat, message) tuple: inside a batch messages are looked up
# by these, as a tuple hashes in C and a MessageRef in Python, and a batch of 2,000 looks each
# up several times.
MessageKey = tuple[Platform, str, str]


class Arrival(NamedTuple):
    """An ``IncomingComment`` flattened to plain values: what the intake reads of it.

    ``decide`` takes either form. A store that carries batches to another process sends this
    one: a tuple of strings, numbers and datetimes is rebuilt without running Python for each
    comment, where an ``IncomingComment`` is rebuilt field by field with its two
    ``MessageRef`` and its ``Author``. ``arrival`` makes one.

    Attributes:
        source: the source message's key (``IncomingComment.source``).
        author: the author's ``(platform, user_id)``.
        author_name: the author's name.
        text: the cleaned text.
        created_at: when it was written.
        reply_to: the key of the message it replies to, if any.
        article_id: the article, when there is no ``reply_to``.
        parent_id: the parent comment, when there is no ``reply_to``.
        mirror: whether to enqueue copies to the other chats.
        mirror_due: when those copies are due (``created_at`` when due at once).
        count_refresh: the pace of count refreshes, when the comment asks for one.
        hidden: stored hidden.
        policy: the comment policy of articles without their own (``newsbot.policy``).
        close_before: articles published before this are closed (the automatic close).
    """

    source: MessageKey
    author: tuple[Platform, str]
    author_name: str
    text: str
    created_at: datetime
    reply_to: MessageKey | None
    article_id: ArticleId | None
    parent_id: CommentId | None
    mirror: bool
    mirror_due: datetime
    count_refresh: CountRefresh | None
    hidden: bool
    policy: CommentPolicy
    close_before: datetime | None


def arrival(item: IncomingComment) -> Arrival:
    """``item`` as an ``Arrival``."""
    return tuple.__new__(Arrival, arrival_values(item))


def arrival_values(item: IncomingComment) -> tuple[object, ...]:
    """``item``'s ``Arrival`` as a plain tuple (what crosses a pipe: pickled without a
    reducer call for each comment, made an ``Arrival`` again by ``tuple.__new__``)."""
    source, author, reply = item.source, item.author, item.reply_to
    return (
        (source.platform, source.chat_id, source.message_id),
        (author.platform, author.user_id),
        author.name,
        item.text,
        item.created_at,
        None if reply is None else (reply.platform, reply.chat_id, reply.message_id),
        item.article_id,
        item.parent_id,
        item.mirror,
        item.mirror_due or item.created_at,
        item.count_refresh,
        item.hidden,
        item.policy,
        item.close_before,
    )


def arrivals(batch: Sequence[IncomingComment] | Sequence[Arrival]) -> Sequence[Arrival]:
    """``batch`` as ``Arrival`` values (as it is when it holds them already)."""
    if batch and not isinstance(batch[0], Arrival):
        return [arrival(item) for item in cast("Sequence[IncomingComment]", batch)]
    return cast("Sequence[Arrival]", batch)


def _ref(key: MessageKey) -> MessageRef:
    return MessageRef(Platform(key[0]), key[1], key[2])


@dataclass(frozen=True, slots=True)
class Needs:
    """What a batch asks its store to look up.

    Attributes:
        source_keys: the keys of the batch's source messages, each once, in batch order
            (stored already?); ``sources`` has them as ``MessageRef``.
        authors: ``(platform, user_id)`` of its authors (banned?).
        reply_keys: the keys of the messages it replies to (what each is: ``MessageLink``);
            ``replies`` has them as ``MessageRef``.
        articles: articles named directly (the web), besides those the replies lead to.
        parents: parent comments named directly, besides those the replies lead to.
    """

    source_keys: list[MessageKey]
    authors: set[tuple[Platform, str]]
    reply_keys: set[MessageKey]
    articles: set[ArticleId]
    parents: set[CommentId]

    @property
    def sources(self) -> list[MessageRef]:
        """The batch's source messages, each once, in batch order."""
        return [_ref(key) for key in self.source_keys]

    @property
    def replies(self) -> set[MessageRef]:
        """The messages the batch replies to."""
        return {_ref(key) for key in self.reply_keys}

    def then(self, links: Iterable[MessageLink]) -> tuple[set[ArticleId], set[CommentId]]:
        """Every article and parent comment to look up once the replies are resolved."""
        articles, parents = set(self.articles), set(self.parents)
        for link in links:
            articles.add(link.article_id)
            if link.comment_id is not None:
                parents.add(link.comment_id)
        return articles, parents


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where a stored comment sits: its article and the top-level comment of its thread."""

    article_id: ArticleId
    root_id: CommentId


@dataclass(frozen=True, slots=True)
class Lookups:
    """What a store found for one batch, in the transaction that writes its plan.

    Attributes:
        next_id: the first comment id the batch may use; new comments are numbered on from
            it (the store reserves as many ids as the batch has new sources).
        stored: comments already stored, by source message (only the batch's sources).
        banned: ``(platform, user_id)`` of the batch's banned authors.
        links: what each reply target is (as ``Store.resolve_message`` answers); a target
            absent here is unknown.
        published: which of the looked-up articles are published.
        posts: each published article's own posts that went out (``message_id`` set), in
            delivery order.
        post_links: the links of each published article's own posts (comment ``None``,
            destination set), ordered by message key; copies in discussion groups are here.
        post_counts: each published article's own deliveries, whatever their state (the
            count refresh is paced over all of them).
        parents: where each looked-up parent comment sits.
        stories: each published article's comment policy and publication time.
        slow: for the articles in slow mode (``slowmode.slow_articles(stories)``), the
            people behind the authors and their latest visible comments there.
    """

    next_id: int
    stored: Mapping[MessageRef, Comment]
    banned: Collection[tuple[str, str]]
    links: Mapping[MessageRef, MessageLink]
    published: Collection[ArticleId]
    posts: Mapping[ArticleId, Sequence[ArticlePost]]
    post_links: Mapping[ArticleId, Sequence[MessageLink]]
    post_counts: Mapping[ArticleId, int]
    parents: Mapping[CommentId, Lineage]
    stories: Mapping[ArticleId, Story] = field(default_factory=dict)
    slow: slowmode.Lookups = field(default_factory=slowmode.Lookups)


class Accepted(NamedTuple):
    """A comment of the batch to store.

    A named tuple rather than a frozen dataclass, as ``Arrival``: a batch makes one per
    comment, and a frozen dataclass sets each field through ``object.__setattr__`` (eight
    calls, here, and as many again to rebuild it on the other side of SQLite's pipe).

    Attributes:
        position: its place in the batch (its text, author and source are there).
        id: the id it gets.
        article_id: its article.
        parent_id: the comment it answers, if any.
        root_id: the top-level comment of its thread (``None`` when it is top-level).
        hidden: stored hidden: kept for moderators, counted nowhere, never mirrored.
        mirror_to: the destinations a post of it is enqueued to.
        mirror_due: when those posts are due.
        held: the article's policy, when it is what holds the comment (``premoderated``,
            ``closed``), or ``slow`` (its slow mode); empty otherwise.
    """

    position: int
    id: CommentId
    article_id: ArticleId
    parent_id: CommentId | None
    root_id: CommentId | None
    hidden: bool
    mirror_to: tuple[DestinationId, ...]
    mirror_due: datetime
    held: str = ""


@dataclass(frozen=True, slots=True)
class Known:
    """The comment was stored before this batch."""

    comment: Comment


@dataclass(frozen=True, slots=True)
class Repeat:
    """The same message as the batch's comment at ``index``."""

    index: int


# What became of each comment of a batch; None: dropped (see the module's docstring).
Outcome = Accepted | Known | Repeat | None


@dataclass(frozen=True, slots=True)
class Refresh:
    """An article's sent posts to edit so that they show the new comment count.

    Attributes:
        article_id: the article.
        at: when the comment that asks for it was written.
        interval: the least time between two refreshes of one post.
        posts: the posts to edit (sent, not being deleted).
    """

    article_id: ArticleId
    at: datetime
    interval: timedelta
    posts: tuple[ArticlePost, ...]

    def due(self, post: ArticlePost) -> datetime:
        """When ``post`` may show the new count: ``interval`` after it was last sent or
        edited, and not before ``at``."""
        return refresh_due(self.at, post.updated_at, self.interval)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to write for a batch.

    Attributes:
        outcomes: what became of each comment, in batch order.
        accepted: the comments to store, in batch order (ids ascending).
        refreshes: the articles whose posts show a new count, one each.
    """

    outcomes: list[Outcome]
    accepted: list[Accepted]
    refreshes: list[Refresh]


def _keyed(refs: Mapping[MessageRef, _T]) -> dict[MessageKey, _T]:
    return {(r.platform, r.chat_id, r.message_id): value for r, value in refs.items()}


def needs(batch: Sequence[IncomingComment] | Sequence[Arrival]) -> Needs:
    """What ``decide`` will need to know about ``batch``."""
    articles: set[ArticleId] = set()
    parents: set[CommentId] = set()
    replies: set[MessageKey] = set()
    authors: set[tuple[Platform, str]] = set()
    items = arrivals(batch)
    for item in items:
        authors.add(item.author)
        if item.reply_to is not None:
            replies.add(item.reply_to)
        else:
            if item.article_id is not None:
                articles.add(item.article_id)
            if item.parent_id is not None:
                parents.add(item.parent_id)
    sources = list(dict.fromkeys([item.source for item in items]))
    return Needs(sources, authors, replies, articles, parents)


def decide(batch: Sequence[IncomingComment] | Sequence[Arrival], lookups: Lookups) -> Plan:
    """Decide what becomes of each comment of ``batch`` (see the module's docstring)."""
    items = arrivals(batch)
    stored, links = _keyed(lookups.stored), _keyed(lookups.links)
    banned, published, parents = lookups.banned, lookups.published, lookups.parents
    outcomes: list[Outcome] = [None] * len(items)
    accepted: list[Accepted] = []
    made: dict[MessageKey, Accepted] = {}  # stored by this batch, by source
    refreshes: dict[ArticleId, Refresh] = {}
    targets: dict[tuple[ArticleId, str, str, DestinationId | None], tuple[DestinationId, ...]]
    targets = {}
    next_id = first_id = lookups.next_id
    readers = slowmode.Tracker(lookups.slow)
    for index, item in enumerate(items):
        key = item.source
        known = stored.get(key)
        if known is not None:
            outcomes[index] = Known(known)
            continue
        earlier = made.get(key)
        if earlier is not None:
            outcomes[index] = Repeat(earlier.position)
            continue
        if item.author in banned:
            continue
        article_id, parent_id, replied_in = item.article_id, item.parent_id, None
        reply_key = item.reply_to
        if reply_key is not None:
            answered = made.get(reply_key)  # a reply to a comment earlier in this very batch
            if answered is not None:
                article_id, parent_id = answered.article_id, answered.id
            else:
                link = links.get(reply_key)
                if link is None:
                    continue
                article_id, parent_id = link.article_id, link.comment_id
                replied_in = link.destination_id
        if article_id is None or article_id not in published:
            continue
        root_id = None
        if parent_id is not None:
            place = parents.get(parent_id)
            if 0 <= parent_id - first_id < len(accepted):  # stored by this batch, numbered on
                sibling = accepted[parent_id - first_id]
                place = Lineage(sibling.article_id, sibling.root_id or sibling.id)
            if place is not None and place.article_id == article_id:
                root_id = place.root_id
            else:
                parent_id = None
        story = lookups.stories.get(article_id)
        policy = effective(story, item.policy, item.close_before)
        held = "" if policy is _OPEN else str(policy)
        if not (held or item.hidden or story is None or story.slow <= 0):
            author = item.author
            if readers.too_soon(article_id, author[0], author[1], item.created_at, story.slow):
                held = SLOW
        hidden = item.hidden or bool(held)
        mirror_to: tuple[DestinationId, ...] = ()
        if item.mirror and not hidden:
            where = (article_id, key[0], key[1], replied_in)
            found = targets.get(where)
            if found is None:
                found = targets[where] = mirror_targets(
                    lookups.posts.get(article_id, ()),
                    lookups.post_links.get(article_id, ()),
                    _ref(key),
                    replied_in,
                )
            mirror_to = found
        # Fields in order, built in C: Accepted(...) and CommentId(...) each run Python.
        new = tuple.__new__(
            Accepted,
            (
                index,
                next_id,
                article_id,
                parent_id,
                root_id,
                hidden,
                mirror_to,
                item.mirror_due,
                held,
            ),
        )
        next_id += 1
        outcomes[index] = new
        accepted.append(new)
        made[key] = new
        pace = item.count_refresh
        if pace is not None and not hidden and article_id not in refreshes:
            refreshes[article_id] = Refresh(
                article_id,
                item.created_at,
                refresh_interval(pace, lookups.post_counts.get(article_id, 0)),
                tuple(p for p in lookups.posts.get(article_id, ()) if p.settled),
            )
    return Plan(outcomes, accepted, list(refreshes.values()))


class Stored(tuple[Comment, bool]):
    """What a caller of ``Store.ingest_comment`` is answered for a comment taken: the pair
    ``(comment, created)`` like any, which also says ``held``: why the intake held it
    (``Accepted.held``: the story's policy, or ``slow``), empty when it did not (a comment
    the service asked to hide, or a visible one), so the desk need not ask again."""

    held: str = ""


def stored(comment: Comment, held: str = "") -> Stored:
    """``(comment, True)`` as a ``Stored`` held for ``held``."""
    answer = Stored((comment, True))
    if held:
        answer.held = held
    return answer


def held_by(result: tuple[Comment, bool]) -> str:
    """Why the intake held a comment ``Store.ingest_comment`` answered with ``result``
    (``Stored.held``): its story's policy, ``slow``, or empty."""
    return result.held if isinstance(result, Stored) else ""


class Answer(NamedTuple):
    """``Plan.outcomes`` as columns: what a store that decides in another process sends back.

    One list per field of the accepted comments (in batch order) and the rarer outcomes by
    place: plain lists of numbers pickle and load in C, where an ``Accepted`` each (with its
    due time and targets, which the callers are not answered) cost about 15,000 instructions
    a comment to carry across SQLite's pipe. ``answer`` makes one, ``results`` reads it.

    Attributes:
        positions: each accepted comment's place in the batch.
        ids: the id each got.
        article_ids: the article of each.
        parent_ids: the parent of each, if any.
        hidden: whether each is stored hidden.
        others: the comments stored before (``Known``) or twice in the batch (``Repeat``),
            by place; a place in neither is dropped.
        held: why the intake held each (``Accepted.held``).
    """

    positions: Sequence[int]
    ids: Sequence[CommentId]
    article_ids: Sequence[ArticleId]
    parent_ids: Sequence[CommentId | None]
    hidden: Sequence[bool]
    others: Mapping[int, Known | Repeat]
    held: Sequence[str]


def answer(outcomes: Sequence[Outcome]) -> Answer:
    """``outcomes`` (``Plan.outcomes``) as an ``Answer``."""
    accepted = [o for o in outcomes if type(o) is Accepted]
    columns = list(zip(*accepted, strict=True)) or [()] * 9
    others = {i: o for i, o in enumerate(outcomes) if isinstance(o, Known | Repeat)}
    return Answer(columns[0], columns[1], columns[2], columns[3], columns[5], others, columns[8])


def results(
    batch: Sequence[IncomingComment], outcomes: Sequence[Outcome] | Answer
) -> list[tuple[Comment, bool] | None]:
    """What each caller of the batch is answered: the comment and whether it was created now
    (as ``Store.ingest_comment`` returns; a comment created is a ``Stored``, which says why
    the intake held it), or ``None`` when it was dropped."""
    answered = outcomes if isinstance(outcomes, Answer) else answer(outcomes)
    answers: list[tuple[Comment, bool] | None] = [None] * len(batch)
    hidden, visible = CommentStatus.HIDDEN, CommentStatus.VISIBLE
    columns = zip(*answered[:5], answered.held, strict=True)
    for position, comment_id, article_id, parent_id, is_hidden, held in columns:
        item = batch[position]
        created = item.created_at
        if created.tzinfo is not UTC:
            created = created.astimezone(UTC)
        status = hidden if is_hidden else visible
        comment = Comment(
            comment_id, article_id, parent_id, item.author, item.text, item.source, status, created
        )
        answers[position] = stored(comment, held)
    for position, other in answered.others.items():
        if isinstance(other, Known):
            answers[position] = (other.comment, False)
        else:
            first = answers[other.index]
            answers[position] = None if first is None else (first[0], False)
    return answers
