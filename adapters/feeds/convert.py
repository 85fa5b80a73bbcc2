"""An item's HTML as article Markdown: sanitised by nh3, converted by markdownify.

nh3 (the Rust ammonia sanitiser) keeps only the tags below and http, https and mailto links,
drops scripts, styles and event handlers, and makes relative links absolute against the
item's address. markdownify (MIT; html2text is GPL-3.0) turns the rest into Markdown without
re-wrapping lines. Inline images become links: a post carries one image (the item's), and
pages should not load pictures from every site a feed points at.

What one item may cost is capped: at most ``HTML_MAX`` characters of its HTML are converted
(the rest is cut, and the body ends with an ellipsis), and HTML nested deeper than
``DEPTH_MAX`` (markdownify recurses per level) becomes plain text. Each cut is named in
``notes`` for the caller to log. The CPU time a conversion may take is the worker's to cap
(``adapters.feeds.worker``).
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import nh3
from markdownify import MarkdownConverter

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "figcaption", "figure", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt"}}
_DROPPED = {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg"}
_SCHEMES = {"http", "https", "mailto"}
HTML_MAX = 512 * 1024
DEPTH_MAX = 64
RAW_DEPTH_MAX = 1000
CUT_MARK = "\n\n\u2026"
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACE_LINES = re.compile(r"[ \t]+\n")


def absolute(base: str, value: str) -> str | None:
    """``value`` made absolute against ``base``; ``None`` unless it is http, https or
    mailto."""
    try:
        joined = urljoin(base, value.strip())
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:
        return None
    return joined if scheme in _SCHEMES else None


class _Callbacks:
    """How many nh3 calls with a Python callback are under way: an exception raised in the
    callback (a CPU budget's, by a signal) would be lost, and the value kept unchecked."""

    running = 0


def in_callbacks() -> bool:
    """Whether nh3 is calling back into Python now (a budget must not interrupt it)."""
    return _Callbacks.running > 0


def sanitise(fragment: str, base: str) -> str:
    """Only harmless tags and attributes, links absolute."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            return absolute(base, value)
        return value

    _Callbacks.running += 1
    try:
        return nh3.clean(
            fragment,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            clean_content_tags=_DROPPED,
            url_schemes=_SCHEMES,
            link_rel=None,
            strip_comments=True,
            attribute_filter=keep,
        )
    finally:
        _Callbacks.running -= 1


class _Converter(MarkdownConverter):
    def convert_img(self, el: Any, text: str, parent_tags: Any = None) -> str:
        src = el.attrs.get("src") or ""
        alt = " ".join((el.attrs.get("alt") or "").split())
        alt = alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        return f"[{alt}]({src})" if src and alt else ""


# escape_misc: text stays text ("[x](javascript:...)" written in a paragraph is no link).
_CONVERTER = _Converter(heading_style="ATX", bullets="-", escape_misc=True, autolinks=True)
_BLOCK = re.compile(
    r"<(/?(?:p|div|br|li|h[1-6]|blockquote|tr|td|th|figure|figcaption|ul|ol|hr|pre)\b)",
    re.IGNORECASE,
)


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>")
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}
_ANY_TAG = re.compile(r"(<[^>]*>)")
_BREAK = "\ue000"  # a private-use character marks where blocks end
_MARKUP = re.compile(r"([][\\&<`>~=+|*_])")
_LEADING = re.compile(r"^(\s*(?:\d{1,9})?)([#.)-])")


def cut(fragment: str, limit: int = HTML_MAX) -> str:
    """At most ``limit`` characters of HTML, not ending inside a tag."""
    if len(fragment) <= limit:
        return fragment
    head = fragment[:limit]
    opening = head.rfind("<")
    return head[:opening] if opening > head.rfind(">") else head


def too_deep(fragment: str, limit: int = DEPTH_MAX) -> bool:
    """Whether elements of (well-formed, sanitised) HTML nest deeper than ``limit``."""
    depth = 0
    for match in _TAG.finditer(fragment):
        if match.group(2).lower() in _VOID:
            continue
        depth += -1 if match.group(1) else 1
        if depth > limit:
            return True
    return False


def to_markdown(fragment: str, base: str, notes: list[str] | None = None) -> str:
    """A feed's HTML as Markdown, within ``HTML_MAX`` and ``DEPTH_MAX``; what was cut or
    flattened is appended to ``notes``."""
    if not fragment.strip():
        return ""
    notes = [] if notes is None else notes
    short = cut(fragment)
    clean = "" if _nested_over(short, RAW_DEPTH_MAX) else sanitise(short, base)
    if not clean or too_deep(clean):
        notes.append(f"HTML nested deeper than {DEPTH_MAX} levels: kept as plain text")
        markdown = plain_markdown(clean or short)
    else:
        markdown = _CONVERTER.convert(clean)
    markdown = _BLANK_LINES.sub("\n\n", _SPACE_LINES.sub("\n", markdown)).strip()
    if len(short) < len(fragment):
        notes.append(f"HTML of {len(fragment):,} characters cut to {len(short):,}")
        markdown += CUT_MARK
    return markdown


def plain_markdown(fragment: str) -> str:
    """HTML as plain text in Markdown (paragraphs kept, markup characters escaped): what an
    item becomes when converting it would cost too much."""
    marked = _BLOCK.sub(_BREAK + r"<\1", fragment.replace(_BREAK, ""))
    text = html.unescape(_strip(marked))
    paragraphs = (" ".join(part.split()) for part in text.split(_BREAK))
    return "\n\n".join(_escape(p) for p in paragraphs if p)


def _strip(fragment: str) -> str:
    """HTML without its tags (and without the content of scripts, styles, ...)."""
    if not _nested_over(fragment, RAW_DEPTH_MAX):
        return nh3.clean(fragment, tags=set(), clean_content_tags=_DROPPED)
    # html5ever takes time in the square of the nesting depth: by hand, in one pass.
    kept: list[str] = []
    dropping = ""
    for index, token in enumerate(_ANY_TAG.split(fragment)):
        if index % 2 == 0:
            if not dropping:
                kept.append(token.replace("<", "&lt;"))
            continue
        name = _TAG.match(token)
        if name is None:
            continue
        tag = name.group(2).lower()
        if dropping and name.group(1) and tag == dropping:
            dropping = ""
        elif not dropping and not name.group(1) and tag in _DROPPED:
            dropping = tag
    return "".join(kept)


def _nested_over(fragment: str, limit: int) -> bool:
    """Whether tags (as written, void and self-closed ones aside) open deeper than
    ``limit``: a cheap bound before handing HTML to html5ever."""
    depth = 0
    for match in _TAG.finditer(fragment):
        if match.group(2).lower() in _VOID or match.group(0).endswith("/>"):
            continue
        depth += -1 if match.group(1) else 1
        if depth > limit:
            return True
    return False


def _escape(text: str) -> str:
    """Plain text that Markdown leaves as it is (as markdownify escapes text)."""
    text = _MARKUP.sub(r"\\\1", text)
    return _LEADING.sub(r"\1\\\2", text)


def plain_to_html(text: str) -> str:
    """Plain text as the HTML ``to_markdown`` takes, its line breaks kept."""
    return "<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"


def to_text(fragment: str) -> str:
    """A feed's HTML (a title, a summary) as one line of plain text."""
    spaced = _BLOCK.sub(r" <\1", fragment)  # blocks end words: "</p><p>" is a space
    text = html.unescape(_strip(spaced))
    return " ".join(text.split())


# HTML's elements (WHATWG, with the obsolete ones feeds still carry): a title holding one of
# these as a tag holds HTML, whatever the parser made of it; "<today>" is text.
_HTML_ELEMENTS = frozenset({
    "a", "abbr", "acronym", "address", "area", "article", "aside", "audio", "b", "base", "bdi",
    "bdo", "big", "blink", "blockquote", "body", "br", "button", "canvas", "caption", "center",
    "cite", "code", "col", "colgroup", "data", "datalist", "dd", "del", "details", "dfn", "dialog",
    "dir", "div", "dl", "dt", "em", "embed", "fieldset", "figcaption", "figure", "font", "footer",
    "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup",
    "hr", "html", "i", "iframe", "img", "input", "ins", "kbd", "label", "legend", "li", "link",
    "main", "map", "mark", "marquee", "math", "menu", "meta", "meter", "nav", "nobr", "noscript",
    "object", "ol", "optgroup", "option", "output", "p", "param", "picture", "pre", "progress",
    "q", "rp", "rt", "ruby", "s", "samp", "script", "search", "section", "select", "slot", "small",
    "source", "span", "strike", "strong", "style", "sub", "summary", "sup", "svg", "table",
    "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "time", "title", "tr", "track",
    "tt", "u", "ul", "var", "video", "wbr"
})  # fmt: skip
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?/?>")


def untag(text: str) -> str:
    """Text the parser took for plain text (a title) as one line: when it holds HTML tags
    (a ``<script>`` beside a ``<b>``), they are removed with the content of those that
    ``to_text`` drops, and entities are left as they are (the parser decoded them already);
    angle brackets that are no HTML (``opens <today>``) stay."""
    if any(m.group(1).lower() in _HTML_ELEMENTS for m in _TAG_NAME.finditer(text)):
        return to_text(text.replace("&", "&amp;"))
    return " ".join(text.split())


LEAD_SOURCE_MAX = 16_384


def lead(fragment: str) -> str:
    """The opening of a feed's HTML as one line of plain text, for a title where an item has
    none; only the first ``LEAD_SOURCE_MAX`` characters are read (a title needs a few words)."""
    if len(fragment) <= LEAD_SOURCE_MAX:
        return to_text(fragment)
    text = to_text(fragment[:LEAD_SOURCE_MAX])
    head, space, _ = text.rpartition(" ")  # the last word may be cut
    return f"{head if space else text} …" if text else ""
