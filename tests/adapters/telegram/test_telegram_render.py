"""Rendering for Telegram: pure functions, checked against the Bot API's rules.

The property tests throw arbitrary text at the renderers (astral emoji, RTL, zero-width and
combining characters, HTML/Markdown/MarkdownV2 metacharacters, megabyte inputs) and check that
no message could be refused: within the length limit in UTF-16 units, at most 100 entities,
every entity inside the text, on code-point boundaries and nested as Telegram allows.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import MessageEntity

from adapters.telegram.render import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Span,
    check_entities,
    entities_to_markdown,
    fit,
    markdown,
    render_comment,
    render_post,
    render_thread,
    split_article,
    split_command,
    unmention,
)
from newsbot.models import (
    ArticleId,
    Author,
    Comment,
    CommentId,
    CommentNode,
    CommentStatus,
    MessageRef,
    Platform,
)
from newsbot.text import cut_point, utf16_len
from tests.fakes.telegram import _autodetect

URL = "https://news.example/articles/1"
NOW = datetime(2026, 1, 2, tzinfo=UTC)

SPICY = (
    "<>&\"'*_~`|[](){}#+-=.!\\>"  # HTML, Markdown and MarkdownV2 metacharacters
    "😀🎉👩‍👩‍👧‍👦🇺🇦👍🏽"  # astral emoji, ZWJ sequences, flags, skin tones
    "שלום مرحبا‏‎\u202e"  # RTL text and direction marks
    "\u200b\u200c\u200d\ufeff"  # zero-width characters
    "e\u0301a\u0308\u0338"  # combining marks
    " \n\t\n\n"
    "abc xyz 123"
    "@@_ab"  # would-be mentions
)
text_strategy = st.text(alphabet=st.sampled_from(SPICY), max_size=600) | st.text(max_size=300)
markdown_fragment = st.sampled_from(
    [
        "**bold**",
        "*it*",
        "_it_",
        "`code`",
        "~~gone~~",
        "[link](https://example.org/x)",
        "[bad](javascript:alert(1))",
        "![img](https://example.org/i.png)",
        "<b>raw</b>",
        "&amp;",
        "&#x1F600;",
        "\n\n> quote **b `c`**\n\n",
        "\n\n```py\nx = 1 < 2\n```\n\n",
        "\n\n- item\n  - nested\n1. one\n\n",
        "\n\n# Heading `x`\n\n",
        "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n",
        "\\*",
        " ",
        "\n",
    ]
)
markdown_strategy = st.lists(markdown_fragment | text_strategy, max_size=40).map("".join)


def entities(spans: list[Span]) -> list[MessageEntity]:
    return [s.entity() for s in spans]


def entity_text(text: str, entity: MessageEntity) -> str:
    raw = text.encode("utf-16-le")
    return raw[entity.offset * 2 : (entity.offset + entity.length) * 2].decode("utf-16-le")


def comment(text: str, name: str = "Dana", platform: Platform = Platform.DISCORD) -> Comment:
    return Comment(
        id=CommentId(1),
        article_id=ArticleId(1),
        parent_id=None,
        author=Author(name, platform, "9"),
        text=text,
        source=MessageRef(platform, "c", "m"),
        status=CommentStatus.VISIBLE,
        created_at=NOW,
    )


# -- examples ------------------------------------------------------------------------------


def test_post_layout_short_body() -> None:
    rendered = render_post(
        "Hello & <you>", "Some **bold** text.", article_url=URL, comment_count=2
    )
    assert rendered.text == "Hello & <you>\n\nSome bold text.\n\n💬 2 comments"
    found = {(e.type, entity_text(rendered.text, e)) for e in rendered.entities}
    assert found == {("bold", "Hello & <you>"), ("text_link", "Hello & <you>"), ("bold", "bold")}
    (link,) = [e for e in rendered.entities if e.type == "text_link"]
    assert link.url == URL  # the title links to the page, so every post names its article
    assert not rendered.truncated


def test_long_body_is_cut_at_a_word_with_a_read_more_link() -> None:
    body = " ".join(f"word{n}" for n in range(3000))
    rendered = render_post("Long", body, article_url=URL, comment_count=1)
    assert rendered.truncated
    assert utf16_len(rendered.text) <= TEXT_LIMIT
    assert rendered.text.endswith("…\n\nRead more\n💬 1 comment")
    head = rendered.text.split("…")[0]
    assert head.split()[-1].startswith("word")
    assert body.startswith(head.split("\n\n", 1)[1])  # a whole number of words
    link = [e for e in rendered.entities if e.type == "text_link"]
    assert [(entity_text(rendered.text, e), e.url) for e in link] == [
        ("Long", URL),
        ("Read more", URL),
    ]


def test_summary_replaces_the_body_and_links_to_the_page() -> None:
    rendered = render_post(
        "T", "the whole body", "Just the gist", article_url=URL, comment_count=0
    )
    assert rendered.text == "T\n\nJust the gist\n\nRead more\n💬 No comments yet"


def test_caption_limit_is_respected() -> None:
    rendered = render_post("T", "x " * 5000, article_url=URL, comment_count=0, limit=CAPTION_LIMIT)
    assert utf16_len(rendered.text) <= CAPTION_LIMIT
    assert not check_entities(rendered.text, rendered.entities, CAPTION_LIMIT)


def test_markdown_maps_to_entities() -> None:
    text, spans = markdown(
        "# Title `x`\n\nA **b** *i* ~~s~~ `c` [l](https://e.org) <b>raw</b> &amp; \\*\n\n"
        "> q **qb**\n\n```python\nprint(1)\n```\n\n- one\n- two\n\n1. first"
    )
    assert text == (
        "Title x\n\nA b i s c l <b>raw</b> & *\n\nq qb\n\nprint(1)\n\n• one\n• two\n\n1. first"
    )
    found = {(s.kind, entity_text(text, s.entity()), s.url, s.language) for s in spans}
    assert found == {
        ("bold", "Title ", None, None),
        ("code", "x", None, None),
        ("bold", "b", None, None),
        ("italic", "i", None, None),
        ("strikethrough", "s", None, None),
        ("code", "c", None, None),
        ("text_link", "l", "https://e.org", None),
        ("blockquote", "q qb", None, None),
        ("bold", "qb", None, None),
        ("pre", "print(1)", None, "python"),
    }
    assert not check_entities(text, entities(spans), 10_000)


def test_unsafe_links_stay_plain_text() -> None:
    text, spans = markdown("[x](javascript:alert(1)) [y](ftp://a) <https://ok.example>")
    assert [(s.kind, s.url) for s in spans] == [("text_link", "https://ok.example")]
    assert text.startswith("[x](javascript:alert(1)) y ")


def test_code_inside_bold_splits_the_bold_around_it() -> None:
    text, spans = markdown("**a `b` c**")
    assert text == "a b c"
    assert [(s.kind, s.start, s.end) for s in spans] == [
        ("bold", 0, 2),
        ("code", 2, 3),
        ("bold", 3, 5),
    ]


def test_cut_never_splits_surrogates_or_joined_emoji() -> None:
    text = "👩‍👩‍👧‍👦" * 10
    for budget in range(1, 40):
        head = text[: cut_point(text, budget)]
        assert utf16_len(head) <= budget
        assert len(head) % 7 == 0  # whole family emoji only
    assert cut_point("e\u0301e\u0301", 3) == 2


def test_fit_keeps_links_whole_and_clips_styles() -> None:
    text = "aaaa bbbb cccc dddd eeee"
    spans = [Span("bold", 0, 24), Span("text_link", 10, 19, url="https://x.org")]
    cut, kept, truncated = fit(text, spans, 16)
    assert truncated
    assert cut == "aaaa bbbb…"
    assert [(s.kind, s.start, s.end) for s in kept] == [("bold", 0, 9)]


def test_comment_mirror() -> None:
    rendered = render_comment(comment("Nice <b>post</b> & *all*"))
    assert rendered.text == "Dana (Discord): Nice <b>post</b> & *all*"
    assert [(e.type, e.offset, e.length) for e in rendered.entities] == [("bold", 0, 4)]
    parent = comment("The parent says something long " * 10, "Paul", Platform.WEB)
    quoted = render_comment(comment("I agree"), parent)
    first, second = quoted.text.split("\n")
    assert first.startswith("↩ Paul: The parent says")
    assert utf16_len(first) <= 120
    assert second == "Dana (Discord): I agree"
    assert quoted.entities[0].type == "blockquote"
    assert not check_entities(quoted.text, quoted.entities, TEXT_LIMIT)


def test_mentions_and_bidi_controls_are_neutralised() -> None:
    rendered = render_comment(comment("hi @rita, mail a@b.co", "Eve @omar\u202e\u2066"))
    assert rendered.text == "Eve @\u2060omar (Discord): hi @\u2060rita, mail a@\u2060b.co"
    assert [(e.type, e.offset, e.length) for e in rendered.entities] == [("bold", 0, 10)]
    parent = comment("cc @omar", "@rita")
    quoted = render_comment(comment("ok"), parent).text.split("\n")[0]
    assert quoted == "↩ @\u2060rita: cc @\u2060omar"
    assert unmention("@ alone, @@x, e@") == "@ alone, @@\u2060x, e@"


def mentions(text: str) -> list[str]:
    """What Telegram would make a mention of, as the fake detects them (tdlib's rule)."""
    return [e["type"] for e in _autodetect(text, []) if e["type"] == "mention"]


def test_the_detection_used_below_finds_plain_mentions() -> None:
    assert mentions("hi @rita and @omar_2") == ["mention", "mention"]


def test_thread_nesting() -> None:
    root = CommentNode(comment("root text", "Ann", Platform.TELEGRAM))
    root.replies.append(CommentNode(comment("reply text", "Ben", Platform.WEB)))
    rendered = render_thread("Title", [root], total=2, article_url=URL)
    assert rendered.text == (
        "Title\n💬 2 comments\n\nAnn (Telegram): root text\n    ↳ Ben (Web): reply text"
        "\n\nRead on the web"
    )
    assert not check_entities(rendered.text, rendered.entities, TEXT_LIMIT)


def test_incoming_formatting_becomes_markdown() -> None:
    text = "bold 😀 italic code link"
    ents = [
        MessageEntity("bold", 0, 5),  # trailing space moves outside the markers
        MessageEntity("italic", 8, 6),
        MessageEntity("code", 15, 4),
        MessageEntity("text_link", 20, 4, url="https://e.org"),
    ]
    md = entities_to_markdown(text, ents)
    assert md == "**bold** 😀 *italic* `code` [link](https://e.org)"
    assert markdown(md)[0] == text


def test_split_command_and_article() -> None:
    text = "/publish@newsbot_test_bot  My title\nBody **x**"
    ents = [MessageEntity("bot_command", 0, 25), MessageEntity("italic", 36, 4)]
    rest, rest_entities = split_command(text, ents)
    assert rest == "My title\nBody **x**"
    assert split_article(rest, rest_entities) == ("My title", "*Body* **x**")
    assert split_article("\n\nOnly title", []) == ("Only title", "")


# -- properties ----------------------------------------------------------------------------

COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_valid(
    text: str, ents: tuple[MessageEntity, ...] | list[MessageEntity], limit: int
) -> None:
    problems = check_entities(text, ents, limit)
    assert not problems, (problems, text[:200])
    assert text == text.strip() or not text


@COMMON
@given(title=text_strategy, body=markdown_strategy, summary=st.sampled_from(["", "sum *m* <a>"]))
def test_posts_always_fit(title: str, body: str, summary: str) -> None:
    for limit in (TEXT_LIMIT, CAPTION_LIMIT, 200):
        rendered = render_post(title, body, summary, article_url=URL, comment_count=3, limit=limit)
        assert_valid(rendered.text, rendered.entities, limit)
        assert rendered.text


@COMMON
@given(source=markdown_strategy)
def test_markdown_entities_are_always_valid(source: str) -> None:
    text, spans = markdown(source)
    assert_valid(text, entities(spans)[:100], 10**9)
    problems = check_entities(text, entities(spans), 10**9)
    assert all("entities, over" in p for p in problems)


@COMMON
@given(source=markdown_strategy, budget=st.integers(min_value=1, max_value=300))
def test_fit_always_fits(source: str, budget: int) -> None:
    text, spans = markdown(source)
    cut, kept, _ = fit(text, spans, budget)
    assert utf16_len(cut) <= budget
    assert not [p for p in check_entities(cut, entities(kept), budget) if "entities," not in p]


@COMMON
@given(text=text_strategy, name=text_strategy, parent=text_strategy)
def test_comments_always_fit(text: str, name: str, parent: str) -> None:
    rendered = render_comment(comment(text, name), comment(parent, name))
    assert_valid(rendered.text, rendered.entities, TEXT_LIMIT)


@COMMON
@given(text=text_strategy, name=text_strategy, parent=text_strategy)
def test_mirrored_comments_never_mention_anyone(text: str, name: str, parent: str) -> None:
    rendered = render_comment(comment(text, name), comment(parent, name))
    assert mentions(rendered.text) == []
    # Names lose them (bidi controls in a name can make it pass for another); a comment's
    # own text keeps what its author wrote.
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert set(rendered.text) & bidi <= set(text + parent)
    thread = render_thread("T", [CommentNode(comment(text, name))], total=1, article_url=URL)
    assert mentions(thread.text.partition("\n")[2]) == []


@COMMON
@given(text=text_strategy, data=st.data())
def test_incoming_entities_never_break_markdown(text: str, data: st.DataObject) -> None:
    size = utf16_len(text)
    ents = []
    if size:
        for _ in range(data.draw(st.integers(0, 5))):
            offset = data.draw(st.integers(0, size - 1))
            length = data.draw(st.integers(1, size - offset))
            kind = data.draw(st.sampled_from(["bold", "italic", "code", "pre", "text_link"]))
            ents.append(MessageEntity(kind, offset, length, url="https://e.org"))
    rendered = render_post("T", entities_to_markdown(text, ents), article_url=URL, comment_count=0)
    assert_valid(rendered.text, rendered.entities, TEXT_LIMIT)


def test_megabyte_inputs() -> None:
    rng = random.Random(7)
    pieces = [*SPICY, "**", "`", "[a](https://e.org)", "\n\n> ", "\n```\n", "&amp;"]
    huge = "".join(rng.choice(pieces) for _ in range(400_000))
    assert len(huge) > 1_000_000 // 2
    for title, body in ((huge, huge), ("t", "😀" * 1_000_000), ("x" * 1_000_000, "y" * 1_000_000)):
        for limit in (TEXT_LIMIT, CAPTION_LIMIT):
            rendered = render_post(title, body, article_url=URL, comment_count=0, limit=limit)
            assert_valid(rendered.text, rendered.entities, limit)
            assert rendered.truncated
    rendered = render_comment(comment(huge, huge))
    assert_valid(rendered.text, rendered.entities, TEXT_LIMIT)
