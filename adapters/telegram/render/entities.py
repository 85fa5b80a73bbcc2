"""Entities and fitting: limits, spans, UTF-16 offsets, cutting text to a budget, and the
check of every Bot API entity rule. Nothing here does I/O."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from telegram import MessageEntity

from newsbot.text import cut_point, utf16_len

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ENTITY_LIMIT = 100
ELLIPSIS = "…"
TITLE_LIMIT = 512  # units; the service allows 256 characters, this bounds arbitrary input
QUOTE_LIMIT = 120
SOURCE_FACTOR = 4  # Markdown source read per unit of output: rendering never grows text much
URL_LIMIT = 2048

STYLE = frozenset(
    {
        MessageEntity.BOLD,
        MessageEntity.ITALIC,
        MessageEntity.UNDERLINE,
        MessageEntity.STRIKETHROUGH,
        MessageEntity.SPOILER,
    }
)
LINKS = frozenset({MessageEntity.TEXT_LINK, MessageEntity.URL, MessageEntity.TEXT_MENTION})
QUOTES = frozenset({MessageEntity.BLOCKQUOTE, MessageEntity.EXPANDABLE_BLOCKQUOTE})
CODE = frozenset({MessageEntity.CODE, MessageEntity.PRE})
# Entities that must never be cut: a shortened link text or code span changes its meaning.
ATOMIC = frozenset({MessageEntity.TEXT_LINK, MessageEntity.CODE})


@dataclass(slots=True)
class Span:
    """An entity under construction: a kind and a [start, end) range in UTF-16 units."""

    kind: str
    start: int
    end: int
    url: str | None = None
    language: str | None = None

    def entity(self) -> MessageEntity:
        """The Bot API entity for this span."""
        return MessageEntity(
            self.kind, self.start, self.end - self.start, url=self.url, language=self.language
        )


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send: ``text`` plus ``entities`` (send them, never a parse mode)."""

    text: str
    entities: tuple[MessageEntity, ...] = ()
    truncated: bool = False
    shown: int = 0  # of a thread page: how many comments the message holds


@dataclass(slots=True)
class _Piece:
    """Text under construction: the pieces written so far and the spans over them."""

    parts: list[str] = field(default_factory=list)
    units: int = 0
    spans: list[Span] = field(default_factory=list)

    def write(self, text: str, kind: str | None = None, url: str | None = None) -> None:
        if not text:
            return
        start = self.units
        self.parts.append(text)
        self.units += utf16_len(text)
        if kind is not None:
            self.spans.append(Span(kind, start, self.units, url=url))

    def extend(self, text: str, spans: Iterable[Span]) -> None:
        offset = self.units
        self.parts.append(text)
        self.units += utf16_len(text)
        self.spans.extend(replace(s, start=s.start + offset, end=s.end + offset) for s in spans)

    @property
    def text(self) -> str:
        return "".join(self.parts)


# -- UTF-16 helpers ----------------------------------------------------------------------------


def _unit_offsets(text: str) -> list[int]:
    """``offsets[i]`` is the UTF-16 offset of character ``i``; one extra entry for the end."""
    offsets = [0] * (len(text) + 1)
    units = 0
    for index, ch in enumerate(text):
        offsets[index] = units
        units += 2 if ord(ch) > 0xFFFF else 1
    offsets[len(text)] = units
    return offsets


def _safe_url(url: str | None) -> str | None:
    if not url or len(url) > URL_LIMIT:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return None
    return url


def _slice(text: str, spans: Sequence[Span], start: int, end: int) -> tuple[str, list[Span]]:
    """``text[start:end]`` with the spans moved and clipped to it (empty ones dropped)."""
    offsets = _unit_offsets(text)
    lo, hi = offsets[start], offsets[end]
    kept = []
    for span in spans:
        s, e = max(span.start, lo), min(span.end, hi)
        if e > s:
            kept.append(replace(span, start=s - lo, end=e - lo))
    return text[start:end], kept


def _sorted(spans: Iterable[Span]) -> list[Span]:
    return sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))


# -- cutting -----------------------------------------------------------------------------------


def fit(
    text: str, spans: Sequence[Span], budget: int, *, ellipsis: str = ELLIPSIS
) -> tuple[str, list[Span], bool]:
    """Shorten ``text`` to ``budget`` UTF-16 units (ellipsis included) without splitting a word,
    a surrogate pair, a link or a code span; style spans crossing the cut end at it.

    Returns the text, its spans and whether anything was cut.
    """
    if utf16_len(text) <= budget:
        return text, list(spans), False
    room = budget - utf16_len(ellipsis)
    if room <= 0:
        return "", [], True
    end = cut_point(text, room)
    offsets = _unit_offsets(text)
    cut = offsets[end]
    kept: list[Span] = []
    for span in _sorted(spans):
        # End before a link or code span rather than inside it; when that would lose more
        # than half the room, the span is dropped instead (below) and its text kept.
        if span.kind in ATOMIC and span.start < cut < span.end and span.start >= room // 2:
            cut = span.start
    index = _char_index(offsets, cut)
    head = text[:index].rstrip()
    head_units = utf16_len(head)
    for span in spans:
        if span.kind in ATOMIC and span.end > head_units:
            continue
        s, e = span.start, min(span.end, head_units)
        if e > s:
            kept.append(replace(span, end=e))
    if not head:
        return "", [], True
    return head + ellipsis, _sorted(kept), True


def _char_index(offsets: list[int], units: int) -> int:
    """The character index whose UTF-16 offset is ``units`` (or the one just before)."""
    lo, hi = 0, len(offsets) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if offsets[mid] <= units:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _limit_entities(spans: Sequence[Span], limit: int) -> list[Span]:
    """Keep the first ``limit`` spans; the text stays, only formatting beyond them is lost."""
    return _sorted(spans)[: max(limit, 0)]


# -- validation --------------------------------------------------------------------------------


def _may_contain(outer: str, inner: str) -> bool:
    if outer in STYLE:
        return inner in STYLE or inner in LINKS
    if outer in LINKS:
        return inner in STYLE
    if outer in QUOTES:
        return inner in STYLE or inner in LINKS or inner == MessageEntity.CODE
    return False


def check_entities(text: str, entities: Sequence[MessageEntity], limit: int) -> list[str]:
    """Every way the message would break a Bot API rule; empty when it is valid.

    Checks the length limit, the entity count, ranges inside the text and on code-point
    boundaries, and the nesting rules (two entities either do not overlap or one contains the
    other in a combination Telegram accepts).
    """
    problems: list[str] = []
    size = utf16_len(text)
    if size > limit:
        problems.append(f"text is {size} UTF-16 units, over {limit}")
    if len(entities) > ENTITY_LIMIT:
        problems.append(f"{len(entities)} entities, over {ENTITY_LIMIT}")
    boundaries = set(_unit_offsets(text))
    for e in entities:
        if e.length <= 0 or e.offset < 0 or e.offset + e.length > size:
            problems.append(f"{e.type} at {e.offset}+{e.length} is outside the text ({size})")
        elif e.offset not in boundaries or e.offset + e.length not in boundaries:
            problems.append(f"{e.type} at {e.offset}+{e.length} splits a surrogate pair")
        if e.type == MessageEntity.TEXT_LINK and _safe_url(e.url) is None:
            problems.append(f"text_link with an unusable url {e.url!r}")
    ordered = sorted(entities, key=lambda e: (e.offset, -e.length))
    for i, a in enumerate(ordered):
        a_end = a.offset + a.length
        for b in ordered[i + 1 :]:
            if b.offset >= a_end:
                break
            b_end = b.offset + b.length
            if b_end > a_end:
                problems.append(f"{a.type} and {b.type} overlap partially")
            elif not (
                _may_contain(a.type, b.type)
                or (a.offset == b.offset and a_end == b_end and _may_contain(b.type, a.type))
            ):
                problems.append(f"{a.type} may not contain {b.type}")
    return problems
