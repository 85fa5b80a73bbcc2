"""A story's slow mode (issue 20, item 4): the pure rule, and the intake's decision with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsbot import NewsService, intake, slowmode
from newsbot.intake import Accepted, Lookups
from newsbot.models import (
    Actor,
    ArticleId,
    Author,
    CommentStatus,
    IncomingComment,
    MessageLink,
    MessageRef,
    Platform,
)
from newsbot.policy import CommentPolicy, Story
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
A = ArticleId(1)


def test_seconds_are_parsed_from_what_an_editor_types() -> None:
    assert [slowmode.parse(v) for v in ("30", " 90s", "0", "none", "OFF", 45)] == [
        30,
        90,
        0,
        0,
        0,
        45,
    ]
    for bad in ("-1", "soon", str(slowmode.SLOW_MAX + 1)):
        with pytest.raises(ValueError, match=r"literal|seconds"):
            slowmode.parse(bad)


def test_a_reader_is_the_person_else_the_account_else_the_session() -> None:
    people = {("telegram", "7"): 3, ("discord", "99"): 3}
    assert slowmode.reader("telegram", "7", people) == "person:3"
    assert slowmode.reader("discord", "99", people) == "person:3"
    assert slowmode.reader("web", "telegram@7", people) == "person:3"
    assert slowmode.reader("web", "discord@12", people) == "discord:12"  # signed in, unlinked
    assert slowmode.reader("telegram", "8", people) == "telegram:8"
    assert slowmode.reader("web", "w:abc", people) == "web:w:abc"
    assert slowmode.reader("web", "w@x", people) == "web:w@x"  # not a vouching platform
    assert slowmode.author_ids([("web", "discord@99")], people) == {
        ("web", "discord@99"),
        ("telegram", "7"),
        ("web", "telegram@7"),
        ("discord", "99"),
    }


def test_wait_counts_from_the_last_visible_comment() -> None:
    assert slowmode.wait(None, T0, 60) == 0
    assert slowmode.wait(T0, T0 + timedelta(seconds=15), 60) == 45
    assert slowmode.wait(T0, T0 + timedelta(seconds=60), 60) == 0
    assert slowmode.wait(T0, T0, 0) == 0


def _comment(
    msg: str, user: str, seconds: float, platform: Platform = Platform.WEB
) -> IncomingComment:
    return IncomingComment(
        source=MessageRef(platform, "1", msg),
        author=Author("R", platform, user),
        text="hi",
        created_at=T0 + timedelta(seconds=seconds),
        article_id=A,
    )


def _lookups(slow: int, policy: CommentPolicy | None = None, **found: object) -> Lookups:
    return Lookups(
        next_id=1,
        stored={},
        banned=(),
        links={},
        published={A},
        posts={},
        post_links={},
        post_counts={},
        parents={},
        stories={A: Story(policy, T0, slow)},
        slow=slowmode.Lookups(**found),  # type: ignore[arg-type]
    )


def _held(batch: list[IncomingComment], lookups: Lookups) -> list[str]:
    plan = intake.decide(batch, lookups)
    return [o.held if isinstance(o, Accepted) else "dropped" for o in plan.outcomes]


def test_the_intake_holds_a_readers_second_comment_inside_the_period() -> None:
    batch = [
        _comment("1", "w:a", 0),
        _comment("2", "w:a", 30),
        _comment("3", "w:b", 30),
        _comment("4", "w:a", 61),
    ]
    assert _held(batch, _lookups(60)) == ["", "slow", "", ""]
    assert _held(batch, _lookups(0)) == ["", "", "", ""]
    # A comment looked up from before the batch counts as the reader's last one.
    before = {(A, "web", "w:a"): T0 - timedelta(seconds=10)}
    assert _held(batch, _lookups(60, latest=before)) == ["slow", "slow", "", ""]
    # The policy holds first: slow mode never names a comment the policy held.
    assert _held(batch, _lookups(60, CommentPolicy.PREMODERATED)) == ["premoderated"] * 4


def test_the_intake_knows_a_person_on_every_platform() -> None:
    batch = [
        _comment("1", "7", 0, Platform.TELEGRAM),
        _comment("2", "99", 5, Platform.DISCORD),
        _comment("3", "telegram@7", 6),
    ]
    people = {("telegram", "7"): 3, ("discord", "99"): 3}
    assert _held(batch, _lookups(60, people=people)) == ["", "slow", "slow"]
    assert _held(batch, _lookups(60)) == ["", "", "slow"]  # unlinked: two readers


async def test_a_person_who_replied_on_telegram_waits_on_the_web(service: NewsService) -> None:
    from newsbot.errors import TooSoon
    from newsbot.people import Account
    from newsbot.review import View
    from tests.conftest import ADMIN, FakeClock, draft

    service.clock = clock = FakeClock()
    article = (await service.publish(ADMIN, draft())).article
    post = MessageRef(Platform.TELEGRAM, "-100", "post")
    await service.store.add_link(MessageLink(post, article.id))
    await service.desk.set_slow_mode(Actor.operator(), article.id, 60)
    nina = await service.store.link_account(
        Account(Platform.TELEGRAM, "7", "Nina", "telegram-login", clock.now()), None
    )
    await service.store.link_account(
        Account(Platform.DISCORD, "99", "Nina", "discord-oauth", clock.now()), nina.id
    )
    shown = await service.record_reply(
        reply_to=post,
        source=MessageRef(Platform.TELEGRAM, "-100", "1"),
        author=Author("Nina", Platform.TELEGRAM, "7"),
        text="on Telegram",
    )
    assert shown is not None and shown.status is CommentStatus.VISIBLE
    clock.advance(20)
    with pytest.raises(TooSoon) as refused:  # signed in on the web with her Discord account
        await service.add_web_comment(
            article.id, "Nina", "on the web", client_key="k1", user_id="discord@99"
        )
    assert refused.value.retry_after == 40 and refused.value.every == 60
    held = await service.record_reply(
        reply_to=post,
        source=MessageRef(Platform.TELEGRAM, "-100", "2"),
        author=Author("Nina", Platform.TELEGRAM, "7"),
        text="again on Telegram",
    )
    assert held is not None and held.status is CommentStatus.HIDDEN
    (item,) = await service.desk.queue(Actor.operator(), View.HELD)
    assert item.comment.id == held.id and item.reasons == ("slow",)
    clock.advance(40)
    later = await service.add_web_comment(
        article.id, "Nina", "on the web", client_key="k2", user_id="discord@99"
    )
    assert later.status is CommentStatus.VISIBLE


def test_an_admins_slow_mode_is_chosen_or_refused_with_the_range() -> None:
    from newsbot.errors import InvalidInput

    assert [slowmode.choose(v) for v in ("off", "60", 5)] == [0, 60, 5]
    for bad in ("soon", "-1", slowmode.SLOW_MAX + 1):
        with pytest.raises(InvalidInput, match=f"from 0 to {slowmode.SLOW_MAX}") as refused:
            slowmode.choose(bad)
        assert refused.value.field == "slow"
    with pytest.raises(InvalidInput):
        slowmode.check(-1)


async def test_publish_sets_slow_mode_once_per_request(service: NewsService) -> None:
    from newsbot.errors import InvalidInput
    from tests.conftest import ADMIN, draft

    with pytest.raises(InvalidInput, match="Slow mode must be"):
        await service.publish(ADMIN, draft(), slow=slowmode.SLOW_MAX + 1)
    assert (await service.latest()).articles == []  # nothing published
    change = await service.publish(ADMIN, draft(), request="r1", slow=75)
    assert await service.desk.slow_mode(change.article.id) == 75
    await service.desk.set_slow_mode(ADMIN, change.article.id, 0)
    again = await service.publish(ADMIN, draft(), request="r1", slow=75)
    assert again.repeated and await service.desk.slow_mode(change.article.id) == 0
