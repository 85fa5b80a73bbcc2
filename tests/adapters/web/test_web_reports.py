"""Readers report comments on the web: the form, the count, the hiding, the limits."""

from __future__ import annotations

from newsbot import CommentStatus, NewsService
from newsbot.review import View
from tests.adapters.web.test_web_admin import EVIL
from tests.adapters.web.test_web_helpers import form_fields, publish, web_client
from tests.conftest import ADMIN


async def test_three_readers_reports_hide_a_comment_pending_review(service: NewsService) -> None:
    article = await publish(service)
    rude = await service.add_web_comment(article.id, "Mal", "you <i>idiot</i>", client_key="a")
    async with web_client(service) as client:
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert f'href="/comments/{rude.id}/report"' in page
        form = await (await client.get(f"/comments/{rude.id}/report")).text()
        assert "you &lt;i&gt;idiot&lt;/i&gt;" in form
        assert form_fields(form, f"/comments/{rude.id}/report") == {"reason": ""}
        refused = await client.post(
            f"/comments/{rude.id}/report", data={"reason": "x"}, headers=EVIL
        )
        assert refused.status == 403
        for n in range(3):
            client.session.cookie_jar.clear()  # another reader
            done = await client.post(f"/comments/{rude.id}/report", data={"reason": f"r{n}"})
            assert done.status == 200 and "a moderator will look" in await done.text()
            if n == 0:  # the same reader again counts once
                again = await client.post(f"/comments/{rude.id}/report", data={"reason": "r"})
                assert again.status == 200
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert "idiot" not in page
        gone = await client.get(f"/comments/{rude.id}/report")
        assert gone.status == 404
    assert (await service.comment(rude.id)).status is CommentStatus.HIDDEN
    (item,) = await service.desk.queue(ADMIN, View.HELD)
    assert item.comment.id == rude.id and item.reasons == ("reported",)
    assert item.reports == 3 and item.report_reasons == ("r0", "r1", "r2")


async def test_reports_are_rate_limited_per_address(service: NewsService) -> None:
    article = await publish(service)
    comments = [
        await service.add_web_comment(article.id, "Ann", f"c{n}", client_key=f"k{n}")
        for n in range(6)
    ]
    async with web_client(service) as client:
        statuses = []
        for c in comments:
            response = await client.post(f"/comments/{c.id}/report", data={"reason": "spam"})
            statuses.append(response.status)
        assert statuses == [200] * 5 + [429]
        assert int(response.headers["Retry-After"]) > 0
    assert (await service.store.review_item(comments[5].id)) is None
