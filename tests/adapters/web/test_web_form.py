from __future__ import annotations

import asyncio
import io
from urllib.parse import urlencode

import pytest

from adapters.web.guard import SUBMIT_WINDOW
from newsbot import Actor, NewsService, Platform
from storage import SqliteStore, open_store
from tests.adapters.web.test_web_helpers import (
    comment_form,
    comment_ids,
    form_fields,
    post_comment,
    publish,
    web_client,
)
from tests.conftest import FakeClock
from tests.pg import BOTH


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


async def test_the_session_cookie_is_set_on_the_post_never_on_a_get(
    service: NewsService,
) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        page = await client.get(f"/articles/{article.id}")
        assert "Set-Cookie" not in page.headers  # the page is the same for everyone
        assert "csrf" not in await page.text()
        response = await post_comment(client, article.id, "Nina", "first")
        assert response.status == 303
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("newsbot_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain http on 127.0.0.1
        again = await post_comment(client, article.id, "Nina", "second")
        assert again.status == 303
        assert "Set-Cookie" not in again.headers  # one session per browser
    first, second = [n.comment for n in (await service.thread(article.id)).comments]
    assert first.author.user_id == second.author.user_id
    assert first.author.user_id.startswith("w:")  # web_identity of the session, not the name


async def test_the_session_cookie_is_secure_under_https(service: NewsService) -> None:
    article = await publish(service)  # the service's public URL is https://news.example
    async with web_client(service, trust_proxy=["127.0.0.1"]) as client:
        for headers in ({"Host": "news.example"}, {"X-Forwarded-Proto": "https"}):
            client.session.cookie_jar.clear()
            response = await post_comment(client, article.id, headers=headers)
            assert response.status == 303
            assert "; Secure" in response.headers["Set-Cookie"], headers


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
    # Only the page's own: its deferred script and its JSON-LD block.
    assert html.lower().count("<script") == 2
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
    store: SqliteStore,
) -> None:
    clock = FakeClock()
    service = NewsService(store, public_url="https://news.example", clock=clock)
    article = await publish(service)
    async with web_client(service, rate_limit=3, rate_window=60) as client:
        for n in range(3):
            response = await post_comment(client, article.id, "Nina", f"comment {n}")
            assert response.status == 303
            clock.advance(10)
        response = await post_comment(client, article.id, "Nina", "one too many")
        assert response.status == 429
        assert response.headers["Retry-After"] == "30"
        html = await response.text()
        assert "You have posted 3 comments in the last 60 seconds." in html
        assert "Please wait 30 seconds" in html
        assert await visible_count(service, article.id) == 3
        clock.advance(30)
        response = await post_comment(client, article.id, "Nina", "after waiting")
        assert response.status == 303
    assert await visible_count(service, article.id) == 4


async def test_the_rate_limit_cannot_be_raced(service: NewsService) -> None:
    """25 comments at the same moment from one address: 5 stored, 20 refused with 429."""
    article = await publish(service)
    path = f"/articles/{article.id}/comments"
    async with web_client(service) as client:
        responses = await asyncio.gather(
            *(
                client.post(path, data={"name": "Nina", "text": f"c{n}"}, allow_redirects=False)
                for n in range(25)
            )
        )
        statuses = sorted(r.status for r in responses)
        assert statuses == [303] * 5 + [429] * 20
        assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status == 429)
    assert await visible_count(service, article.id) == 5


@pytest.mark.parametrize("backend_name", BOTH)
async def test_two_workers_share_one_rate_limit(database: str, backend_name: str) -> None:
    """Two workers on one database, 24 comments from one address split between them at the
    same moment: 5 stored in all, not 5 per worker."""
    async with open_store(database) as first, open_store(database) as second:
        services = [NewsService(s, public_url="https://news.example/") for s in (first, second)]
        article = await publish(services[0])
        path = f"/articles/{article.id}/comments"
        async with web_client(services[0]) as a, web_client(services[1]) as b:
            responses = await asyncio.gather(
                *(
                    client.post(
                        path, data={"name": "Nina", "text": f"c{n} {w}"}, allow_redirects=False
                    )
                    for n in range(12)
                    for w, client in enumerate((a, b))
                )
            )
        statuses = sorted(r.status for r in responses)
        assert statuses == [303] * 5 + [429] * 19
        # The thread itself, not the article's comment count (refreshed at a pace).
        assert (await services[1].thread(article.id)).total == 5


async def test_a_honeypot_hit_takes_a_slot(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service, rate_limit=2) as client:
        bot = await post_comment(client, article.id, "Bot", "spam", website="http://x")
        assert bot.status == 303
        assert (await post_comment(client, article.id, "Nina", "one")).status == 303
        assert (await post_comment(client, article.id, "Nina", "two")).status == 429
    assert await visible_count(service, article.id) == 1


async def test_the_rate_limit_counts_per_address_behind_a_trusted_proxy(
    service: NewsService,
) -> None:
    article = await publish(service)
    path = f"/articles/{article.id}/comments"
    async with web_client(service, rate_limit=1, trust_proxy=["127.0.0.1"]) as client:

        async def send(text: str, forwarded: str | None) -> int:
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            data = {"name": "A", "text": text}
            response = await client.post(path, data=data, headers=headers, allow_redirects=False)
            return response.status

        assert await send("one", None) == 303  # the proxy itself
        assert await send("two", "203.0.113.9") == 303
        # The client wrote the left hop; the proxy appended what it saw: 203.0.113.9 again.
        assert await send("three", "198.51.100.1, 203.0.113.9") == 429
        assert await send("four", "198.51.100.7") == 303
        # A hop that is itself a trusted proxy is skipped.
        assert await send("five", "198.51.100.8, 127.0.0.1") == 303
        assert await send("six", "10.9.9.9, 198.51.100.8, 127.0.0.1") == 429
    assert await visible_count(service, article.id) == 4


async def test_a_spoofed_forwarded_header_from_an_untrusted_peer_is_ignored(
    service: NewsService,
) -> None:
    article = await publish(service)
    path = f"/articles/{article.id}/comments"
    async with web_client(service, rate_limit=1, trust_proxy=["10.0.0.0/8"]) as client:
        first = await client.post(path, data={"name": "A", "text": "one"}, allow_redirects=False)
        assert first.status == 303
        for n, spoof in enumerate(("203.0.113.1", "203.0.113.2, 203.0.113.3")):
            response = await client.post(
                path,
                data={"name": "A", "text": f"spoof {n}"},
                headers={"X-Forwarded-For": spoof},
                allow_redirects=False,
            )
            assert response.status == 429, spoof  # still counted as 127.0.0.1
    assert await visible_count(service, article.id) == 1


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
        together = await asyncio.gather(
            *(client.post(path, data={**form, "text": "Twice"}, allow_redirects=False)
              for _ in range(2))
        )  # fmt: skip
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert together[0].headers["Location"] == together[1].headers["Location"]
    assert await visible_count(service, article.id) == 2


async def test_a_double_submit_across_a_time_bucket_boundary_stores_one_comment(
    store: SqliteStore,
) -> None:
    clock = FakeClock()
    clock.current = clock.current.replace(minute=4, second=59)  # 1 s before a 5-minute mark
    service = NewsService(store, public_url="https://news.example", clock=clock)
    article = await publish(service)
    async with web_client(service) as client:
        first = await post_comment(client, article.id, "Nina", "Same")
        clock.advance(2)
        second = await post_comment(client, article.id, "Nina", "Same")
        clock.advance(SUBMIT_WINDOW * 2)
        later = await post_comment(client, article.id, "Nina", "Same")
    assert first.headers["Location"] == second.headers["Location"]
    assert later.headers["Location"] != first.headers["Location"]  # a new comment, later on
    assert await visible_count(service, article.id) == 2


async def test_the_same_text_under_another_name_or_parent_is_another_comment(
    service: NewsService,
) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        a = await post_comment(client, article.id, "Nina", "+1")
        b = await post_comment(client, article.id, "Ben", "+1")
    assert a.headers["Location"] != b.headers["Location"]
    assert await visible_count(service, article.id) == 2


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


# -- CSRF: the post must come from this site -----------------------------------------------


async def test_a_cross_site_post_is_refused_with_403(service: NewsService) -> None:
    article = await publish(service)
    path = f"/articles/{article.id}/comments"
    refused = [
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://evil.example"},  # a browser without Fetch Metadata
        {"Sec-Fetch-Site": "cross-site"},  # Origin stripped
        {"Origin": "https://blog.news.example", "Sec-Fetch-Site": "same-site"},  # a sibling
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame
    ]
    async with web_client(service) as client:
        for headers in refused:
            data = {"name": "Mallory", "text": "forged"}
            response = await client.post(path, data=data, headers=headers, allow_redirects=False)
            assert response.status == 403, headers
            assert "sent from another site" in await response.text()
            assert "Set-Cookie" not in response.headers
    assert await visible_count(service, article.id) == 0


async def test_same_origin_and_same_site_posts_from_this_site_are_accepted(
    service: NewsService,
) -> None:
    article = await publish(service)
    path = f"/articles/{article.id}/comments"
    async with web_client(service, rate_limit=10) as client:
        own = f"http://{client.host}:{client.port}"
        accepted = [
            {"Origin": own, "Sec-Fetch-Site": "same-origin"},
            {"Sec-Fetch-Site": "same-origin"},
            {"Sec-Fetch-Site": "none"},  # typed or bookmarked by the user
            # Behind a proxy the browser's origin is the public URL, and a proxy on a
            # sibling host may make the browser say same-site.
            {"Origin": "https://news.example", "Sec-Fetch-Site": "same-site"},
            {"Origin": own},
            {},  # not a browser: curl or a script, which CSRF cannot use
        ]
        for n, headers in enumerate(accepted):
            data = {"name": "Nina", "text": f"ok {n}"}
            response = await client.post(path, data=data, headers=headers, allow_redirects=False)
            assert response.status == 303, headers
    assert await visible_count(service, article.id) == len(accepted)


async def test_a_refused_cross_site_post_takes_no_rate_limit_slot(service: NewsService) -> None:
    article = await publish(service)
    path = f"/articles/{article.id}/comments"
    async with web_client(service, rate_limit=1) as client:
        for _ in range(3):
            response = await client.post(
                path, data={"name": "M", "text": "x"}, headers={"Origin": "http://evil.example"}
            )
            assert response.status == 403
        assert (await post_comment(client, article.id)).status == 303
