"""What a feed's items and addresses become: an item's key and fingerprint, the article
draft made of it, and the clean forms of a feed address and a polling interval.

Pure helpers of ``newsbot.feeds`` (``converted`` runs a source's converter in a thread).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from newsbot.drafts import BODY_MAX, SUMMARY_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX, URL_MAX, clean_tags
from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import ArticleDraft, Feed, FeedEntry
from newsbot.text import ELLIPSIS, cut_chars, one_line, valid_unicode

log = logging.getLogger("newsbot.feeds")

MADE_UP_TITLE_MAX = 80
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(value: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``1h`` or ``1d``.

    Raises:
        InvalidInput: not a duration.
    """
    match = _DURATION.match(value)
    if match is None:
        raise InvalidInput(
            N_("%(given)s is not a duration: write 90s, 10m, 1h or 1d."),
            field="interval",
            given=repr(value),
        )
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def clean_feed_url(url: str) -> str:
    """A feed address as stored: http or https, with a host, one line, at most URL_MAX.

    Raises:
        InvalidInput: any other address.
    """
    url = valid_unicode(url).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError on a malformed port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or len(url) > URL_MAX
        or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url)
    ):
        raise InvalidInput(N_("A feed address must be an http or https URL."), field="url")
    return url


def item_key(entry: FeedEntry) -> str:
    """An item's identity within its feed: a hash of its guid, else its link, else its raw
    content (its fingerprint; its title and converted content for a source that gives none)."""
    if entry.guid and entry.guid.strip():
        identity = "guid:" + entry.guid.strip()
    elif entry.link and entry.link.strip():
        identity = "link:" + entry.link.strip()
    elif entry.fingerprint:
        identity = "raw:" + entry.fingerprint
    else:
        return text_key(entry)
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def text_key(entry: FeedEntry) -> str:
    """The key of an item without guid or link from its title and converted content: every
    such item's key before keys came from raw content (``_not_known_by_text``)."""
    identity = "text:" + entry.title + "\n" + entry.text()[0]
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def converted_entry(entry: FeedEntry) -> FeedEntry:
    """The entry with its body and summary converted, in a thread: a source's conversion may
    take seconds, and must not hold the event loop meanwhile."""
    if entry.convert is None:
        return entry
    try:
        body, summary = await asyncio.to_thread(entry.text)
    except Exception as exc:  # a source's bug must not cost the poll: the item keeps its title
        log.warning(
            "feed item not converted",
            extra={"link": entry.link, "error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        body, summary = "", ""
    return replace(entry, body=body, summary=summary, convert=None)


def fingerprint(entry: FeedEntry) -> str:
    """What tells that an item changed: the source's fingerprint, or a hash of the content."""
    if entry.fingerprint:
        return entry.fingerprint
    text = "\x1f".join((entry.title, *entry.text(), entry.link or ""))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def category_tag(category: str) -> str:
    """A feed category as a newsbot tag (``Breaking News`` is ``breaking-news``), or ``""``
    when nothing of it fits (tags are ASCII letters, digits, ``-`` and ``_``)."""
    folded = unicodedata.normalize("NFKD", category).encode("ascii", "ignore").decode()
    tag = re.sub(r"[^a-z0-9_-]+", "-", folded.lower()).strip("-_")
    return tag[:TAG_MAX].rstrip("-_")


def plain_text(value: str) -> str:
    """``value`` without control characters, its line ends as ``\\n``."""
    return _CONTROL.sub("", valid_unicode(value).replace("\r\n", "\n").replace("\r", "\n"))


def _url(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return clean_feed_url(value)
    except InvalidInput:
        return None


def made_up_title(text: str) -> str:
    """A title for an item that has none: the first words of its plain text, at most
    ``MADE_UP_TITLE_MAX`` characters, cut at a word with "…"."""
    text = one_line(plain_text(text))
    title = cut_chars(text, MADE_UP_TITLE_MAX)
    if title != text:  # "iPhones…", not "iPhones,…"
        title = title.removesuffix(ELLIPSIS).rstrip(" ,;:.-–—") + ELLIPSIS
    return title


def entry_draft(feed: Feed, entry: FeedEntry) -> ArticleDraft:
    """The article an item becomes: within every limit the service enforces, whatever the
    feed holds."""
    raw_body, raw_summary = entry.text()
    summary = cut_chars(plain_text(raw_summary).strip(), SUMMARY_MAX)
    body = plain_text(raw_body).strip()
    title = one_line(plain_text(entry.title))
    link = _url(entry.link)
    if not title:
        title = made_up_title(summary or entry.lead) or link or feed.title or "Untitled"
    title = cut_chars(title, TITLE_MAX)
    if not body:
        body = summary or title
    if len(body) > BODY_MAX:
        more = f"\n\n[Read the whole article]({link})" if link else ""
        body = cut_chars(body, BODY_MAX - len(more)) + more
    tags: list[str] = list(feed.tags)
    for category in entry.categories:
        tag = category_tag(category)
        if tag and tag not in tags and len(tags) < TAGS_MAX:
            tags.append(tag)
    return ArticleDraft(
        title=title,
        body=body,
        summary=summary,
        url=link,
        image_url=_url(entry.image_url),
        tags=clean_tags(tags),
    )


def newest_first(entries: Sequence[tuple[str, FeedEntry]]) -> list[tuple[str, FeedEntry]]:
    """Newest first by date where items have one; the feed's own order (newest first, as
    feeds list them) otherwise."""
    indexed = list(enumerate(entries))
    if all(e.published is not None for _, (_, e) in indexed):
        oldest = datetime.min.replace(tzinfo=UTC)
        indexed.sort(key=lambda p: (p[1][1].published or oldest, -p[0]), reverse=True)
    return [pair for _, pair in indexed]
