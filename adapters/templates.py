"""Per-chat post templates: Jinja2's sandbox, checked when set, rendered to plain text.

A template makes the text of a chat's posts from the article's values: ``title``,
``summary``, ``excerpt`` (the body's opening), ``body``, ``link``, ``image``, ``tags`` (a
list), ``author`` and ``comment_count``, with Jinja's conditionals and loops. Its first line
is the post's headline (bold on Telegram, the embed title on Discord), the rest its text.

Templates only make *text*: the values go in as they are (no autoescape: nothing here is
HTML) and the platform renderer then treats the whole output as literal text, so no value and
no template can add formatting, break the escaping or mention anyone (Telegram gets plain text
plus its own bold headline entity; Discord escaped Markdown with mentions neutralised and
``allowed_mentions`` none). The sandbox refuses attribute tricks (``__class__`` ...), and a
render that grows past ``OUTPUT_MAX`` is cut. ``check`` renders a template against sample
articles before it is kept and names the line of what fails.
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from newsbot import (
    Article,
    ArticleId,
    ArticleStatus,
    Author,
    DestinationId,
    NewsService,
    Platform,
)
from newsbot.errors import InvalidInput
from newsbot.text import strip_control_chars

TEMPLATE_MAX = 4000  # characters of a template's text
OUTPUT_MAX = 8000  # characters a render may produce before the platform's own limit cuts it
EXCERPT = 300
READY = {
    "headline": "{{ title }}\n{{ link }}\n",
    "summary": "{{ title }}\n{% if summary %}{{ summary }}{% else %}{{ excerpt }}{% endif %}\n\n"
    "Read more: {{ link }}\n",
    "full": "{{ title }}\n{% if author %}By {{ author }}\n{% endif %}\n{{ body }}\n\n"
    "{% if tags %}{{ tags | map('lower') | join(', ') }} · {% endif %}"
    "💬 {{ comment_count }} · {{ link }}\n",
}
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class Templated:
    """A template's output: the headline (first line) and the text below it."""

    headline: str
    text: str


def compile_template(text: str) -> object:
    """The compiled template; ``InvalidInput`` naming the line and the reason otherwise."""
    if len(text) > TEMPLATE_MAX:
        raise InvalidInput(f"A template is {TEMPLATE_MAX} characters at most.", field="template")
    try:
        return _ENV.from_string(text)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"Line {exc.lineno}: {exc.message}", field="template") from None


def check(text: str, link: str = "https://news.example/articles/1") -> None:
    """Refuse a template that cannot compile, or fails to render an article (one with every
    field, one with none), with the line and the reason."""
    template = compile_template(text)
    for sample in _SAMPLES:
        out = render(template, sample, link=link, comment_count=3)
        if not out.headline:
            raise InvalidInput(
                "Line 1: the first line (the headline) is empty for an article "
                + ("with every field." if sample.summary else "with only a title and a body."),
                field="template",
            )


def render(template: object, article: Article, *, link: str, comment_count: int) -> Templated:
    """The article through ``template`` (from ``compile_template``).

    Raises:
        InvalidInput: the template failed on this article (an unknown name, a refused
            operation), with its line.
    """
    excerpt = article.body if len(article.body) <= EXCERPT else article.body[:EXCERPT] + "…"
    values = {
        "title": article.title,
        "summary": article.summary,
        "excerpt": excerpt,
        "body": article.body,
        "link": link,
        "image": article.image_url or "",
        "tags": list(article.tags),
        "author": article.author.name,
        "comment_count": comment_count,
    }
    try:
        out = template.render(**values)  # type: ignore[attr-defined]
    except TemplateError as exc:
        raise InvalidInput(f"Line {_line(exc)}: {exc}", field="template") from None
    out = _BLANKS.sub("\n\n", strip_control_chars(str(out)[:OUTPUT_MAX])).strip()
    headline, _, rest = out.partition("\n")
    return Templated(headline.strip(), rest.strip())


def _line(exc: BaseException) -> str:
    lines = [
        f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"
    ]
    return str(lines[-1]) if lines and lines[-1] is not None else "?"


def _sample(summary: str, tags: tuple[str, ...], image: str | None) -> Article:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Article(
        id=ArticleId(1),
        title="A sample title",
        body="The sample body. " * 30,
        summary=summary,
        url=None,
        image_url=image,
        author=Author("Sam Sample", Platform.CLI, "operator"),
        tags=tags,
        status=ArticleStatus.PUBLISHED,
        created_at=at,
        published_at=at,
        updated_at=at,
        revision=1,
    )


_SAMPLES = (
    _sample("A short summary.", ("news", "world"), "https://news.example/a.png"),
    _sample("", (), None),
)


class TemplateBook:
    """Each destination's compiled template, read from the service at most every
    ``refresh`` seconds (a template set elsewhere shows that much later)."""

    def __init__(self, service: NewsService, refresh: float = 5.0) -> None:
        self.service = service
        self.refresh = refresh
        self._compiled: dict[DestinationId, object] = {}
        self._texts: dict[DestinationId, str] = {}
        self._read_at = -refresh

    async def get(self, destination_id: DestinationId) -> object | None:
        """The destination's compiled template, or ``None`` for the built-in layout."""
        if time.monotonic() - self._read_at >= self.refresh:
            texts = await self.service.routing.templates()
            # Compiled once per distinct text (a compile takes ~6 ms and holds the event loop:
            # 10,000 chats sharing a ready template must not stall a fan-out for a minute).
            known = {self._texts[d]: c for d, c in self._compiled.items() if d in self._texts}
            for text in set(texts.values()) - known.keys():
                known[text] = _or_none(text)
            self._compiled = {d: known[t] for d, t in texts.items()}
            self._texts = texts
            self._read_at = time.monotonic()
        return self._compiled.get(destination_id)


def _or_none(text: str) -> object | None:
    try:
        return compile_template(text)
    except InvalidInput:
        return None  # refused when set; a newer newsbot's syntax falls back to the layout
