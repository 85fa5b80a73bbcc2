"""Comments a reader enjoys: clickable and safe links, exact times on hover, nested lists,
sorting, and a form that keeps the reader's place and text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from adapters.web.render import linkify
from newsbot import Actor, ArticleId, CommentId, IntakeLimits, NewsService
from storage import SqliteStore
from tests.adapters.web.test_web_helpers import comment_ids, post_comment, publish, web_client
from tests.conftest import FakeClock


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append({k: v or "" for k, v in attrs})


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    ("text", "hrefs"),
    [
        ("see https://example.org/a?b=1&c=2.", ["https://example.org/a?b=1&c=2"]),
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ('https://a.example/"><script>alert(1)</script>', ["https://a.example/"]),
        ("https://a.example/' onmouseover='alert(1)", ["https://a.example/"]),
        ("javascript:alert(1) data:text/html,<b>x</b> vbscript:x", []),
        ("jAvAsCrIpT://https://evil.example", ["https://evil.example"]),
        ("xhttps://glued.example http:// https://", []),
        ("<a href='https://x.example'>x</a>", ["https://x.example"]),
        (
            "two: http://one.example, and HTTPS://TWO.example!",
            ["http://one.example", "HTTPS://TWO.example"],
        ),
    ],
)
def test_linkify_links_only_http_addresses_and_escapes_the_rest(
    text: str, hrefs: list[str]
) -> None:
    html = str(linkify(text))
    parsed = _parse(html)
    assert parsed.tags == ["a"] * len(hrefs), html  # nothing but the links became markup
    assert [a["href"] for a in parsed.links] == hrefs
    for a in parsed.links:
        assert set(a) == {"href", "rel"} and a["rel"] == "nofollow ugc noopener"
    # What the reader sees is exactly what they typed.
    visible = re.sub(r"<[^>]+>", "", html)
    assert (
        visible.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        == text
    )


async def test_a_comment_link_is_clickable_and_times_show_the_exact_time(
    service: NewsService,
) -> None:
    article = await publish(service)
    async with web_client(service) as client:
        await post_comment(client, article.id, "Nina", "Source: https://example.org/report.")
        html = await (await client.get(f"/articles/{article.id}")).text()
    assert (
        '<p class="text">Source: <a href="https://example.org/report" '
        'rel="nofollow ugc noopener">https://example.org/report</a>.</p>'
    ) in html
    # The exact time is the text; the script moves it to the title when it shows "ago".
    assert re.search(r'<time datetime="[^"]+">\d+ \w+ \d{4}, \d\d:\d\d UTC</time>', html)


async def test_replies_nest_as_lists_and_reply_links_name_the_author(
    service: NewsService,
) -> None:
    article = await publish(service)
    root = await service.add_web_comment(article.id, "Ann", "Root", client_key="1")
    child = await service.add_web_comment(
        article.id, "Ben", "Child", parent_id=root.id, client_key="2"
    )
    await service.add_web_comment(
        article.id, "Cy", "Grandchild", parent_id=child.id, client_key="3"
    )
    await service.add_web_comment(article.id, "Di", "Second root", client_key="4")
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
    thread = html.split('<ol class="thread">', 1)[1].split("</section>", 1)[0]
    shape = [close + tag[0] for close, tag in re.findall(r"<(/?)(ol|li)\b", thread)]
    assert shape == ["l", "o", "l", "o", "l", "/l", "/o", "/l", "/o", "/l", "l", "/l", "/o"]
    names = re.findall(r'<a class="reply"[^>]*>Reply<span class="vh"> to <bdi>(\w+)</bdi>', html)
    assert names == ["Ann", "Ben", "Cy", "Di"]


async def test_sorting_newest_first(service: NewsService) -> None:
    article = await publish(service)
    first = await service.add_web_comment(article.id, "Ann", "First", client_key="1")
    second = await service.add_web_comment(article.id, "Ben", "Second", client_key="2")
    async with web_client(service) as client:
        oldest = await (await client.get(f"/articles/{article.id}")).text()
        newest = await (await client.get(f"/articles/{article.id}?sort=newest")).text()
    assert comment_ids(oldest) == [first.id, second.id]
    assert comment_ids(newest) == [second.id, first.id]
    assert '#comments" aria-current="true">Oldest first</a>' in oldest
    assert '?sort=newest#comments" aria-current="true">Newest first</a>' in newest
    assert f'href="?sort=newest&amp;reply={second.id}#comment-form"' in newest


async def test_the_form_keeps_the_place_and_a_rate_limited_reader_keeps_the_text(
    store: SqliteStore,
) -> None:
    clock = FakeClock()
    service = NewsService(store, public_url="https://news.example", clock=clock)
    article = await publish(service)
    root = await service.add_web_comment(article.id, "Ann", "Root", client_key="1")
    async with web_client(service, rate_limit=1, rate_window=60) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
        assert f'action="/articles/{article.id}/comments#comment-form"' in html
        assert (await post_comment(client, article.id, "Nina", "first")).status == 303
        typed = "A long reply I would hate to lose <3"
        response = await post_comment(client, article.id, "Nina", typed, parent=str(root.id))
        html = await response.text()
    assert response.status == 429 and response.headers["Retry-After"] == "60"
    assert "You have posted 1 comment in the last 60 seconds." in html
    assert f">{typed.replace('<', '&lt;')}</textarea>" in html
    assert 'value="Nina"' in html and f'name="parent" value="{root.id}"' in html
    assert len((await service.thread(ArticleId(article.id))).comments) == 2
    assert await service.comment(CommentId(root.id))


async def test_a_held_reader_is_told_and_keeps_the_text(store: SqliteStore) -> None:
    service = NewsService(
        store, public_url="https://news.example", intake=IntakeLimits(per_author=1, per_chat=60)
    )
    article = await publish(service)
    async with web_client(service) as client:
        assert (await post_comment(client, article.id, "Nina", "first")).status == 303
        response = await post_comment(client, article.id, "Nina", "second, held")
        html = await response.text()
    assert response.status == 202
    assert "waits for a moderator" in html and ">second, held</textarea>" in html
    statuses = [n.comment.status for n in (await service.thread(ArticleId(article.id))).comments]
    assert "second, held" not in html.split('<section id="comment-form"')[0]
    assert len(statuses) == 1


async def test_a_comment_permalink_finds_its_page(service: NewsService) -> None:
    article = await publish(service, title="Long thread")
    ids = [
        (await service.add_web_comment(article.id, "Ann", f"c{n}", client_key=str(n))).id
        for n in range(7)
    ]
    async with web_client(service, comments_per_page=3) as client:
        first = await (await client.get(f"/articles/{article.id}")).text()
        assert f'<a class="when" href="/comments/{ids[-1]}">' in first
        newest = await client.get(f"/comments/{ids[-1]}", allow_redirects=False)
        assert newest.status == 302
        assert (
            newest.headers["Location"] == f"/articles/{article.id}-long-thread#comment-{ids[-1]}"
        )
        oldest = await client.get(f"/comments/{ids[0]}", allow_redirects=False)
        location = oldest.headers["Location"]
        assert "?comments=" in location and location.endswith(f"#comment-{ids[0]}")
        page = await (await client.get(location.split("#")[0])).text()
        assert ids[0] in comment_ids(page)
        await service.delete_comment(Actor.operator(), ids[1])
        assert (await client.get(f"/comments/{ids[1]}", allow_redirects=False)).status == 404
        assert (await client.get("/comments/999999", allow_redirects=False)).status == 404


async def test_continue_this_thread_shows_one_branch_indented_anew(service: NewsService) -> None:
    article = await publish(service)
    chain = [await service.add_web_comment(article.id, "R0", "level 0", client_key="0")]
    for n in range(1, 9):
        chain.append(
            await service.add_web_comment(
                article.id, f"R{n}", f"level {n}", parent_id=chain[-1].id, client_key=str(n)
            )
        )
    async with web_client(service) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
        link = re.search(
            r'<a class="continue" href="([^"]+)">Continue this thread \((\d+) more replies\)</a>',
            html,
        )
        assert link is not None and link.group(1) == f"?focus={chain[5].id}#comments"
        assert int(link.group(2)) == 3  # levels 6, 7 and 8, listed flat under level 5
        branch = await (await client.get(f"/articles/{article.id}{link.group(1)}")).text()
    assert comment_ids(branch) == [c.id for c in chain[5:]]
    assert f'<li class="comment d0" id="comment-{chain[5].id}">' in branch
    assert f'<li class="comment d3" id="comment-{chain[8].id}">' in branch
    assert "Back to the whole thread" in branch and "data-paged" in branch
    assert 'class="continue"' not in branch
