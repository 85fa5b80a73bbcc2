from __future__ import annotations

from html import unescape

from newsbot import Author, MessageLink, MessageRef, NewsService, Platform
from storage import SqliteStore
from tests.test_web_helpers import form_fields, post_comment, publish, web_client

TOKEN = "s3cret-admin-token"


async def test_the_admin_page_is_off_without_a_token(service: NewsService) -> None:
    async with web_client(service) as client:
        assert (await client.get(f"/admin?token={TOKEN}")).status == 404
        assert (await client.post("/admin/comments/1/delete")).status == 404


async def test_the_admin_page_refuses_a_wrong_or_missing_token(service: NewsService) -> None:
    async with web_client(service, admin_token=TOKEN) as client:
        for query in ("", "?token=", "?token=guess", f"?token={TOKEN}x"):
            response = await client.get(f"/admin{query}")
            assert response.status == 403, query
            assert "Wrong or missing admin token." in await response.text()


async def test_the_admin_lists_articles_and_deletes_a_comment(service: NewsService) -> None:
    article = await publish(service, title="Moderated")
    keep = await service.add_web_comment(article.id, "Ann", "keep me", client_key="a")
    spam = await service.add_web_comment(article.id, "Spammer", "<b>spam</b>", client_key="b")
    async with web_client(service, admin_token=TOKEN) as client:
        listing = await (await client.get(f"/admin?token={TOKEN}")).text()
        assert f'href="/admin?token={TOKEN}&amp;article={article.id}">Moderated</a>' in listing
        page = await client.get(f"/admin?token={TOKEN}&article={article.id}")
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        html = await page.text()
        assert "&lt;b&gt;spam&lt;/b&gt;" in html
        form = form_fields(html, f"/admin/comments/{spam.id}/delete")
        assert form["token"] == TOKEN
        response = await client.post(
            f"/admin/comments/{spam.id}/delete", data=form, allow_redirects=False
        )
        assert response.status == 303
        done = await (await client.get(response.headers["Location"])).text()
        assert f"Deleted comment {spam.id}." in done
        public = await (await client.get(f"/articles/{article.id}")).text()
    assert "&lt;b&gt;spam" not in public
    assert "keep me" in public
    assert (await service.comment(spam.id)).status == "deleted"
    assert (await service.comment(keep.id)).status == "visible"


async def test_the_admin_bans_an_author_everywhere(
    service: NewsService, store: SqliteStore
) -> None:
    article = await publish(service)
    post = MessageRef(Platform.TELEGRAM, "-100", "1")
    await store.add_link(MessageLink(post, article.id))
    troll = Author("Troll", Platform.TELEGRAM, "666")
    first = await service.record_reply(
        reply_to=post, source=MessageRef(Platform.TELEGRAM, "-100", "2"), author=troll, text="a"
    )
    await service.record_reply(
        reply_to=post, source=MessageRef(Platform.TELEGRAM, "-100", "3"), author=troll, text="b"
    )
    assert first is not None
    async with web_client(service, admin_token=TOKEN) as client:
        html = await (await client.get(f"/admin?token={TOKEN}&article={article.id}")).text()
        form = form_fields(html, f"/admin/comments/{first.id}/ban")
        response = await client.post(f"/admin/comments/{first.id}/ban", data=form)
        assert response.status == 200
        assert "Banned Troll (telegram); deleted 2 comment(s)." in unescape(await response.text())
    assert await service.comment_count(article.id) == 0
    again = await service.record_reply(
        reply_to=post, source=MessageRef(Platform.TELEGRAM, "-100", "4"), author=troll, text="c"
    )
    assert again is None


async def test_a_banned_web_name_cannot_post_again(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service, admin_token=TOKEN) as client:
        assert (await post_comment(client, article.id, "Loud", "first")).status == 303
        comment = (await service.thread(article.id)).comments[0].comment
        html = await (await client.get(f"/admin?token={TOKEN}&article={article.id}")).text()
        form = form_fields(html, f"/admin/comments/{comment.id}/ban")
        assert (await client.post(f"/admin/comments/{comment.id}/ban", data=form)).status == 200
        response = await post_comment(client, article.id, "Loud", "second")
        assert response.status == 403


async def test_admin_actions_need_the_token_and_a_form_token(service: NewsService) -> None:
    article = await publish(service)
    comment = await service.add_web_comment(article.id, "Ann", "hi", client_key="a")
    async with web_client(service, admin_token=TOKEN) as client:
        html = await (await client.get(f"/admin?token={TOKEN}&article={article.id}")).text()
        form = form_fields(html, f"/admin/comments/{comment.id}/delete")
        path = f"/admin/comments/{comment.id}/delete"
        for bad in ({**form, "token": "nope"}, {**form, "csrf": "1.2.3"}, {"token": TOKEN}):
            response = await client.post(path, data=bad)
            assert response.status == 403, bad
    assert (await service.comment(comment.id)).status == "visible"
