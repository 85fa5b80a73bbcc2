"""The staff chat's pure rules: where it is, what a notice says, how a flood folds into one
notice, and what a button press asks the desk to do.

``NEWSBOT_STAFF_CHAT`` names one Telegram chat or Discord channel (``telegram:CHAT_ID``,
``discord:CHANNEL_ID``). Each comment that enters the moderation queue (held or reported) is
announced there with four buttons: Approve, Hide, Delete, Ban. While a notice for the chat has
not been sent yet, further items fold into it ("23 more held") instead of adding messages, so
a flood makes a bounded number of staff messages; when the queue is calm each item gets its own
notice. Items entering together fold in one step (``enter_all``: one write a batch). A press
calls the desk as the presser (``newsbot.desk.Desk``, which lets only newsbot admins act) and
the staff message then says who did what.

Nothing here does I/O and nothing escapes: adapters escape every field where it goes
(Telegram HTML, Discord markdown).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from newsbot.errors import ConfigError
from newsbot.i18n import ENGLISH, N_, Message, Translator
from newsbot.models import CommentId, CommentStatus, Platform
from newsbot.review import Action, Decision, Reason, ReviewItem
from newsbot.text import one_line

TEXT_MAX = 700
"""The most characters of a comment a notice quotes (the rest is cut with an ellipsis)."""
DATA_PREFIX = "desk"
"""What every button's data starts with, so other buttons' presses are not taken for ours."""
DATA_MAX = 64
"""The longest button data, in UTF-8 bytes (Telegram's ``callback_data`` limit; Discord's
``custom_id`` allows 100 characters)."""
REFUSAL = N_("Only newsbot admins can act on the moderation queue.")
GAP = 3.0
"""The fewest seconds between two notices to one chat (Telegram allows a group 20 messages a
minute); items arriving meanwhile fold into the notice that waits."""
"""What a press by anybody else is answered with."""


@dataclass(frozen=True, slots=True)
class StaffChat:
    """The chat or channel where staff notices go."""

    platform: Platform
    chat_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"


def parse_staff_chat(value: str) -> StaffChat | None:
    """``NEWSBOT_STAFF_CHAT``: ``telegram:CHAT_ID`` (a negative id for a group) or
    ``discord:CHANNEL_ID``; empty means no staff chat.

    Raises:
        ConfigError: the value is not one of those.
    """
    value = value.strip()
    if not value:
        return None
    platform, _, chat_id = value.partition(":")
    digits = chat_id[1:] if platform == "telegram" and chat_id.startswith("-") else chat_id
    if platform not in ("telegram", "discord") or not digits.isdigit() or not digits.isascii():
        raise ConfigError(
            f"NEWSBOT_STAFF_CHAT: {value!r} is not telegram:CHAT_ID or discord:CHANNEL_ID"
        )
    return StaffChat(Platform(platform), chat_id)


class Kind(StrEnum):
    """Why an item is announced: it was held, or readers reported it."""

    HELD = "held"
    REPORTED = "reported"


def kind_of(reasons: tuple[str, ...]) -> Kind:
    """An item is announced as reported when that is its only reason, as held otherwise."""
    return Kind.REPORTED if set(reasons) == {Reason.REPORTED} else Kind.HELD


@dataclass(frozen=True, slots=True)
class Notice:
    """A staff notice not sent yet: the item it leads with and the items folded into it.

    Attributes:
        lead: the comment the notice shows, with the buttons.
        kind: why the lead is announced.
        more: items folded in since, counted by kind.
    """

    lead: CommentId
    kind: Kind
    more: Mapping[Kind, int] = field(default_factory=dict)

    @property
    def folded(self) -> int:
        """How many items were folded into this notice."""
        return sum(self.more.values())


def enter(pending: Notice | None, comment_id: CommentId, kind: Kind) -> tuple[Notice, bool]:
    """An item entered the queue: the notice to keep pending, and whether it is a new one.

    With no notice pending for the chat the item gets its own (calm: one notice per item).
    With one pending (a flood: the outbox has not sent it yet) the item folds into it; the
    lead announced again for the same reason changes nothing.
    """
    return enter_all(pending, ((comment_id, kind),))


def enter_all(
    pending: Notice | None, items: Sequence[tuple[CommentId, Kind]]
) -> tuple[Notice, bool]:
    """Items entered the queue together (in this order): ``enter`` for each in one step, the
    notice to keep pending and whether it is a new one (the first item leads it when none
    was pending).

    Raises:
        ValueError: no item and no notice pending.
    """
    new = pending is None
    if pending is None:
        if not items:
            raise ValueError("no item entered the queue")
        pending = Notice(items[0][0], items[0][1])
        items = items[1:]
    lead, lead_kind = pending.lead, pending.kind
    more = dict(pending.more)
    for comment_id, kind in items:
        if comment_id != lead or kind is not lead_kind:
            more[kind] = more.get(kind, 0) + 1
    if more == pending.more:
        return pending, new
    return replace(pending, more=more), new


@dataclass(frozen=True, slots=True)
class StaffNotice:
    """A notice as the outbox keeps it (``newsbot.ports.staffchat.StaffNoticeStore``).

    Attributes:
        id: its row.
        chat: where it goes.
        notice: the item it leads with and the items folded into it.
        state: ``pending`` (folding), ``waiting`` (a retry is due), ``sending`` (claimed),
            ``sent`` or ``dead``.
        attempts: sends tried.
        message_id: the staff message, once sent.
        claimed_by: the worker holding the claim while ``sending``.
        last_error: why the last send failed.
        updated_at: when it last changed.
    """

    id: int
    chat: StaffChat
    notice: Notice
    state: str
    attempts: int
    message_id: str | None
    claimed_by: str | None
    last_error: str | None
    updated_at: datetime


def notice_due(now: datetime, last_sent: datetime | None, gap: float) -> datetime:
    """When a new notice may go: at once, or ``gap`` seconds after the chat's last one."""
    if last_sent is None:
        return now
    return max(now, last_sent + timedelta(seconds=gap))


def _more(kind: Kind, count: int) -> Message:
    if kind is Kind.HELD:
        return Message.ngettext("%(count)s more held", "%(count)s more held", count)
    return Message.ngettext("%(count)s more reported", "%(count)s more reported", count)


def more_text(more: Mapping[Kind, int], tr: Translator = ENGLISH) -> str:
    """``"23 more held, 2 more reported"``, or ``""`` when nothing was folded."""
    return ", ".join(_more(k, more[k]).render(tr) for k in Kind if more.get(k, 0) > 0)


@dataclass(frozen=True, slots=True)
class NoticeText:
    """What a staff message says, field by field, unescaped.

    Attributes:
        heading: ``"Held comment"`` or ``"Reported comment (3 reports)"``.
        article: the article's title.
        platform: where the comment was written.
        author: its author's name.
        reasons: why it is in the queue, comma-separated.
        text: the comment, on one line, cut at ``TEXT_MAX`` characters.
        more: the items folded into this notice (``more_text``), or ``""``.
        decided: what became of the comment before the notice went out
            (``decided_line``), or ``""`` while it waits: a decided notice has no buttons.
        tr: the staff chat's language, which ``notice_lines`` speaks.
    """

    heading: str
    article: str
    platform: str
    author: str
    reasons: str
    text: str
    more: str
    decided: str = ""
    tr: Translator = field(default=ENGLISH, compare=False, repr=False)


def notice_lines(text: NoticeText, escape: Callable[[str], str]) -> list[str]:
    """A notice's heading, article, origin and reasons lines, in its language, each field
    escaped by ``escape`` for the platform's markup (the heading is left to be emphasised)."""
    tr = text.tr

    def line(message: str, **values: str) -> str:
        return tr.gettext(message) % {name: escape(value) for name, value in values.items()}

    return [
        escape(text.heading),
        line(N_("Article: %(title)s"), title=text.article),
        line(N_("On %(platform)s by %(author)s"), platform=text.platform, author=text.author),
        line(N_("Why: %(reasons)s"), reasons=text.reasons),
    ]


def more_line(text: NoticeText, escape: Callable[[str], str]) -> str:
    """``…and 23 more held`` (``more`` escaped), to be emphasised by the platform."""
    return text.tr.gettext(N_("…and %(more)s")) % {"more": escape(text.more)}


def notice_text(
    item: ReviewItem, article_title: str, more: Mapping[Kind, int], tr: Translator = ENGLISH
) -> NoticeText:
    """The staff message for ``item`` of the article titled ``article_title``, in ``tr``'s
    language."""
    kind = kind_of(item.reasons)
    heading = tr.gettext(N_("Held comment") if kind is Kind.HELD else N_("Reported comment"))
    if item.reports:
        heading += Message.ngettext(
            " (%(count)s report)", " (%(count)s reports)", item.reports
        ).render(tr)
    reasons = list(item.reasons)
    if item.report_reasons:
        reported = tr.gettext(N_("reported: %(reason)s"))
        reasons.extend(reported % {"reason": one_line(r)} for r in item.report_reasons[-3:])
    text = one_line(item.comment.text)
    if len(text) > TEXT_MAX:
        text = text[: TEXT_MAX - 1] + "…"
    return NoticeText(
        heading=heading,
        article=one_line(article_title),
        platform=str(item.comment.author.platform),
        author=one_line(item.comment.author.name),
        reasons=", ".join(reasons),
        text=text,
        more=more_text(more, tr),
        decided=decided_line(item, tr),
        tr=tr,
    )


def decided_line(item: ReviewItem, tr: Translator = ENGLISH) -> str:
    """What became of a queue item before its notice went out (``"Approved by
    cli:web-admin"``), in ``tr``'s language, or ``""`` while it still waits for a moderator."""
    action = _DECISIONS.get(item.decision)
    if action is not None:
        return acted_text(action, item.decided_by or "", tr=tr)
    if item.comment.status is CommentStatus.DELETED:
        return tr.gettext(N_("Deleted before this notice went out"))
    return ""


def worth_posting(text: NoticeText) -> bool:
    """Whether a notice still goes out when it is sent: one whose comment was decided
    meanwhile is dropped, unless items were folded into it (it then goes marked decided,
    without buttons, for the items it counts)."""
    return not text.decided or bool(text.more)


BUTTONS: tuple[Action, ...] = (Action.APPROVE, Action.HIDE, Action.DELETE, Action.BAN)
"""The buttons under a notice, in order."""
LABELS: Mapping[Action, str] = {
    Action.APPROVE: N_("Approve"),
    Action.HIDE: N_("Hide"),
    Action.DELETE: N_("Delete"),
    Action.BAN: N_("Ban"),
}
_CODES: Mapping[Action, str] = {
    Action.APPROVE: "a",
    Action.HIDE: "h",
    Action.DELETE: "d",
    Action.BAN: "b",
}
_ACTIONS = {code: action for action, code in _CODES.items()}
_DECISIONS: Mapping[Decision, Action] = {
    Decision.APPROVED: Action.APPROVE,
    Decision.HIDDEN: Action.HIDE,
    Decision.DELETED: Action.DELETE,
}
_DONE: Mapping[Action, str] = {
    Action.APPROVE: N_("Approved by %(who)s"),
    Action.HIDE: N_("Hidden by %(who)s"),
    Action.DELETE: N_("Deleted everywhere by %(who)s"),
    Action.BAN: N_("Author banned by %(who)s"),
}


def button_data(comment_id: CommentId, action: Action) -> str:
    """The data a button carries: ``desk:a:123`` (within ``DATA_MAX`` bytes).

    Raises:
        ValueError: ``action`` has no button.
    """
    if action not in _CODES:
        raise ValueError(f"no staff button for {action!r}")
    data = f"{DATA_PREFIX}:{_CODES[action]}:{int(comment_id)}"
    if len(data.encode()) > DATA_MAX:  # only an absurd id could
        raise ValueError("button data too long")
    return data


def parse_button(data: str) -> tuple[CommentId, Action] | None:
    """The comment and action a press names, or ``None`` for data that is not ours (or was
    forged: anything but ``desk:CODE:DIGITS``)."""
    if len(data.encode()) > DATA_MAX:
        return None
    prefix, _, rest = data.partition(":")
    code, _, number = rest.partition(":")
    if prefix != DATA_PREFIX or code not in _ACTIONS:
        return None
    if not (number.isascii() and number.isdigit()) or len(number) > 18:
        return None
    return CommentId(int(number)), _ACTIONS[code]


def acted_text(action: Action, who: str, changed: bool = True, tr: Translator = ENGLISH) -> str:
    """The line a staff message ends with once somebody acted: ``"Approved by Alice"``."""
    done = tr.gettext(_DONE.get(action, f"{str(action).capitalize()} by %(who)s"))
    line = done % {"who": one_line(who) or tr.gettext(N_("a moderator"))}
    return line if changed else line + tr.gettext(N_(" (nothing changed)"))
