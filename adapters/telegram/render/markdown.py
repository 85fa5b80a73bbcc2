"""Markdown to plain text + entities (markdown-it-py; raw HTML is never interpreted)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from markdown_it import MarkdownIt
from markdown_it.token import Token
from telegram import MessageEntity

from adapters.telegram.render.entities import (
    SOURCE_FACTOR,
    Span,
    _Piece,
    _safe_url,
    _slice,
    _sorted,
)
from newsbot.text import strip_control_chars

_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,32}$")
_MD = MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


class _MarkdownRenderer:
    """Turns markdown-it tokens into text and spans that respect Telegram's nesting rules."""

    def __init__(self) -> None:
        self.out = _Piece()
        self.pending_newlines = 0
        self.pending_prefix = ""
        self.inline: list[Span] = []  # open style and link spans, innermost last
        self.quote: Span | None = None
        self.quote_depth = 0
        self.quote_pending = False
        self.lists: list[list[int]] = []  # per open list: [next number or -1 for bullets]
        self.row_cells = 0

    # writing

    def _prepare(self) -> None:
        """Write what a block owes before its first character: separators and a list marker."""
        if self.out.units and self.pending_newlines:
            self.out.write("\n" * self.pending_newlines)
        self.pending_newlines = 0
        if self.quote_pending:
            self.quote = Span(MessageEntity.BLOCKQUOTE, self.out.units, self.out.units)
            self.quote_pending = False
        if self.pending_prefix:
            prefix, self.pending_prefix = self.pending_prefix, ""
            self.out.write(prefix)

    def _block_break(self, newlines: int) -> None:
        self.pending_newlines = max(self.pending_newlines, newlines)

    def _open(self, kind: str, url: str | None = None) -> None:
        # The start is fixed at the first character, after any separator still owed.
        self.inline.append(Span(kind, -1, -1, url=url))

    def _close(self, kind: str) -> None:
        for index in range(len(self.inline) - 1, -1, -1):
            if self.inline[index].kind == kind:
                span = self.inline.pop(index)
                if span.start >= 0 and self.out.units > span.start:
                    span.end = self.out.units
                    self.out.spans.append(span)
                return

    def _text(self, text: str) -> None:
        if not text:
            return
        self._prepare()
        for span in self.inline:
            if span.start < 0:
                span.start = self.out.units
        self.out.write(text)

    def _code(self, text: str) -> None:
        if not text:
            return
        if any(s.kind == MessageEntity.TEXT_LINK for s in self.inline):
            self._text(text)  # a link cannot contain code: keep the text, drop the style
            return
        self._prepare()
        # Nothing may contain code: end the open styles before it and restart them after.
        for span in self.inline:
            if span.start >= 0 and self.out.units > span.start and span.kind != "ignored":
                self.out.spans.append(replace(span, end=self.out.units))
        self.out.write(text, MessageEntity.CODE)
        for span in self.inline:
            span.start = self.out.units

    def _pre(self, text: str, info: str) -> None:
        text = text.rstrip("\n")
        if not text.strip():
            return
        self._block_break(2)
        self._prepare()
        start = self.out.units
        self.out.write(text)
        if self.quote is None and not self.quote_depth:
            # A quote cannot hold a code block: there the text stays, unformatted.
            words = info.split()
            language = words[0] if words and _LANGUAGE.match(words[0]) else None
            span = Span(MessageEntity.PRE, start, self.out.units, language=language)
            self.out.spans.append(span)
        self._block_break(2)

    # tokens

    def render(self, tokens: Sequence[Token]) -> None:
        for token in tokens:
            self._block(token)
        self._end_quote()

    def _end_quote(self) -> None:
        if self.quote is not None:
            self.quote.end = self.out.units
            if self.quote.end > self.quote.start:
                self.out.spans.append(self.quote)
            self.quote = None
        self.quote_pending = False

    def _block(self, token: Token) -> None:
        kind = token.type
        if kind == "inline":
            self._inline(token.children or [])
        elif kind == "paragraph_close":
            self._block_break(1 if token.hidden else 2)
        elif kind == "heading_open":
            self._block_break(2)
            self._open(MessageEntity.BOLD)
        elif kind == "heading_close":
            self._close(MessageEntity.BOLD)
            self._block_break(2)
        elif kind in ("bullet_list_open", "ordered_list_open"):
            start = token.attrGet("start")
            raw = str(start) if isinstance(start, int | str) else ""
            number = int(raw) if raw.isascii() and raw.isdigit() else 1
            self.lists.append([number if kind == "ordered_list_open" else -1])
            self._block_break(1 if len(self.lists) > 1 else 2)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            self._block_break(1 if self.lists else 2)
        elif kind == "list_item_open":
            self._block_break(1)
            state = self.lists[-1] if self.lists else [-1]
            indent = "  " * (len(self.lists) - 1)
            if state[0] < 0:
                self.pending_prefix = f"{indent}• "
            else:
                self.pending_prefix = f"{indent}{state[0]}. "
                state[0] += 1
        elif kind == "blockquote_open":
            self._block_break(2)
            self.quote_depth += 1
            if self.quote_depth == 1:
                self.quote_pending = True
        elif kind == "blockquote_close":
            self.quote_depth -= 1
            if self.quote_depth == 0:
                self._end_quote()
            self._block_break(2)
        elif kind in ("fence", "code_block"):
            self._pre(token.content, token.info)
        elif kind == "hr":
            self._block_break(2)
            self._text("———")
            self._block_break(2)
        elif kind == "tr_open":
            self._block_break(1)
            self.row_cells = 0
        elif kind in ("th_open", "td_open"):
            if self.row_cells:
                self._text(" | ")
            self.row_cells += 1
        elif kind == "table_close":
            self._block_break(2)

    def _inline(self, children: Sequence[Token]) -> None:
        for child in children:
            kind = child.type
            if kind == "text":
                self._text(child.content)
            elif kind == "softbreak" or kind == "hardbreak":
                self._text("\n")
            elif kind == "code_inline":
                self._code(child.content)
            elif kind == "strong_open":
                self._open(MessageEntity.BOLD)
            elif kind == "strong_close":
                self._close(MessageEntity.BOLD)
            elif kind == "em_open":
                self._open(MessageEntity.ITALIC)
            elif kind == "em_close":
                self._close(MessageEntity.ITALIC)
            elif kind == "s_open":
                self._open(MessageEntity.STRIKETHROUGH)
            elif kind == "s_close":
                self._close(MessageEntity.STRIKETHROUGH)
            elif kind == "link_open":
                href = child.attrGet("href")
                url = _safe_url(href if isinstance(href, str) else None)
                if url and not any(s.kind == MessageEntity.TEXT_LINK for s in self.inline):
                    self._open(MessageEntity.TEXT_LINK, url)
                else:
                    self.inline.append(Span("ignored", -1, -1))
            elif kind == "link_close":
                for index in range(len(self.inline) - 1, -1, -1):
                    if self.inline[index].kind in (MessageEntity.TEXT_LINK, "ignored"):
                        if self.inline[index].kind == "ignored":
                            self.inline.pop(index)
                        else:
                            self._close(MessageEntity.TEXT_LINK)
                        break
            elif kind == "image":
                alt = "".join(c.content for c in child.children or []) or "image"
                src = child.attrGet("src")
                url = _safe_url(src if isinstance(src, str) else None)
                if url and not any(s.kind == MessageEntity.TEXT_LINK for s in self.inline):
                    self._open(MessageEntity.TEXT_LINK, url)
                    self._text(alt)
                    self._close(MessageEntity.TEXT_LINK)
                else:
                    self._text(alt)
            elif child.content:
                self._text(child.content)

    def result(self) -> tuple[str, list[Span]]:
        text = self.out.text
        spans = [s for s in self.out.spans if s.kind != "ignored" and s.end > s.start]
        # Strip whitespace at both ends: Telegram trims it and would shift every entity.
        stripped = text.rstrip()
        lead = len(stripped) - len(stripped.lstrip())
        return _slice(stripped, spans, lead, len(stripped))


def markdown(source: str) -> tuple[str, list[Span]]:
    """Render Markdown to plain text and spans (UTF-16 units), with no length limit."""
    renderer = _MarkdownRenderer()
    renderer.render(_MD.parse(strip_control_chars(source)))
    text, spans = renderer.result()
    return text, _sorted(spans)


def _source_prefix(source: str, limit: int) -> tuple[str, bool]:
    """The opening of a Markdown source long enough to fill ``limit`` units once rendered."""
    keep = limit * SOURCE_FACTOR
    if len(source) <= keep:
        return source, False
    head = source[:keep]
    for separator in ("\n\n", "\n", " "):
        at = head.rfind(separator)
        if at > keep // 2:
            return head[:at], True
    return head, True
