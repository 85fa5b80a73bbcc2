"""An article's figures, aggregated (pure): where it went and how fast, who answered and when,
what readers felt, and how many read it on the web and where they came from.

``figures`` turns what the store read (``newsbot.ports.stats``) into ``ArticleFigures``;
``summary`` and ``as_dict`` are what the chat commands and the command line show. Web views
are counted without cookies or personal data: per article and per source (the chat whose post
a reader followed, by destination id, or ``""`` for any other way in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from newsbot.i18n import ENGLISH, N_, Message, Translator
from newsbot.models import Article, DeliveryState, Platform
from newsbot.reactions import ReactionCounts

BUCKETS = (
    timedelta(minutes=5),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)
"""Bucket widths for figures over time: the smallest giving at most ``BUCKETS_MAX`` buckets."""

BUCKETS_MAX = 48

VIA = "via"
"""The query parameter of a post's link that names the chat it came from (``d`` + the
destination id); the page cache ignores it."""


def tagged_url(url: str, destination_id: int) -> str:
    """An article's address as a post in one destination links it: the chat named by
    ``VIA``, so that the page counts where its readers came from."""
    return f"{url}{'&' if '?' in url else '?'}{VIA}=d{destination_id}"


def source_of(raw: str | None) -> str:
    """The source a ``VIA`` value names (``d`` and 1 to 18 ASCII digits), else ``""``."""
    if raw and 1 < len(raw) <= 19 and raw[0] == "d" and raw[1:].isascii() and raw[1:].isdigit():
        return raw
    return ""


@dataclass(frozen=True, slots=True)
class PostTime:
    """One of the article's own deliveries: its platform, state and when it first went out."""

    platform: Platform
    state: DeliveryState
    sent_at: datetime | None
    destination: str = ""  # the destination's title or chat id, for arrivals


@dataclass(frozen=True, slots=True)
class CommentTime:
    """One comment: where it was written, when, and whether it is visible."""

    platform: Platform
    created_at: datetime
    visible: bool = True


@dataclass(frozen=True, slots=True)
class ArticleFigures:
    """An article's figures.

    Attributes:
        article: the article.
        deliveries: its own posts per (platform, state); a post that went out counts as sent
            while an edit of it waits.
        reached: posts sent; ``posts``: every post that was to go out (dead ones included).
        reach_seconds: from publishing to the last post's first send, once every post that
            was to go out went (``None`` while some are still pending).
        comments: visible comments per platform.
        comments_over_time: (bucket start, platform) -> comments written then.
        bucket: the width of a bucket, in seconds.
        reactions: per (platform, emoji), the article's and its visible comments' together.
        reactions_over_time: (bucket start, platform) -> reactions last set then (a reader's
            latest change, or a message's latest anonymous counts).
        posts_over_time: (bucket start, platform) -> posts that first went out then.
        views: web page views in all; ``arrivals``: views per source (a chat, or ``""``).
    """

    article: Article
    deliveries: Mapping[tuple[Platform, DeliveryState], int] = field(default_factory=dict)
    reached: int = 0
    posts: int = 0
    reach_seconds: float | None = None
    comments: Mapping[Platform, int] = field(default_factory=dict)
    comments_over_time: Mapping[tuple[datetime, Platform], int] = field(default_factory=dict)
    bucket: float = 3600.0
    reactions: Mapping[tuple[Platform, str], int] = field(default_factory=dict)
    reactions_over_time: Mapping[tuple[datetime, Platform], int] = field(default_factory=dict)
    posts_over_time: Mapping[tuple[datetime, Platform], int] = field(default_factory=dict)
    views: int = 0
    arrivals: Mapping[str, int] = field(default_factory=dict)

    @property
    def comment_total(self) -> int:
        """Visible comments from every platform."""
        return sum(self.comments.values())

    @property
    def reaction_total(self) -> int:
        """Reactions from every platform."""
        return sum(self.reactions.values())


def bucket_width(start: datetime, end: datetime) -> timedelta:
    """The narrowest bucket that cuts ``start``..``end`` into at most ``BUCKETS_MAX``."""
    span = max(end - start, timedelta(0))
    for width in BUCKETS:
        if span / width <= BUCKETS_MAX:
            return width
    return BUCKETS[-1] * max(1, int(span / (BUCKETS[-1] * BUCKETS_MAX)) + 1)


def figures(
    article: Article,
    posts: Iterable[PostTime],
    comments: Iterable[CommentTime],
    reactions: ReactionCounts,
    views: Mapping[str, int],
    now: datetime,
    reaction_times: Iterable[tuple[datetime, Platform, int]] = (),
) -> ArticleFigures:
    """Aggregate what the store read about one article."""
    posts = list(posts)
    by_state = Counter((p.platform, _state(p)) for p in posts)
    due = [p for p in posts if p.state is not DeliveryState.DEAD or p.sent_at is not None]
    sent = [p.sent_at for p in due if p.sent_at is not None]
    start = article.published_at or article.created_at
    reach = None
    if due and len(sent) == len(due):
        reach = max((max(sent) - start).total_seconds(), 0.0)
    visible = [c for c in comments if c.visible]
    reaction_times = list(reaction_times)
    times = [now, *(c.created_at for c in visible), *(t for t, _, _ in reaction_times)]
    width = bucket_width(start, max(times))

    def slot(at: datetime) -> datetime:
        return start + width * int(max((at - start) / width, 0))

    over_time: Counter[tuple[datetime, Platform]] = Counter()
    for c in visible:
        over_time[(slot(c.created_at), c.platform)] += 1
    reacted: Counter[tuple[datetime, Platform]] = Counter()
    for at, platform, n in reaction_times:
        reacted[(slot(at), platform)] += n
    went: Counter[tuple[datetime, Platform]] = Counter()
    for p in posts:
        if p.sent_at is not None:
            went[(slot(p.sent_at), p.platform)] += 1
    return ArticleFigures(
        article=article,
        deliveries=dict(sorted(by_state.items())),
        reached=len(sent),
        posts=len(due),
        reach_seconds=reach,
        comments=dict(sorted(Counter(c.platform for c in visible).items())),
        comments_over_time=dict(sorted(over_time.items())),
        bucket=width.total_seconds(),
        reactions=dict(reactions.everything().counts),
        reactions_over_time=dict(sorted(reacted.items())),
        posts_over_time=dict(sorted(went.items())),
        views=sum(views.values()),
        arrivals=dict(sorted(views.items(), key=lambda item: (-item[1], item[0]))),
    )


NOTHING_PUBLISHED = N_("No article was published yet.")


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 10 min``; ``not yet`` for ``None``."""
    if seconds is None:
        return "not yet"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def summary(
    f: ArticleFigures, names: Mapping[str, str] | None = None, tr: Translator = ENGLISH
) -> list[str]:
    """A short summary for a chat answer, one figure a line (plain text), in ``tr``'s
    language."""
    names = names or {}
    none = tr.gettext(N_("none"))
    per_platform = ", ".join(f"{p} {n}" for p, n in _platforms(f.comments)) or none
    emoji = Counter[str]()
    for (_, e), n in f.reactions.items():
        emoji[e] += n
    top = " ".join(f"{e} {n}" for e, n in emoji.most_common(5)) or none
    elsewhere = tr.gettext(N_("elsewhere"))
    arrivals = ", ".join(
        f"{names.get(source, source) or elsewhere} {n}" for source, n in f.arrivals.items()
    )
    within = tr.gettext(N_("not yet")) if f.reach_seconds is None else duration(f.reach_seconds)
    views = Message(N_("Web views: %(views)s"), values={"views": f.views}).render(tr)
    if arrivals:
        views += Message(N_(" (from %(arrivals)s)"), values={"arrivals": arrivals}).render(tr)
    lines = [
        Message(
            N_("Article %(id)s: %(title)s"), values={"id": f.article.id, "title": f.article.title}
        ),
        Message(
            N_("Posts: %(reached)s of %(posts)s sent, all within %(within)s"),
            values={"reached": f.reached, "posts": f.posts, "within": within},
        ),
        Message(
            N_("Comments: %(total)s (%(platforms)s)"),
            values={"total": f.comment_total, "platforms": per_platform},
        ),
        Message(
            N_("Reactions: %(total)s (%(top)s)"), values={"total": f.reaction_total, "top": top}
        ),
    ]
    return [line.render(tr) for line in lines] + [views]


def as_dict(f: ArticleFigures) -> dict[str, Any]:
    """The figures as JSON-ready data (the command line's ``--json``, the admin page)."""
    reactions: dict[str, dict[str, int]] = {}
    for (platform, emoji), n in f.reactions.items():
        reactions.setdefault(str(platform), {})[emoji] = n
    return {
        "article_id": f.article.id,
        "title": f.article.title,
        "published_at": None
        if f.article.published_at is None
        else f.article.published_at.isoformat(),
        "deliveries": [
            {"platform": str(p), "state": str(s), "count": n} for (p, s), n in f.deliveries.items()
        ],
        "posts": f.posts,
        "reached": f.reached,
        "reach_seconds": f.reach_seconds,
        "comments": {str(p): n for p, n in f.comments.items()},
        "comments_over_time": [
            {"at": at.isoformat(), "platform": str(p), "count": n}
            for (at, p), n in f.comments_over_time.items()
        ],
        "reactions_over_time": [
            {"at": at.isoformat(), "platform": str(p), "count": n}
            for (at, p), n in f.reactions_over_time.items()
        ],
        "posts_over_time": [
            {"at": at.isoformat(), "platform": str(p), "count": n}
            for (at, p), n in f.posts_over_time.items()
        ],
        "bucket_seconds": f.bucket,
        "reactions": reactions,
        "views": f.views,
        "arrivals": dict(f.arrivals),
    }


def _state(post: PostTime) -> DeliveryState:
    """A post that went out counts as sent while an edit of it (a new count line, a changed
    article) waits or is retried."""
    waiting = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.FAILED)
    return DeliveryState.SENT if post.sent_at is not None and post.state in waiting else post.state


def _platforms(counts: Mapping[Platform, int]) -> list[tuple[str, int]]:
    return [(str(p), n) for p, n in counts.items() if n]
