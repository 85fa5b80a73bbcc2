"""Real publishers' feeds, as they serve them: the files of ../shared/feeds (their provenance is
in its SOURCES.md; they are read from there, never copied into this repository).

Each test is a defect found by pointing newsbot at real feeds (issue 23), on a feed of the kind
that showed it.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.feeds import parse_feed
from newsbot.errors import FeedError
from newsbot.feeds import MADE_UP_TITLE_MAX, entry_draft
from newsbot.models import Feed, FeedEntry, FeedId

REAL = Path(__file__).resolve().parents[4] / "shared" / "feeds"
pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the real feeds are not here ({REAL} is absent)"
)
URL = "https://feeds.example/feed"
_MARKDOWN = re.compile(r"\]\(|\*\*|__|^#|`")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def read(name: str, url: str = URL) -> tuple[str, list[FeedEntry], list[str]]:
    title, entries, problems = parse_feed((REAL / name).read_bytes(), url)
    converted = []
    for entry in entries:
        body, summary = entry.text()
        converted.append(dataclasses.replace(entry, body=body, summary=summary, convert=None))
    return title, converted, problems


def feed() -> Feed:
    now = datetime(2026, 3, 5, tzinfo=UTC)
    return Feed(FeedId(1), URL, "Sample", (), 600.0, 0, True, now, now)


def test_json_feed_1_0_with_its_http_version_is_read() -> None:
    # Pixel Envy writes "http://jsonfeed.org/version/1" (the spec has https; some generators
    # wrote http).
    assert b'"version": "http://jsonfeed.org/version/1"' in (REAL / "pixelenvy.json").read_bytes()
    title, entries, problems = read("pixelenvy.json")
    assert (title, len(entries), problems) == ("Pixel Envy", 20, [])
    first = entries[0]
    assert first.title == "Uber Lost $4.5 Billion in 2017"
    assert first.link == "https://pxlnv.com/linklog/uber-losses-2017/"
    assert first.author == "Nick Heer" and "Eric Newcomer" in first.body
    assert entry_draft(feed(), first).url == first.link
    # The https 1.0 and 1.1 values still are feeds; JSON naming another version is not.
    assert read("inessential.json")[0] == "inessential.com"
    assert len(read("fboes_3960.json")[1]) == 20
    for version in ("http://example.org/version/1", "jsonfeed.org/version/1", ""):
        with pytest.raises(FeedError, match="JSON without a JSON Feed version"):
            parse_feed(b'{"version": "%s", "items": []}' % version.encode(), URL)


def test_html_is_removed_from_titles_whatever_the_parser_calls_them() -> None:
    # feedparser calls "<b>Hostile</b> <script>...</script>..." plain text: it does not know
    # <script> as HTML. The title must still reach the chats without tags.
    _, entries, _ = read("medium_hodlhodl_hostile.rss")
    assert entries[0].title == "Hostile Hodl Hodl’s upcoming features"
    assert entry_draft(feed(), entries[0]).title == "Hostile Hodl Hodl’s upcoming features"
    assert entries[1].title == "Highlights of Baltic Honeybadger 2018"
    # HTML the parser did recognise, and entities, come out as before: decoded once.
    _, rupee, _ = read("livemint_htmltitle.xml")
    assert rupee[0].title == "SmartCity Kochi to raise ₹4,000 crore from investors"
    _, quotes, _ = read("onefoottsunami_entities.atom")
    assert quotes[0].title == "Link: That’s Not What Dolphins Do"
    _, amp, _ = read("rosemaryorchard.json")
    assert amp[0].title == "Workflow: Add Task & Sub Tasks To OmniFocus"
    # No title of any real feed keeps a tag.
    for path in sorted(REAL.iterdir()):
        # Not feeds to read: the broken and the cut-off one are refused whole (test_feeds_cutoff).
        if path.suffix in (".md",) or path.name in (
            "reuters_broken.rss",
            "aktuality_sk_truncated.rss",
        ):
            continue
        for entry in read(path.name)[1]:
            assert _TAG.search(entry.title) is None, (path.name, entry.title)


def test_a_title_written_as_text_is_decoded_once() -> None:
    # Atom type="text": the parser decodes the XML once; "&amp;amp;" is the text "&amp;".
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><id>urn:x</id>'
        b'<title type="text">AT&amp;amp;T &lt;script&gt;x()&lt;/script&gt;fibre 1 &lt; 2'
        b"</title></entry></feed>"
    )
    _, (entry,), _ = parse_feed(atom, URL)
    assert entry.title == "AT&amp;T fibre 1 < 2"
    # Angle brackets around a word that is no HTML element are text, as written.
    rss = (
        b'<rss version="2.0"><channel><title>T</title><item><guid>g</guid>'
        b"<title>Bridge opens &lt;today&gt; &amp; x&lt;y</title></item></channel></rss>"
    )
    _, (entry,), _ = parse_feed(rss, URL)
    assert entry.title == "Bridge opens <today> & x<y"


def test_made_up_titles_are_plain_text_cut_at_a_word() -> None:
    # Scripting News items have no title, only an HTML description with links.
    _, entries, _ = read("scriptingnews.rss")
    untitled = [e for e in entries if not e.title]
    drafts = [entry_draft(feed(), e) for e in untitled]
    assert (len(entries), len(drafts)) == (50, 39)
    assert drafts[1].title == "This is the human side of Health care is socialist."
    assert drafts[2].title == (
        "Interesting Politico piece posits that Trump acts as if he's mayor of the…"
    )
    for entry, draft in zip(untitled, drafts, strict=True):
        assert _MARKDOWN.search(draft.title) is None, draft.title
        assert 0 < len(draft.title) <= MADE_UP_TITLE_MAX
        if draft.title.endswith("…"):  # cut between two words of the plain text
            kept = draft.title.removesuffix("…")
            assert entry.lead.startswith(kept), (kept, entry.lead)
            assert entry.lead[len(kept)] in " ,;:.-–—", (kept, entry.lead)
        else:
            assert draft.title == entry.lead
    # micro.blog (and Mastodon's RSS): items without a title, a description and the content.
    _, manton, _ = read("microblog_manton.rss")
    titles = [entry_draft(feed(), e).title for e in manton]
    assert titles[0] == (
        "This week’s Core Intuition is out with a discussion about new and old iPhones…"
    )
    assert titles[1] == (
        "I probably shouldn’t have started installing watchOS 2.0 right before needing…"
    )
    assert titles[2] == "Looking forward to NSDrinking tonight, 8pm at Radio Coffee & Beer."
    assert titles[3] == "Instagram hits 400 million users"  # its own title


def test_an_atom_entry_whose_only_alternate_is_not_html_links_to_it() -> None:
    # Andrea Pappacoda's thesis entry: a tag: id and one alternate link, to a PDF.
    base = "https://andrea.pappacoda.it/blog/feed.xml"
    _, entries, _ = read("pappacoda_xmlbase.atom", base)
    thesis = entries[1]
    assert thesis.guid == "tag:andrea.pappacoda.it,2024-12-12:tesi"
    assert thesis.link == "https://andrea.pappacoda.it/blog/tesi.pdf"
    assert entry_draft(feed(), thesis).url == "https://andrea.pappacoda.it/blog/tesi.pdf"
    # Entries with an HTML (here XHTML) alternate keep it.
    assert entries[0].link == "https://andrea.pappacoda.it/blog/favicon_2026/"
    assert entries[2].link == "https://andrea.pappacoda.it/blog/c_su_windows/"
    # Where an HTML alternate exists beside others, it stays the link.
    _, youtube, _ = read("youtube_pbsspacetime.atom")
    assert youtube[0].link is not None and youtube[0].link.startswith("https://www.youtube.com/")
