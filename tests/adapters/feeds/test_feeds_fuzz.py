"""Nothing a feed holds crashes newsbot: arbitrary documents either read or are refused as no
feed, and whatever is read becomes a draft the service accepts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.feeds import parse_feed
from newsbot.drafts import TITLE_MAX, clean_draft
from newsbot.errors import FeedError, InvalidInput
from newsbot.feeds import entry_draft, item_key
from newsbot.models import Feed, FeedId

NOW = datetime(2026, 3, 1, tzinfo=UTC)
FEED = Feed(FeedId(1), "https://f.example/feed", "F", ("t",), 600.0, 0, True, NOW, NOW)
TEXT = st.text(st.characters(codec="utf-8"), max_size=300)
MARKUP = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<b>",
            "<a href='javascript:x'>",
            "</a>",
            "<img src=//x>",
            "<script>",
            "&amp;",
            "&bogus;",
            "]]>",
            "<![CDATA[",
            "\x00",
            "\u202e",
            "<!--",
            "<h1>",
            "<li>",
        ]
    )
    | TEXT,
    max_size=20,
).map("".join)


def check(body: bytes) -> None:
    try:
        _, entries, _ = parse_feed(body, FEED.url)
    except FeedError:
        return
    for entry in entries:
        key = item_key(entry)
        assert re.fullmatch(r"[0-9a-f]{32}", key) and item_key(entry) == key
        try:
            draft = clean_draft(entry_draft(FEED, entry))
        except InvalidInput as exc:  # only for tags no feed can produce; none expected
            raise AssertionError(f"a feed item gave an invalid draft: {exc}") from exc
        assert draft.title.strip() and "\n" not in draft.title and len(draft.title) <= TITLE_MAX
        assert "t" in draft.tags  # the feed's own tags are always added
        for address in (draft.url, draft.image_url):
            assert not address or address.startswith(("http://", "https://")), address


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(body: bytes) -> None:
    check(body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=MARKUP, content=MARKUP, link=TEXT, guid=TEXT, category=TEXT, cdata=st.booleans())
def test_rss_with_arbitrary_fields(
    title: str, content: str, link: str, guid: str, category: str, cdata: bool
) -> None:
    body = f"<![CDATA[{content}]]>" if cdata else escape(content)
    document = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>x</title>'
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(guid)}</guid><category>{escape(category)}</category>"
        f"<content:encoded>{body}</content:encoded></item></channel></rss>"
    )
    check(document.encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | TEXT,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
        max_leaves=20,
    ),
    st.sampled_from(["title", "content_html", "content_text", "url", "tags", "authors", "id"]),
)
def test_json_feed_with_arbitrary_values(value: object, key: str) -> None:
    import json

    document = {"version": "https://jsonfeed.org/version/1.1", "items": [{key: value}, value]}
    check(json.dumps(document).encode())
