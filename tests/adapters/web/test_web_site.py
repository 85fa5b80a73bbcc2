"""The newsroom's own site: its name, masthead, footer and accent; bylines and images; link
cards (Open Graph, Twitter, JSON-LD); sitemap.xml and robots.txt; a theme folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from adapters.web.brand import Brand, contrast, parse_links
from bot import Settings
from newsbot import Actor, ArticleDraft, ArticleId, NewsService, Platform
from newsbot.errors import ConfigError
from tests.adapters.web.test_web_helpers import publish, web_client

ADA = Actor(Platform.TELEGRAM, "42", "Ada Lovelace")
BRAND = Brand(
    name="The Harbour Gazette",
    description="News from the harbour & the hills",
    logo_url="/static/logo.svg",
    accent="#8a1538",
    footer="© 2026 Harbour Media",
    footer_links=(("About", "https://gazette.example/about"), ("Contact", "mailto:desk@x")),
)


async def _by_ada(service: NewsService, title: str, **kw: object) -> int:
    draft = ArticleDraft(title=title, body="Body text.", **kw)  # type: ignore[arg-type]
    return int((await service.publish(ADA, draft)).article.id)


async def test_masthead_footer_and_accent_on_every_page(service: NewsService) -> None:
    article_id = await _by_ada(service, "Ferry strike ends")
    async with web_client(service, brand=BRAND) as client:
        front = await (await client.get("/")).text()
        page = await (await client.get(f"/articles/{article_id}")).text()
        missing = await (await client.get("/nope")).text()
        css = await client.get("/site.css")
        css_text = await css.text()
    for html in (front, page, missing):
        assert '<a class="skip" href="#main">' in html
        assert 'src="/static/logo.svg" alt=""' in html and "The Harbour Gazette</a>" in html
        assert "<p>© 2026 Harbour Media</p>" in html
        assert '<a href="https://gazette.example/about">About</a>' in html
        assert '<link rel="stylesheet" href="/site.css?v=8a1538">' in html
    assert "<title>The Harbour Gazette</title>" in front
    assert '<p class="tagline">News from the harbour &amp; the hills</p>' in front
    assert "<title>Ferry strike ends · The Harbour Gazette</title>" in page
    assert css.status == 200 and css.content_type == "text/css"
    assert "--accent:#8a1538" in css_text and "prefers-color-scheme:dark" in css_text


async def test_default_site_is_called_news_and_has_no_accent_sheet(service: NewsService) -> None:
    async with web_client(service) as client:
        html = await (await client.get("/")).text()
        assert await (await client.get("/site.css")).text() == ""
    assert "<title>News</title>" in html and "/site.css" not in html


async def test_bylines_images_and_comment_counts_on_the_front_page(
    service: NewsService,
) -> None:
    with_image = await _by_ada(service, "Lighthouse relit", image_url="https://img.example/l.jpg")
    await publish(service, title="From the desk")  # the command line's operator: no byline
    await service.add_web_comment(ArticleId(with_image), "Nina", "Finally!", client_key="k1")
    async with web_client(service) as client:
        front = await (await client.get("/")).text()
        page = await (await client.get(f"/articles/{with_image}")).text()
    teasers = front.split('<article class="teaser')[1:]
    operator, ada = teasers
    assert "From the desk" in operator and "byline" not in operator
    assert '<span class="byline">By <bdi>Ada Lovelace</bdi></span>' in ada
    assert '<img class="thumb" src="https://img.example/l.jpg" alt="" loading="lazy">' in ada
    assert "1 Comment</a>" in ada and "0 Comments</a>" in operator
    assert '<span class="byline">By <bdi>Ada Lovelace</bdi></span>' in page
    assert '<img class="lead" src="https://img.example/l.jpg" alt="">' in page


async def test_link_cards_and_json_ld_are_escaped_and_complete(service: NewsService) -> None:
    hostile = '</script><script>alert("x")</script> & <!-- "quotes" \u2028'
    article_id = await _by_ada(
        service, hostile, summary="A <b>summary</b>", image_url="https://img.example/a.jpg"
    )
    async with web_client(service, brand=BRAND) as client:
        html = await (await client.get(f"/articles/{article_id}")).text()
    head = html.split("</head>", 1)[0]
    assert "<script>alert" not in head
    (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', head, re.S)
    assert "<" not in block and ">" not in block
    data = json.loads(block)
    canonical = re.search(r'<link rel="canonical" href="([^"]+)">', head)
    assert canonical is not None
    title = (await service.article(ArticleId(article_id))).title  # as the service cleaned it
    assert title.startswith('</script><script>alert("x")</script> & <!--')
    assert data["@type"] == "NewsArticle" and data["headline"] == title
    assert data["url"] == canonical.group(1).replace("&amp;", "&")
    assert data["url"].startswith("https://news.example/articles/")
    assert data["author"] == [{"@type": "Person", "name": "Ada Lovelace"}]
    assert (
        data["image"] == ["https://img.example/a.jpg"]
        and data["description"] == "A <b>summary</b>"
    )
    assert data["publisher"]["name"] == "The Harbour Gazette"
    assert data["publisher"]["logo"]["url"] == "https://news.example/static/logo.svg"
    assert "datePublished" in data and "dateModified" in data
    for meta in (
        '<meta property="og:site_name" content="The Harbour Gazette">',
        '<meta name="twitter:card" content="summary_large_image">',
        '<meta name="twitter:image" content="https://img.example/a.jpg">',
        '<meta property="og:description" content="A &lt;b&gt;summary&lt;/b&gt;">',
    ):
        assert meta in head


async def test_sitemap_lists_published_articles_and_robots_names_it(
    service: NewsService,
) -> None:
    kept = await publish(service, title="Kept")
    gone = await publish(service, title="Gone")
    await service.retract(Actor.operator(), gone.id)
    async with web_client(service) as client:
        response = await client.get("/sitemap.xml")
        body = await response.text()
        robots = await client.get("/robots.txt")
        robots_text = await robots.text()
    assert response.status == 200 and response.content_type == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text for e in ElementTree.fromstring(body).findall("s:url/s:loc", ns)]
    assert locs == ["https://news.example/", f"https://news.example/articles/{kept.id}-kept"]
    assert robots.status == 200 and robots.content_type == "text/plain"
    assert "Sitemap: https://news.example/sitemap.xml" in robots_text
    assert "Disallow: /admin" in robots_text and "Disallow: /api/" in robots_text
    assert "Disallow: /comments/*/report" in robots_text  # the report links carry no rel


async def test_a_theme_folder_overrides_templates_and_static_files(
    service: NewsService, tmp_path: Path
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "static" / "fonts").mkdir(parents=True)
    (tmp_path / "templates" / "index.html").write_text(
        '{% extends "base.html" %}{% block main %}<p id="themed">Our own front page, '
        "{{ articles|length }} articles</p>{% endblock %}",
        encoding="utf-8",
    )
    (tmp_path / "static" / "theme.css").write_text("body{font-family:serif}", encoding="utf-8")
    (tmp_path / "static" / "style.css").write_text("/* the theme's */", encoding="utf-8")
    (tmp_path / "static" / "fonts" / "a.woff2").write_bytes(b"font")
    await publish(service, title="Story")
    async with web_client(service, brand=Brand(theme_dir=tmp_path)) as client:
        front = await (await client.get("/")).text()
        theme_css = await (await client.get("/static/theme.css")).text()
        style = await (await client.get("/static/style.css")).text()
        font = await client.get("/static/fonts/a.woff2")
        font_bytes = await font.read()
        script = await client.get("/static/thread.js")
        script_text = await script.text()
        escape = await client.get("/static/fonts/../../templates/index.html")
        escape_encoded = await client.get("/static/fonts/%2e%2e/%2e%2e/templates/index.html")
        article = await client.get("/articles/1")
    assert '<p id="themed">Our own front page, 1 articles</p>' in front
    assert re.search(r'<link rel="stylesheet" href="/static/theme.css\?v=\w+">', front)
    assert theme_css == "body{font-family:serif}" and style == "/* the theme's */"
    assert font.status == 200 and font_bytes == b"font"
    assert script.status == 200 and "function" in script_text
    assert escape.status == 404 and escape_encoded.status == 404
    assert article.status == 200  # templates the theme does not override are built in


def test_brand_refuses_what_would_hurt_readers(tmp_path: Path) -> None:
    assert round(contrast("#2aabee", "#ffffff"), 2) == 2.57
    with pytest.raises(ConfigError, match=r"contrast of 2\.57:1"):
        Brand(accent="#2aabee")
    with pytest.raises(ConfigError, match="colour like"):
        Brand(accent="red")
    with pytest.raises(ConfigError, match="not a folder"):
        Brand(theme_dir=tmp_path / "missing")
    with pytest.raises(ConfigError, match="Label=address"):
        parse_links("About=javascript:alert(1)")
    with pytest.raises(ConfigError, match="Label=address"):
        parse_links("https://no-label.example")
    assert parse_links(" About = https://x/a ,Imprint=/imprint,") == (
        ("About", "https://x/a"),
        ("Imprint", "/imprint"),
    )


def test_settings_make_the_brand(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSBOT_SITE_NAME", "Gazette")
    monkeypatch.setenv("NEWSBOT_SITE_ACCENT", "#8a1538")
    monkeypatch.setenv("NEWSBOT_SITE_FOOTER_LINKS", "About=https://g.example/about")
    monkeypatch.setenv("NEWSBOT_WEB_THEME_DIR", str(tmp_path))
    brand = Brand.from_settings(Settings(_env_file=None))
    assert brand.name == "Gazette" and brand.accent == "#8a1538"
    assert brand.footer_links == (("About", "https://g.example/about"),)
    assert brand.theme_dir == tmp_path
