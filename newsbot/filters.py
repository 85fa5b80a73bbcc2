"""Filters per destination: which articles a chat receives besides its tags (pure).

A filter is written as terms; terms in a group must all match (AND), groups are separated by
``OR``, and a term starting with ``-`` excludes whatever it matches, whatever the groups say::

    quake title:earthquake OR tags:breaking -body:sponsored -author~"^Press desk$"

- ``word`` or ``"two words"``: in the title, summary, body, author or tags (case-insensitive,
  a tag must match whole);
- ``field:word``: in that field only (``title``, ``summary``, ``body``, ``author``, ``tags``);
- ``field~PATTERN`` or ``~PATTERN``: a regular expression. The core does not run them: it asks
  a ``RegexEngine`` the composition root hands in, which must take linear time (RE2), so a
  hostile pattern cannot stall the bot; without one, a filter with a pattern is refused.

An article passes when no exclusion matches and, if there are groups, one group matches
whole. ``check`` says why, for ``bot.py preview``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from newsbot.errors import InvalidInput
from newsbot.i18n import N_, Message
from newsbot.models import ArticleDraft

FIELDS = ("title", "summary", "body", "author", "tags")
_FIELDED = re.compile(r"([A-Za-z]*)([:~])(.*)", re.S)  # the filter's own syntax
FILTER_MAX = 1000  # characters of a filter's text
TERMS_MAX = 30


class Matcher(Protocol):
    """A compiled pattern."""

    def search(self, text: str) -> object | None:
        """A match anywhere in ``text``, or ``None``."""
        ...


class RegexEngine(Protocol):
    """Compiles patterns for a linear-time engine (``adapters/regex.py``: google-re2)."""

    def compile(self, pattern: str) -> Matcher:
        """The compiled pattern.

        Raises:
            ValueError: the pattern is malformed or uses what the engine refuses
                (backreferences, lookaround), with the reason.
        """
        ...


@dataclass(frozen=True, slots=True)
class Term:
    """One condition: ``text`` (a keyword, or a pattern when ``regex``) in ``field``
    (``None``: any field); ``exclude`` turns it into an exclusion."""

    text: str
    field: str | None = None
    regex: bool = False
    exclude: bool = False

    def __str__(self) -> str:
        where = f"{self.field}" if self.field else ""
        sign = "-" if self.exclude else ""
        if self.regex:
            return f"{sign}{where}~{shlex.quote(self.text)}"
        return f"{sign}{where}{':' if where else ''}{shlex.quote(self.text)}"


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter: groups of terms (OR of ANDs) and exclusions."""

    groups: tuple[tuple[Term, ...], ...]
    exclusions: tuple[Term, ...]

    def __str__(self) -> str:
        text = " OR ".join(" ".join(map(str, g)) for g in self.groups)
        return " ".join(filter(None, [text, *map(str, self.exclusions)]))


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an article passes a filter, and why."""

    passed: bool
    reason: str


def parse(text: str, engine: RegexEngine | None) -> Filter:
    """A filter from its text; compiles every pattern once to refuse a bad one now.

    Raises:
        InvalidInput: unbalanced quotes, an unknown field, an empty term, too long, or a
            pattern the engine refuses (or no engine to run it).
    """
    if len(text) > FILTER_MAX:
        raise InvalidInput(
            Message.ngettext(
                "A filter is %(count)s character at most.",
                "A filter is %(count)s characters at most.",
                FILTER_MAX,
            ),
            field="filter",
        )
    # Quotes group words; a backslash is the pattern's own (no shell escapes).
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split, lexer.escape, lexer.commenters = True, "", ""
    try:
        words = list(lexer)
    except ValueError as exc:
        raise InvalidInput(
            N_("Cannot read the filter: %(reason)s."), field="filter", reason=exc
        ) from None
    if len(words) > TERMS_MAX:
        raise InvalidInput(
            Message.ngettext(
                "A filter has %(count)s term at most.",
                "A filter has %(count)s terms at most.",
                TERMS_MAX,
            ),
            field="filter",
        )
    groups: list[list[Term]] = [[]]
    exclusions: list[Term] = []
    for word in words:
        if word == "OR":
            groups.append([])
            continue
        term = _term(word)
        if term.regex:
            _compile(term.text, engine)
        (exclusions if term.exclude else groups[-1]).append(term)
    if len(groups) > 1 and not all(groups):
        raise InvalidInput(N_("OR needs terms to include on both sides."), field="filter")
    return Filter(tuple(tuple(g) for g in groups if g), tuple(exclusions))


def _term(word: str) -> Term:
    exclude = word.startswith("-") and len(word) > 1
    body = word[1:] if exclude else word
    field: str | None = None
    regex = False
    fielded = _FIELDED.fullmatch(body)
    if fielded is not None and (fielded.group(1) or fielded.group(2) == "~"):
        name, separator, body = fielded.groups()
        if name and name.lower() not in FIELDS:
            raise InvalidInput(
                N_("Unknown field %(name)s: use %(fields)s."),
                field="filter",
                name=repr(name[:20]),
                fields=", ".join(FIELDS),
            )
        field, regex = name.lower() or None, separator == "~"
    if not body:
        raise InvalidInput(N_("The term %(term)s is empty."), field="filter", term=repr(word[:40]))
    return Term(body if regex else body.casefold(), field, regex, exclude)


def _compile(pattern: str, engine: RegexEngine | None) -> Matcher:
    if engine is None:
        raise InvalidInput(
            N_(
                "Regular expressions are off: this newsbot has no linear-time engine "
                "(install google-re2)."
            ),
            field="filter",
        )
    try:
        return engine.compile(pattern)
    except ValueError as exc:
        raise InvalidInput(
            N_("The pattern %(pattern)s is refused: %(reason)s"),
            field="filter",
            pattern=repr(pattern[:60]),
            reason=str(exc)[:120],
        ) from None


def check(
    flt: Filter,
    draft: ArticleDraft,
    author: str,
    engine: RegexEngine | None,
    compiled: Callable[[str], Matcher] | None = None,
) -> Verdict:
    """Whether ``draft`` (by ``author``) passes ``flt``, and the term that decided it.

    ``compiled`` may cache compiled patterns (the service keeps them between articles).
    """
    get = compiled or (lambda p: _compile(p, engine))
    fields = {
        "title": draft.title,
        "summary": draft.summary,
        "body": draft.body,
        "author": author,
    }
    folded = {k: v.casefold() for k, v in fields.items()}
    tags = [t.casefold() for t in draft.tags]

    def matches(term: Term) -> bool:
        names: Sequence[str] = (term.field,) if term.field else FIELDS
        for name in names:
            if name == "tags":
                if term.regex:
                    if any(get(term.text).search(t) is not None for t in draft.tags):
                        return True
                elif term.text in tags:
                    return True
            elif term.regex:
                if get(term.text).search(fields[name]) is not None:
                    return True
            elif term.text in folded[name]:
                return True
        return False

    for term in flt.exclusions:
        if matches(term):
            return Verdict(False, f"excluded by {term}")
    if not flt.groups:
        return Verdict(True, "no condition excludes it")
    for group in flt.groups:
        if all(matches(t) for t in group):
            return Verdict(True, f"matches {' '.join(map(str, group))}")
    return Verdict(
        False, "matches none of: " + " OR ".join(" ".join(map(str, g)) for g in flt.groups)
    )
