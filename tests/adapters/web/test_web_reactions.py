"""Web reactions through the real aiohttp app: the form POST (one per reader, changeable),
the JSON answer, the counts on the page and in the API, cross-site and rate-limited POSTs."""

from __future__ import annotations

import re

from newsbot import MessageLink, MessageRef, NewsService, Platform
from newsbot.reactions import ReactionEvent, ReactionOp
from tests.adapters.web.test_web_helpers import Client, publish, web_client

SAME = {"Sec-Fetch-Site": "same-origin"}


async def react(
    client: Client, article_id: int, emoji: str, comment: int | None = None, **headers: str
) -> object:
    data = {"emoji": emoji, **({"comment": str(comment)} if comment else {})}
    return await client.post(
        f"/articles/{article_id}/reactions",
        data=data,
        headers={**SAME, **headers},
        allow_redirects=False,
    )


def shown(html: str, emoji: str, form: str = 'id="reactions"') -> int:
    """The count shown beside ``emoji`` in the form holding ``form``."""
    start = html.index(form)
    part = html[start : html.index("</form>", start)]
    found = re.search(rf'value="{emoji}"[^>]*>{emoji} <span class="n">(\d+)</span>', part)
    assert found is not None, part
    return int(found.group(1))


async def test_one_reaction_per_reader_changeable_and_shown(service: NewsService) -> None:
    article = await publish(service, title="Reacted")
    comment = await service.add_web_comment(article.id, "Ann", "First", client_key="a")
    async with web_client(service) as client:
        response = await react(client, article.id, "👍")
        assert response.status == 303  # type: ignore[attr-defined]
        assert response.headers["Location"].endswith("#reactions")  # type: ignore[attr-defined]
        await react(client, article.id, "❤️")  # changed: the same reader (cookie)
        await react(client, article.id, "😂", comment=comment.id)
        counts = await service.reactions.counts(article.id)
        assert counts.article.by_emoji() == {"❤️": 1}
        assert counts.comments[comment.id].by_emoji() == {"😂": 1}
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert shown(page, "❤️") == 1 and shown(page, "👍") == 0
        assert 'data-emoji="😂">😂 <span class="n">1</span>' in page  # the comment's count
        assert f'name="comment" value="{comment.id}"' not in page  # its buttons: ?react=
        buttons = await (await client.get(f"/articles/{article.id}?react={comment.id}")).text()
        assert shown(buttons, "😂", f'name="comment" value="{comment.id}"') == 1
        # The same again takes it back; a reaction not offered is refused.
        await react(client, article.id, "❤️")
        assert (await service.reactions.counts(article.id)).article.total == 0
        refused = await react(client, article.id, "💩")
        assert refused.status == 400  # type: ignore[attr-defined]
    async with web_client(service) as other:  # another reader (no cookie)
        await react(other, article.id, "😂", comment=comment.id)
    counts = await service.reactions.counts(article.id)
    assert counts.comments[comment.id].by_emoji() == {"😂": 2}


async def test_the_script_gets_json_and_the_api_counts_every_platform(
    service: NewsService,
) -> None:
    article = await publish(service, title="JSON")
    post = MessageRef(Platform.TELEGRAM, "-100", "5")
    assert await service.store.add_link(MessageLink(post, article.id))
    await service.reactions.record(
        [
            ReactionEvent(
                post, ReactionOp.COUNTS, service.clock.now(), counts=(("👍", 3), ("🐳", 2))
            )
        ]
    )
    async with web_client(service) as client:
        response = await react(client, article.id, "👍", Accept="application/json")
        assert response.status == 200  # type: ignore[attr-defined]
        body = await response.json()  # type: ignore[attr-defined]
        assert body["chosen"] == "👍" and body["counts"]["by_emoji"] == {"👍": 4, "🐳": 2}
        api = await (await client.get(f"/api/articles/{article.id}/reactions")).json()
        assert api["article"]["by_platform"] == {"telegram": 5, "web": 1}
        assert api["offered"] == ["👍", "❤️", "😂", "😮", "😢"]
        one = await (await client.get(f"/api/articles/{article.id}")).json()
        assert one["reaction_count"] == 6
        page = await (await client.get(f"/articles/{article.id}")).text()
        assert shown(page, "👍") == 4
        assert 'data-emoji="🐳">🐳 <span class="n">2</span>' in page


async def test_a_cross_site_reaction_is_refused_and_reactions_are_rate_limited(
    service: NewsService,
) -> None:
    article = await publish(service, title="Guarded")
    async with web_client(service, rate_limit=1, rate_window=3600) as client:
        forged = await client.post(
            f"/articles/{article.id}/reactions",
            data={"emoji": "👍"},
            headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
            allow_redirects=False,
        )
        assert forged.status == 403
        assert (await service.reactions.counts(article.id)).article.total == 0
        statuses = [
            (await react(client, article.id, e)).status  # type: ignore[attr-defined]
            for e in ("👍", "❤️", "😂", "😮", "😢", "👍", "❤️")
        ]
        assert statuses == [303] * 6 + [429]
