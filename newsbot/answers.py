"""What a chat user is told when their command fails: one policy for every platform.

The adapters deliver the answer their own way (a Telegram message or button alert, an
ephemeral Discord reply) and log with their own context; which kind of answer an error gets,
and its words, are decided here once:

- a ``DomainError`` (a refusal, a bad value, something unknown) is shown as it is: its message
  is written for users;
- a ``StorageError`` asks to try again: nothing was done, and it may work in a minute;
- a ``DeliveryError`` is not answered: it means an answer could not be delivered, so another
  one through the same channel would fail alike;
- anything else is a bug: the user gets a short apology and the adapter logs it with context.

The words are in the reader's language when a translator is given: the apology, the request to
retry and every refusal (its ``Message``: the id the catalogs hold and the values filled in).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from newsbot import slowmode
from newsbot.errors import DeliveryError, DomainError, StorageError
from newsbot.i18n import ENGLISH, N_, Message, Translator
from newsbot.policy import CommentPolicy

APOLOGY = N_("Sorry, something went wrong on my side. The error was logged; please try again.")
TRY_AGAIN = N_(
    "Sorry, my database is not answering right now, so nothing was done. "
    "Please send it again in a minute."
)


class AnswerKind(enum.StrEnum):
    """How a failed command is answered."""

    SHOW = "show"
    """A refusal: the error's own message is shown."""
    RETRY = "retry"
    """The store did not answer: the user is asked to try again."""
    SILENT = "silent"
    """The answer itself could not be delivered: only logged."""
    APOLOGISE = "apologise"
    """A bug: an apology, and the adapter logs the error with its context."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a failed command.

    Attributes:
        kind: which kind of failure it was, so the adapter knows how to log it.
        text: what the user is told, or ``None`` when nothing is said.
    """

    kind: AnswerKind
    text: str | None


def answer_to(error: BaseException, tr: Translator = ENGLISH) -> Answer:
    """The answer a user gets when their command failed with ``error``, in ``tr``'s language."""
    if isinstance(error, DomainError):
        return Answer(AnswerKind.SHOW, error.translated(tr))
    if isinstance(error, StorageError):
        return Answer(AnswerKind.RETRY, tr.gettext(TRY_AGAIN))
    if isinstance(error, DeliveryError):
        return Answer(AnswerKind.SILENT, None)
    return Answer(AnswerKind.APOLOGISE, tr.gettext(APOLOGY))


# -- the words both chat platforms answer with (rendered in the reader's language) ---------

ALREADY_DELETED = N_("Comment %(id)s was already deleted.")
REPORTED = N_("Thank you: a moderator will look at this comment.")
POLICY_IS = {
    "open": N_("Article %(id)s: comments are open."),
    "premoderated": N_("Article %(id)s: comments are premoderated."),
    "closed": N_("Article %(id)s: comments are closed."),
}
"""What an admin is told of a story's comment policy (by ``CommentPolicy``'s value)."""


def report_wait(seconds: float) -> Message:
    """Asking a reader who reported too often to wait."""
    wait = max(1, int(seconds))
    return Message.ngettext(
        "Please wait %(count)s seconds to report again.",
        "Please wait %(count)s seconds to report again.",
        wait,
    )


def banned(name: str, count: int, platform: str | None = None) -> Message:
    """What an admin is told after banning an author (and deleting their comments)."""
    if platform is None:
        return Message.ngettext(
            "Banned %(name)s; deleted %(count)s comment(s).",
            "Banned %(name)s; deleted %(count)s comment(s).",
            count,
            name=name,
        )
    return Message.ngettext(
        "Banned %(name)s (%(platform)s); %(count)s comment(s) deleted.",
        "Banned %(name)s (%(platform)s); %(count)s comment(s) deleted.",
        count,
        name=name,
        platform=platform,
    )


def publish_terms(comments: CommentPolicy | None, slow: int | None) -> list[Message]:
    """What a publish answer adds about the story's own comment policy and slow mode, when
    either was asked for (``Comments: closed.``, ``Slow mode: ...``)."""
    terms = []
    if comments is not None:
        terms.append(Message(N_("Comments: %(policy)s."), values={"policy": str(comments)}))
    if pace := slowmode.described(slow or 0):
        terms.append(pace)
    return terms
