"""People: the Telegram login check (pure), signing in, linking, and bans that follow a person."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from newsbot import (
    Actor,
    InvalidInput,
    MessageRef,
    NewsService,
    PermissionDenied,
    Platform,
)
from newsbot.models import Author
from newsbot.people import (
    Proof,
    Proven,
    telegram_login,
    vouched_by,
    web_author_id,
)
from tests.conftest import ADMIN, draft, subscribe
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TOKEN = "123456:ABC-DEF"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def signed(fields: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    """Login Widget data with the hash Telegram computes."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hashlib.sha256(token.encode()).digest()
    return {**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}


def widget(auth_date: datetime = NOW, **extra: str) -> dict[str, str]:
    return signed(
        {
            "id": "777",
            "first_name": "Nina",
            "last_name": "Berg",
            "username": "nina",
            "auth_date": str(int(auth_date.timestamp())),
            **extra,
        }
    )


def test_a_correct_telegram_login_is_accepted() -> None:
    proven = telegram_login(widget(), TOKEN, NOW)
    assert proven == Proven(Platform.TELEGRAM, "777", "Nina Berg", Proof.TELEGRAM_LOGIN)


@pytest.mark.parametrize(
    "change",
    [
        {"id": "778"},  # another user's id under Nina's hash
        {"first_name": "Editor"},
        {"photo_url": "https://t.me/i/userpic/1.jpg"},  # a field added
    ],
)
def test_a_forged_telegram_login_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(PermissionDenied):
        telegram_login({**widget(), **change}, TOKEN, NOW)


def test_a_login_signed_with_another_token_is_refused() -> None:
    data = widget()
    other = signed({k: v for k, v in data.items() if k != "hash"}, "999:OTHER")
    with pytest.raises(PermissionDenied):
        telegram_login(other, TOKEN, NOW)
    with pytest.raises(PermissionDenied):
        telegram_login({k: v for k, v in data.items() if k != "hash"}, TOKEN, NOW)


def test_a_stale_or_future_login_is_refused() -> None:
    assert telegram_login(widget(NOW - timedelta(hours=23)), TOKEN, NOW).account_id == "777"
    with pytest.raises(PermissionDenied, match="expired"):
        telegram_login(widget(NOW - timedelta(days=1, seconds=1)), TOKEN, NOW)
    with pytest.raises(PermissionDenied):
        telegram_login(widget(NOW + timedelta(minutes=5)), TOKEN, NOW)


def test_web_author_ids_name_the_vouching_platform() -> None:
    tg = Proven(Platform.TELEGRAM, "777", "Nina", Proof.TELEGRAM_LOGIN)
    assert web_author_id(tg) == "telegram@777"
    assert vouched_by("telegram@777") is Platform.TELEGRAM
    assert vouched_by("discord@5") is Platform.DISCORD
    assert vouched_by("w:abc") is None and vouched_by("Nina") is None
    assert vouched_by("web@1") is None and vouched_by("telegram@") is None


TG = Proven(Platform.TELEGRAM, "777", "Nina Berg", Proof.TELEGRAM_LOGIN)
DC = Proven(Platform.DISCORD, "5005", "nina_b", Proof.DISCORD_OAUTH)


async def test_signing_in_twice_in_one_session_links_both_accounts(service: NewsService) -> None:
    people = service.people
    nina = await people.sign_in(TG)
    both = await people.sign_in(DC, nina.id)
    assert both.id == nina.id
    assert {(a.platform, a.account_id) for a in both.accounts} == {
        (Platform.TELEGRAM, "777"),
        (Platform.DISCORD, "5005"),
    }
    again = await people.sign_in(DC)  # signing in with either finds the same person
    assert again.id == nina.id


async def test_two_persons_meeting_in_one_session_merge(service: NewsService) -> None:
    people = service.people
    discord_first = await people.sign_in(DC)
    nina = await people.sign_in(TG)
    merged = await people.sign_in(DC, nina.id)
    assert merged.id == nina.id and len(merged.accounts) == 2
    assert await service.store.get_person(discord_first.id) is None


async def test_link_codes_link_a_chat_account_to_the_web_person(service: NewsService) -> None:
    people = service.people
    nina = await people.sign_in(TG)
    chat = Proven(Platform.DISCORD, "5005", "nina_b", Proof.LINK_CODE)
    code = await people.chat_link_code(chat)
    linked = await people.redeem_on_web(nina.id, code.lower())
    assert linked.id == nina.id and linked.account(Platform.DISCORD) is not None
    with pytest.raises(InvalidInput, match="unknown"):
        await people.redeem_on_web(nina.id, code)  # once only
    web_code = await people.web_link_code(nina.id)
    other = Proven(Platform.TELEGRAM, "888", "Nina 2", Proof.LINK_CODE)
    with pytest.raises(InvalidInput):
        await people.redeem_on_web(nina.id, web_code)  # a web code goes to the bot
    web_code = await people.web_link_code(nina.id)
    assert (await people.redeem_in_chat(other, web_code)).id == nina.id


async def test_nobody_links_an_account_they_do_not_hold(service: NewsService) -> None:
    """A code is the only proof besides a sign-in: guessing one fails and soon stops."""
    people = service.people
    mallory = await people.sign_in(Proven(Platform.DISCORD, "666", "m", Proof.DISCORD_OAUTH))
    await people.chat_link_code(Proven(Platform.TELEGRAM, "777", "Nina", Proof.LINK_CODE))
    with pytest.raises(InvalidInput):
        await people.redeem_on_web(mallory.id, "not a code!")
    for _ in range(4):
        with pytest.raises(InvalidInput):
            await people.redeem_on_web(mallory.id, "ABCDEFGH")
    with pytest.raises(PermissionDenied, match="Too many"):
        await people.redeem_on_web(mallory.id, "ABCDEFGH")
    assert await people.find(Platform.TELEGRAM, "777") is None


async def test_a_ban_follows_the_person_everywhere(service: NewsService) -> None:
    await subscribe(service, "-1")
    article = (await service.publish(ADMIN, draft())).article
    people = service.people
    nina = await people.sign_in(TG)
    nina = await people.sign_in(DC, nina.id)
    web = await service.add_web_comment(
        article.id, "ignored", "hello", client_key="k1", user_id=web_author_id(TG)
    )
    assert [c.id for c in await people.comments(nina)] == [web.id]
    with pytest.raises(PermissionDenied):
        await people.ban(Actor(Platform.TELEGRAM, "7"), nina.id)
    assert await people.ban(ADMIN, nina.id) == 1
    assert await people.comments(nina) == []
    assert await service.store.is_banned(Platform.TELEGRAM, "777")
    assert await service.store.is_banned(Platform.DISCORD, "5005")
    with pytest.raises(PermissionDenied):
        await service.add_web_comment(
            article.id, "x", "again", client_key="k2", user_id=web_author_id(DC)
        )
    with pytest.raises(PermissionDenied):
        await people.sign_in(TG)
    with pytest.raises(PermissionDenied):
        await people.sign_in(Proven(Platform.TELEGRAM, "1", "new", Proof.TELEGRAM_LOGIN), nina.id)
    reply = await service.record_reply(
        reply_to=MessageRef(Platform.WEB, str(article.id), "k1"),
        source=MessageRef(Platform.DISCORD, "c", "m1"),
        author=Author("nina_b", Platform.DISCORD, "5005"),
        text="from discord",
    )
    assert reply is None
    assert await people.unban(ADMIN, nina.id)
    assert not await service.store.is_banned(Platform.DISCORD, "5005")


async def test_unlinking_is_for_the_person_or_an_admin(service: NewsService) -> None:
    people = service.people
    nina = await people.sign_in(TG)
    await people.sign_in(DC, nina.id)
    other = await people.sign_in(Proven(Platform.TELEGRAM, "9", "o", Proof.TELEGRAM_LOGIN))
    with pytest.raises(PermissionDenied):
        await people.unlink(Platform.DISCORD, "5005", person_id=other.id)
    assert await people.unlink(Platform.DISCORD, "5005", person_id=nina.id)
    assert await people.find(Platform.DISCORD, "5005") is None
    with pytest.raises(PermissionDenied):
        await people.unlink(Platform.TELEGRAM, "777", actor=Actor(Platform.TELEGRAM, "7"))
    assert await people.unlink(Platform.TELEGRAM, "777", actor=ADMIN)
    assert not await people.unlink(Platform.TELEGRAM, "777", actor=ADMIN)


async def test_hiding_all_of_a_persons_comments_covers_every_platform(
    service: NewsService,
) -> None:
    await subscribe(service, "-1")
    article = (await service.publish(ADMIN, draft())).article
    people = service.people
    nina = await people.sign_in(TG)
    nina = await people.sign_in(DC, nina.id)
    web = await service.add_web_comment(
        article.id, "x", "on the web", client_key="k1", user_id=web_author_id(TG)
    )
    chat = await service.record_reply(
        reply_to=MessageRef(Platform.WEB, str(article.id), "k1"),
        source=MessageRef(Platform.DISCORD, "c", "m1"),
        author=Author("nina_b", Platform.DISCORD, "5005"),
        text="on discord",
    )
    assert chat is not None
    assert await people.hide_all(ADMIN, nina.id) == 2
    for comment in (web, chat):
        assert (await service.comment(comment.id)).status.value == "deleted"
    assert await people.comments(nina) == []
    assert not await service.store.is_banned(Platform.DISCORD, "5005")  # hidden, not banned
