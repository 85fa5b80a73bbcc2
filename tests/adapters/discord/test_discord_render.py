"""Discord rendering: never over Discord's limits, and no mention survives."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.discord.render import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMBEDS_TOTAL_MAX,
    FOOTER_MAX,
    OPENING_MAX,
    TITLE_MAX,
    article_embed,
    comment_content,
    escape_text,
    latest_embed,
    neutralise_mentions,
    thread_embed,
    thread_name,
)
from newsbot.models import (
    Article,
    ArticleId,
    ArticlePage,
    ArticleStatus,
    Author,
    Comment,
    CommentId,
    CommentNode,
    CommentStatus,
    MessageRef,
    Platform,
    ThreadPage,
)

_LINK = re.compile(r"(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")


def unescaped_markdown(text: str) -> list[str]:
    """What Discord would render as formatting in ``text``, by a deliberately strict reading:
    any unescaped emphasis, code, spoiler, strike, bracket or ``<`` outside links, and any line
    that starts (after spaces) with an unescaped heading, subtext, list or quote marker."""
    found: list[str] = []
    for line in _LINK.sub("", text).split("\n"):
        stripped = line.lstrip(" \t\u2003")
        if re.match(r"(#|-|\+|>|[0-9]+[.)])", stripped):
            found.append(f"line start: {line[:20]!r}")
        escaped = False
        for ch in line:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch in "*_~|`[]<":
                found.append(ch)
    return found


# What Discord would parse as a ping (checked case-insensitively, stricter than Discord).
PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>", re.IGNORECASE)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

hostile = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "@everyone",
                "@here",
                "@EVERYONE",
                "<@123456789012345678>",
                "<@!42>",
                "<@&987654321098765432>",
                "<@",
                "&",
                "!",
                "@",
                "```",
                "**",
                "\n",
                " ",
                "\u200b",
                "😀",
                "e\u0301",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=60,
).map("".join)


def make_article(
    title: str = "Title", body: str = "Body", summary: str = "", name: str = "Ada", **kw: object
) -> Article:
    fields: dict[str, object] = {
        "id": ArticleId(7),
        "title": title,
        "body": body,
        "summary": summary,
        "url": None,
        "image_url": None,
        "author": Author(name, Platform.CLI, "operator"),
        "tags": (),
        "status": ArticleStatus.PUBLISHED,
        "created_at": NOW,
        "published_at": NOW,
        "updated_at": NOW,
        "revision": 1,
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


def make_comment(text: str, name: str = "Rita", platform: Platform = Platform.TELEGRAM) -> Comment:
    return Comment(
        id=CommentId(1),
        article_id=ArticleId(7),
        parent_id=None,
        author=Author(name, platform, "5"),
        text=text,
        source=MessageRef(platform, "-100", "1"),
        status=CommentStatus.VISIBLE,
        created_at=NOW,
    )


def assert_embed_fits(embed: object) -> None:
    data = embed.to_dict()  # type: ignore[attr-defined]
    assert len(data.get("title", "")) <= TITLE_MAX
    assert len(data.get("description", "")) <= DESCRIPTION_MAX
    assert len(data.get("footer", {}).get("text", "")) <= FOOTER_MAX
    assert len(data.get("author", {}).get("name", "")) <= 256
    assert len(embed) <= EMBEDS_TOTAL_MAX  # type: ignore[arg-type]
    for key in ("title", "description"):
        assert not PING.search(data.get(key, "")), data.get(key)
    assert not PING.search(data.get("footer", {}).get("text", ""))
    assert not PING.search(data.get("author", {}).get("name", ""))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=hostile,
    body=hostile,
    summary=hostile,
    name=hostile,
    tags=st.lists(hostile, max_size=5).map(tuple),
    count=st.integers(0, 10**9),
)
def test_article_embeds_fit_and_never_ping(
    title: str, body: str, summary: str, name: str, tags: tuple[str, ...], count: int
) -> None:
    article = make_article(title, body, summary, name, tags=tags)
    assert_embed_fits(article_embed(article, url="https://news.example/a/7", comment_count=count))
    assert 1 <= len(thread_name(article)) <= 100


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile, name=hostile, quoted=hostile, quoted_name=hostile)
def test_comment_mirrors_fit_and_never_ping(
    text: str, name: str, quoted: str, quoted_name: str
) -> None:
    parent = make_comment(quoted, quoted_name, Platform.WEB)
    for quote in (None, parent):
        rendered = comment_content(make_comment(text, name), quote=quote)
        assert 0 < len(rendered) <= CONTENT_MAX
        assert not PING.search(rendered), rendered


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.tuples(hostile, hostile), max_size=12), title=hostile)
def test_lists_fit_and_never_ping(texts: list[tuple[str, str]], title: str) -> None:
    article = make_article(title)
    nodes = [CommentNode(make_comment(text, name)) for text, name in texts]
    if nodes:
        nodes[0].replies = [CommentNode(make_comment(t, n)) for t, n in texts]
    page = ThreadPage(article.id, nodes, None, len(texts))
    assert_embed_fits(thread_embed(article, page, url="https://x/a", page_number=3))
    articles = [make_article(t or "x", id=ArticleId(i)) for i, (t, _) in enumerate(texts)]
    assert_embed_fits(latest_embed(ArticlePage(articles, None), {}))


def test_megabyte_inputs_are_cut_to_the_limits() -> None:
    huge = "@everyone <@&123456789012345678> " * 40_000
    article = make_article(title=huge, body=huge, summary="", name=huge, tags=(huge,))
    embed = article_embed(article, url="https://news.example/a/7", comment_count=3)
    assert_embed_fits(embed)
    assert len(embed.description or "") <= OPENING_MAX
    rendered = comment_content(make_comment(huge, huge), quote=make_comment(huge, huge))
    assert len(rendered) <= CONTENT_MAX and not PING.search(rendered)


def test_markdown_is_kept_and_mentions_are_inert() -> None:
    article = make_article(body="Hello **world** @everyone and <@&55>", name="Ed")
    description = article_embed(article, url="u", comment_count=1).description or ""
    assert description == "Hello **world** @\u200beveryone and <@\u200b&55>"
    assert neutralise_mentions(description) == description  # idempotent


def test_a_cut_code_block_is_closed() -> None:
    body = "Intro\n```python\n" + "x = 1\n" * 1000 + "```\nOutro"
    description = article_embed(make_article(body=body), url="u", comment_count=0).description
    assert description is not None and description.endswith("\n```")
    assert description.count("```") % 2 == 0 and len(description) <= OPENING_MAX


def test_summary_is_preferred_and_the_footer_counts_comments() -> None:
    article = make_article(summary="In short.", body="Long body", tags=("ai", "news"))
    embed = article_embed(article, url="https://news.example/articles/7", comment_count=1)
    assert embed.description == "In short."
    assert embed.url == "https://news.example/articles/7"
    assert embed.footer.text == "💬 1 comment · #ai #news"
    assert embed.timestamp == NOW


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile | st.text(alphabet=" \n#->*+_~|`[]()<:@.!\\0123456789ab", max_size=80))
def test_a_readers_text_renders_as_written(text: str) -> None:
    assert unescaped_markdown(escape_text(text)) == []


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile, name=hostile, quoted=hostile, quoted_name=hostile)
def test_only_the_author_line_is_bold(text: str, name: str, quoted: str, quoted_name: str) -> None:
    for quote in (None, make_comment(quoted, quoted_name, Platform.WEB)):
        rendered = comment_content(make_comment(text, name), quote=quote)
        if quote is not None and quote.text:
            first, _, rendered = rendered.partition("\n")
            assert first.startswith("> ↪ **")
            assert unescaped_markdown(first[len("> ↪ **") :].replace("**: ", "", 1)) == []
        head, _, body = rendered.partition("** (Telegram): ")
        assert head.startswith("**") and unescaped_markdown(head[2:]) == []
        assert unescaped_markdown(body) == []


def test_masked_links_headings_and_forged_author_lines_are_literal() -> None:
    text = "[x](http://evil.example)\n# big\n**Editor** (Telegram): fake"
    assert escape_text(text) == (
        "\\[x\\](http://evil.example)\n\\# big\n\\*\\*Editor\\*\\* (Telegram): fake"
    )
    assert escape_text("see https://a_b.example/x_y ok") == "see https://a_b.example/x_y ok"


def test_a_mirrored_comment_names_author_and_platform() -> None:
    comment = make_comment("Nice *article*", name="Bob_the **Builder**")
    assert (
        comment_content(comment)
        == "**Bob\\_the \\*\\*Builder\\*\\*** (Telegram): Nice \\*article\\*"
    )
    parent = make_comment("the question", name="Ann", platform=Platform.WEB)
    quoted = comment_content(comment, quote=parent)
    assert quoted.startswith("> ↪ **Ann**: the question\n**Bob")
