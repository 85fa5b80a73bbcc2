"""Public pages are cacheable (Cache-Control, ETag, Last-Modified, 304, no cookie) and rendered
once per change, in this process and when another worker changed the database."""

from __future__ import annotations

import asyncio
import gzip
import re
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import aiohttp

from adapters.web.cache import Load, Page, PageCache, accepts_gzip
from adapters.web.context import SITE
from bench.core import build_big_database
from newsbot import Actor, ArticleDraft, NewsService, Platform
from newsbot.models import CommentStatus
from newsbot.ports import Store
from storage import open_store
from tests.adapters.web.test_web_helpers import (
    Client,
    comment_ids,
    form_fields,
    publish,
    web_client,
)
from tests.fakes.wait import wait_for

STORE_BACKENDS = ["sqlite", "postgres"]
PUBLIC = "public, max-age=5, s-maxage=10, stale-while-revalidate=30"


def _paths(article_id: int) -> list[str]:
    return [
        "/",
        f"/articles/{article_id}",
        "/feed.xml",
        f"/articles/{article_id}/comments.xml",
        "/api/articles",
        f"/api/articles/{article_id}",
        f"/api/articles/{article_id}/comments",
    ]


async def test_public_pages_are_cacheable_with_validators_and_set_no_cookie(
    service: NewsService,
) -> None:
    article = await publish(service)
    await service.add_web_comment(article.id, "Ann", "First", client_key="a")
    async with web_client(service) as client:
        for path in _paths(article.id):
            response = await client.get(path)
            assert response.status == 200, path
            assert response.headers["Cache-Control"] == PUBLIC, path
            assert "Set-Cookie" not in response.headers, path
            vary = "Accept-Encoding, Cookie" if path == f"/articles/{article.id}" else None
            assert response.headers["Vary"] == (vary or "Accept-Encoding"), path
            etag = response.headers["ETag"]
            assert re.fullmatch(r'"[0-9a-f]{24}(-gz)?"', etag), path
            modified = response.headers["Last-Modified"]
            assert parsedate_to_datetime(modified) <= datetime.now(UTC), path
            assert not client.session.cookie_jar.filter_cookies(client.make_url("/")), path
            for none_match in (etag, f'"nope", {etag}', "*", f"W/{etag}"):
                again = await client.get(path, headers={"If-None-Match": none_match})
                assert again.status == 304, (path, none_match)
                assert await again.read() == b""
                assert again.headers["ETag"] == etag
                assert again.headers["Cache-Control"] == PUBLIC
                assert "Set-Cookie" not in again.headers
            other = await client.get(path, headers={"If-None-Match": '"nope"'})
            assert other.status == 200, path
            since = await client.get(path, headers={"If-Modified-Since": modified})
            assert since.status == 304, path
            earlier = formatdate(parsedate_to_datetime(modified).timestamp() - 60, usegmt=True)
            assert (await client.get(path, headers={"If-Modified-Since": earlier})).status == 200
            # If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
            both = await client.get(
                path, headers={"If-None-Match": '"nope"', "If-Modified-Since": modified}
            )
            assert both.status == 200, path


async def test_errors_and_retracted_pages_are_not_kept_by_shared_caches(
    service: NewsService,
) -> None:
    article = await publish(service)
    await service.retract(Actor.operator(), article.id)
    async with web_client(service) as client:
        missing = await client.get("/articles/999")
        assert missing.status == 404 and missing.headers["Cache-Control"] == "no-cache"
        assert "ETag" not in missing.headers
        gone = await client.get(f"/articles/{article.id}")
        assert gone.status == 410
        assert gone.headers["Cache-Control"] == "public, max-age=5, s-maxage=10"
        assert (await client.get(f"/api/articles/{article.id}")).headers[
            "Cache-Control"
        ] == "no-cache"


async def test_gzip_bodies_are_stored_compressed_and_identical_once_decompressed(
    service: NewsService,
) -> None:
    article = await publish(service, body="Long enough to compress. " * 100)
    async with web_client(service) as client:
        url = client.make_url(f"/articles/{article.id}")
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            bodies = []
            for _ in range(2):
                async with http.get(url, headers={"Accept-Encoding": "gzip, br"}) as r:
                    assert r.headers["Content-Encoding"] == "gzip"
                    assert r.headers["ETag"].endswith('-gz"')
                    bodies.append(await r.read())
            async with http.get(url, headers={"Accept-Encoding": "identity"}) as r:
                assert "Content-Encoding" not in r.headers
                plain = await r.read()
                plain_tag = r.headers["ETag"]
            async with http.get(url, headers={"Accept-Encoding": "gzip;q=0"}) as r:
                assert "Content-Encoding" not in r.headers
        assert bodies[0] == bodies[1]  # compressed once, served as stored
        assert gzip.decompress(bodies[0]) == plain
        # A validator of either encoding matches (the content is the same).
        gz_tag = plain_tag[:-1] + '-gz"'
        assert (await client.get(url.path, headers={"If-None-Match": gz_tag})).status == 304
    assert accepts_gzip("deflate, gzip;q=0.5") and not accepts_gzip("br")


def _site(client: Client) -> PageCache:
    return client.app[SITE].cache


async def test_a_page_is_rendered_once_until_it_changes(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        cache = _site(client)
        tags = set()
        for _ in range(20):
            response = await client.get(f"/articles/{article.id}")
            tags.add(response.headers["ETag"])
        assert cache.renders == 1 and len(tags) == 1
        # A change elsewhere (SQLite's "*" is every commit): the data is read again and
        # found the same, so no render and the same ETag.
        cache.changed()
        response = await client.get(f"/articles/{article.id}")
        assert cache.renders == 1 and cache.checks >= 1
        assert response.headers["ETag"] in tags
        # Concurrent requests for a stale page wait for one load.
        await service.add_web_comment(article.id, "Ann", "New", client_key="n")
        responses = await asyncio.gather(
            *(client.get(f"/articles/{article.id}") for _ in range(30))
        )
        assert {r.headers["ETag"] for r in responses} - tags
        assert cache.renders == 2


async def _page(client: Client, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status, await response.text()


async def test_every_kind_of_change_shows_on_the_cached_page_at_once(
    service: NewsService, store: Store
) -> None:
    admin = Actor.operator()
    article = await publish(service)
    path = f"/articles/{article.id}"
    async with web_client(service) as client:
        assert "0 Comments" in (await _page(client, path))[1]
        # stored
        first = await service.add_web_comment(article.id, "Tom", "First words", client_key="t")
        web = await service.add_web_comment(article.id, "Ann", "From the web", client_key="w")
        _, html = await _page(client, path)
        assert "First words" in html and "From the web" in html
        # edited (as a chat message's edit reaches it: by its source)
        await service.edit_comment(first.source, "Edited text")
        _, html = await _page(client, path)
        assert "Edited text" in html and "First words" not in html
        # deleted by a moderator
        await service.delete_comment(admin, web.id)
        _, html = await _page(client, path)
        assert "From the web" not in html and "1 Comment<" in html
        # banned: the author's comments are deleted
        await service.ban(admin, Platform.WEB, "Tom")
        _, html = await _page(client, path)
        assert "Edited text" not in html and "0 Comments" in html
        # hidden through the store alone (no service hook): the store's watch tells
        hidden = await service.add_web_comment(article.id, "Bo", "Soon hidden", client_key="h")
        assert "Soon hidden" in (await _page(client, path))[1]
        await store.set_comment_status(hidden.id, CommentStatus.HIDDEN, datetime.now(UTC))

        async def gone_from_page() -> bool:
            return "Soon hidden" not in (await _page(client, path))[1]

        await wait_for(gone_from_page, 1.0, "the hidden comment to leave the page")
        # the article edited
        await service.edit(admin, article.id, ArticleDraft(title="Hello", body="New body"))
        _, html = await _page(client, path)
        assert "New body" in html
        # retracted: 410, never the cached page
        await service.retract(admin, article.id)
        status, html = await _page(client, path)
        assert status == 410 and "New body" not in html
        assert (await client.get(path, headers={"If-None-Match": "*"})).status == 410


async def test_a_comment_posted_through_the_form_is_on_the_next_page_view(
    service: NewsService,
) -> None:
    article = await publish(service)
    path = f"/articles/{article.id}"
    async with web_client(service) as client:
        form = form_fields((await _page(client, path))[1])
        form.update(name="Nina", text="Posted through the form")
        posted = await client.post(f"{path}/comments", data=form)
        assert posted.status == 200
        assert "Posted through the form" in await posted.text()
        assert "Posted through the form" in (await _page(client, path))[1]


async def test_a_change_made_by_another_worker_shows_within_a_second(
    service: NewsService, database: str
) -> None:
    article = await publish(service)
    path = f"/articles/{article.id}"
    async with web_client(service) as client, open_store(database) as other_store:
        other = NewsService(other_store)
        assert "0 Comments" in (await _page(client, path))[1]
        await other.add_web_comment(article.id, "Eve", "From worker two", client_key="x")

        async def shown() -> bool:
            return "From worker two" in (await _page(client, path))[1]

        await wait_for(shown, 1.0, "the other worker's comment on the page")

        async def front_counts() -> bool:
            return "1 Comment<" in (await _page(client, "/"))[1]

        await wait_for(front_counts, 1.0, "the front page's count")
        await other.retract(Actor.operator(), article.id)

        async def retracted() -> bool:
            return (await _page(client, path))[0] == 410

        await wait_for(retracted, 1.0, "the retraction by the other worker")


async def test_ten_thousand_comments_show_the_newest_page_and_link_to_older_ones(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.db"
    build_big_database(big, articles=1, per_article=10_000, destinations=0)
    async with open_store(str(big)) as store:
        service = NewsService(store)
        async with web_client(service) as client:
            status, html = await _page(client, "/articles/1")
            assert status == 200
            assert "10000 Comments" in html
            ids = comment_ids(html)
            assert len(ids) == 100 and ids == sorted(ids) and ids[-1] > 9_990
            older = re.search(r'<a href="([^"]+)#comments" rel="next">Older comments</a>', html)
            assert older is not None
            status, html = await _page(client, older.group(1).replace("&amp;", "&"))
            assert status == 200 and "Newest comments</a>" in html
            previous = comment_ids(html)
            assert len(previous) == 100 and previous[-1] < ids[0]
            assert form_fields(html)  # the form is on every page


async def test_the_cache_is_bounded_by_entries_and_bytes() -> None:
    cache = PageCache(max_entries=3, max_bytes=10_000)

    def page(text: str) -> Load:
        async def load() -> Page:
            return Page(data=text, make=lambda: text)

        return load

    for n in range(5):
        await cache.get(n, None, page(f"page {n}"))
    assert cache.size[0] == 3
    await cache.get("big", None, page("x" * 8_000))
    entries, size = cache.size
    assert size <= 10_000 and entries < 4  # the oldest small pages made room
    await cache.get("huge", None, page("y" * 20_000))  # answered, too big to keep
    assert cache.size[1] <= 10_000 and cache.renders == 7


async def test_pages_named_by_a_query_cannot_push_the_plain_pages_out(
    service: NewsService,
) -> None:
    article = await publish(service)
    comments = [
        await service.add_web_comment(article.id, "Ann", f"c{n}", client_key=f"k{n}")
        for n in range(20)
    ]
    async with web_client(service, cache_entries=4) as client:
        cache = _site(client)
        await client.get(f"/articles/{article.id}")
        for c in comments:  # a crawler (or worse) asking for every reply form there is
            assert (await client.get(f"/articles/{article.id}?reply={c.id}")).status == 200
        await client.get(f"/articles/{article.id}")
        # Still kept: not rendered again. (A hit, or a check of its data when SQLite's
        # change poll saw the publish's commit late and marked every page stale meanwhile.)
        assert cache.renders == 1 and cache.hits + cache.checks == 1
        assert client.app[SITE].variants.size[0] == 1  # a quarter of 4
