"""The Store contract, a story's slow mode: kept beside the policy, met by the intake."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from newsbot import ArticleId, CommentStatus, DeliveryOp, MessageRef, Platform, Posted, Store
from newsbot.intake import held_by
from newsbot.models import Author, CountRefresh, IncomingComment
from newsbot.people import Account
from newsbot.policy import CommentPolicy
from tests.storage.contract_helpers import article, at, dest, incoming, posted_article


def _at(
    item: IncomingComment, seconds: float, user: str = "7", platform: str = ""
) -> IncomingComment:
    author = Author("Rita", Platform(platform) if platform else item.author.platform, user)
    return replace(item, created_at=at(seconds), author=author)


async def _status(store: Store, item: IncomingComment) -> CommentStatus:
    result = await store.ingest_comment(item)
    assert result is not None
    return result[0].status


async def test_slow_mode_is_kept_and_cleared(backend: Store) -> None:
    article_id, _ = await posted_article(backend, "-100")
    assert await backend.get_slow_mode(article_id) == 0
    await backend.set_slow_mode(article_id, 30, at(1))
    await backend.set_slow_mode(article_id, 90, at(2))
    assert await backend.get_slow_mode(article_id) == 90
    assert await backend.get_policy(article_id) is None  # beside the policy, not in it
    await backend.set_policy(article_id, CommentPolicy.PREMODERATED, at(3))
    assert await backend.get_slow_mode(article_id) == 90
    await backend.set_slow_mode(article_id, 0, at(4))
    assert await backend.get_slow_mode(article_id) == 0
    assert await backend.get_policy(article_id) is CommentPolicy.PREMODERATED


async def test_setting_it_sends_the_discord_posts_again_as_edits(backend: Store) -> None:
    discord = await dest(backend, "555", Platform.DISCORD)
    telegram = await dest(backend, "-100")
    article_id = await article(backend, discord, telegram)
    for platform in (Platform.DISCORD, Platform.TELEGRAM):
        for job in await backend.claim_deliveries(platform, at(1), 10):
            await backend.complete_delivery(job.delivery, Posted("m1", thread_id="m1"), at(2))
    assert await backend.set_slow_mode(article_id, 60, at(3)) == 1
    edits = await backend.claim_deliveries(Platform.DISCORD, at(4), 10)
    assert [(j.delivery.op, j.destination.chat_id) for j in edits] == [(DeliveryOp.EDIT, "555")]
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(4), 10) == []


async def test_setting_it_does_not_wait_for_a_paced_count_refresh(backend: Store) -> None:
    article_id = await article(backend, await dest(backend, "555", Platform.DISCORD))
    for job in await backend.claim_deliveries(Platform.DISCORD, at(1), 10):
        await backend.complete_delivery(job.delivery, Posted("m1", thread_id="m1"), at(2))
    web = IncomingComment(
        source=MessageRef(Platform.WEB, str(article_id), "k1"),
        author=Author("Ann", Platform.WEB, "w:ann"),
        text="hello",
        created_at=at(5),
        article_id=ArticleId(article_id),
        mirror=False,
        count_refresh=CountRefresh(60.0, 3.0),
    )
    await backend.ingest_comment(web)
    assert await backend.claim_deliveries(Platform.DISCORD, at(10), 10) == []  # paced
    await backend.set_slow_mode(article_id, 60, at(10))
    edits = await backend.claim_deliveries(Platform.DISCORD, at(10), 10)
    assert [j.delivery.op for j in edits] == [DeliveryOp.EDIT]


async def test_one_comment_per_reader_per_period(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-100", "-200")
    await backend.set_slow_mode(article_id, 60, at(1))
    first = incoming("s1", refs["-100"], mirror=True)
    assert await _status(backend, _at(first, 10)) is CommentStatus.VISIBLE
    too_soon = await backend.ingest_comment(_at(incoming("s2", refs["-100"], mirror=True), 69))
    assert too_soon is not None and too_soon[0].status is CommentStatus.HIDDEN
    assert held_by(too_soon) == "slow"
    assert await backend.deliveries_for_comment(too_soon[0].id) == []  # never mirrored
    # Another reader is not slowed; the held comment takes nobody's place.
    assert await _status(backend, _at(incoming("s3", refs["-200"]), 69, "8")) is (
        CommentStatus.VISIBLE
    )
    assert await _status(backend, _at(incoming("s4", refs["-100"]), 70)) is CommentStatus.VISIBLE
    # Reopening (0) lets everything through again.
    await backend.set_slow_mode(article_id, 0, at(71))
    assert await _status(backend, _at(incoming("s5", refs["-100"]), 72)) is CommentStatus.VISIBLE
    assert await backend.count_comments(article_id) == 4


async def test_a_burst_from_one_reader_lets_one_through(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-100")
    await backend.set_slow_mode(article_id, 60, at(1))
    burst = [_at(incoming(f"b{n}", refs["-100"]), 10 + n / 10) for n in range(5)]
    results = await asyncio.gather(*(backend.ingest_comment(item) for item in burst))
    statuses = [r[0].status for r in results if r is not None]
    assert sorted(statuses) == [CommentStatus.HIDDEN] * 4 + [CommentStatus.VISIBLE]


async def test_a_person_is_one_reader_on_every_platform(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-100")
    await backend.set_slow_mode(article_id, 60, at(1))
    nina = await backend.link_account(Account(Platform.TELEGRAM, "7", "Nina", "x", at(0)), None)
    await backend.link_account(Account(Platform.DISCORD, "99", "Nina", "x", at(0)), nina.id)
    assert await _status(backend, _at(incoming("p1", refs["-100"]), 10)) is CommentStatus.VISIBLE
    # Her Discord account, and her signed-in web identity, are the same reader.
    discord = replace(
        _at(incoming("p2", refs["-100"]), 20, "99", "discord"),
        source=MessageRef(Platform.DISCORD, "555", "p2"),
    )
    assert await _status(backend, discord) is CommentStatus.HIDDEN
    web = IncomingComment(
        source=MessageRef(Platform.WEB, str(article_id), "k1"),
        author=Author("Nina", Platform.WEB, "telegram@7"),
        text="hello",
        created_at=at(30),
        article_id=ArticleId(article_id),
    )
    assert await _status(backend, web) is CommentStatus.HIDDEN
    found = await backend.slow_lookups(article_id, [("web", "discord@99")])
    assert found.people[("telegram", "7")] == nina.id
    assert found.latest == {(article_id, "telegram", "7"): at(10)}
    # Somebody else's web session is another reader.
    other = replace(
        web,
        author=Author("Ola", Platform.WEB, "w:abc"),
        source=replace(web.source, message_id="k2"),
    )
    assert await _status(backend, other) is CommentStatus.VISIBLE
