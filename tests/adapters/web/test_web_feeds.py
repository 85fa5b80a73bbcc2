from __future__ import annotations

import xml.etree.ElementTree as ET

from newsbot import Actor, NewsService
from tests.adapters.web.test_web_helpers import publish, web_client

A = "{http://www.w3.org/2005/Atom}"


async def test_the_articles_feed_is_atom_and_escapes_everything(service: NewsService) -> None:
    await publish(service, title="First", body="one")
    tricky = await publish(
        service,
        title='Tom & Jerry <script>alert("x")</script> ]]>',
        body="**Bold** <script>alert(1)</script> & [link](https://e.example/?a=1&b=2)",
        summary="Less < more & 'quotes'",
        tags=("tv", "cats"),
    )
    async with web_client(service) as client:
        response = await client.get("/feed.xml")
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        text = await response.text()
    root = ET.fromstring(text)
    assert root.tag == f"{A}feed"
    assert root.findtext(f"{A}id") == "https://news.example/"
    entries = root.findall(f"{A}entry")
    assert [e.findtext(f"{A}title") for e in entries] == [tricky.title, "First"]
    entry = entries[0]
    assert entry.findtext(f"{A}id") == f"https://news.example/articles/{tricky.id}"
    link = entry.find(f"{A}link")
    assert link is not None
    assert (
        link.get("href")
        == f"https://news.example/articles/{tricky.id}-tom-jerry-script-alert-x-script"
    )
    assert entry.findtext(f"{A}summary") == "Less < more & 'quotes'"
    assert entry.findtext(f"{A}author/{A}name") == "operator"
    assert [c.get("term") for c in entry.findall(f"{A}category")] == ["tv", "cats"]
    content = entry.find(f"{A}content")
    assert content is not None
    assert content.get("type") == "html"
    assert content.text is not None
    assert "<strong>Bold</strong> &lt;script&gt;alert(1)&lt;/script&gt; &amp;" in content.text
    assert 'rel="nofollow ugc"' in content.text
    assert "<script>" not in text


async def test_the_comments_feed_lists_the_newest_first_and_escapes(
    service: NewsService,
) -> None:
    article = await publish(service, title="Talk")
    first = await service.add_web_comment(article.id, "Ann <b>", "a < b & c", client_key="a")
    reply = await service.add_web_comment(
        article.id, "Ben", "]]> <script>", parent_id=first.id, client_key="b"
    )
    async with web_client(service) as client:
        response = await client.get(f"/articles/{article.id}/comments.xml")
        assert response.status == 200
        text = await response.text()
    root = ET.fromstring(text)
    assert root.findtext(f"{A}title") == "Comments on Talk"
    entries = root.findall(f"{A}entry")
    assert [e.findtext(f"{A}content") for e in entries] == ["]]> <script>", "a < b & c"]
    assert entries[1].findtext(f"{A}author/{A}name") == "Ann <b>"
    assert entries[0].findtext(f"{A}id") == (
        f"https://news.example/articles/{article.id}#comment-{reply.id}"
    )
    assert "<script>" not in text


async def test_feeds_drop_characters_that_xml_cannot_carry(service: NewsService) -> None:
    article = await publish(service, title="Odd \ufffe title")
    await service.add_web_comment(article.id, "Zed\uffff", "bad \ufffe char", client_key="a")
    async with web_client(service) as client:
        for path in ("/feed.xml", f"/articles/{article.id}/comments.xml"):
            root = ET.fromstring(await (await client.get(path)).text())
            assert root.find(f"{A}entry") is not None
    assert root.findtext(f"{A}entry/{A}content") == "bad  char"


async def test_comment_feeds_of_missing_or_retracted_articles_are_404_and_410(
    service: NewsService,
) -> None:
    article = await publish(service)
    await service.retract(Actor.operator(), article.id)
    async with web_client(service) as client:
        assert (await client.get("/articles/999/comments.xml")).status == 404
        assert (await client.get(f"/articles/{article.id}/comments.xml")).status == 410
        empty = ET.fromstring(await (await client.get("/feed.xml")).text())
    assert empty.findall(f"{A}entry") == []
    assert empty.findtext(f"{A}updated")
