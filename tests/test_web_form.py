from __future__ import annotations

import io
from html import unescape
from urllib.parse import urlencode

from newsbot import Actor, NewsService, Platform
from tests.test_web_helpers import (
    comment_form,
    comment_ids,
    form_fields,
    post_comment,
    publish,
    web_client,
)


class Ticks:
    """A monotonic clock for the rate limiter that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def visible_count(service: NewsService, article_id: int) -> int:
    return await service.comment_count(article_id)  # type: ignore[arg-type]


async def test_a_comment_is_stored_and_the_browser_is_sent_to_it(service: NewsService) -> None:
    article = await publish(service, title="Hello there")
    async with web_client(service) as client:
        response = await post_comment(client, article.id, "Nina", "Nice article.\r\nTwo lines.")
        assert response.status == 303
        page = (await service.thread(article.id)).comments
        assert len(page) == 1
        comment = page[0].comment
        assert (
            response.headers["Location"]
            == f"/articles/{article.id}-hello-there#comment-{comment.id}"
        )
        assert comment.author.name == "Nina"
        assert comment.author.platform is Platform.WEB
        assert comment.text == "Nice article.\nTwo lines."
        html = await (await client.get(response.headers["Location"])).text()
        assert '<h2 id="comment-count">1 Comment</h2>' in html
        assert '<p class="text">Nice article.\nTwo lines.</p>' in html
        assert '<span class="badge web">Web</span>' in html


async def test_missing_form_token_is_refused_with_403(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        form = await comment_form(client, article.id)
        del form["csrf"]
        form.update(name="Nina", text="Hi")
        response = await client.post(f"/articles/{article.id}/comments", data=form)
        assert response.status == 403
        assert "The form is missing its security token." in await response.text()
    assert await visible_count(service, article.id) == 0


async def test_forged_or_altered_form_tokens_are_refused_with_403(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        form = await comment_form(client, article.id)
        issued, nonce, mac = form["csrf"].split(".")
        forged = [
            "x",
            "1.2.3",
            f"{issued}.{nonce}.{mac[:-2]}AA",
            f"{int(issued) + 1}.{nonce}.{mac}",
            f"{issued}.other.{mac}",
        ]
        for token in forged:
            data = {**form, "csrf": token, "name": "Nina", "text": "Hi"}
            response = await client.post(f"/articles/{article.id}/comments", data=data)
            assert response.status == 403, token
            assert "The form's security token is not valid." in unescape(await response.text())
    assert await visible_count(service, article.id) == 0


async def test_a_token_only_works_with_the_cookie_of_the_browser_it_was_shown_to(
    service: NewsService,
) -> None:
    article = await publish(service)
    async with web_client(service) as victim, web_client(service) as attacker:
        stolen = await comment_form(attacker, article.id)  # the attacker's own token
        await comment_form(victim, article.id)  # the victim has a session cookie of its own
        data = {**stolen, "name": "Mallory", "text": "forged"}
        response = await victim.post(f"/articles/{article.id}/comments", data=data)
        assert response.status == 403
        assert "not valid" in await response.text()
    # A cross-site post carries no cookie at all under SameSite=Lax.
    async with web_client(service) as fresh:
        fresh.session.cookie_jar.clear()
        response = await fresh.post(
            f"/articles/{article.id}/comments", data={**stolen, "name": "M", "text": "x"}
        )
        assert response.status == 403
        assert "did not send this site's cookie" in unescape(await response.text())
    assert await visible_count(service, article.id) == 0


async def test_the_session_cookie_is_httponly_and_samesite(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        response = await client.get(f"/articles/{article.id}")
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("newsbot_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        again = await client.get(f"/articles/{article.id}")
        assert "Set-Cookie" not in again.headers  # one session per browser


async def test_over_long_name_and_text_are_refused_with_clear_messages_and_input_kept(
    service: NewsService,
) -> None:
    article = await publish(service)
    name = "N" * 65
    text = "<b>long</b> " + "x" * 3995
    async with web_client(service) as client:
        response = await post_comment(client, article.id, name, text)
        html = await response.text()
    assert response.status == 400
    assert "The name is too long: 65 characters, at most 64 are allowed." in html
    assert "The comment is too long: 4007 characters, at most 4000 are allowed." in html
    fields = form_fields(html)
    assert fields["name"] == name
    assert (
        f'maxlength="4000" required aria-invalid="true">&lt;b&gt;long&lt;/b&gt; {"x" * 3995}</textarea>'
        in html
    )
    assert fields["csrf"]  # a fresh token, ready to submit again
    assert await visible_count(service, article.id) == 0


async def test_fields_at_the_limits_are_accepted_and_browser_line_ends_count_once(
    service: NewsService,
) -> None:
    article = await publish(service)
    text = ("y" * 99 + "\r\n") * 40  # 4040 as sent, 4000 once CRLF is one newline
    async with web_client(service) as client:
        response = await post_comment(client, article.id, "N" * 64, text)
        assert response.status == 303
    comment = (await service.thread(article.id)).comments[0].comment
    assert comment.author.name == "N" * 64
    assert len(comment.text) == 3999  # the trailing newline is stripped


async def test_empty_or_blank_fields_are_refused_with_messages(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        for name, text in (("", ""), ("  \n ", " \r\n\t ")):
            response = await post_comment(client, article.id, name, text)
            html = await response.text()
            assert response.status == 400
            assert "Please enter your name." in html
            assert "Please write a comment." in html
        response = await post_comment(client, article.id, "Nina", "")
        html = await response.text()
        assert response.status == 400
        assert "Please enter your name." not in html
        assert form_fields(html)["name"] == "Nina"
    assert await visible_count(service, article.id) == 0


async def test_html_and_script_in_name_and_text_are_shown_escaped(service: NewsService) -> None:
    article = await publish(service)
    name = '<script>alert("n")</script>'
    text = "<img src=x onerror=alert(1)> & <a href='javascript:alert(2)'>x</a>"
    async with web_client(service) as client:
        response = await post_comment(client, article.id, name, text)
        assert response.status == 303
        html = await (await client.get(response.headers["Location"])).text()
        feed = await (await client.get(f"/articles/{article.id}/comments.xml")).text()
    assert "&lt;script&gt;alert(&#34;n&#34;)&lt;/script&gt;" in html
    assert (
        "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;a href=&#39;javascript:alert(2)&#39;&gt;"
        in html
    )
    assert html.lower().count("<script") == 1  # only the page's own deferred script
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in feed
    assert "<script>" not in feed


async def test_a_filled_honeypot_pretends_success_and_stores_nothing(
    service: NewsService,
) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        response = await post_comment(
            client, article.id, "Bot", "Buy cheap things", website="http://spam.example"
        )
        assert response.status == 303
        assert response.headers["Location"] == f"/articles/{article.id}-hello#comments"
        html = await (await client.get(response.headers["Location"])).text()
    assert "0 Comments" in html
    assert "Buy cheap things" not in html
    assert await visible_count(service, article.id) == 0


async def test_the_honeypot_is_hidden_from_people(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
        css = await (await client.get("/static/style.css")).text()
    assert '<p class="hp" aria-hidden="true">' in html
    assert 'name="website" tabindex="-1" autocomplete="off"' in html
    assert ".hp{position:absolute;left:-10000px" in css


async def test_the_rate_limit_answers_429_with_retry_after_then_recovers(
    service: NewsService,
) -> None:
    article = await publish(service)
    ticks = Ticks()
    async with web_client(service, rate_limit=3, rate_window=60, monotonic=ticks) as client:
        for n in range(3):
            response = await post_comment(client, article.id, "Nina", f"comment {n}")
            assert response.status == 303
            ticks.now += 10
        response = await post_comment(client, article.id, "Nina", "one too many")
        assert response.status == 429
        assert response.headers["Retry-After"] == "30"
        html = await response.text()
        assert "You have posted 3 comments in the last 60 seconds." in html
        assert "Please wait 30 seconds" in html
        assert await visible_count(service, article.id) == 3
        ticks.now += 30
        response = await post_comment(client, article.id, "Nina", "after waiting")
        assert response.status == 303
    assert await visible_count(service, article.id) == 4


async def test_the_rate_limit_counts_per_address(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service, rate_limit=1, trust_proxy=True) as client:
        first = await post_comment(client, article.id, "A", "one")
        assert first.status == 303
        form = await comment_form(client, article.id)
        data = {**form, "name": "B", "text": "two"}
        path = f"/articles/{article.id}/comments"
        other = await client.post(
            path, data=data, headers={"X-Forwarded-For": "203.0.113.9"}, allow_redirects=False
        )
        assert other.status == 303
        form = await comment_form(client, article.id)
        again = await client.post(
            path,
            data={**form, "name": "B", "text": "three"},
            headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
            allow_redirects=False,
        )
        assert again.status == 429  # the last hop is what the proxy saw
    assert await visible_count(service, article.id) == 2


async def test_replying_through_the_form_sets_the_parent(service: NewsService) -> None:
    article = await publish(service)
    root = await service.add_web_comment(article.id, "Ann", "First!", client_key="a")
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}?reply={root.id}")).text()
        form = form_fields(html)
        assert form["parent"] == str(root.id)
        form.update(name="Ben", text="Replying to Ann")
        response = await client.post(
            f"/articles/{article.id}/comments", data=form, allow_redirects=False
        )
        assert response.status == 303
        page = await (await client.get(response.headers["Location"])).text()
    thread = (await service.thread(article.id)).comments
    assert len(thread) == 1
    reply = thread[0].replies[0].comment
    assert reply.parent_id == root.id
    assert comment_ids(page) == [root.id, reply.id]
    assert f'<li class="comment d1" id="comment-{reply.id}">' in page


async def test_replying_to_a_comment_of_another_article_is_refused(service: NewsService) -> None:
    article = await publish(service)
    other = await publish(service, title="Other")
    foreign = await service.add_web_comment(other.id, "Ann", "elsewhere", client_key="a")
    async with web_client(service) as client:
        for parent in (str(foreign.id), "424242", "abc"):
            response = await post_comment(client, article.id, "Ben", "hi", parent=parent)
            assert response.status == 400, parent
            html = await response.text()
            assert "There is no comment" in html or "does not exist" in html
            assert ">hi</textarea>" in html
    assert await visible_count(service, article.id) == 0


async def test_a_double_submit_stores_one_comment(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        form = await comment_form(client, article.id)
        form.update(name="Nina", text="Only once")
        path = f"/articles/{article.id}/comments"
        first = await client.post(path, data=form, allow_redirects=False)
        second = await client.post(path, data=form, allow_redirects=False)
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert await visible_count(service, article.id) == 1


async def test_a_banned_author_is_refused_with_403(service: NewsService) -> None:
    article = await publish(service)
    await service.ban(Actor.operator(), Platform.WEB, "Troll")
    async with web_client(service) as client:
        response = await post_comment(client, article.id, "Troll", "again")
        assert response.status == 403
        assert "You can no longer comment here." in await response.text()
    assert await visible_count(service, article.id) == 0


async def test_comments_on_retracted_or_unknown_articles_are_refused(
    service: NewsService,
) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        form = await comment_form(client, article.id)
        await service.retract(Actor.operator(), article.id)
        data = {**form, "name": "Nina", "text": "too late"}
        response = await client.post(f"/articles/{article.id}/comments", data=data)
        assert response.status == 410
        response = await client.post("/articles/999/comments", data=data)
        assert response.status == 404


async def test_the_form_only_accepts_posts(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        response = await client.get(f"/articles/{article.id}/comments")
        assert response.status == 405
        assert "POST" in response.headers["Allow"]


async def test_an_oversized_request_body_is_refused(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        form = await comment_form(client, article.id)
        body = urlencode({**form, "name": "Nina", "text": "x" * (2 * 1024 * 1024)})
        response = await client.post(
            f"/articles/{article.id}/comments",
            data=io.BytesIO(body.encode()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 413
    assert await visible_count(service, article.id) == 0
