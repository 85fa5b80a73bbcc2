"""Reading a feed document: RSS 0.9x, 1.0 and 2.0 and Atom 0.3 and 1.0 through feedparser,
JSON Feed 1.x by hand (feedparser 6 does not read it, and it is plain JSON).

Whatever a document holds, ``parse_feed`` returns what it could read and a list of what it
could not; a document that is no feed at all, or that did not arrive whole (its root element
never closes: a dropped connection, a proxy's cut), raises ``FeedError``. At most
``ITEMS_MAX`` items are read (the newest, when every item is dated). Parsing costs CPU time
in proportion to the document: ``adapters.feeds.worker`` runs it off the event loop.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]

from adapters.feeds.convert import (
    absolute,
    cut,
    lead,
    plain_to_html,
    to_markdown,
    to_text,
    untag,
)
from newsbot.errors import FeedError
from newsbot.models import FeedEntry

log = logging.getLogger("newsbot.feeds")

_EMAIL_NAME = re.compile(r"^\s*[^\s@()]+@[^\s()]+\s*\((.+)\)\s*$")
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
# The spec writes https://jsonfeed.org/version/1 (and /1.1); some generators wrote http.
_JSON_FEED = re.compile(r"https?://jsonfeed\.org/version/", re.IGNORECASE)
_COMMENT = re.compile(rb"<!--.*?(?:-->|$)", re.DOTALL)
_FIRST_ELEMENT = re.compile(rb"<([^\s/>!?]+)")
ITEMS_MAX = 1000


def parse_feed(
    body: bytes, url: str, content_type: str | None = None
) -> tuple[str, list[FeedEntry], list[str]]:
    """The feed's title, its entries in document order, and what could not be read.

    Raises:
        FeedError: the document is not a feed.
    """
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") or "json" in (content_type or "").lower():
        return _json_feed(body, url)
    # feedparser's own sanitiser and relative-link pass are pure Python and slow; nh3 does
    # both in convert.py.
    parsed = feedparser.parse(
        body,
        # No content-location: feedparser would then resolve relative guids against the feed's
        # address, and an item's identity would change when the feed moves.
        response_headers={"content-type": content_type or "application/xml"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    problems: list[str] = []
    if parsed.get("bozo"):
        problems.append(f"malformed: {parsed.get('bozo_exception')}")
    if not parsed.get("version") and not parsed.get("entries"):
        raise FeedError(f"not a feed ({problems[0] if problems else 'no RSS or Atom found'})")
    if parsed.get("bozo"):
        unclosed = _unclosed_root(body, str(parsed.get("encoding") or ""))
        if unclosed:
            raise FeedError(
                f"the feed did not arrive whole: it ends before </{unclosed}> "
                f"({parsed.get('bozo_exception')})"
            )
    feed = parsed.get("feed", {})
    base = str(feed.get("link") or url)
    entries: list[FeedEntry] = []
    raws = _capped(list(parsed.get("entries", [])), problems, _raw_when)
    for index, raw in enumerate(raws):
        try:
            entries.append(_entry(raw, url, base))
        except Exception as exc:  # one unreadable item must not cost the others
            problems.append(f"item {index + 1}: {type(exc).__name__}: {exc}")
    return _plain(feed, "title"), entries, problems


def _unclosed_root(body: bytes, encoding: str) -> str | None:
    """The root element's name when the document ends before its closing tag, else None."""
    if encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32")):
        try:
            body = body.decode(encoding, "replace").encode("utf-8")
        except LookupError:
            return None
    head = _COMMENT.sub(b"", body[:65536])
    first = _FIRST_ELEMENT.search(head)
    if first is None:
        return None
    root = first.group(1)
    if re.search(rb"</\s*" + re.escape(root) + rb"\s*>", body):
        return None
    return root.decode("utf-8", "replace")


def _capped(
    raws: list[Any], problems: list[str], when: Callable[[Any], datetime | None]
) -> list[Any]:
    """At most ``ITEMS_MAX`` items: the newest when all are dated, else the first."""
    if len(raws) <= ITEMS_MAX:
        return raws
    problems.append(f"{len(raws):,} items: only {ITEMS_MAX:,} are read")
    dates = [when(raw) for raw in raws]
    if any(d is None for d in dates):
        return raws[:ITEMS_MAX]
    newest = sorted(range(len(raws)), key=lambda i: dates[i], reverse=True)  # type: ignore[arg-type,return-value]
    return [raws[i] for i in sorted(newest[:ITEMS_MAX])]


def _raw_when(raw: Any) -> datetime | None:
    return _when(dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed"))


def _json_when(item: Any) -> datetime | None:
    if not isinstance(item, dict):
        return None
    return _iso(item.get("date_published")) or _iso(item.get("date_modified"))


def _plain(raw: Any, name: str) -> str:
    """A title as plain text, without tags whatever feedparser took it for (it calls a title
    holding a tag it does not know, ``<script>`` say, plain text), entities decoded once."""
    value = str(raw.get(name) or "")
    kind = str((raw.get(f"{name}_detail") or {}).get("type") or "text/plain")
    return to_text(value) if kind in _HTML_TYPES else untag(value)


def _link(raw: Mapping[str, Any], url: str) -> str | None:
    """The item's link: feedparser's (an HTML alternate, else the guid), except that an Atom
    entry whose alternates are all of another type (a PDF) links to the first of them."""
    alternates = [
        link
        for link in raw.get("links") or ()
        if link.get("rel", "alternate") == "alternate" and link.get("href")
    ]
    if alternates and not any(link.get("type", "text/html") in _HTML_TYPES for link in alternates):
        return _absolute(url, alternates[0].get("href"))
    return _absolute(url, raw.get("link"))


def _entry(raw: Any, url: str, base: str) -> FeedEntry:
    link = _link(raw, url)
    item_base = link or base
    content_html = ""
    for content in raw.get("content") or ():
        value = str(content.get("value") or "")
        if value.strip():
            kind = str(content.get("type") or "text/html")
            content_html = value if kind in _HTML_TYPES else plain_to_html(value)
            if kind in _HTML_TYPES:
                break
    summary_raw = str(raw.get("summary") or "")
    summary_type = str((raw.get("summary_detail") or {}).get("type") or "text/html")
    summary_html = summary_raw if summary_type in _HTML_TYPES else plain_to_html(summary_raw)
    convert = _Convert(
        content_html or summary_html, summary_html if content_html else "", item_base
    )
    author = _author(raw)
    categories = tuple(
        html.unescape(str(t.get("term") or t.get("label") or "")).strip()
        for t in raw.get("tags") or ()
        if (t.get("term") or t.get("label"))
    )
    image = _image(raw, item_base)
    title = _plain(raw, "title")
    return FeedEntry(
        guid=str(raw.get("id") or "").strip() or None,
        link=link,
        title=title,
        body="",
        lead="" if title else lead(content_html or summary_html),
        author=to_text(str(author)),
        categories=categories,
        image_url=image,
        # dict.get: feedparser's own lookup of a missing updated_parsed warns (issue 310).
        published=_when(dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")),
        fingerprint=_fingerprint(
            str(raw.get("title") or ""), content_html, summary_raw, link, image
        ),
        convert=convert,
    )


def convert_item(body_html: str, summary_html: str, base: str) -> tuple[str, str, list[str]]:
    """An item's body as Markdown and summary as plain text, and what had to be cut."""
    notes: list[str] = []
    return to_markdown(body_html, base, notes), to_text(cut(summary_html)), notes


class _Convert:
    """An item's body and summary, converted on first use only: most items of most polls are
    known and unchanged, and need no conversion."""

    def __init__(self, body_html: str, summary_html: str, base: str) -> None:
        self.source: tuple[str, str, str] | None = (body_html, summary_html, base)
        self.result = ("", "")
        self.notes: list[str] = []

    def __call__(self) -> tuple[str, str]:
        if self.source is not None:
            body, summary, self.notes = convert_item(*self.source)
            self.result = (body, summary)
            self.source = None
        return self.result


def _author(raw: Mapping[str, Any]) -> str:
    """The author's name; RSS writes ``email (Name)``, which feedparser splits badly when the
    name is not ASCII."""
    given = str(raw.get("author") or "")
    match = _EMAIL_NAME.match(given)
    if match:
        return match.group(1)
    return str((raw.get("author_detail") or {}).get("name") or given)


def _absolute(base: str, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    joined = absolute(base, value)
    return joined if joined and joined.startswith(("http://", "https://")) else None


def _image(raw: Mapping[str, Any], base: str) -> str | None:
    candidates: list[object] = []
    for enclosure in raw.get("enclosures") or ():
        if str(enclosure.get("type") or "").startswith("image/"):
            candidates.append(enclosure.get("href") or enclosure.get("url"))
    for media in raw.get("media_content") or ():
        kind = str(media.get("type") or "")
        if media.get("medium") == "image" or kind.startswith("image/"):
            candidates.append(media.get("url"))
    candidates += [m.get("url") for m in raw.get("media_thumbnail") or ()]
    image = raw.get("image")
    if isinstance(image, Mapping):
        candidates.append(image.get("href") or image.get("url"))
    for candidate in candidates:
        found = _absolute(base, candidate)
        if found:
            return found
    return None


def _when(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _fingerprint(*parts: str | None) -> str:
    text = "\x1f".join(p or "" for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# -- JSON Feed ----------------------------------------------------------------------------


def _json_feed(body: bytes, url: str) -> tuple[str, list[FeedEntry], list[str]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError(f"not a feed (invalid JSON: {exc})") from exc
    if not isinstance(data, dict) or not _JSON_FEED.match(str(data.get("version", ""))):
        raise FeedError("not a feed (JSON without a JSON Feed version)")
    base = _absolute(url, data.get("home_page_url")) or url
    entries: list[FeedEntry] = []
    problems: list[str] = []
    items = data.get("items")
    for index, item in enumerate(
        _capped(items, problems, _json_when) if isinstance(items, list) else ()
    ):
        try:
            entries.append(_json_item(item, url, base))
        except Exception as exc:
            problems.append(f"item {index + 1}: {type(exc).__name__}: {exc}")
    return to_text(_str(data.get("title"))), entries, problems


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _json_item(item: object, url: str, base: str) -> FeedEntry:
    if not isinstance(item, dict):
        raise TypeError("an item is not an object")
    link = _absolute(url, item.get("url"))
    content_html = _str(item.get("content_html"))
    text = _str(item.get("content_text"))
    html_source = content_html or (plain_to_html(text) if text else "")
    summary = _str(item.get("summary"))
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    author = ""
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        author = _str(authors[0].get("name"))
    image = _absolute(link or base, item.get("image")) or _absolute(
        link or base, item.get("banner_image")
    )
    tags = item.get("tags")
    published = _iso(item.get("date_published")) or _iso(item.get("date_modified"))
    title = to_text(_str(item.get("title")))
    return FeedEntry(
        guid=str(item.get("id") or "").strip() or None,
        link=link,
        title=title,
        body="",
        lead="" if title else lead(html_source),
        convert=_Convert(html_source, summary, link or base),
        author=to_text(author),
        categories=tuple(_categories(tags if isinstance(tags, list) else ())),
        image_url=image,
        published=published,
        fingerprint=_fingerprint(_str(item.get("title")), html_source, summary, link, image),
    )


def _categories(tags: Iterable[object]) -> Iterable[str]:
    return (t.strip() for t in tags if isinstance(t, str) and t.strip())


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
