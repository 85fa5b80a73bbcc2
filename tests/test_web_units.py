"""Unit tests of the web adapter's pure parts: form tokens, the rate limiter, rendering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.web.guard import FormTokenError, FormTokens, RateLimiter
from adapters.web.render import comments_label, flatten, human_time, markdown_html, slugify
from newsbot import ArticleId, Author, Comment, CommentId, CommentNode, MessageRef, Platform
from newsbot.models import CommentStatus


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_form_token_passes_with_its_session_and_yields_its_nonce() -> None:
    tokens = FormTokens(b"k" * 32)
    token = tokens.issue("session-a")
    nonce = tokens.check("session-a", token)
    assert token.split(".")[1] == nonce
    assert tokens.issue("session-a") != token  # a fresh nonce per form


@pytest.mark.parametrize(
    ("session", "token", "message"),
    [
        ("s", None, "missing its security token"),
        ("s", "", "missing its security token"),
        (None, "1.a.b", "did not send this site's cookie"),
        ("s", "garbage", "not valid"),
        ("s", "1.2", "not valid"),
        ("s", "-1.a.b", "not valid"),
        ("other", "VALID", "not valid"),
    ],
)
def test_bad_form_tokens_are_refused_with_their_reason(
    session: str | None, token: str | None, message: str
) -> None:
    tokens = FormTokens(b"k" * 32)
    if token == "VALID":
        token = tokens.issue("s")
    with pytest.raises(FormTokenError, match=message):
        tokens.check(session, token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = FormTokens(b"a" * 32).issue("s")
    with pytest.raises(FormTokenError, match="not valid"):
        FormTokens(b"b" * 32).check("s", token)


def test_form_tokens_expire() -> None:
    clock = Clock()
    tokens = FormTokens(b"k" * 32, max_age=3600, clock=clock)
    token = tokens.issue("s")
    clock.now += 3600
    tokens.check("s", token)
    clock.now += 1
    with pytest.raises(FormTokenError, match="The form has expired"):
        tokens.check("s", token)


def test_the_rate_limiter_slides_its_window() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    assert limiter.retry_after("a") == 0
    limiter.record("a")
    clock.now += 20
    limiter.record("a")
    assert limiter.retry_after("a") == 40
    assert limiter.retry_after("b") == 0
    clock.now += 40
    assert limiter.retry_after("a") == 0  # the first event left the window
    limiter.record("a")
    assert limiter.retry_after("a") == 20


def test_the_rate_limiter_remembers_a_bounded_number_of_addresses() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock=clock, max_keys=3)
    for key in "abcd":
        limiter.record(key)
    assert limiter.retry_after("a") == 0  # evicted, oldest first
    assert all(limiter.retry_after(k) == 60 for k in "bcd")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Café au lait — Ünïcödé", "cafe-au-lait-unicode"),
        ("日本語のニュース", ""),
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
