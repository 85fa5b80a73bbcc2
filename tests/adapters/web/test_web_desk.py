"""The moderation queue on the admin page, on the real aiohttp server."""

from __future__ import annotations

import re
from html import unescape

from adapters.web.desk import QUEUE_PAGE
from newsbot import CommentStatus, NewsService
from newsbot.review import DeskSettings, View, WordList
from tests.adapters.web.test_web_admin import EVIL, TOKEN, login
from tests.adapters.web.test_web_helpers import form_fields, publish, web_client


async def test_a_held_comment_is_in_the_queue_not_on_the_page_until_approved(
    service: NewsService,
) -> None:
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    article = await publish(service, title="Desk")
    held = await service.add_web_comment(
        article.id, "Eve", "best <b>casino</b>", client_key="a", user_id="w:eve"
    )
    fine = await service.add_web_comment(
        article.id, "Eve", "an earlier word", client_key="b", user_id="w:eve"
    )
    assert held.status is CommentStatus.HIDDEN
    async with web_client(service, admin_token=TOKEN) as client:
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "casino" not in page and "an earlier word" in page
        await login(client)
        queue = await client.get("/admin/queue")
        assert queue.headers["Cache-Control"] == "no-store"
        html = await queue.text()
        assert "best &lt;b&gt;casino&lt;/b&gt;" in html
        assert "Why: words" in html and 'aria-current="page">Held<' in html
        assert f'href="/admin/queue/{held.id}/history?view=held"' in html
        assert "an earlier word" not in html
        history = await (await client.get(f"/admin/queue/{held.id}/history")).text()
        assert "an earlier word" in history and "casino" not in history
        assert form_fields(html, f"/admin/queue/{held.id}/approve") == {"view": "held"}
        # Cross-site, or without a session, nothing happens.
        refused = await client.post(
            f"/admin/queue/{held.id}/approve", data={"view": "held"}, headers=EVIL
        )
        assert refused.status == 403
        assert (await service.comment(held.id)).status is CommentStatus.HIDDEN
        done = await client.post(
            f"/admin/queue/{held.id}/approve", data={"view": "held"}, allow_redirects=False
        )
        assert done.status == 303
        assert done.headers["Location"] == f"/admin/queue?view=held&done=approve&comment={held.id}"
        after = await (await client.get(done.headers["Location"])).text()
        assert f"Approved comment {held.id}" in after
        assert form_fields(after, f"/admin/queue/{held.id}/undo") == {"view": "held"}
        assert "Nothing held." in after
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "best &lt;b&gt;casino&lt;/b&gt;" in page
        recent = await (await client.get("/admin/queue?view=recent")).text()
        assert f'id="item-{held.id}"' in recent and "approved by cli:web-admin" in recent
        # Undo from the notice: hidden again, back in the queue.
        await client.post(f"/admin/queue/{held.id}/undo", data={"view": "recent"})
        assert (await service.comment(held.id)).status is CommentStatus.HIDDEN
        log = await service.store.audit_log(10)
        assert [(e.actor, e.action) for e in log] == [
            ("cli:web-admin", "undo approve"),
            ("cli:web-admin", "approve"),
        ]
        del fine


async def test_bans_ask_first_and_reported_tab_lists_reports(service: NewsService) -> None:
    article = await publish(service)
    comment = await service.add_web_comment(
        article.id, "Mal", "rude", client_key="a", user_id="w:mal"
    )
    from newsbot import Actor, Platform

    for who in ("w:1", "w:2"):
        await service.desk.report(comment.id, Actor(Platform.WEB, who), "insults")
    async with web_client(service, admin_token=TOKEN) as client:
        assert "Admin token" in await (await client.get("/admin/queue")).text()
        assert "Admin token" in await (await client.get(f"/admin/queue/{comment.id}/ban")).text()
        await login(client)
        reported = await (await client.get("/admin/queue?view=reported")).text()
        assert "2 report(s): insults; insults" in reported
        assert f'href="/admin/queue/{comment.id}/ban?view=reported"' in reported
        confirm = await (await client.get(f"/admin/queue/{comment.id}/ban?view=reported")).text()
        assert "deletes every comment of theirs" in unescape(confirm)
        assert form_fields(confirm, f"/admin/queue/{comment.id}/ban") == {"view": "reported"}
        assert (await service.comment(comment.id)).status is CommentStatus.VISIBLE
        done = await client.post(f"/admin/queue/{comment.id}/ban", data={"view": "reported"})
        assert done.status == 200 and "Banned the author" in await done.text()
    assert (await service.comment(comment.id)).status is CommentStatus.DELETED
    assert await service.store.is_banned(Platform.WEB, "w:mal")


async def test_the_form_follows_the_story_policy(service: NewsService) -> None:
    from newsbot import Actor
    from newsbot.policy import CommentPolicy

    article = await publish(service)
    async with web_client(service) as client:
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "Post Comment" in page and "reviewed" not in page
        await service.desk.set_policy(Actor.operator(), article.id, CommentPolicy.PREMODERATED)
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "Post Comment" in page and "appears once a moderator approves it" in page
        posted = await client.post(
            f"/articles/{article.id}/comments",
            data={"name": "Ann", "text": "wait for me"},
            allow_redirects=False,
        )
        assert posted.status == 202  # the form again, with the reader's text kept
        assert "waits for a moderator" in await posted.text()
        (item,) = await service.desk.queue(Actor.operator(), View.HELD)
        assert item.comment.text == "wait for me" and item.reasons == ("premoderated",)
        await service.desk.set_policy(Actor.operator(), article.id, CommentPolicy.CLOSED)
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "Comments are closed" in page and "Post Comment" not in page
        refused = await client.post(
            f"/articles/{article.id}/comments", data={"name": "Ann", "text": "late"}
        )
        assert refused.status == 400 and "Comments are closed." in await refused.text()
        await service.desk.set_policy(Actor.operator(), article.id, None)
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "Post Comment" in page and "Comments are closed" not in page
    assert (await service.thread(article.id)).total == 0


async def test_the_queue_pages_after_its_last_item(service: NewsService) -> None:
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    article = await publish(service)
    held = [
        await service.add_web_comment(
            article.id, f"R{n}", f"casino {n}", client_key=f"k{n}", user_id=f"w:{n}"
        )
        for n in range(QUEUE_PAGE + 3)
    ]
    async with web_client(service, admin_token=TOKEN) as client:
        await login(client)
        first = await (await client.get("/admin/queue")).text()
        assert first.count('<li class="comment"') == QUEUE_PAGE
        links = re.findall(r'href="(/admin/queue\?view=held&amp;after=[^"]+)" rel="next"', first)
        assert len(links) == 1
        second = await (await client.get(unescape(links[0]))).text()
        shown = re.findall(r'id="item-(\d+)"', first) + re.findall(r'id="item-(\d+)"', second)
        assert shown == [str(c.id) for c in held]
        assert 'rel="next"' not in second
        # A position typed by hand starts the tab over.
        again = await (await client.get("/admin/queue?view=held&after=1.x.2")).text()
        assert re.findall(r'id="item-(\d+)"', again) == shown[:QUEUE_PAGE]


async def test_slow_mode_refuses_a_too_soon_comment_and_keeps_its_text(
    service: NewsService,
) -> None:
    from newsbot import Actor
    from tests.conftest import FakeClock

    service.clock = clock = FakeClock()
    article = await publish(service)
    await service.desk.set_slow_mode(Actor.operator(), article.id, 60)
    path = f"/articles/{article.id}/comments"
    async with web_client(service) as client:
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "slow mode: one comment per reader every 60 seconds" in page
        first = await client.post(path, data={"name": "Ann", "text": "one"}, allow_redirects=False)
        assert first.status == 303
        clock.advance(15)
        again = await client.post(path, data={"name": "Ann", "text": "two <b>"})
        assert again.status == 429 and again.headers["Retry-After"] == "45"
        html = await again.text()
        assert "You may comment again in 45 seconds." in html
        assert "two &lt;b&gt;</textarea>" in html  # kept, escaped
        clock.advance(45)
        later = await client.post(path, data={"name": "Ann", "text": "two"}, allow_redirects=False)
        assert later.status == 303
        # Reopening restores it: slow mode off, the next one goes through at once.
        await service.desk.set_slow_mode(Actor.operator(), article.id, 0)
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "slow mode" not in page
        free = await client.post(
            path, data={"name": "Ann", "text": "three"}, allow_redirects=False
        )
        assert free.status == 303
    shown = (await service.thread(article.id)).comments
    assert sorted(c.comment.text for c in shown) == ["one", "three", "two"]
