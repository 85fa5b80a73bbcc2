"""Pure rendering for Telegram: articles, mirrored comments and threads as plain text + entities.

Nothing here does I/O. Every message is built as plain text with a list of ``MessageEntity``
(offsets in UTF-16 code units), never with a parse mode, so no article text can be refused
with "can't parse entities". Markdown is parsed with markdown-it-py (raw HTML is never
interpreted: it stays visible as the characters the author typed).

Limits kept by every function that builds a message: text at most 4096 UTF-16 units, caption
at most 1024, at most 100 entities, entities inside the text, never splitting a surrogate
pair, and nested only in the ways the Bot API accepts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from telegram import MessageEntity

from newsbot.models import Article, Comment, CommentNode, Platform
from newsbot.text import clean_name, cut_point, strip_control_chars, utf16_len
from newsbot.threads import walk

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

PLATFORM_NAMES = {
    Platform.TELEGRAM: "Telegram",
    Platform.DISCORD: "Discord",
    Platform.WEB: "Web",
    Platform.CLI: "newsbot",
}

_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,32}$")
# Telegram turns "@" followed by a username character into a mention (tdlib's
# match_mentions), whatever entities a bot sends, and a mention notifies that member.
_MENTION = re.compile(r"@(?=[A-Za-z0-9_])")
WORD_JOINER = "\u2060"  # invisible; it ends the match without showing anything
_MD = MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


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


# -- Markdown ----------------------------------------------------------------------------------


def _safe_url(url: str | None) -> str | None:
    if not url or len(url) > URL_LIMIT:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return None
    return url


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


# -- messages ----------------------------------------------------------------------------------


def comment_count_line(count: int) -> str:
    """The footer line with an article's comment count."""
    if count <= 0:
        return "💬 No comments yet"
    return f"💬 {count} comment" + ("" if count == 1 else "s")


def render_article(
    article: Article, *, article_url: str, comment_count: int, limit: int = TEXT_LIMIT
) -> Rendered:
    """An article post: bold title, the summary or the opening of the body, a "Read more" link
    to ``article_url`` when the body is not shown whole, and the comment count.

    Use ``limit=CAPTION_LIMIT`` for a photo caption.
    """
    return render_post(
        article.title,
        article.body,
        article.summary,
        article_url=article_url,
        comment_count=comment_count,
        limit=limit,
    )


def render_post(
    title: str,
    body: str,
    summary: str = "",
    *,
    article_url: str,
    comment_count: int,
    limit: int = TEXT_LIMIT,
) -> Rendered:
    """The same as ``render_article`` from the parts (any strings at all)."""
    out = _Piece()
    title = " ".join(strip_control_chars(title).split()) or "Untitled"
    title_text, _, _ = fit(title, [], min(TITLE_LIMIT, max(limit // 4, 16)))
    link_url = _safe_url(article_url)
    out.write(title_text, MessageEntity.BOLD)
    if link_url:
        # The title links to the page. Every post (and the copy Telegram makes of a channel
        # post in its discussion group) thus names its article, even one never recorded.
        out.spans.append(Span(MessageEntity.TEXT_LINK, 0, out.units, url=link_url))
    count_line = comment_count_line(comment_count)
    read_more = "Read more"
    footer_plain = "\n\n" + count_line
    footer_link = "\n\n" + read_more + "\n" + count_line if link_url else footer_plain

    summary_text = strip_control_chars(summary).strip()
    if summary_text:
        body_text: str = summary_text
        body_spans: list[Span] = []
        truncated = True
    else:
        source, clipped = _source_prefix(body, limit)
        body_text, body_spans = markdown(source)
        truncated = clipped
    head_units = out.units + 2  # the blank line after the title
    fits = head_units + utf16_len(body_text) + utf16_len(footer_plain) <= limit
    if fits and not truncated:
        footer = footer_plain
    else:
        footer = footer_link
        budget = limit - head_units - utf16_len(footer)
        body_text, body_spans, _ = fit(body_text, body_spans, budget)
        truncated = True
    if body_text:
        out.write("\n\n")
        out.extend(body_text, _limit_entities(body_spans, ENTITY_LIMIT - 2))
    if truncated and link_url:
        out.write("\n\n")
        out.write(read_more, MessageEntity.TEXT_LINK, url=link_url)
        out.write("\n" + count_line)
    else:
        out.write("\n\n" + count_line)
    return Rendered(out.text, tuple(s.entity() for s in out.spans), truncated)


def platform_name(platform: Platform | str) -> str:
    """How a platform is named to readers."""
    try:
        return PLATFORM_NAMES[Platform(platform)]
    except ValueError:
        return str(platform).capitalize()


def unmention(text: str) -> str:
    """``text`` with every would-be ``@username`` mention broken by an invisible word joiner,
    so that text written by readers elsewhere notifies nobody on Telegram."""
    return _MENTION.sub("@" + WORD_JOINER, text)


def shown_name(name: str) -> str:
    """A name from outside as shown in a message: one line, no control or bidi control
    characters (names stored before the service cleaned them may still hold some), and no
    mention."""
    return unmention(clean_name(name))


def render_comment(
    comment: Comment, parent: Comment | None = None, *, limit: int = TEXT_LIMIT
) -> Rendered:
    """A mirrored comment, "Name (Discord): text" with the name in bold.

    With ``parent`` (when a native reply is impossible) a short quote of the parent comes
    first.
    """
    out = _Piece()
    if parent is not None:
        quoted = " ".join(parent.text.split()) if parent.text else "(deleted comment)"
        who = shown_name(parent.author.name) or "someone"
        line, _, _ = fit(f"↩ {who}: {unmention(strip_control_chars(quoted))}", [], QUOTE_LIMIT)
        out.write(line, MessageEntity.BLOCKQUOTE)
        out.write("\n")
    name = shown_name(comment.author.name) or "anonymous"
    name, _, _ = fit(name, [], 64)
    out.write(name, MessageEntity.BOLD)
    out.write(f" ({platform_name(comment.author.platform)}): ")
    text = unmention(strip_control_chars(comment.text).strip()) or "…"
    body, _, _ = fit(text, [], limit - out.units)
    out.write(body)
    return Rendered(out.text, tuple(s.entity() for s in out.spans))


def render_thread(
    title: str,
    nodes: Sequence[CommentNode],
    *,
    total: int,
    article_url: str,
    limit: int = TEXT_LIMIT,
    per_comment: int = 300,
) -> Rendered:
    """One page of a thread, nested by indentation, within ``limit`` UTF-16 units."""
    out = _Piece()
    head, _, _ = fit(" ".join(title.split()) or "Untitled", [], 200)
    out.write(head, MessageEntity.BOLD)
    out.write(f"\n{comment_count_line(total)}")
    link_url = _safe_url(article_url)
    footer = "\n\nRead on the web" if link_url else ""
    budget = limit - utf16_len(footer) - 2
    if not nodes:
        out.write("\n\nNo comments yet. Reply to the article's post to comment.")
    cut_short = False
    shown = 0
    for number, (node, depth) in enumerate(walk(nodes)):  # no recursion over a deep chain
        c = node.comment
        indent = "    " * min(depth, 6) + ("↳ " if depth else "")
        if c.text:
            name, _, _ = fit(shown_name(c.author.name) or "anonymous", [], 64)
            who = f"{name} ({platform_name(c.author.platform)})"
            text = unmention(" ".join(strip_control_chars(c.text).split()))
        else:
            who, text = "", "(deleted)"
        piece = _Piece()
        piece.write("\n\n" if number == 0 else "\n")
        piece.write(indent)
        if who:
            piece.write(who, MessageEntity.BOLD)
            piece.write(": ")
        short, _, _ = fit(text, [], per_comment)
        piece.write(short)
        if out.units + piece.units > budget or len(out.spans) + 2 > ENTITY_LIMIT - 1:
            cut_short = True
            break
        out.extend(piece.text, piece.spans)
        shown += 1
    if cut_short and out.units + 2 <= budget:
        out.write("\n…")
    if link_url:
        out.write("\n\n")
        out.write("Read on the web", MessageEntity.TEXT_LINK, url=link_url)
    return Rendered(out.text, tuple(s.entity() for s in out.spans), cut_short, shown)


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
