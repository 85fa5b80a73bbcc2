"""How the pages show things: Markdown with raw HTML off, slugs, times, thread rows, templates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anyascii import anyascii
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from adapters.i18n import Speech
from adapters.web.brand import Brand
from newsbot.ages import Age, age
from newsbot.i18n import N_, Translator
from newsbot.models import Article, Comment, CommentNode, CommentStatus, Platform
from newsbot.people import vouched_by
from newsbot.threads import walk

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

# Beyond this depth replies stop moving right, so a long back-and-forth stays readable on a
# phone; such a reply names its parent instead.
MAX_DEPTH = 5
SLUG_MAX = 60

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
# Characters XML 1.0 forbids (and lone surrogates, which no encoder accepts): a feed holding
# one would not parse, so they are dropped from every value a template prints.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BADGES = {
    Platform.TELEGRAM: "Telegram",
    Platform.DISCORD: "Discord",
    Platform.WEB: "Web",
    Platform.CLI: N_("Editor"),
}


class _SafeMarkdown(MarkdownIt):
    """CommonMark without raw HTML, where links may only use http, https or mailto."""

    def validateLink(self, url: str) -> bool:
        # Browsers drop whitespace and control characters inside a scheme ("java\tscript:").
        match = _SCHEME.match(_URL_NOISE.sub("", url))
        return match is None or match.group(1).lower() in _SAFE_SCHEMES


def _link_open(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    tokens[idx].attrSet("rel", "nofollow ugc")
    return renderer.renderToken(tokens, idx, options, env)


_markdown = _SafeMarkdown("commonmark", {"html": False})
_markdown.add_render_rule("link_open", _link_open)


def markdown_html(source: str) -> str:
    """Render article Markdown to HTML: raw HTML is shown as text, unsafe links as text."""
    html: str = _markdown.render(source)
    return html


# An address in a comment: http(s), up to whitespace, a quote or an angle bracket. Trailing
# punctuation is the sentence's, not the address's (a closing bracket only when unmatched).
_URL_IN_TEXT = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?*'\""


def _trim(url: str) -> str:
    while url:
        if url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def linkify(text: str) -> Markup:
    """A comment's plain text as HTML: everything escaped, and each http(s) address a link
    (``rel="nofollow ugc noopener"``). The text is split at addresses first and every piece
    escaped on its own, so nothing a reader typed becomes markup or an attribute."""
    out: list[str] = []
    last = 0
    for match in _URL_IN_TEXT.finditer(text):
        url = _trim(match.group())
        if len(url) <= len("https://"):
            continue
        out.append(str(escape(text[last : match.start()])))
        href = escape(url)
        out.append(f'<a href="{href}" rel="nofollow ugc noopener">{href}</a>')
        last = match.start() + len(url)
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def slugify(title: str) -> str:
    """A readable ASCII slug for a title in any script, possibly empty.

    "Café au lait!" becomes "cafe-au-lait", "Новини Києва" "novini-kiieva", "東京の天気"
    "dongjingnotianqi", "أخبار اليوم" "khbr-lywm" (anyascii's transliteration). Articles are
    found by their id, so a URL with an older slug (or none) still opens the article.
    """
    folded = anyascii(title)
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    if len(slug) > SLUG_MAX:
        cut = slug[:SLUG_MAX]
        if slug[SLUG_MAX] != "-" and "-" in cut:
            cut = cut.rsplit("-", 1)[0]
        slug = cut.strip("-")
    return slug


def article_path(article: Article) -> str:
    """The article's canonical path: ``/articles/ID-slug`` (``/articles/ID`` without a slug)."""
    slug = slugify(article.title)
    return f"/articles/{article.id}-{slug}" if slug else f"/articles/{article.id}"


def comments_label(count: int, tr: Translator | None = None) -> str:
    """ "0 Comments", "1 Comment", "2 Comments", in ``tr``'s language (English by default)."""
    tr = tr or Speech().tr
    return tr.ngettext("%(count)s Comment", "%(count)s Comments", count) % {"count": count}


def human_time(at: datetime, speech: Speech | None = None) -> str:
    """A short readable time in the site's language and zone, e.g. "2 Jan 2026, 03:04 UTC"."""
    return (speech or Speech()).when(at)


def utc_stamp(at: datetime) -> str:
    """``at`` as a short ISO 8601 time in UTC ("2026-01-02T03:04:05Z"), for ``datetime=``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def script_words(speech: Speech) -> dict[str, object]:
    """What the optional thread script writes, in the site's language: its sentences, the
    comment count for each CLDR plural category (the browser's ``Intl.PluralRules`` picks
    one), and the time zone its ``Intl.DateTimeFormat`` shows times in."""
    rule = speech.locale.plural_form
    counts: dict[str, str] = {}
    for n in range(200):  # a sample number of each category ("few" is 2 in Ukrainian)
        counts.setdefault(rule(n), comments_label(n, speech.tr).replace(str(n), "{n}", 1))
    return {
        "removed": speech.gettext("This comment was removed."),
        "removedParent": speech.gettext("a removed comment"),
        "reply": speech.gettext("Reply"),
        "to": speech.gettext("to"),
        "react": speech.gettext("React"),
        "hide": speech.gettext("Hide replies (%(num)d)"),
        "show": speech.gettext("Show replies (%(num)d)"),
        "counts": counts,
        "zone": speech.zone.key,
    }


def badge(platform: Platform, tr: Translator | None = None) -> str:
    """The label shown next to a comment's author name."""
    label = _BADGES.get(platform, str(platform).title())
    return (tr or Speech().tr).gettext(label) if platform is Platform.CLI else label


def xml_safe(value: Any) -> Any:
    """Drop characters XML cannot carry from a template value, keeping ``Markup`` as it is."""
    if isinstance(value, Markup):
        return Markup(_NOT_XML.sub("", str(value)))
    if isinstance(value, str):
        return _NOT_XML.sub("", value)
    return value


@dataclass(frozen=True, slots=True)
class Row:
    """One comment as the page lists it: flat, with how far to indent it.

    ``parent`` is set when the indentation was capped, so the row can say whom it answers.
    """

    comment: Comment
    depth: int
    parent: Comment | None
    has_replies: bool = False  # the next row is a reply: the list item stays open for them
    closes: int = 0  # how many levels of replies end after this row
    continued: int = 0  # at the indentation cap: the replies below it, listed flat after it

    @property
    def deleted(self) -> bool:
        """A placeholder for a removed comment that still has visible replies."""
        return self.comment.status is not CommentStatus.VISIBLE


def find(nodes: Sequence[CommentNode], comment_id: int) -> CommentNode | None:
    """The node of ``comment_id`` in a thread page, if it is there."""
    return next((node for node, _ in walk(nodes) if node.comment.id == comment_id), None)


def flatten(nodes: Sequence[CommentNode], max_depth: int = MAX_DEPTH) -> list[Row]:
    """Turn a nested thread into display rows, depth first, without recursion.

    Reply chains can be arbitrarily deep; an explicit stack keeps a long chain from hitting
    Python's or Jinja's recursion limits. A row past ``max_depth`` names the comment it
    answers, found by its ``parent_id`` (the service lists the deepest replies flat, under
    an ancestor rather than their parent).
    """
    rows: list[Row] = []
    seen: dict[int, Comment] = {}
    at_cap: int | None = None  # the index of the last row at the cap, while its replies run
    for node, depth in walk(nodes):
        comment = node.comment
        seen[comment.id] = comment
        parent = seen.get(comment.parent_id) if comment.parent_id is not None else None
        capped = depth > max_depth
        if capped and at_cap is not None:
            rows[at_cap] = replace(rows[at_cap], continued=rows[at_cap].continued + 1)
        elif not capped:
            at_cap = len(rows) if depth == max_depth else None
        rows.append(Row(comment, min(depth, max_depth), parent if capped else None))
    # Nesting for the page's nested lists: each row opens its replies' list, or closes its
    # item and the levels that end with it.
    for i, row in enumerate(rows):
        after = rows[i + 1].depth if i + 1 < len(rows) else 0
        rows[i] = replace(row, has_replies=after > row.depth, closes=max(row.depth - after, 0))
    return rows


def thread_ages(nodes: Sequence[CommentNode], now: datetime, lag: float) -> dict[int, Age | None]:
    """Each comment's age by id, as a page readers may see ``lag`` seconds late shows it
    (``newsbot.ages``; ``None``: the exact time)."""
    return {node.comment.id: age(node.comment.created_at, now, lag) for node, _ in walk(nodes)}


def file_version(path: Path) -> str:
    """A short content hash, appended to static URLs so they can be cached for a year."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def static_dirs(brand: Brand) -> list[Path]:
    """Where static files are looked up, first match wins: the theme's, then the built-in."""
    theme = [brand.theme_dir / "static"] if brand.theme_dir is not None else []
    return [d for d in theme if d.is_dir()] + [STATIC_DIR]


def static_versions(brand: Brand) -> dict[str, str]:
    """Every static file's version (``file_version``), by its path under ``/static/``."""
    versions: dict[str, str] = {}
    for folder in reversed(static_dirs(brand)):  # the theme's last: its files win
        for path in folder.rglob("*"):
            if path.is_file():
                versions[path.relative_to(folder).as_posix()] = file_version(path)
    return versions


def byline(article: Article) -> str:
    """Who wrote the article, for its byline; empty for the command line's operator."""
    author = article.author
    if author.platform is Platform.CLI and author.user_id == "operator":
        return ""
    return author.name


def news_article(article: Article, canonical: str, brand: Brand, site_url: str) -> dict[str, Any]:
    """The article as ``schema.org/NewsArticle`` (JSON-LD, for search engines' cards)."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title[:110],
        "url": canonical,
        "mainEntityOfPage": canonical,
        "dateModified": article.updated_at.isoformat(timespec="seconds"),
        "publisher": {"@type": "Organization", "name": brand.name, "url": f"{site_url}/"},
    }
    if article.published_at is not None:
        data["datePublished"] = article.published_at.isoformat(timespec="seconds")
    if article.summary:
        data["description"] = article.summary
    if article.image_url:
        data["image"] = [article.image_url]
    if byline(article):
        data["author"] = [{"@type": "Person", "name": byline(article)}]
    if brand.logo_url:
        logo = brand.logo_url
        data["publisher"]["logo"] = {
            "@type": "ImageObject",
            "url": (logo if logo.startswith(("http://", "https://")) else f"{site_url}{logo}"),
        }
    return data


def environment(
    static_versions: dict[str, str], brand: Brand | None = None, speech: Speech | None = None
) -> Environment:
    """The Jinja environment: autoescape for .html and .xml, strict undefined, helpers, the
    theme's templates before the built-in ones, and ``_``/``ngettext`` in ``speech``'s
    language (English in UTC by default)."""
    brand = brand or Brand()
    speech = speech or Speech()
    loaders: list[BaseLoader] = [FileSystemLoader(TEMPLATE_DIR)]
    if brand.theme_dir is not None:
        loaders.insert(0, FileSystemLoader(brand.theme_dir / "templates"))
    env = Environment(
        extensions=["jinja2.ext.i18n"],
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        finalize=xml_safe,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["markdown"] = lambda source: Markup(markdown_html(source))
    env.filters["markdown_text"] = markdown_html
    env.install_gettext_translations(speech.tr, newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = speech.language.replace("_", "-")
    env.globals["direction"] = "rtl" if speech.locale.character_order == "right-to-left" else "ltr"
    env.globals["script_words"] = script_words(speech)
    env.filters["human_time"] = lambda at: human_time(at, speech)
    env.filters["age"] = speech.age  # a newsbot.ages.Age: "5 minutes ago"
    env.filters["iso"] = lambda at: at.isoformat(timespec="seconds")
    env.filters["utc"] = utc_stamp  # shorter, for the many times in a thread
    env.filters["comments_label"] = lambda count: comments_label(count, speech.tr)
    env.filters["badge"] = lambda platform: badge(platform, speech.tr)
    env.filters["vouched"] = vouched_by  # the platform vouching for a signed-in commenter
    env.filters["byline"] = byline
    env.filters["linkify"] = linkify
    env.globals["article_path"] = article_path
    env.globals["brand"] = brand
    env.globals["has_static"] = lambda name: name in static_versions
    env.globals["static_url"] = lambda name: f"/static/{name}?v={static_versions.get(name, '')}"
    return env
