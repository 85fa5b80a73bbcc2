"""When an article goes out: schedules, embargoes, per-platform delays and the lanes (pure).

An article published with a time is *scheduled*: it is stored at once, with its web time as
``published_at`` and one delivery per matching destination that is not claimable before its
platform's time (the delivery's due time). Nothing wakes it up: the dispatcher of the worker
holding the platform's role claims due deliveries, so the post goes out on time, once, across
restarts and failovers, like any other delivery. Before its web time the article does not
exist for readers (``ArticleStatus.SCHEDULED``, shown only to admins).

Times are written as ISO 8601 with an offset (``2026-12-24T06:00+01:00``, ``...Z``) or as a
delay from now (``2h``, ``90m``, ``1d12h``, ``45s``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from newsbot.errors import InvalidInput, PermissionDenied
from newsbot.i18n import N_, Message
from newsbot.models import Actor, Article, Platform

# A time further ahead than this is taken for a typo (a year written wrong).
MAX_AHEAD = timedelta(days=366)
# A time this little in the past is "now": the seconds a command takes to type and arrive.
GRACE = timedelta(seconds=60)

_DELAY = re.compile(r"(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?", re.ASCII)


class Priority(StrEnum):
    """The lane an article's deliveries travel in.

    ``breaking`` deliveries are claimed before any ``normal`` one that is due, so a breaking
    article overtakes a fan-out under way; the normal one resumes after it.
    """

    NORMAL = "normal"
    BREAKING = "breaking"

    @property
    def lane(self) -> int:
        """The number the outbox orders claims by (higher first)."""
        return 1 if self is Priority.BREAKING else 0


def parse_priority(text: str | None) -> Priority:
    """``normal`` or ``breaking`` (any case); nothing is ``normal``.

    Raises:
        InvalidInput: another word.
    """
    if text is None or not text.strip():
        return Priority.NORMAL
    try:
        return Priority(text.strip().lower())
    except ValueError:
        raise InvalidInput(
            N_("Unknown priority %(given)s: use normal or breaking."),
            field="priority",
            given=repr(text.strip()[:20]),
        ) from None


WHATS = (N_("time"), N_("telegram time"), N_("discord time"))
"""What ``parse_when`` may be reading, as its refusals name it (marked for translation)."""


def parse_when(text: str, now: datetime, *, what: str = "time") -> datetime:
    """A time in UTC from ``2026-12-24T06:00+01:00`` (an offset is required) or ``2h``.

    Raises:
        InvalidInput: neither form, no offset, in the past, or more than a year ahead.
    """
    raw = text.strip()
    when = _delay(raw, now)
    if when is None:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(
                N_(
                    "Cannot read the %(what)s %(given)s: write it as 2026-12-24T06:00+01:00 "
                    "(with the offset) or as a delay like 2h, 90m or 1d12h."
                ),
                field=what,
                what=Message(what),
                given=repr(raw[:40]),
            ) from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise InvalidInput(
                N_(
                    "The %(what)s %(given)s has no offset: add one, as in "
                    "%(start)s+01:00 or %(start)sZ, so it means one instant."
                ),
                field=what,
                what=Message(what),
                given=repr(raw[:40]),
                start=raw[:16],
            )
        when = parsed.astimezone(now.tzinfo)
    return check_when(when, now, what=what)


def check_when(when: datetime, now: datetime, *, what: str = "time") -> datetime:
    """``when`` if it is neither past nor absurdly far; raises ``InvalidInput`` otherwise."""
    if when < now - GRACE:
        raise InvalidInput(
            N_("The %(what)s %(when)s UTC is in the past (it is now %(now)s UTC)."),
            field=what,
            what=Message(what),
            when=f"{when:%Y-%m-%d %H:%M}",
            now=f"{now:%Y-%m-%d %H:%M}",
        )
    if when > now + MAX_AHEAD:
        raise InvalidInput(
            N_("The %(what)s %(when)s UTC is more than a year ahead; check the year."),
            field=what,
            what=Message(what),
            when=f"{when:%Y-%m-%d %H:%M}",
        )
    return max(when, now)


def _delay(raw: str, now: datetime) -> datetime | None:
    match = _DELAY.fullmatch(raw.lower().replace(" ", ""))
    if match is None or not raw or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return now + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When an article goes out: on the web at ``at``, on each platform at its own time.

    ``platforms`` holds only the platforms staggered after ``at``; the others go at ``at``.
    """

    at: datetime
    platforms: Mapping[Platform, datetime] = field(default_factory=dict)

    def time_for(self, platform: Platform) -> datetime:
        """When the posts to ``platform`` go out."""
        return self.platforms.get(platform, self.at)


def plan(
    now: datetime,
    at: str | None = None,
    after: str | None = None,
    platforms: Mapping[Platform, str | None] | None = None,
) -> Schedule | None:
    """The schedule the options ask for (``--at``, ``--in``, ``--telegram-at`` ...), or
    ``None`` for "now, everywhere".

    A platform's time is absolute or a delay from now; it may not come before the article's
    own time (the posts would link to a page that does not exist yet).

    Raises:
        InvalidInput: both ``at`` and ``after``, or a time that ``parse_when`` refuses.
    """
    if at and after:
        raise InvalidInput(
            N_("Give either a time (--at) or a delay (--in), not both."), field="at"
        )
    given = at or after
    start = parse_when(given, now) if given else now
    staggered: dict[Platform, datetime] = {}
    for platform, text in (platforms or {}).items():
        if not text:
            continue
        when = parse_when(text, now, what=f"{platform} time")
        if when < start:
            raise InvalidInput(
                N_(
                    "The %(platform)s time %(when)s UTC comes before the article's own time "
                    "%(start)s UTC: its posts would link to a page that does not exist yet."
                ),
                platform=platform,
                when=f"{when:%Y-%m-%d %H:%M}",
                start=f"{start:%Y-%m-%d %H:%M}",
                field=f"{platform}_at",
            )
        if when > start:
            staggered[platform] = when
    if start <= now and not staggered:
        return None
    return Schedule(start, staggered)


@dataclass(frozen=True, slots=True)
class ScheduledArticle:
    """An article waiting for its time, as admins see it.

    ``platforms`` maps each platform with posts still waiting to the time they go out;
    ``waiting`` counts those posts.
    """

    article: Article
    platforms: Mapping[Platform, datetime]
    waiting: int


def embargoed(article: Article, now: datetime) -> bool:
    """Whether a published article's web time is still ahead."""
    return article.published_at is not None and article.published_at > now


def describe_times(schedule: Schedule) -> str:
    """``2026-12-24 05:00 UTC`` and the staggered platforms' times."""
    staggered = "".join(f", {p} {t:%Y-%m-%d %H:%M}" for p, t in sorted(schedule.platforms.items()))
    return f"{schedule.at:%Y-%m-%d %H:%M} UTC{staggered}"


NOTHING_SCHEDULED = N_("Nothing is scheduled.")
CANCELLED_SCHEDULED = N_("Cancelled article %(id)s: it will not go out.")
RESCHEDULED = N_("Rescheduled: %(line)s")
GOES_OUT_NOW = N_("Article %(id)s goes out now.")


def published(article_id: int, schedule: Schedule | None, priority: Priority) -> Message:
    """``Published article 5`` or ``Scheduled (time) article 5``, and the lane when it is
    breaking news: what an admin is told after publishing (in their language)."""
    breaking = priority is Priority.BREAKING
    if schedule is None:
        if breaking:
            return Message(
                N_("Published as breaking news article %(id)s"), values={"id": article_id}
            )
        return Message(N_("Published article %(id)s"), values={"id": article_id})
    values = {"id": article_id, "when": describe_times(schedule)}
    if breaking:
        return Message(N_("Scheduled (%(when)s) as breaking news article %(id)s"), values=values)
    return Message(N_("Scheduled (%(when)s) article %(id)s"), values=values)


def describe(item: ScheduledArticle) -> str:
    """One line for a scheduled article: id, time, staggered platforms, title."""
    at = item.article.published_at
    when = f"{at:%Y-%m-%d %H:%M} UTC" if at else "-"
    stagger = ", ".join(
        f"{p} {t:%Y-%m-%d %H:%M}"
        for p, t in sorted(item.platforms.items())
        if at is None or t != at
    )
    extra = f" ({stagger})" if stagger else ""
    return f"#{item.article.id} {when}{extra}: {item.article.title}"


EVERYONE = "everyone"
_ROLE = re.compile(r"<?@?&?(\d{15,20})>?", re.ASCII)


def mention_key(destination_id: int) -> str:
    """Where a Discord channel's breaking-news mention is kept (``SharedState``)."""
    return f"breaking-mention:{destination_id}"


def clean_mention(value: str, actor: Actor) -> str:
    """A breaking-news mention as stored: a role id, ``everyone``, or ``""`` for none.

    Raises:
        InvalidInput: neither a role id (or ``<@&id>``), ``everyone`` nor ``none``.
        PermissionDenied: ``everyone`` asked by anyone but the operator on the command line.
    """
    text = value.strip().lower().lstrip("@")
    if text in ("", "none", "off"):
        return ""
    if text in (EVERYONE, "here"):
        if actor.platform is not Platform.CLI:
            raise PermissionDenied(
                N_("Only the operator (on the command line) can mention everyone.")
            )
        return EVERYONE
    match = _ROLE.fullmatch(text)
    if match is None:
        raise InvalidInput(
            N_(
                "A mention is a role id (Server Settings > Roles > Copy Role ID), everyone or "
                "none, not %(given)s."
            ),
            field="mention",
            given=repr(value.strip()[:30]),
        )
    return match.group(1)
