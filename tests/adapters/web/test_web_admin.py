from __future__ import annotations

import asyncio
import logging
from html import unescape

import pytest

from newsbot import Author, MessageLink, MessageRef, NewsService, Platform
from storage import SqliteStore
from tests.adapters.web.test_web_helpers import (
    Client,
    form_fields,
    post_comment,
    publish,
    web_client,
)

TOKEN = "s3cret-admin-token-long-enough-1234"
EVIL = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}


async def login(client: Client, token: str = TOKEN) -> None:
    response = await client.post("/admin/login", data={"token": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/admin"


async def test_the_admin_page_is_off_without_a_token(service: NewsService) -> None:
    async with web_client(service) as client:
        assert (await client.get("/admin")).status == 404
        assert (await client.post("/admin/login", data={"token": TOKEN})).status == 404
        assert (await client.post("/admin/comments/1/delete")).status == 404


async def test_admin_shows_a_login_form_and_the_token_never_goes_in_a_url(
    service: NewsService,
) -> None:
    article = await publish(service, title="Moderated")
    async with web_client(service, admin_token=TOKEN) as client:
        page = await client.get(f"/admin?token={TOKEN}&article={article.id}")
        assert page.status == 200
        html = await page.text()
        assert "Moderated" not in html  # a token in the URL opens nothing
        assert form_fields(html, "/admin/login") == {"token": ""}
        assert 'type="password"' in html
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        await login(client)
        listing = await (await client.get("/admin")).text()
        assert f'href="/admin?article={article.id}">Moderated</a>' in listing
        assert TOKEN not in listing


async def test_the_login_sets_a_signed_httponly_strict_cookie_and_logout_ends_it(
    service: NewsService,
) -> None:
    async with web_client(service, admin_token=TOKEN) as client:
        response = await client.post("/admin/login", data={"token": TOKEN}, allow_redirects=False)
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("newsbot_admin=")
        assert TOKEN not in cookie
        for part in ("HttpOnly", "SameSite=Strict", "Max-Age=28800", "Path=/admin"):
            assert part in cookie, part
        assert response.headers["Cache-Control"] == "no-store"
        assert "Log out" in await (await client.get("/admin")).text()
        good = client.session.cookie_jar.filter_cookies(client.make_url("/admin"))
        value = good["newsbot_admin"].value
        out = await client.post("/admin/logout", allow_redirects=False)
        assert out.status == 303
        assert "newsbot_admin=" in out.headers["Set-Cookie"]
        assert "Admin token" in await (await client.get("/admin")).text()
    # A forged or altered cookie is no session.
    async with web_client(service, admin_token=TOKEN, secret=b"s" * 32) as client:
        for forged in (value, value[:-2] + "AA", "9999999999.x.y", "²" + value):
            client.session.cookie_jar.clear()
            client.session.cookie_jar.update_cookies({"newsbot_admin": forged})
            assert "Admin token" in await (await client.get("/admin")).text(), forged


async def test_the_session_cookie_is_secure_under_https(service: NewsService) -> None:
    async with web_client(service, admin_token=TOKEN) as client:
        response = await client.post(
            "/admin/login",
            data={"token": TOKEN},
            headers={"Host": "news.example"},  # the service's https public URL
            allow_redirects=False,
        )
        assert "; Secure" in response.headers["Set-Cookie"]


async def test_wrong_tokens_are_refused_throttled_and_logged_without_the_token(
    service: NewsService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="newsbot.web")
    async with web_client(service, admin_token=TOKEN) as client:
        guesses = ["", "guess", TOKEN + "x", TOKEN[:-1]]
        for guess in guesses:
            response = await client.post("/admin/login", data={"token": guess})
            assert response.status == 403, guess
            assert "Wrong admin token." in await response.text()
        # Concurrent guesses cannot outrun the limit: 5 attempts per 15 minutes.
        rest = await asyncio.gather(
            *(client.post("/admin/login", data={"token": f"g{n}"}) for n in range(5))
        )
        assert sorted(r.status for r in rest) == [403] + [429] * 4
        limited = next(r for r in rest if r.status == 429)
        assert 800 < int(limited.headers["Retry-After"]) <= 900
        # Even the right token waits now.
        response = await client.post("/admin/login", data={"token": TOKEN})
        assert response.status == 429
    assert "admin login failed" in caplog.text
    for guess in [*guesses[1:], TOKEN]:
        assert guess not in caplog.text
    assert any(getattr(r, "remote", None) == "127.0.0.1" for r in caplog.records)


async def test_a_cross_site_login_or_moderation_post_is_refused(service: NewsService) -> None:
    article = await publish(service)
    comment = await service.add_web_comment(article.id, "Ann", "hi", client_key="a")
    async with web_client(service, admin_token=TOKEN) as client:
        response = await client.post("/admin/login", data={"token": TOKEN}, headers=EVIL)
        assert response.status == 403
        assert "newsbot_admin" not in response.headers.get("Set-Cookie", "")
        await login(client)
        for path in (
            f"/admin/comments/{comment.id}/delete",
            f"/admin/comments/{comment.id}/ban",
            f"/admin/comments/{comment.id}/ban-name",
            "/admin/names/ban",
            "/admin/logout",
        ):
            response = await client.post(path, data={"name": "Ann"}, headers=EVIL)
            assert response.status == 403, path
    assert (await service.comment(comment.id)).status == "visible"


async def test_moderation_needs_an_admin_session(service: NewsService) -> None:
    article = await publish(service)
    comment = await service.add_web_comment(article.id, "Ann", "hi", client_key="a")
    async with web_client(service, admin_token=TOKEN) as client:
        for path in (f"/admin/comments/{comment.id}/delete", f"/admin/comments/{comment.id}/ban"):
            for data in ({}, {"token": TOKEN}):  # the token as a form field is no session
                response = await client.post(path, data=data)
                assert response.status == 403, (path, data)
    assert (await service.comment(comment.id)).status == "visible"


async def test_the_admin_lists_articles_and_deletes_a_comment(service: NewsService) -> None:
    article = await publish(service, title="Moderated")
    keep = await service.add_web_comment(article.id, "Ann", "keep me", client_key="a")
    spam = await service.add_web_comment(article.id, "Spammer", "<b>spam</b>", client_key="b")
    async with web_client(service, admin_token=TOKEN) as client:
        await login(client)
        page = await client.get(f"/admin?article={article.id}")
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        html = await page.text()
        assert "&lt;b&gt;spam&lt;/b&gt;" in html
        assert '<b class="name"><bdi>Spammer</bdi></b>' in html
        assert "Ban <bdi>Spammer</bdi>" in html
        form = form_fields(html, f"/admin/comments/{spam.id}/delete")
        assert form == {"article": str(article.id)}
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


@pytest.mark.parametrize("raw", ["²", "١", "1²", "abc", "-1", "9" * 19])
async def test_a_non_ascii_article_number_shows_the_list(service: NewsService, raw: str) -> None:
    await publish(service, title="Listed")
    async with web_client(service, admin_token=TOKEN) as client:
        await login(client)
        response = await client.get("/admin", params={"article": raw})
        assert response.status == 200
        assert "Listed" in await response.text()
        ok = await client.post("/admin/comments/1/delete", data={"article": raw})
        assert ok.status in (404, 200)  # no comment 1; never a 500


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
        await login(client)
        html = await (await client.get(f"/admin?article={article.id}")).text()
        assert f"/admin/comments/{first.id}/ban-name" not in html  # web comments only
        form = form_fields(html, f"/admin/comments/{first.id}/ban")
        response = await client.post(f"/admin/comments/{first.id}/ban", data=form)
        assert response.status == 200
        assert "Banned Troll (telegram); deleted 2 comments." in unescape(await response.text())
    assert await service.comment_count(article.id) == 0
    again = await service.record_reply(
        reply_to=post, source=MessageRef(Platform.TELEGRAM, "-100", "4"), author=troll, text="c"
    )
    assert again is None


async def test_ban_bans_the_writers_identity_not_the_typed_name(service: NewsService) -> None:
    """An impostor typing a real reader's name gets only the impostor banned."""
    article = await publish(service)
    async with (
        web_client(service, admin_token=TOKEN) as admin,
        web_client(service) as nina,
        web_client(service) as impostor,
    ):
        assert (await post_comment(nina, article.id, "Nina", "I am Nina")).status == 303
        assert (await post_comment(impostor, article.id, "Nina", "rude")).status == 303
        rude = next(
            n.comment
            for n in (await service.thread(article.id)).comments
            if n.comment.text == "rude"
        )
        await login(admin)
        html = await (await admin.get(f"/admin?article={article.id}")).text()
        form = form_fields(html, f"/admin/comments/{rude.id}/ban")
        assert (await admin.post(f"/admin/comments/{rude.id}/ban", data=form)).status == 200
        assert (await post_comment(impostor, article.id, "Someone else", "again")).status == 403
        assert (await post_comment(nina, article.id, "Nina", "still here")).status == 303
    texts = sorted(n.comment.text for n in (await service.thread(article.id)).comments)
    assert texts == ["I am Nina", "still here"]


async def test_ban_name_refuses_the_name_and_its_look_alikes(service: NewsService) -> None:
    article = await publish(service)
    async with (
        web_client(service, admin_token=TOKEN) as admin,
        web_client(service, rate_limit=50) as other,
    ):
        assert (await post_comment(other, article.id, "Nina", "hello")).status == 303
        comment = (await service.thread(article.id)).comments[0].comment
        await login(admin)
        html = await (await admin.get(f"/admin?article={article.id}")).text()
        assert "Ban name <bdi>Nina</bdi>" in html
        form = form_fields(html, f"/admin/comments/{comment.id}/ban-name")
        response = await admin.post(f"/admin/comments/{comment.id}/ban-name", data=form)
        assert response.status == 200
        assert "Banned the name Nina" in await response.text()
        async with web_client(service, rate_limit=50) as fresh:  # another browser: a new identity
            for name in ("Nina", "Nina.", "N\u0456na", "NINA", "Ｎｉｎａ"):
                response = await post_comment(fresh, article.id, name, "again")
                assert response.status == 403, name
                assert "You can no longer comment here." in await response.text()
            assert (await post_comment(fresh, article.id, "Nino", "ok")).status == 303
        # The free-form ban: a name nobody has used yet.
        form = form_fields(html, "/admin/names/ban")
        response = await admin.post("/admin/names/ban", data={**form, "name": "Bob"})
        assert response.status == 200
        assert (await post_comment(other, article.id, "B0b", "hi")).status == 403
        empty = await admin.post("/admin/names/ban", data={"name": "..."})
        assert empty.status == 400
