"""Lists, plain answers, and incoming formatting turned back into Markdown or split off a
command."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from telegram import MessageEntity

from adapters.telegram.render.entities import (
    ENTITY_LIMIT,
    TEXT_LIMIT,
    Rendered,
    _char_index,
    _Piece,
    _safe_url,
    _unit_offsets,
    fit,
)
from newsbot.text import strip_control_chars


def render_list(items: Sequence[tuple[str, str]], heading: str) -> Rendered:
    """A heading and one linked line per ``(title, url)`` (``/latest``)."""
    out = _Piece()
    out.write(heading, MessageEntity.BOLD)
    for title, url in items[: ENTITY_LIMIT - 1]:
        line, _, _ = fit(" ".join(title.split()) or "Untitled", [], 200)
        out.write("\n• ")
        out.write(line, MessageEntity.TEXT_LINK if _safe_url(url) else None, url=_safe_url(url))
    return Rendered(out.text, tuple(s.entity() for s in out.spans))


def plain(text: str, limit: int = TEXT_LIMIT) -> Rendered:
    """Plain text cut to ``limit`` units (answers to commands)."""
    body, _, cut = fit(strip_control_chars(text).strip() or "…", [], limit)
    return Rendered(body, (), cut)


def with_inert(parts: Iterable[tuple[str, bool]], limit: int = TEXT_LIMIT) -> Rendered:
    """Plain text whose parts marked ``True`` (a chat's title, a person's name) are code:
    Telegram makes no link, mention, hashtag or command of anything inside code, so text from
    outside cannot put a clickable link or ``/command`` in front of an admin."""
    out = _Piece()
    for text, inert in parts:
        text = strip_control_chars(text)
        out.write(text, MessageEntity.CODE if inert and text.strip() else None)
    body, spans, cut = fit(out.text, out.spans, limit)
    return Rendered(body, tuple(span.entity() for span in spans), cut)


# -- incoming formatting -----------------------------------------------------------------------

_MARKERS = {
    MessageEntity.BOLD: ("**", "**"),
    MessageEntity.ITALIC: ("*", "*"),
    MessageEntity.STRIKETHROUGH: ("~~", "~~"),
}


def entities_to_markdown(text: str, entities: Sequence[MessageEntity]) -> str:
    """Turn a received message's formatting back into Markdown.

    Telegram apps turn ``**bold**`` typed by an admin into a bold entity and remove the
    asterisks; writing the markers back keeps the formatting the admin meant. Kinds without a
    Markdown form (underline, spoiler, mentions) are left as plain text.
    """
    offsets = _unit_offsets(text)
    inserts: list[tuple[int, int, int, str]] = []  # (char index, phase, order, marker)
    for order, entity in enumerate(sorted(entities, key=lambda e: (e.offset, -e.length))):
        start = _char_index(offsets, entity.offset)
        end = _char_index(offsets, entity.offset + entity.length)
        if not 0 <= start < end <= len(text):
            continue
        inner = text[start:end]
        # Markdown emphasis cannot start or end with a space; keep spaces outside the markers.
        start += len(inner) - len(inner.lstrip())
        end -= len(inner) - len(inner.rstrip())
        if start >= end:
            continue
        kind = entity.type
        if kind in _MARKERS:
            opening, closing = _MARKERS[kind]
        elif kind == MessageEntity.CODE:
            ticks = "``" if "`" in text[start:end] else "`"
            opening, closing = ticks, ticks
        elif kind == MessageEntity.PRE:
            opening = f"\n```{entity.language or ''}\n"
            closing = "\n```\n"
        elif kind == MessageEntity.TEXT_LINK and entity.url:
            opening, closing = "[", f"]({entity.url})"
        else:
            continue
        inserts.append((start, 1, order, opening))
        inserts.append((end, 0, -order, closing))
    if not inserts:
        return text
    inserts.sort()
    out: list[str] = []
    last = 0
    for index, _phase, _order, marker in inserts:
        out.append(text[last:index])
        out.append(marker)
        last = index
    out.append(text[last:])
    return "".join(out)


def tail(
    text: str, entities: Sequence[MessageEntity], start: int
) -> tuple[str, list[MessageEntity]]:
    """``text[start:]`` (a character index) with the entities moved and clipped to it."""
    offsets = _unit_offsets(text)
    start = min(max(start, 0), len(text))
    base = offsets[start]
    moved = []
    for entity in entities:
        s = max(entity.offset, base)
        e = min(entity.offset + entity.length, offsets[-1])
        if e > s:
            moved.append(
                MessageEntity(
                    entity.type, s - base, e - s, url=entity.url, language=entity.language
                )
            )
    return text[start:], moved


_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?[ \t]*")


def split_command(text: str, entities: Sequence[MessageEntity]) -> tuple[str, list[MessageEntity]]:
    """What follows a leading ``/command`` (and the spaces after it), with its entities."""
    match = _COMMAND.match(text)
    return tail(text, entities, match.end() if match else 0)


def split_article(text: str, entities: Sequence[MessageEntity]) -> tuple[str, str]:
    """An article typed in a message: the first line is the title, the rest is the body.

    Formatting the admin applied in the Telegram app comes back as Markdown in the body.
    """
    skipped = len(text) - len(text.lstrip())
    text, entities = tail(text, entities, skipped)
    newline = text.find("\n")
    if newline < 0:
        return text.strip(), ""
    body, body_entities = tail(text, entities, newline + 1)
    return text[:newline].strip(), entities_to_markdown(body, body_entities).strip()
