"""Per-chat templates: checked when set (the line and the reason), sandboxed, and rendered
within each platform's limits with no formatting or mention a value or a template could add
(property-tested with hypothesis against the fakes' own checks)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import templates
from adapters.discord.render import templated_embed
from adapters.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, check_entities
from adapters.telegram.render.templated import render_templated
from newsbot import Article, ArticleId, ArticleStatus, Author, Platform
from newsbot.errors import InvalidInput
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram

AT = datetime(2026, 1, 1, tzinfo=UTC)


def article(title: str = "Quake", body: str = "Body", summary: str = "", **kw: object) -> Article:
    values: dict[str, object] = {
        "id": ArticleId(7),
        "title": title,
        "body": body,
        "summary": summary,
        "url": None,
        "image_url": None,
        "author": Author("Ada", Platform.CLI, "operator"),
        "tags": ("news",),
        "status": ArticleStatus.PUBLISHED,
        "created_at": AT,
        "published_at": AT,
        "updated_at": AT,
        "revision": 1,
    }
    values.update(kw)
    return Article(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{{ title }}\n{% if summary %}\n{{ summary }", "Line 3: unexpected '}'"),
        ("{{ title }}\n\n{{ nosuch }}", "Line 3: 'nosuch' is undefined"),
        ("{{ title.__class__.__mro__ }}", "Line 1: access to attribute '__class__'"),
        ("{% for t in tags %}{{ t }}", "Line 1: Unexpected end of template"),
        ("\n{{ summary }}", "the first line (the headline) is empty"),
        ("{{ title | nosuchfilter }}", "Line 1: No filter named 'nosuchfilter'"),
    ],
)
def test_a_broken_template_is_refused_with_the_line_and_reason(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("(", r"\(").replace(")", r"\)")):
        templates.check(text)


def test_the_ready_templates_render() -> None:
    a = article(summary="Short", image_url="https://i.example/x.png", tags=("world", "news"))
    outs = {
        name: templates.render(templates.compile_template(text), a, link="L", comment_count=2)
        for name, text in templates.READY.items()
    }
    assert outs["headline"] == templates.Templated("Quake", "L")
    assert outs["summary"] == templates.Templated("Quake", "Short\nRead more: L")
    assert outs["full"].text.endswith("world, news · 💬 2 · L")


INJECT = "{{ title }}\n**bold** <b>x</b> @everyone <@&123> [x](https://evil.example) {{ body }}"


def test_a_template_cannot_mention_or_format() -> None:
    out = templates.render(
        templates.compile_template(INJECT),
        article(title="@channel_admin *t*", body="@here <@1> `c` _i_"),
        link="L",
        comment_count=0,
    )
    tg = render_templated(out)
    assert [e.type for e in tg.entities] == ["bold"]  # only the headline's own bold
    assert "@channel_admin" not in tg.text and "@everyone" not in tg.text  # word joiner
    assert "**bold** <b>x</b>" in tg.text  # literal text, no parse mode
    embed = templated_embed(out, article(), url="https://n.example/7", comment_count=0)
    description = embed.description or ""
    assert "\\*\\*bold\\*\\*" in description and "\\[x\\]" in description
    assert "@everyone" not in description and "<@&123>" not in description
    assert "@here" not in description and "<@1>" not in description


texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=5000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=texts, body=texts, summary=texts, name=st.sampled_from(sorted(templates.READY)))
def test_renders_fit_the_platforms_limits(title: str, body: str, summary: str, name: str) -> None:
    a = article(title=title[:256], body=body, summary=summary[:1024], tags=("a", "b"))
    out = templates.render(
        templates.compile_template(templates.READY[name]),
        a,
        link="https://n.example/7",
        comment_count=5,
    )
    telegram = FakeTelegram()
    for limit in (TEXT_LIMIT, CAPTION_LIMIT):
        rendered = render_templated(out, limit)
        assert check_entities(rendered.text, rendered.entities, limit) == []
        entities = [e.to_dict() for e in rendered.entities]
        telegram._format(rendered.text, None, entities, caption=limit == CAPTION_LIMIT)
    embed = templated_embed(out, a, url="https://n.example/7", comment_count=5)
    FakeDiscord(token="t")._validate_message({"embeds": [embed.to_dict()]}, creating=True)
