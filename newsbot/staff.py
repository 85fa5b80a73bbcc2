"""Staff are recognisable everywhere, and nobody else can pass for them (pure).

A comment by a newsbot admin or by someone in ``NEWSBOT_STAFF`` (per platform) is staff's:
its stored name carries ``STAFF_MARK``, so every mirrored copy shows it, and the web page
adds a badge. Anybody else's name loses the mark's symbols, and a name that imitates the
badge's words ("Editor", "Staff", "Admin", "Moderator", compared through
``newsbot.text.name_key``, so "Еdіtor" with Cyrillic letters and "Adm1n" count) is refused
when typed on the web, and marked ``IMITATION_MARK`` when a platform gave it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping

from newsbot.errors import ConfigError
from newsbot.i18n import N_
from newsbot.models import Author, Platform
from newsbot.people import SIGNED_IN, vouched_by
from newsbot.text import name_key

STAFF_MARK = " ✓ staff"
IMITATION_MARK = " (reader)"
BADGE_WORDS = ("editor", "staff", "admin", "administrator", "moderator", "mod team", "newsroom")
# Check marks and their look-alikes: only staff names carry one.
_CHECKS = re.compile("[\u2713\u2714\u2611\u2705\U0001f5f8\u221a\u2714\ufe0f]")
IMITATION = N_("This name is kept for the newsroom's staff; please choose another.")


@functools.cache
def _badge_keys() -> tuple[str, ...]:
    return tuple(name_key(word) for word in BADGE_WORDS)


def imitates_staff(name: str) -> bool:
    """Whether a name looks like the staff badge (its words, in any look-alike spelling)."""
    key = name_key(name)
    return any(word in key for word in _badge_keys())


def parse_staff(value: str) -> dict[Platform, frozenset[str]]:
    """``NEWSBOT_STAFF``: ``telegram:123,discord:456`` as user ids per platform.

    Raises:
        ConfigError: an entry is not ``telegram:DIGITS`` or ``discord:DIGITS``.
    """
    found: dict[Platform, set[str]] = {}
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        platform, _, user_id = entry.partition(":")
        if platform not in ("telegram", "discord") or not user_id.isdigit():
            raise ConfigError(
                f"NEWSBOT_STAFF: {entry!r} is not telegram:USER_ID or discord:USER_ID"
            )
        found.setdefault(Platform(platform), set()).add(user_id)
    return {p: frozenset(ids) for p, ids in found.items()}


def is_staff(author: Author, staff: Mapping[Platform, Collection[str]]) -> bool:
    """Whether ``author`` is staff: their chat account, or the account a signed-in web
    commenter signed in with, is listed. An anonymous web commenter never is."""
    platform, user_id = author.platform, author.user_id
    if platform is Platform.WEB:
        vouching = vouched_by(user_id)
        if vouching is None:
            return False
        platform, user_id = vouching, user_id.partition(SIGNED_IN)[2]
    return user_id in staff.get(platform, ())


def shown_name(name: str, staff: bool) -> str:
    """The name stored for a comment: staff's marked, anybody else's without check marks
    and marked when it imitates the badge."""
    name = " ".join(_CHECKS.sub("", name).split())
    if staff:
        return name + STAFF_MARK
    if imitates_staff(name) and not name.endswith(IMITATION_MARK):
        return name + IMITATION_MARK
    return name
