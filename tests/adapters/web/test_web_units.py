"""Unit tests of the web adapter's pure parts: origin checks, admin sessions, the
double-submit key, trusted proxies, ASCII numbers, rendering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.web.guard import (
    SUBMIT_WINDOW,
    AdminSessions,
    ascii_number,
    parse_networks,
    real_client,
    same_origin,
    site_origins,
    submission_keys,
)
from adapters.web.render import comments_label, flatten, human_time, markdown_html, slugify
from newsbot import ArticleId, Author, Comment, CommentId, CommentNode, MessageRef, Platform
from newsbot.models import CommentStatus

SITE_ORIGINS = frozenset({"http://127.0.0.1:8080", "https://news.example"})


@pytest.mark.parametrize(
    ("fetch_site", "origin", "accepted"),
    [
        ("same-origin", None, True),
        ("same-origin", "http://127.0.0.1:8080", True),
        ("none", None, True),
        (None, None, True),  # not a browser
        (None, "https://news.example", True),
        ("same-site", "https://news.example", True),
        ("cross-site", "http://evil.example", False),
        ("cross-site", None, False),
        ("same-site", "https://blog.news.example", False),
        (None, "http://evil.example", False),
        (None, "null", False),
        ("cross-site", "https://news.example.evil.example", False),
    ],
)
def test_same_origin(fetch_site: str | None, origin: str | None, accepted: bool) -> None:
    assert same_origin(fetch_site, origin, SITE_ORIGINS) is accepted


def test_site_origins_are_the_host_and_the_public_url() -> None:
    assert site_origins("Example.org:8080", "https://news.example/path") == {
        "http://example.org:8080",
        "https://example.org:8080",
        "https://news.example",
    }


@pytest.mark.parametrize("raw", ["²", "١", "1²", "٣٤", "-1", "+1", " 1", "1.0", "", "1" * 19])
def test_ascii_number_refuses_what_isdigit_takes(raw: str) -> None:
    assert ascii_number(raw) is None


def test_ascii_number_reads_ascii_digits() -> None:
    assert ascii_number("0042") == 42
    assert ascii_number("9" * 18) == int("9" * 18)
    assert ascii_number("1234567", digits=6) is None


def test_admin_sessions_are_signed_expire_and_end_with_the_token() -> None:
    sessions = AdminSessions(b"k" * 32, "t" * 32, max_age=3600)
    cookie = sessions.issue(1000.0)
    assert sessions.valid(cookie, 1000.0)
    assert sessions.valid(cookie, 4599.0)
    assert not sessions.valid(cookie, 4600.0)  # expired
    expires, nonce, mac = cookie.split(".")
    for forged in (
        None,
        "",
        f"{int(expires) + 1000}.{nonce}.{mac}",
        f"{expires}.other.{mac}",
        f"{expires}.{nonce}.{mac[:-2]}AA",
        f"²{expires}.{nonce}.{mac}",
        "x.y",
    ):
        assert not sessions.valid(forged, 1000.0), forged
    assert not AdminSessions(b"k" * 32, "u" * 32, 3600).valid(cookie, 1000.0)  # new token
    assert not AdminSessions(b"j" * 32, "t" * 32, 3600).valid(cookie, 1000.0)  # new secret


def test_submission_keys_depend_on_everything_but_a_few_seconds() -> None:
    base = {"address": "a", "article_id": 1, "parent_id": None, "name": "N", "text": "T"}
    key = b"k" * 32
    now = 1_000_000.0 - 1_000_000.0 % SUBMIT_WINDOW + 10
    current, previous = submission_keys(key, **base, now=now)  # type: ignore[arg-type]
    assert submission_keys(key, **base, now=now + 5) == (current, previous)  # type: ignore[arg-type]
    assert submission_keys(key, **base, now=now + SUBMIT_WINDOW)[1] == current  # type: ignore[arg-type]
    for change in ({"address": "b"}, {"article_id": 2}, {"parent_id": 3}, {"name": "M"},
                   {"text": "U"}):  # fmt: skip
        assert submission_keys(key, **{**base, **change}, now=now)[0] != current  # type: ignore[arg-type]
    assert submission_keys(b"j" * 32, **base, now=now)[0] != current  # type: ignore[arg-type]


def test_the_client_is_the_rightmost_untrusted_hop_and_only_behind_a_trusted_proxy() -> None:
    proxies = parse_networks(["10.0.0.0/8", "::1"])
    assert real_client("203.0.113.5", ["1.2.3.4"], proxies) == "203.0.113.5"  # spoofed
    assert real_client("10.0.0.2", [], proxies) == "10.0.0.2"
    assert real_client("10.0.0.2", ["1.2.3.4, 5.6.7.8"], proxies) == "5.6.7.8"
    assert real_client("10.0.0.2", ["1.2.3.4, 5.6.7.8, 10.1.1.1"], proxies) == "5.6.7.8"
    assert real_client("10.0.0.2", ["1.2.3.4", "5.6.7.8"], proxies) == "5.6.7.8"
    assert real_client("::1", ["2001:db8::7"], proxies) == "2001:db8::7"
    assert real_client("::ffff:10.0.0.3", ["9.9.9.9"], proxies) == "9.9.9.9"
    assert real_client("10.0.0.2", ["junk"], proxies) == "junk"  # a proxy wrote it: its word
    assert real_client("10.0.0.2", ["1.1.1.1"], ()) == "10.0.0.2"
    with pytest.raises(ValueError, match="'true' is not an IP address"):
        parse_networks(["true"])


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Café au lait — Ünïcödé", "cafe-au-lait-unicode"),
        ("日本語のニュース", "ribenyunoniyusu"),  # any script has a readable slug
        ("  --a--b--  ", "a-b"),
        ("word " * 20, "word-word-word-word-word-word-word-word-word-word-word-word"),
        ("x" * 80, "x" * 60),
    ],
)
def test_slugs_are_short_ascii_words(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_comment_counts_read_naturally() -> None:
    assert [comments_label(n) for n in (0, 1, 2, 100)] == [
        "0 Comments",
        "1 Comment",
        "2 Comments",
        "100 Comments",
    ]


def test_times_are_short_and_utc() -> None:
    assert human_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2 Jan 2026, 03:04 UTC"


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](  javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](vbscript:msgbox)",
        "[x](data:text/html,hi)",
        "[x](file:///etc/passwd)",
        "![x](data:image/png;base64,AAAA)",
        "<javascript:alert(1)>",
        "[x][r]\n\n[r]: javascript:alert(1)",
    ],
)
def test_unsafe_link_schemes_never_become_links(source: str) -> None:
    html = markdown_html(source)
    assert "<a " not in html
    assert "<img" not in html


def test_raw_html_is_text_and_links_are_nofollow_ugc() -> None:
    html = markdown_html('<div onclick="x">hi</div>\n\n[a](https://e.example) <https://f.example>')
    assert "&lt;div onclick=&quot;x&quot;&gt;hi&lt;/div&gt;" in html
    assert html.count('rel="nofollow ugc"') == 2


def _comment(cid: int, parent: int | None) -> Comment:
    return Comment(
        id=CommentId(cid),
        article_id=ArticleId(1),
        parent_id=CommentId(parent) if parent else None,
        author=Author(f"a{cid}", Platform.WEB, f"a{cid}"),
        text=f"t{cid}",
        source=MessageRef(Platform.WEB, "1", str(cid)),
        status=CommentStatus.VISIBLE,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_flatten_keeps_thread_order_and_caps_depth_without_recursion() -> None:
    root = CommentNode(_comment(1, None))
    node = root
    for cid in range(2, 3002):  # far deeper than Python's recursion limit
        child = CommentNode(_comment(cid, node.comment.id))
        node.replies.append(child)
        node = child
    sibling = CommentNode(_comment(5000, None))
    rows = flatten([root, sibling], max_depth=3)
    assert [r.comment.id for r in rows] == [*range(1, 3002), 5000]
    assert [r.depth for r in rows[:6]] == [0, 1, 2, 3, 3, 3]
    assert rows[3].parent is None
    assert rows[4].parent is not None
    assert rows[4].parent.id == 4
    assert rows[-1].depth == 0
