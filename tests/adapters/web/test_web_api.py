from __future__ import annotations

from typing import Any

from newsbot import Actor, Author, MessageLink, MessageRef, NewsService, Platform
from storage import SqliteStore
from tests.adapters.web.test_web_helpers import Client, publish, web_client


async def get_json(client: Client, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, (path, await response.text())
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return await response.json()


def walk(nodes: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for node in nodes:
        ids.append(node["id"])
        ids += walk(node["replies"])
    return ids


async def test_articles_walk_through_every_page_without_duplicates(service: NewsService) -> None:
    published = [(await publish(service, title=f"Story {n}")).id for n in range(23)]
    async with web_client(service) as client:
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            query = "/api/articles?limit=5" + (f"&cursor={cursor}" if cursor else "")
            page = await get_json(client, query)
            pages += 1
            seen += [a["id"] for a in page["articles"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert pages == 5
    assert seen == list(reversed(published))
    assert len(set(seen)) == len(seen)


async def test_one_article_has_its_body_html_and_comment_count(service: NewsService) -> None:
    article = await publish(
        service, title="Hello <world>", body="**Bold** <b>raw</b>", tags=("tech",)
    )
    await service.add_web_comment(article.id, "Ann", "Hi", client_key="a")
    async with web_client(service) as client:
        data = await get_json(client, f"/api/articles/{article.id}")
        listed = await get_json(client, "/api/articles")
    assert data["id"] == article.id
    assert data["title"] == "Hello <world>"
    assert data["body"] == "**Bold** <b>raw</b>"
    assert data["body_html"] == "<p><strong>Bold</strong> &lt;b&gt;raw&lt;/b&gt;</p>\n"
    assert data["comment_count"] == 1
    assert data["url"] == f"https://news.example/articles/{article.id}-hello-world"
    assert data["canonical_url"] is None
    assert data["tags"] == ["tech"]
    assert data["author"] == {"name": "operator", "platform": "cli"}
    assert "body" not in listed["articles"][0]


async def test_comments_walk_through_every_page_in_both_orders(
    service: NewsService, store: SqliteStore
) -> None:
    article = await publish(service)
    roots = []
    replies = []
    for n in range(12):
        root = await service.add_web_comment(article.id, f"R{n}", f"root {n}", client_key=f"r{n}")
        roots.append(root.id)
        if n % 3 == 0:
            reply = await service.add_web_comment(
                article.id, "Re", f"reply {n}", parent_id=root.id, client_key=f"p{n}"
            )
            replies.append(reply.id)
    # One from a chat, to see the platform of every author comes through.
    post = MessageRef(Platform.TELEGRAM, "-100", "1")
    await store.add_link(MessageLink(post, article.id))
    tg = await service.record_reply(
        reply_to=post,
        source=MessageRef(Platform.TELEGRAM, "-100", "2"),
        author=Author("Tom", Platform.TELEGRAM, "7"),
        text="from Telegram",
    )
    assert tg is not None
    roots.append(tg.id)
    async with web_client(service) as client:
        for order, expected in (("oldest", roots), ("newest", list(reversed(roots)))):
            seen_roots: list[int] = []
            seen_all: list[int] = []
            cursor = None
            while True:
                query = f"/api/articles/{article.id}/comments?limit=5&order={order}"
                page = await get_json(client, query + (f"&cursor={cursor}" if cursor else ""))
                assert page["total"] == len(roots) + len(replies)
                seen_roots += [c["id"] for c in page["comments"]]
                seen_all += walk(page["comments"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen_roots == expected, order
            assert sorted(seen_all) == sorted(roots + replies)
            assert len(set(seen_all)) == len(seen_all)
        oldest = await get_json(client, f"/api/articles/{article.id}/comments?limit=1")
        newest = await get_json(
            client, f"/api/articles/{article.id}/comments?limit=1&order=newest"
        )
    comment = oldest["comments"][0]
    assert comment["author"] == {"name": "R0", "platform": "web"}
    assert comment["replies"][0]["parent_id"] == comment["id"]
    assert newest["comments"][0]["author"] == {"name": "Tom", "platform": "telegram"}
    assert "user_id" not in str(oldest) + str(newest)


async def test_removed_comments_keep_only_their_place(service: NewsService) -> None:
    article = await publish(service)
    root = await service.add_web_comment(article.id, "Spam", "buy now", client_key="a")
    await service.add_web_comment(article.id, "Ann", "no", parent_id=root.id, client_key="b")
    await service.delete_comment(Actor.operator(), root.id)
    async with web_client(service) as client:
        page = await get_json(client, f"/api/articles/{article.id}/comments")
    removed = page["comments"][0]
    assert removed["status"] == "removed"
    assert removed["author"] is None
    assert removed["text"] == ""
    assert removed["replies"][0]["text"] == "no"
    assert "buy now" not in str(page)


async def test_bad_cursor_limit_or_order_is_400_with_a_json_error(service: NewsService) -> None:
    article = await publish(service)
    base = f"/api/articles/{article.id}/comments"
    cases = {
        "/api/articles?cursor=garbage": "The page cursor is malformed.",
        "/api/articles?limit=0": "The page size must be between 1 and 100.",
        "/api/articles?limit=101": "The page size must be between 1 and 100.",
        "/api/articles?limit=ten": "The limit must be a whole number between 1 and 100.",
        "/api/articles?limit=-1": "The limit must be a whole number between 1 and 100.",
        f"{base}?cursor=%00%01": "The page cursor is malformed.",
        f"{base}?limit=1000000000": "The limit must be a whole number between 1 and 100.",
        f"{base}?order=sideways": "The order must be 'oldest' or 'newest'.",
    }
    async with web_client(service) as client:
        for path, message in cases.items():
            body = await get_json(client, path, 400)
            assert body["error"] == message, path
            assert body["code"] == "invalid_input", path
            assert body["field"] in ("cursor", "limit", "order"), path


async def test_missing_retracted_and_unknown_resources_are_json_errors(
    service: NewsService,
) -> None:
    article = await publish(service)
    await service.retract(Actor.operator(), article.id)
    async with web_client(service) as client:
        missing = {"error": "There is no article 999.", "code": "not_found"}
        assert await get_json(client, "/api/articles/999", 404) == missing
        assert await get_json(client, "/api/articles/999/comments", 404) == missing
        gone = {"error": f"Article {article.id} was retracted.", "code": "gone"}
        assert await get_json(client, f"/api/articles/{article.id}", 410) == gone
        assert await get_json(client, f"/api/articles/{article.id}/comments", 410) == gone
        assert await get_json(client, "/api/nothing", 404) == {
            "error": "There is no such page.",
            "code": "not_found",
        }
        ok = await client.get("/api/articles")
        assert ok.headers["Access-Control-Allow-Origin"] == "*"  # other sites may read it
        response = await client.post("/api/articles")
        assert response.status == 405
        assert await response.json() == {
            "error": "Method Not Allowed",
            "code": "method_not_allowed",
        }
