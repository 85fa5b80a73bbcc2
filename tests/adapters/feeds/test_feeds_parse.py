"""Reading the sample feeds of tests/data/feeds: every dialect, encodings, malformed and hostile
documents, and the drafts the core makes of what they hold."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.feeds import parse_feed
from adapters.feeds.convert import to_markdown
from newsbot.drafts import BODY_MAX, TITLE_MAX, clean_draft
from newsbot.errors import FeedError
from newsbot.feeds import category_tag, entry_draft, item_key
from newsbot.models import Feed, FeedEntry, FeedId

DATA = Path(__file__).parents[2] / "data" / "feeds"
URL = "https://feeds.example/feed"


def read(name: str) -> tuple[str, list[FeedEntry], list[str]]:
    """The feed, its entries converted (the source leaves that to first use)."""
    title, entries, problems = parse_feed((DATA / name).read_bytes(), URL)
    return title, [converted(e) for e in entries], problems


def converted(entry: FeedEntry) -> FeedEntry:
    body, summary = entry.text()
    return dataclasses.replace(entry, body=body, summary=summary, convert=None)


def test_conversion_waits_for_first_use() -> None:
    _, entries, _ = parse_feed((DATA / "wordpress.xml").read_bytes(), URL)
    assert entries[0].body == "" and entries[0].convert is not None
    body, summary = entries[0].text()
    assert "**Mill Street bridge**" in body and summary.startswith("The town council")
    assert entries[0].text() == (body, summary)


def feed(tags: tuple[str, ...] = ()) -> Feed:
    now = datetime(2026, 3, 5, tzinfo=UTC)
    return Feed(FeedId(1), URL, "Sample", tags, 600.0, 0, True, now, now)


def test_wordpress() -> None:
    title, entries, problems = read("wordpress.xml")
    assert (title, len(entries), problems) == ("Riverside Gazette", 3, [])
    first = entries[0]
    assert first.guid == "https://riverside-gazette.example/?p=48213"
    assert first.title == "Council approves new bridge – work starts in May"
    assert first.author == "Maria Okafor"
    assert first.categories == ("Local Politics", "Infrastructure")
    assert first.published == datetime(2026, 3, 2, 9, 15, 22, tzinfo=UTC)
    assert "**Mill Street bridge**" in first.body
    assert "## What changes for drivers" in first.body
    assert (
        "- A diversion via [Station Road](https://riverside-gazette.example/tag/station-road/)"
        in (first.body)
    )  # relative links made absolute against the item
    assert "wp-content/uploads/2026/03/bridge-1024x683.jpg" in first.body
    assert "_wpemojiSettings" not in first.body and "<script" not in first.body
    assert first.summary.startswith("The town council voted 7–2")


def test_ghost_substack_medium() -> None:
    _, ghost, _ = read("ghost.xml")
    assert ghost[0].guid == "67c5a1e2f0b4d80001a3c9e1"
    assert ghost[0].image_url == "https://harbourledger.example/content/images/2026/03/docks.jpg"
    assert '> "We have waited three years' in ghost[0].body
    assert ghost[0].categories == ("Labour", "Port")
    _, substack, _ = read("substack.xml")
    assert substack[0].image_url and substack[0].image_url.endswith("rent-chart_1456x816.png")
    assert "**41%**" in substack[0].body and "### Method" in substack[0].body
    assert "Type your email" not in substack[0].body  # the form is gone
    assert substack[0].summary == "Ten years of the city's rent data, charted."
    _, medium, _ = read("medium.xml")
    assert medium[0].guid == "https://medium.example/p/8f3a2c1d9e4b"
    assert medium[0].categories == ("open-data", "public-transport", "government")
    assert "1. GTFS-realtime, not a bespoke API" in medium[0].body
    assert "`curl https://data.city.example/buses.pb`" in medium[0].body
    assert "stat?event" not in medium[0].body  # the tracking pixel has no alt: dropped


def test_youtube_and_podcast() -> None:
    title, videos, _ = read("youtube.xml")
    assert title == "Valley News TV"
    video = videos[0]
    assert video.guid == "yt:video:Xy7Kq2LmN0p"
    assert video.link == "https://www.youtube.com/watch?v=Xy7Kq2LmN0p"
    assert video.image_url == "https://i1.ytimg.com/vi/Xy7Kq2LmN0p/hqdefault.jpg"
    assert "400-metre barrier" in video.body and "2:15 The gates" in video.body
    _, episodes, _ = read("podcast.xml")
    assert [e.guid for e in episodes] == ["briefing-412-6a8c", "briefing-411-19fe"]
    assert episodes[0].image_url == "https://briefing.example/podcast/412.jpg"
    assert episodes[1].image_url is None  # an audio enclosure is no image
    # itunes:summary, plain text, wins over the HTML description, as in Apple's reading.
    assert episodes[0].body == "Why the council finally agreed, and what it costs."
    assert "**Maria Okafor**" not in episodes[0].body


def test_rdf_atom03_rss091_and_json_feed() -> None:
    _, rdf, _ = read("rdf.xml")
    assert rdf[0].guid == rdf[0].link == "https://science-wire.example/2026/03/02/new-bee-species"
    assert rdf[0].author == "Dr. Helen Carter" and rdf[0].categories == ("Biology",)
    assert rdf[0].published == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    _, atom, _ = read("atom03.xml")
    assert atom[0].guid == "tag:oldtown.example,2026:clock-tower"
    assert atom[0].body == "The clock strikes again after *twelve* silent years."
    _, old, _ = read("rss091.xml")
    assert old[0].title == "Jumble sale on Saturday" and old[0].published is None
    title, items, problems = read("jsonfeed.json")
    assert (title, len(items), problems) == ("Transit Blog", 2, [])
    assert items[0].body == (
        "From **April**, night buses run every 20 minutes. "
        "[Timetables](https://transit-blog.example/timetables)."
    )
    assert items[0].author == "Sam Ortiz" and items[0].categories == ("Buses", "Night service")
    assert items[0].published == datetime(2026, 3, 4, 19, 0, tzinfo=UTC)
    assert items[1].guid == "2" and "ramp on Platform 2" in items[1].body


def test_non_utf8_encodings() -> None:
    title, entries, problems = read("latin1.xml")
    assert (title, problems) == ("Le Courrier de la Vallée", [])
    assert entries[0].title == "Fête de la musique : le programme complet"
    assert entries[0].author == "Élodie Müller"
    assert "Saint-Étienne" in entries[0].body
    assert [category_tag(c) for c in entries[0].categories] == ["societe", "economie"]
    title, entries, _ = read("cp1251.xml")
    assert title == "Городские новости"
    assert entries[0].title == "Новый мост откроют в мае" and entries[0].author == "Иван Петров"
    assert "**маю**" in entries[0].body
    assert entries[0].image_url == "https://gorod-news.example/img/most.jpg"
    assert [category_tag(c) for c in entries[0].categories] == ["", "roads"]


def test_a_malformed_feed_gives_what_it_can() -> None:
    title, entries, problems = read("malformed.xml")
    assert title == "Town & Country Weekly"
    assert problems and problems[0].startswith("malformed:")
    assert [e.guid for e in entries[:2]] == ["tc-1001", "tc-1002"]
    assert entries[1].body == "Still readable."
    assert entries[0].published is None  # "not a date at all"


def test_something_that_is_not_a_feed_is_refused() -> None:
    with pytest.raises(FeedError, match="not a feed"):
        read("notafeed.html")
    for junk in (b"", b"\x00\xff" * 100, b"{not json", b'{"version": "1"}', b"<rss"):
        with pytest.raises(FeedError, match="not a feed"):
            parse_feed(junk, URL)


def test_hostile_content_is_defused() -> None:
    _, entries, problems = read("hostile.xml")
    assert problems  # the stray control character made it malformed
    first = entries[0]
    assert first.title == "Scripted title"
    assert first.link is None  # javascript: is no link
    assert first.image_url is None
    for bad in ("javascript:", "data:", "<script", "onclick", "<iframe", "password", "<style"):
        assert bad not in first.body.replace("\\[click\\](javascript:alert(1))", "")
    # A Markdown link written as text stays text.
    assert "\\[click\\](javascript:alert(1))" in first.body
    assert "[protocol-relative](https://cdn.hostile.example/x)" in first.body


def test_every_hostile_item_becomes_a_valid_draft() -> None:
    _, entries, _ = read("hostile.xml")
    drafts = [clean_draft(entry_draft(feed(("local",)), e)) for e in entries]
    assert all(len(d.title) <= TITLE_MAX and "\n" not in d.title for d in drafts)
    assert all(0 < len(d.body) <= BODY_MAX for d in drafts)
    assert drafts[0].tags == ("local", "c-rust", "x" * 32)  # blank category dropped, long cut
    assert "\x07" not in drafts[1].body and "\x85" not in drafts[1].body
    assert drafts[2].title == "Sample"  # an empty item is named after its feed
    huge = next(d for d, e in zip(drafts, entries, strict=True) if e.guid == "h-huge")
    assert len(huge.body) <= BODY_MAX
    keys = [item_key(e) for e in entries]
    assert keys[4] == keys[5]  # a guid given twice is one item
    assert len(set(keys)) == len(keys) - 1


def test_tags_are_the_feeds_then_the_categories() -> None:
    entry = FeedEntry(
        "g", None, "T", "B", categories=("Breaking News", "Local Politics", "breaking-news", "!!")
    )
    draft = entry_draft(feed(("city",)), entry)
    assert draft.tags == ("city", "breaking-news", "local-politics")
    many = FeedEntry("g", None, "T", "B", categories=tuple(f"c{i}" for i in range(30)))
    assert len(entry_draft(feed(("city",)), many).tags) == 10


def test_markdown_conversion_keeps_structure() -> None:
    html = (
        "<h3>Head</h3><p>A <em>b</em> <code>c</code></p><pre>x = 1\ny = 2</pre>"
        "<blockquote>quoted</blockquote><ol><li>one</li><li>two</li></ol>"
    )
    markdown = to_markdown(html, "https://a.example/")
    assert "### Head" in markdown and "*b*" in markdown and "`c`" in markdown
    assert "x = 1\ny = 2" in markdown and "> quoted" in markdown and "2. two" in markdown
