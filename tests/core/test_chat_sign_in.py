"""Signing in on the web through a private chat with the bot (no JavaScript): a token bound to
the browser's secret, proven once by ``/start``, finished once by that browser, 10 minutes."""

from __future__ import annotations

import pytest

from newsbot import InvalidInput, NewsService, PermissionDenied, Platform
from newsbot.people import (
    Proof,
    Proven,
    sign_in_payload,
    sign_in_secret,
    sign_in_start,
    sign_in_token,
)
from newsbot.ports import Store
from tests.conftest import ADMIN, FakeClock
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
RITA = Proven(Platform.TELEGRAM, "7", "Rita", Proof.LINK_CODE)


def test_the_link_carries_a_hash_of_the_secret_not_the_secret() -> None:
    secret = sign_in_secret()
    token = sign_in_token(secret)
    start = sign_in_start(token)
    assert secret not in start and len(start) <= 64 and sign_in_payload(start) == token
    assert sign_in_token(sign_in_secret()) != token
    for other in ("", "signin-", "signin-short", f"login-{token}", f"signin-{token[:-1]}!"):
        assert sign_in_payload(other) is None


async def test_the_browser_finishes_once_after_the_bot_proves_once(service: NewsService) -> None:
    people = service.people
    secret = sign_in_secret()
    token = await people.begin_chat_sign_in(secret)
    assert await people.finish_chat_sign_in(secret) is None  # not yet
    assert await people.finish_chat_sign_in(secret) is None  # and still waiting
    intruder = sign_in_secret()  # another browser, which never started this sign-in
    with pytest.raises(InvalidInput):
        await people.finish_chat_sign_in(intruder)
    await people.prove_chat_sign_in(token, RITA)
    with pytest.raises(InvalidInput, match="expired or was used"):
        await people.prove_chat_sign_in(token, RITA)  # single use
    with pytest.raises(InvalidInput):
        await people.finish_chat_sign_in(intruder)
    done = await people.finish_chat_sign_in(secret)
    assert done is not None
    person, proven = done
    assert proven == Proven(Platform.TELEGRAM, "7", "Rita", Proof.TELEGRAM_CHAT)
    assert [(a.platform, a.account_id, a.verified_by) for a in person.accounts] == [
        (Platform.TELEGRAM, "7", "telegram-chat")
    ]
    with pytest.raises(InvalidInput, match="expired or was used"):
        await people.finish_chat_sign_in(secret)  # single use
    again = sign_in_secret()
    await people.begin_chat_sign_in(again)
    with pytest.raises(InvalidInput, match="under way"):
        await people.begin_chat_sign_in(again)


async def test_a_sign_in_lives_ten_minutes(store: Store) -> None:
    clock = FakeClock()
    people = NewsService(store, clock=clock).people
    late, proven_late = sign_in_secret(), sign_in_secret()
    token = await people.begin_chat_sign_in(late)
    clock.advance(10 * 60)
    with pytest.raises(InvalidInput):
        await people.prove_chat_sign_in(token, RITA)
    token = await people.begin_chat_sign_in(proven_late)
    clock.advance(9 * 60)
    await people.prove_chat_sign_in(token, RITA)
    clock.advance(60)  # proven in time, but the browser came back too late
    with pytest.raises(InvalidInput):
        await people.finish_chat_sign_in(proven_late)


async def test_a_banned_person_cannot_sign_in_through_the_bot(service: NewsService) -> None:
    people = service.people
    rita = await people.sign_in(RITA)
    await people.ban(ADMIN, rita.id)
    token = await people.begin_chat_sign_in(sign_in_secret())
    with pytest.raises(PermissionDenied):
        await people.prove_chat_sign_in(token, RITA)
