"""A story's comment policy: open, pre-moderated or closed, and when it closes by itself.

Pure rules: the intake (``newsbot.intake.decide``) asks ``effective`` for every arriving
comment, with what its store looked up about the article (``Story``) and what the service
set on the comment (its default policy and its automatic close).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from newsbot.errors import InvalidInput
from newsbot.i18n import N_


class CommentPolicy(StrEnum):
    """What becomes of a story's new comments."""

    OPEN = "open"
    """Stored and shown at once (within the intake limits and the moderation holds)."""
    PREMODERATED = "premoderated"
    """Every new comment waits in the moderation queue and appears (and mirrors) only once
    approved."""
    CLOSED = "closed"
    """No new comment: the web form is gone, and a chat reply that still arrives (Telegram
    cannot prevent one) is stored hidden with the reason ``closed`` and never mirrored."""


@dataclass(frozen=True, slots=True)
class Story:
    """What the intake needs to know of an article's policy.

    Attributes:
        policy: the policy set on the article, if any (else the default applies).
        published_at: when it was published (the automatic close counts from it).
        slow: its slow mode, in seconds (0: off): one comment per reader per ``slow``
            seconds (``newsbot.slowmode``), kept beside the policy.
    """

    policy: CommentPolicy | None
    published_at: datetime | None
    slow: int = 0


def parse(value: str) -> CommentPolicy:
    """A policy by name (``open``, ``premoderated``, ``closed``).

    Raises:
        ValueError: no such policy.
    """
    return CommentPolicy(value.strip().lower())


def effective(
    story: Story | None,
    default: CommentPolicy = CommentPolicy.OPEN,
    close_before: datetime | None = None,
) -> CommentPolicy:
    """The policy a new comment meets: the article's own, else ``default``; and closed when
    the article was published before ``close_before`` (the automatic close), unless its
    own policy was set (an editor reopening an old story keeps it open)."""
    if story is None:
        return default
    if story.policy is not None:
        return story.policy
    published = story.published_at
    if close_before is not None and published is not None and published < close_before:
        return CommentPolicy.CLOSED
    return default


def choose(value: str) -> CommentPolicy:
    """The policy an admin asked for at publish time (``--comments``, ``comments=``, a form).

    Raises:
        InvalidInput: no such policy; the message names the three.
    """
    try:
        return parse(value)
    except ValueError:
        raise InvalidInput(BAD_POLICY, field="comments") from None


BAD_POLICY = N_("Comments must be open, premoderated or closed.")
