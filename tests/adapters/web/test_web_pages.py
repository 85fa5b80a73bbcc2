from __future__ import annotations

import gzip
import re

import pytest

from newsbot import Actor, ArticleId, Author, CommentId, MessageLink, MessageRef, NewsService
from newsbot.models import Platform
from storage import SqliteStore
from tests.adapters.web.test_web_helpers import (
    add_hundred_comments,
    comment_ids,
    form_fields,
    publish,
    web_client,
)


async def link_post(
    store: SqliteStore, article_id: int, platform: Platform, chat: str
) -> MessageRef:
    """Pretend the article was posted in a chat, so replies there become comments."""
    ref = MessageRef(platform, chat, "1000")
    await store.add_link(MessageLink(ref, ArticleId(article_id)))
    return ref


async def test_index_lists_latest_articles_newest_first_with_cursor_links(
    service: NewsService,
) -> None:
    for n in range(7):
        await publish(service, title=f"Story {n}")
    async with web_client(service, articles_per_page=3) as client:
        seen: list[str] = []
        path: str | None = "/"
        while path:
            response = await client.get(path)
            assert response.status == 200
            html = await response.text()
            seen += re.findall(
                r'<h2 dir="auto"><a href="/articles/\d+-story-\d">(Story \d)</a>', html
            )
            nxt = re.search(r'<a href="(/\?cursor=[^"]+)" rel="next">Older articles</a>', html)
            path = nxt.group(1) if nxt else None
            assert "0 Comments" in html
    assert seen == [f"Story {n}" for n in reversed(range(7))]


async def test_index_without_articles_says_how_to_publish(service: NewsService) -> None:
    async with web_client(service) as client:
        response = await client.get("/")
        assert response.status == 200
        assert "No articles yet" in await response.text()


async def test_index_with_a_malformed_cursor_is_400(service: NewsService) -> None:
    async with web_client(service) as client:
        response = await client.get("/?cursor=not-a-cursor")
        assert response.status == 400
        assert "The page cursor is malformed." in await response.text()


async def test_article_page_shows_title_image_time_body_count_and_form(
    service: NewsService,
) -> None:
    article = await publish(
        service,
        title="Café au lait",
        body="Some *emphasis* and a [link](https://example.org/x).",
        summary="A short summary.",
        image_url="https://img.example/lead.jpg",
    )
    async with web_client(service) as client:
        response = await client.get(f"/articles/{article.id}")
        html = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<h1 dir="auto">Café au lait</h1>' in html
    assert '<img class="lead" src="https://img.example/lead.jpg" alt="">' in html
    assert article.published_at is not None
    assert f'<time datetime="{article.published_at.isoformat(timespec="seconds")}">' in html
    assert "<em>emphasis</em>" in html
    assert '<a href="https://example.org/x" rel="nofollow ugc">link</a>' in html
    assert '<h2 id="comment-count">0 Comments</h2>' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    fields = form_fields(html)
    assert set(fields) == {"name", "website", "text"}  # nothing per visitor
    assert '<label for="name">Name</label>' in html
    assert '<label for="text">Comment Text</label>' in html


async def test_any_slug_resolves_and_the_page_declares_the_canonical_url(
    service: NewsService,
) -> None:
    article = await publish(service, title="Ünïcödé — News! 2026")
    canonical = f'<link rel="canonical" href="https://news.example/articles/{article.id}-'
    async with web_client(service) as client:
        for path in (
            f"/articles/{article.id}",
            f"/articles/{article.id}-unicode-news-2026",
            f"/articles/{article.id}-an-old-title",
        ):
            response = await client.get(path)
            assert response.status == 200, path
            html = await response.text()
            assert f'{canonical}unicode-news-2026">' in html


async def test_unknown_articles_are_404(service: NewsService) -> None:
    async with web_client(service) as client:
        for path in ("/articles/99", "/articles/99-slug", "/articles/x", "/articles/" + "9" * 30):
            response = await client.get(path)
            assert response.status == 404, path
            assert "<title>Not found</title>" in await response.text()


async def test_retracted_article_is_410_with_a_notice(service: NewsService) -> None:
    article = await publish(service, title="Oops")
    await service.retract(Actor.operator(), article.id)
    async with web_client(service) as client:
        response = await client.get(f"/articles/{article.id}")
        html = await response.text()
    assert response.status == 410
    assert "This article was retracted by its publisher." in html
    assert "Oops" not in html


async def test_nested_thread_shows_every_platform_with_badges_and_reply_links(
    service: NewsService, store: SqliteStore
) -> None:
    article = await publish(service)
    tg_post = await link_post(store, article.id, Platform.TELEGRAM, "-100")
    dc_post = await link_post(store, article.id, Platform.DISCORD, "555")
    tg = await service.record_reply(
        reply_to=tg_post,
        source=MessageRef(Platform.TELEGRAM, "-100", "1001"),
        author=Author("Tom", Platform.TELEGRAM, "7"),
        text="From Telegram",
    )
    assert tg is not None
    web = await service.add_web_comment(
        article.id, "Wendy", "Reply from the web", parent_id=tg.id, client_key="k1"
    )
    dc = await service.record_reply(
        reply_to=dc_post,
        source=MessageRef(Platform.DISCORD, "555", "2001"),
        author=Author("Dana", Platform.DISCORD, "9"),
        text="From Discord",
    )
    assert dc is not None
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
    assert '<h2 id="comment-count">3 Comments</h2>' in html
    assert comment_ids(html) == [tg.id, web.id, dc.id]
    assert f'<li class="comment d0" id="comment-{tg.id}">' in html
    assert f'<li class="comment d1" id="comment-{web.id}">' in html
    assert f'<li class="comment d0" id="comment-{dc.id}">' in html
    for badge in ('"badge telegram">Telegram<', '"badge web">Web<', '"badge discord">Discord<'):
        assert badge in html
    assert (
        f'<a class="reply" href="?reply={web.id}#comment-form">Reply'
        '<span class="vh"> to <bdi>Wendy</bdi></span></a>'
    ) in html


async def test_a_long_reply_chain_stops_indenting_and_names_the_parent(
    service: NewsService,
) -> None:
    article = await publish(service)
    parent: CommentId | None = None
    chain = []
    for n in range(9):
        c = await service.add_web_comment(
            article.id, f"P{n}", f"level {n}", parent_id=parent, client_key=f"k{n}"
        )
        chain.append(c)
        parent = c.id
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
    assert comment_ids(html) == [c.id for c in chain]
    assert f'<li class="comment d5" id="comment-{chain[8].id}">' in html
    assert f'<a class="to" href="#comment-{chain[7].id}">↩ <bdi>P7</bdi></a>' in html
    assert 'class="comment d6"' not in html


async def test_a_removed_comment_with_replies_leaves_a_placeholder(service: NewsService) -> None:
    article = await publish(service)
    root = await service.add_web_comment(article.id, "Spam", "buy now", client_key="a")
    await service.add_web_comment(article.id, "Ann", "Not spam", parent_id=root.id, client_key="b")
    await service.delete_comment(Actor.operator(), root.id)
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
    assert "This comment was removed." in html
    assert "buy now" not in html
    assert "Not spam" in html
    assert '<h2 id="comment-count">1 Comment</h2>' in html


async def test_reply_link_prefills_the_forms_parent(service: NewsService) -> None:
    article = await publish(service)
    other = await publish(service, title="Other")
    root = await service.add_web_comment(article.id, "Ann <x>", "Hi", client_key="a")
    elsewhere = await service.add_web_comment(other.id, "Bo", "Hi", client_key="b")
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}?reply={root.id}")).text()
        assert form_fields(html)["parent"] == str(root.id)
        assert "<h2>Reply to <bdi>Ann &lt;x&gt;</bdi></h2>" in html
        for bad in (str(elsewhere.id), "999", "abc"):
            html = await (await client.get(f"/articles/{article.id}?reply={bad}")).text()
            assert "parent" not in form_fields(html), bad
            assert "<h2>Leave a comment</h2>" in html


async def test_long_threads_show_the_newest_page_and_link_to_older_ones(
    service: NewsService,
) -> None:
    article = await publish(service)
    ids = [
        (await service.add_web_comment(article.id, "A", f"c{n}", client_key=f"k{n}")).id
        for n in range(7)
    ]
    async with web_client(service, comments_per_page=3) as client:
        pages: list[list[int]] = []
        path: str | None = f"/articles/{article.id}"
        while path:
            html = await (await client.get(path)).text()
            assert '<h2 id="comment-count">7 Comments</h2>' in html
            pages.append(comment_ids(html))
            if len(pages) > 1:
                assert '#comments">Newest comments</a>' in html
            nxt = re.search(r'<a href="([^"]+)#comments" rel="next">Older comments</a>', html)
            path = nxt.group(1).replace("&amp;", "&") if nxt else None
        bad = await client.get(f"/articles/{article.id}?comments=zzz")
        assert bad.status == 400
    # The newest three first, each page in the order they were written.
    assert pages == [ids[4:], ids[1:4], ids[:1]]


async def test_markdown_body_is_rendered_without_raw_html_or_unsafe_links(
    service: NewsService,
) -> None:
    body = "\n\n".join(
        [
            "<script>alert(1)</script>",
            '<img src=x onerror="alert(2)">',
            "[js](javascript:alert(3)) [JS](JaVaScRiPt:alert(4)) [vb](vbscript:x)",
            "[data](data:text/html;base64,PHNjcmlwdD4=) <javascript:alert(5)>",
            "[tab](java&#x09;script:alert(6))",
            '[ok](https://example.org/a?b=1&c=2 "title") <https://example.org/auto>',
            "[mail](mailto:ed@example.org) [rel](/articles/1)",
        ]
    )
    article = await publish(service, body=body)
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
    start = html.index('<div class="body">')
    content = html[start : html.index("</div>", start)]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "&lt;img src=x onerror=" in content
    assert "<script" not in content.lower()
    assert "<img" not in content
    hrefs = re.findall(r'<a href="([^"]*)"([^>]*)>', content)
    assert [h for h, _ in hrefs] == [
        "java%09script:alert(6)",  # a relative path now: the %09 cannot form a scheme
        "https://example.org/a?b=1&amp;c=2",
        "https://example.org/auto",
        "mailto:ed@example.org",
        "/articles/1",
    ]
    assert all('rel="nofollow ugc"' in attrs for _, attrs in hrefs)
    assert not any(re.match(r"(?i)\s*(javascript|vbscript|data):", h) for h, _ in hrefs)


async def test_security_headers_on_pages_errors_and_static_files(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        for path in ("/", f"/articles/{article.id}", "/nope", "/static/style.css", "/feed.xml"):
            response = await client.get(path)
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp, path
            assert "script-src" not in csp  # scripts fall back to 'self'
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


async def test_static_files_are_versioned_and_cached(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
        css = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', html)
        js = re.search(r'<script src="(/static/thread\.js\?v=[0-9a-f]+)" defer></script>', html)
        assert css is not None
        assert js is not None
        for url in (css.group(1), js.group(1)):
            response = await client.get(url)
            assert response.status == 200
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        plain = await client.get("/static/style.css")
        assert plain.headers["Cache-Control"] == "public, max-age=3600"
        assert "ETag" in plain.headers or "Last-Modified" in plain.headers
        assert (await client.get("/static/../app.py")).status == 404


async def test_html_pages_are_compressed_for_clients_that_accept_it(
    service: NewsService,
) -> None:
    article = await publish(service, body="word " * 2000)
    async with web_client(service) as client:
        response = await client.get(f"/articles/{article.id}", headers={"Accept-Encoding": "gzip"})
        assert response.headers["Content-Encoding"] == "gzip"
        assert "word word" in await response.text()


async def test_an_article_with_100_comments_stays_light(
    service: NewsService, store: SqliteStore
) -> None:
    article = await publish(service, title="Busy", body="A paragraph of news. " * 40)
    await add_hundred_comments(service, store, article.id)
    async with web_client(service) as client:
        plain = await client.get(
            f"/articles/{article.id}", headers={"Accept-Encoding": "identity"}
        )
        html = await plain.read()
        assert len(comment_ids(html.decode())) == 100
        assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
        assert len(assets) == 2  # one stylesheet, one script
        sizes = [len(html)] + [len(await (await client.get(a.decode())).read()) for a in assets]
        wire = await client.get(f"/articles/{article.id}", headers={"Accept-Encoding": "gzip"})
        assert wire.headers["Content-Encoding"] == "gzip"
    # 100 kB, and 2 kB for each comment's exact time in its title beside the relative one.
    assert sum(sizes) < 102_000, sizes
    assert len(gzip.compress(html)) < 25_000


async def test_every_name_is_isolated_in_bdi_and_stripped_of_bidi_controls(
    service: NewsService,
) -> None:
    """A right-to-left or bidi-control name cannot reorder the text around it."""
    article = await publish(service)
    rtl = "\u202eevil\u202c"  # RIGHT-TO-LEFT OVERRIDE ... POP
    root = await service.add_web_comment(article.id, rtl, "first", client_key="a")
    arabic = await service.add_web_comment(
        article.id, "نينا", "reply", parent_id=root.id, client_key="b"
    )
    for n in range(5):  # deep enough for the "↩ parent" link
        arabic = await service.add_web_comment(
            article.id, "نينا", f"r{n}", parent_id=arabic.id, client_key=f"c{n}"
        )
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}?reply={root.id}")).text()
    assert "\u202e" not in html and "\u202c" not in html
    assert '<b class="name"><bdi>evil</bdi></b>' in html
    assert '<b class="name"><bdi>نينا</bdi></b>' in html
    assert "↩ <bdi>نينا</bdi></a>" in html
    assert "<h2>Reply to <bdi>evil</bdi></h2>" in html
    assert f'Replying to <a href="#comment-{root.id}"><bdi>evil</bdi></a>' in html


@pytest.mark.parametrize("digit", ["²", "١", "1²", "١٢"])
async def test_non_ascii_digits_are_refused_or_ignored_never_an_error_500(
    service: NewsService, digit: str
) -> None:
    """``'²'.isdigit()`` is true and ``int('²')`` raises: numbers are ASCII digits only."""
    article = await publish(service)
    root = await service.add_web_comment(article.id, "Ann", "hi", client_key="a")
    async with web_client(service, rate_limit=50) as client:
        page = await client.get(f"/articles/{article.id}", params={"reply": digit})
        assert page.status == 200  # the reply is ignored: the plain form
        assert "parent" not in form_fields(await page.text())
        for path, params in (
            (f"/articles/{article.id}", {"comments": digit}),
            ("/", {"cursor": digit}),
            ("/api/articles", {"limit": digit}),
            ("/api/articles", {"cursor": digit}),
            (f"/api/articles/{article.id}/comments", {"limit": digit}),
            (f"/api/articles/{article.id}/comments", {"cursor": digit}),
        ):
            response = await client.get(path, params=params)
            assert response.status == 400, (path, params)
        for path in (
            f"/articles/{digit}",
            f"/api/articles/{digit}",
            f"/articles/{digit}/comments",
        ):
            response = await client.get(path)
            assert response.status in (404, 405), path
        response = await client.post(
            f"/articles/{article.id}/comments",
            data={"name": "Ben", "text": "reply", "parent": digit},
        )
        assert response.status == 400
        assert "does not exist" in await response.text()
    assert await service.comment_count(article.id) == 1
    assert root.id == 1
