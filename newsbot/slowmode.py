"""A story's slow mode: one comment per reader per N seconds on that story (pure).

The seconds are kept beside the story's comment policy (``newsbot.policy.Story.slow``; 0:
off) and apply on every surface, whatever the policy. A *reader* is the person behind the
comment where their accounts are linked (``newsbot.people``), else the platform account
(a signed-in web commenter ``telegram@123`` is the Telegram account 123), else the web
session (an anonymous web identity ``w:...``). So a reader who wrote on Telegram cannot
write again at once on the web or on Discord.

A comment counts from the moment it is written, and only visible comments count: a comment
held back (by slow mode or anything else) takes nobody's place, as with the intake limits.
The intake (``newsbot.intake.decide``) holds a too-soon chat comment for review with the
reason ``slow``; the web asks ``wait`` first and refuses the form instead (the reader keeps
the text and is told when they may comment again).

Stores look up, for the articles in slow mode, what ``Lookups`` holds: the people behind
the authors' accounts (``accounts`` names which to look up, with every account of those
people) and the latest visible comment of each of their author ids (``author_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from newsbot.errors import InvalidInput
from newsbot.i18n import N_, Message
from newsbot.models import ArticleId
from newsbot.people import SIGNED_IN, vouched_by
from newsbot.policy import Story

SLOW_MAX = 7 * 24 * 3600
"""The longest slow mode, in seconds (a week)."""
DISCORD_MAX = 21_600
"""The longest slow mode Discord keeps on a thread (six hours): a longer one is set to this
on the thread, and the core rule holds the rest."""
OFF_WORDS = ("0", "none", "off")
BAD_SLOW = N_("Slow mode must be a whole number of seconds from 0 to %(max)s (0 or off: none).")

Account = tuple[str, str]
"""``(platform, id)``: an author's ``(platform, user_id)`` or a linked account."""


@dataclass(frozen=True, slots=True)
class Lookups:
    """What a store found for slow mode.

    Attributes:
        people: the person of each looked-up account (with every account of those people).
        latest: the latest visible comment of each ``(article, platform, user_id)`` asked.
    """

    people: Mapping[Account, int] = field(default_factory=dict)
    latest: Mapping[tuple[int, str, str], datetime] = field(default_factory=dict)


def parse(value: str | int) -> int:
    """Slow-mode seconds from what an editor typed: a whole number of seconds, or ``0``,
    ``none`` or ``off`` (no slow mode).

    Raises:
        ValueError: not a number of seconds between 0 and ``SLOW_MAX``.
    """
    text = str(value).strip().lower()
    if text in OFF_WORDS:
        return 0
    seconds = int(text.removesuffix("s"))
    if not 0 <= seconds <= SLOW_MAX:
        raise ValueError(f"slow mode is 0 to {SLOW_MAX} seconds")
    return seconds


def choose(value: str | int) -> int:
    """The slow mode an admin asked for (``--slow``, ``slow=``, a command's option).

    Raises:
        InvalidInput: not 0 to ``SLOW_MAX`` seconds (nor off); the message says the range.
    """
    try:
        return parse(value)
    except ValueError:
        raise InvalidInput(BAD_SLOW, field="slow", max=SLOW_MAX) from None


def check(seconds: int) -> int:
    """``seconds`` when it is a slow mode (0 to ``SLOW_MAX``).

    Raises:
        InvalidInput: out of range.
    """
    if not 0 <= seconds <= SLOW_MAX:
        raise InvalidInput(BAD_SLOW, field="slow", max=SLOW_MAX)
    return seconds


def account(platform: str, user_id: str) -> Account:
    """The account an author id stands for: a signed-in web commenter's vouching account,
    else the author id itself."""
    if str(platform) == "web" and vouched_by(user_id) is not None:
        vouching, _, account_id = user_id.partition(SIGNED_IN)
        return (vouching, account_id)
    return (str(platform), user_id)


def accounts(authors: Iterable[Account]) -> set[Account]:
    """The accounts whose people a store looks up for ``authors``."""
    return {account(p, u) for p, u in authors}


def author_ids(authors: Iterable[Account], people: Mapping[Account, int]) -> set[Account]:
    """Every author id a comment of these authors' readers may carry: each author, and for
    a person every linked account as itself and as a signed-in web commenter."""
    wanted = {(str(p), u) for p, u in authors}
    persons = {people[a] for a in accounts(wanted) if a in people}
    for (platform, account_id), person in people.items():
        if person in persons:
            wanted.add((platform, account_id))
            wanted.add(("web", f"{platform}{SIGNED_IN}{account_id}"))
    return wanted


def reader(platform: str, user_id: str, people: Mapping[Account, int]) -> str:
    """Who a comment's author is for slow mode: ``person:N``, else ``platform:id``."""
    acct = account(platform, user_id)
    person = people.get(acct)
    return f"person:{person}" if person is not None else f"{acct[0]}:{acct[1]}"


class Tracker:
    """The latest visible comment of each reader on each story, as a batch goes by: a
    comment let through counts for the next ones."""

    def __init__(self, found: Lookups) -> None:
        self._people = found.people
        self._last: dict[tuple[int, str], datetime] = {}
        for (article_id, platform, user_id), at in found.latest.items():
            key = (article_id, reader(platform, user_id, self._people))
            if key not in self._last or self._last[key] < at:
                self._last[key] = at

    def last(self, article_id: int, platform: str, user_id: str) -> datetime | None:
        """When the reader behind the author last wrote a visible comment on the article."""
        return self._last.get((article_id, reader(platform, user_id, self._people)))

    def too_soon(
        self, article_id: int, platform: str, user_id: str, at: datetime, seconds: int
    ) -> bool:
        """Whether a comment written ``at`` comes less than ``seconds`` after the reader's
        last one on the article; when it does not, it counts as their last one."""
        key = (article_id, reader(platform, user_id, self._people))
        if wait(self._last.get(key), at, seconds) > 0:
            return True
        self._last[key] = at
        return False


def wait(last: datetime | None, now: datetime, seconds: int) -> float:
    """Seconds a reader still has to wait at ``now`` when their last comment was at
    ``last`` (0: they may comment)."""
    if seconds <= 0 or last is None:
        return 0.0
    return max(0.0, seconds - (now - last).total_seconds())


def described(seconds: int) -> Message | None:
    """A story's slow mode as a chat answer says it (``None`` when off)."""
    if seconds <= 0:
        return None
    return Message.ngettext(
        "Slow mode: one comment per reader every %(count)s second.",
        "Slow mode: one comment per reader every %(count)s seconds.",
        seconds,
    )


def slow_articles(stories: Mapping[ArticleId, Story]) -> list[ArticleId]:
    """The articles in slow mode among the looked-up stories."""
    return sorted(a for a, s in stories.items() if s.slow > 0)
