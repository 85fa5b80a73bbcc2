"""Replies that reach the person they answer (pure).

When a stored, visible comment answers another comment, the parent's author is told in a
private message from the bot, on each platform where the bot may write to them: an account
that started the bot (a private chat with it) or signed in with it on the web, never a banned
person, never the reply's own author (the same person across linked accounts), and not when
they turned notifications off. A person's flag (``Person.notify``, on by default for people,
who exist only by signing in or linking) decides for all their accounts; an account that is
no person's decides alone and is off until ``/notifications on``. An account the platform
refuses to write to (the user blocked the bot, closed DMs) is turned off.

Notices to one account are coalesced: the first opens an outbox row due ``COALESCE`` later,
the next ones are appended to it, and one message carries them all. Replies stored together
are told together (``newsbot.notifying``): ``told`` decides each from facts looked up for the
whole batch, and ``folded`` makes one outbox write per account of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from newsbot.i18n import ENGLISH, N_, Message, Translator
from newsbot.models import ArticleId, Comment, CommentId, CommentStatus, Platform
from newsbot.people import Person, Proof

COALESCE = timedelta(seconds=60)
"""How long the first notice to an account waits for the next ones."""
TEXT_MAX = 300
"""Characters of a reply's text a notice quotes."""
SHOWN_MAX = 5
"""Replies one message shows; the rest are counted."""
ITEMS_MAX = 20_000
"""Characters of coalesced notices an outbox row keeps; the rest are only counted."""
CHAT_PLATFORMS = (Platform.TELEGRAM, Platform.DISCORD)
"""Where the bot can write a private message."""
_SIGNED_IN = (str(Proof.TELEGRAM_LOGIN), str(Proof.DISCORD_OAUTH))

Key = tuple[Platform, str]
"""An account: its platform and user id."""


@dataclass(frozen=True, slots=True)
class Prefs:
    """What is known of one chat account's private messages.

    Attributes:
        started: the account opened a private chat with the bot (or signed in with it).
        notify: the account's own switch: ``None`` when never set.
    """

    started: bool = False
    notify: bool | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """One reply, as a notification quotes it."""

    comment_id: CommentId
    article_id: ArticleId
    title: str
    author: str
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class Queued:
    """The notices of a batch to one account: appended to its pending outbox row together.

    Attributes:
        key: the account.
        items: the encoded notices kept, oldest first (``encode``; at most about ``ITEMS_MAX``
            characters, the rest only counted).
        count: every notice, kept or not.
    """

    key: Key
    items: str
    count: int


@dataclass(frozen=True, slots=True)
class Facts:
    """What a batch of replies was looked up against (each missing entry: not known).

    Attributes:
        parents: the comments answered, by id.
        people: the person behind each account that is one's.
        prefs: what is known of each chat account.
    """

    parents: Mapping[CommentId, Comment]
    people: Mapping[Key, Person]
    prefs: Mapping[Key, Prefs]


@dataclass(frozen=True, slots=True)
class NoticeJob:
    """One coalesced private message claimed for sending.

    Attributes:
        id: the outbox row.
        platform: where it goes.
        account_id: the user it goes to (a Telegram private chat has the user's id).
        notices: the replies kept, oldest first.
        count: every reply gathered (more than ``notices`` when the row was full).
        attempts: sends tried, this one included.
    """

    id: int
    platform: Platform
    account_id: str
    notices: tuple[Notice, ...]
    count: int
    attempts: int


@dataclass(frozen=True, slots=True)
class NoticeWords:
    """A notice's own words in the recipient's language (the platforms' renderers use them).

    Attributes:
        heading: "New reply to your comment" or "New replies to your comment".
        untitled: shown for an article without a title.
        someone: shown for an author without a name.
        open_comment: the link's text.
        more: "and 3 more", or "" when every reply is shown.
    """

    heading: str
    untitled: str
    someone: str
    open_comment: str
    more: str


def notice_words(job: NoticeJob, more: int, tr: Translator = ENGLISH) -> NoticeWords:
    """The words of ``job``'s message, in ``tr``'s language (``more``: replies not shown)."""
    heading = (
        N_("New replies to your comment") if job.count > 1 else N_("New reply to your comment")
    )
    return NoticeWords(
        heading=tr.gettext(heading),
        untitled=tr.gettext(N_("Untitled")),
        someone=tr.gettext(N_("someone")),
        open_comment=tr.gettext(N_("Open the comment")),
        more=Message.ngettext("and %(count)s more", "and %(count)s more", more).render(tr)
        if more
        else "",
    )


def trimmed(text: str, limit: int = TEXT_MAX) -> str:
    """A reply's text shortened to ``limit`` characters on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def wanted(reply: Comment, parent: Comment | None) -> bool:
    """Whether a comment is a reply that may be notified at all: visible, answering another
    comment that is not deleted, by someone else (by author key)."""
    if parent is None or reply.status is not CommentStatus.VISIBLE:
        return False
    if parent.status is CommentStatus.DELETED:
        return False
    return (reply.author.platform, reply.author.user_id) != (
        parent.author.platform,
        parent.author.user_id,
    )


def chat_keys(person: Person | None, account: Key | None) -> tuple[Key, ...]:
    """The chat accounts a recipient could be written to: a person's Telegram and Discord
    accounts, or the single chat account of someone who is no person."""
    if person is not None:
        return tuple(
            (a.platform, a.account_id) for a in person.accounts if a.platform in CHAT_PLATFORMS
        )
    if account is not None and account[0] in CHAT_PLATFORMS:
        return (account,)
    return ()


def recipients(
    person: Person | None,
    account: Key | None,
    replier: Person | None,
    replier_key: Key,
    prefs: Mapping[Key, Prefs],
) -> list[Key]:
    """The accounts told of a reply to the comment of ``person`` (or of ``account`` when the
    author is no person), written by ``replier`` (``replier_key``); ``prefs`` holds what is
    known of each key of ``chat_keys``."""
    if person is not None:
        if person.banned or not person.notify:
            return []
        if replier is not None and replier.id == person.id:
            return []
    keys = chat_keys(person, account)
    if replier_key in keys:
        return []
    signed = set()
    if person is not None:
        signed = {
            (a.platform, a.account_id) for a in person.accounts if a.verified_by in _SIGNED_IN
        }
    chosen: list[Key] = []
    for key in keys:
        pref = prefs.get(key, Prefs())
        if pref.notify is False:
            continue
        reachable = pref.started or key in signed
        on = pref.notify if person is None else True
        if reachable and on:
            chosen.append(key)
    return chosen


def told(reply: Comment, author: Key, replier: Key, facts: Facts) -> list[Key]:
    """The accounts told of ``reply`` (``recipients``), its parent's author being ``author``
    and its own ``replier`` (chat keys: a signed-in web author as the account that vouched)."""
    parent = None if reply.parent_id is None else facts.parents.get(reply.parent_id)
    if not wanted(reply, parent):
        return []
    person = facts.people.get(author)
    return recipients(person, author, facts.people.get(replier), replier, facts.prefs)


def folded(told: Iterable[tuple[Key, str]], limit: int = ITEMS_MAX) -> list[Queued]:
    """Encoded notices, each to an account, as one ``Queued`` per account (in the order of
    the keys, so that concurrent writers take the accounts' rows in one order): an account's
    items in arrival order, appended while the text is under ``limit`` (the rest counted),
    as ``queue_notice`` appends them one by one."""
    items: dict[Key, list[str]] = {}
    counts: dict[Key, int] = {}
    sizes: dict[Key, int] = {}
    for key, item in told:
        counts[key] = counts.get(key, 0) + 1
        if sizes.get(key, 0) < limit:
            items.setdefault(key, []).append(item)
            sizes[key] = sizes.get(key, 0) + len(item)
    return [
        Queued(key, "".join(items[key]), counts[key])
        for key in sorted(counts, key=lambda k: (str(k[0]), k[1]))
    ]


def encode(notice: Notice) -> str:
    """A notice as one line of an outbox row (every line starts with a newline)."""
    return "\n" + json.dumps(
        [
            notice.comment_id,
            notice.article_id,
            notice.title,
            notice.author,
            notice.text,
            notice.url,
        ],
        ensure_ascii=False,
    )


def decode(items: str) -> tuple[Notice, ...]:
    """The notices of an outbox row (a damaged line is skipped)."""
    found: list[Notice] = []
    for line in items.split("\n"):
        if not line:
            continue
        try:
            c, a, title, author, text, url = json.loads(line)
            found.append(
                Notice(CommentId(int(c)), ArticleId(int(a)), str(title), str(author), text, url)
            )
        except (ValueError, TypeError):
            continue
    return tuple(found)


def shown(job: NoticeJob) -> tuple[Sequence[Notice], int]:
    """The replies one message shows (the latest ``SHOWN_MAX``) and how many more it counts."""
    latest = job.notices[-SHOWN_MAX:]
    return latest, max(job.count - len(latest), 0)


def keys_of(people: Iterable[Person | None]) -> set[Key]:
    """Every chat account of some people (for one look-up of their prefs)."""
    return {k for p in people for k in chat_keys(p, None)}


def to_send(job: NoticeJob, visible: set[CommentId], banned: bool) -> NoticeJob | None:
    """What a claimed notice still says when it is sent, as things stand then: nothing to a
    recipient banned since it was queued (``banned``), and none of the replies hidden or
    deleted meanwhile (``still_shown``: a replier banned meanwhile has their comments
    deleted). ``None``: nothing is sent."""
    return None if banned else still_shown(job, visible)


def still_shown(job: NoticeJob, visible: set[CommentId]) -> NoticeJob | None:
    """The notice without the replies hidden or deleted since it was queued; ``None`` when
    none is left (nothing is sent)."""
    kept = tuple(n for n in job.notices if n.comment_id in visible)
    if not kept:
        return None
    gone = len(job.notices) - len(kept)
    return replace(job, notices=kept, count=max(job.count - gone, len(kept)))
