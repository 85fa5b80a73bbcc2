"""Signing in on the web: the Telegram Login Widget's callback with real hashes, Discord's
OAuth2 flow through the fake Discord, the signed-in form, and anonymous comments turned off."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from adapters.web.signin import SignInConfig
from newsbot import Actor, NewsService, Platform
from newsbot.people import PersonId
from tests.adapters.web.test_web_helpers import Client, form_fields, publish, web_client
from tests.fakes.discord import FakeDiscord

TOKEN = "123456:TEST-token"
CLIENT_ID, CLIENT_SECRET = "4242", "discord-secret"
NINA_DISCORD = 555000000000000001


def login(
    service: NewsService, age: float = 0, token: str = TOKEN, user: str = "777", **extra: str
) -> str:
    """The Login Widget's redirect query for Nina, signed as Telegram signs it."""
    when = service.clock.now() - timedelta(seconds=age)
    fields = {
        "id": user,
        "first_name": "Nina",
        "last_name": "Berg",
        "username": "nina",
        "auth_date": str(int(when.timestamp())),
        **extra,
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hashlib.sha256(token.encode()).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord("bot-token") as fake:
        fake.add_user(NINA_DISCORD, "nina_b")
        fake.oauth.register(
            CLIENT_ID, CLIENT_SECRET, "https://news.example/signin/discord/callback"
        )
        yield fake


def config(discord: FakeDiscord | None = None, anonymous: bool = True) -> SignInConfig:
    return SignInConfig(
        telegram_token=TOKEN,
        telegram_bot="news_bot",
        discord_client_id=CLIENT_ID,
        discord_client_secret=CLIENT_SECRET,
        discord_api_url=f"{discord.base_url}/api/v10" if discord else "http://127.0.0.1:9/api/v10",
        anonymous=anonymous,
    )


async def signed_in_telegram(client: Client, service: NewsService) -> None:
    response = await client.get(f"/signin/telegram?{login(service)}", allow_redirects=False)
    assert response.status == 303, await response.text()


async def test_a_telegram_login_with_a_correct_hash_signs_in(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service, sign_in=config()) as client:
        await client.get(f"/signin?next=/articles/{article.id}")
        response = await client.get(f"/signin/telegram?{login(service)}", allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == f"/articles/{article.id}"
        cookie = response.headers.getall("Set-Cookie")[0]
        assert cookie.startswith("newsbot_person=")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        page = await client.get(f"/articles/{article.id}")
        html = await page.text()
        assert page.headers["Cache-Control"] == "private, no-cache"
        assert page.headers["Vary"] == "Accept-Encoding, Cookie"  # never the shared copy
        assert "Commenting as" in html and "<bdi>Nina Berg</bdi>" in html
        assert 'name="name"' not in html  # the name comes from Telegram
        person = await service.people.find(Platform.TELEGRAM, "777")
        assert person is not None and person.accounts[0].verified_by == "telegram-login"
        own = await client.get("/signin")
        assert "Signed in as <bdi>Nina Berg</bdi>" in await own.text()
        assert own.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("forged", "could not be verified"),
        ("other-token", "could not be verified"),
        ("expired", "expired"),
    ],
)
async def test_forged_or_stale_telegram_logins_are_refused(
    service: NewsService, query: str, why: str
) -> None:
    if query == "forged":
        q = login(service).replace("first_name=Nina", "first_name=Editor")
    elif query == "other-token":
        q = login(service, token="999:OTHER")
    else:
        q = login(service, age=86400 + 5)
    async with web_client(service, sign_in=config()) as client:
        response = await client.get(f"/signin/telegram?{q}", allow_redirects=False)
        assert response.status == 403
        assert why in await response.text()
        assert "newsbot_person" not in response.headers.get("Set-Cookie", "")
    assert await service.people.find(Platform.TELEGRAM, "777") is None


async def test_a_replayed_telegram_login_is_refused(service: NewsService) -> None:
    query = login(service)
    async with web_client(service, sign_in=config()) as first:
        assert (await first.get(f"/signin/telegram?{query}", allow_redirects=False)).status == 303
    # Another browser (or another worker on the same store) presenting the same data.
    async with web_client(service, sign_in=config()) as second:
        again = await second.get(f"/signin/telegram?{query}", allow_redirects=False)
        assert again.status == 403
        assert "used already" in await again.text()


async def test_a_signed_in_comment_carries_the_platform_name_and_badge(
    service: NewsService,
) -> None:
    article = await publish(service)
    async with web_client(service, sign_in=config()) as client:
        await signed_in_telegram(client, service)
        form = form_fields(await (await client.get(f"/articles/{article.id}")).text())
        form.update(name="Editor", text="Hello from Telegram")  # a typed name is ignored
        response = await client.post(
            f"/articles/{article.id}/comments", data=form, allow_redirects=False
        )
        assert response.status == 303
        (node,) = (await service.thread(article.id)).comments
        assert node.comment.author.name == "Nina Berg"
        assert node.comment.author.user_id == "telegram@777"
        assert "newsbot_session" not in response.headers.get("Set-Cookie", "")
    async with web_client(service, sign_in=config()) as anonymous:
        page = await anonymous.get(f"/articles/{article.id}")
        html = await page.text()
        assert page.headers["Cache-Control"].startswith("public")  # still the shared page
        assert "Commenting as" not in html and 'name="name"' in html
        assert '<span class="badge vouched telegram" title="Signed in with Telegram">' in html
        api = await (await anonymous.get(f"/api/articles/{article.id}/comments")).json()
        assert api["comments"][0]["author"] == {
            "name": "Nina Berg",
            "platform": "web",
            "vouched_by": "telegram",
        }


async def test_anonymous_comments_off_refuses_a_typed_name(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service, sign_in=config(anonymous=False)) as client:
        html = await (await client.get(f"/articles/{article.id}")).text()
        assert "Please <a" in html and 'name="name"' not in html
        response = await client.post(
            f"/articles/{article.id}/comments",
            data={"name": "Nina", "text": "typed"},
            allow_redirects=False,
        )
        assert response.status == 403
        assert "Please sign in to comment." in await response.text()
        assert await service.comment_count(article.id) == 0
        await signed_in_telegram(client, service)
        form = form_fields(await (await client.get(f"/articles/{article.id}")).text())
        form["text"] = "signed in"
        ok = await client.post(
            f"/articles/{article.id}/comments", data=form, allow_redirects=False
        )
        assert ok.status == 303
        assert await service.comment_count(article.id) == 1


async def discord_sign_in(
    client: Client, discord: FakeDiscord, start: str = "/signin/discord"
) -> str:
    """Go to Discord and back like a browser; returns the callback's path and query."""
    go = await client.get(start, allow_redirects=False)
    assert go.status == 302
    authorize = urlsplit(go.headers["Location"])
    q = parse_qs(authorize.query)
    assert q["scope"] == ["identify"] and q["code_challenge_method"] == ["S256"]
    assert q["redirect_uri"] == ["https://news.example/signin/discord/callback"]
    async with client.session.get(go.headers["Location"], allow_redirects=False) as consent:
        assert consent.status == 302, await consent.text()
        back = urlsplit(consent.headers["Location"])
    return f"{back.path}?{back.query}"


async def test_the_discord_flow_signs_in_through_the_fake(
    service: NewsService, discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake is plain http
    discord.oauth.consenting = NINA_DISCORD
    async with web_client(service, sign_in=config(discord)) as client:
        callback = await discord_sign_in(client, discord)
        done = await client.get(callback, allow_redirects=False)
        assert done.status == 303, await done.text()
        assert done.headers.getall("Set-Cookie")[0].startswith("newsbot_person=")
        person = await service.people.find(Platform.DISCORD, str(NINA_DISCORD))
        assert person is not None and person.accounts[0].name == "nina_b"
        again = await client.get(callback, allow_redirects=False)  # the code and state: once
        assert again.status == 403
    assert [p for p, _, _ in discord.requests if p == "POST"] == []  # no bot API calls
    assert discord.oauth.refused == []


async def test_a_bad_discord_state_is_refused(
    service: NewsService, discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    discord.oauth.consenting = NINA_DISCORD
    async with web_client(service, sign_in=config(discord)) as client:
        callback = await discord_sign_in(client, discord)
        forged = callback.replace("state=", "state=x")
        response = await client.get(forged, allow_redirects=False)
        assert response.status == 403
        assert "could not be verified" in await response.text()
    # A callback reaching another browser (a login CSRF) has no state cookie there.
    async with web_client(service, sign_in=config(discord)) as other:
        assert (await other.get(callback, allow_redirects=False)).status == 403
    assert await service.people.find(Platform.DISCORD, str(NINA_DISCORD)) is None


async def test_the_fake_refuses_a_bad_code_or_verifier(discord: FakeDiscord) -> None:
    discord.oauth.consenting = NINA_DISCORD
    redirect = "https://news.example/signin/discord/callback"
    verifier = "v" * 64
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    async with aiohttp.ClientSession() as http:
        q = urlencode(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": redirect,
                "response_type": "code",
                "scope": "identify",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        async with http.get(
            f"{discord.base_url}/oauth2/authorize?{q}", allow_redirects=False
        ) as r:
            code = parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code_verifier": "w" * 64,
        }
        token_url = f"{discord.base_url}/api/v10/oauth2/token"
        async with http.post(token_url, data=body) as r:
            assert r.status == 400 and (await r.json())["error"] == "invalid_grant"
        async with http.post(token_url, data={**body, "code_verifier": verifier}) as r:
            assert r.status == 400  # the code was spent by the refused try
        async with http.post(token_url, data={**body, "code": "made-up"}) as r:
            assert r.status == 400


async def test_signing_in_with_both_links_them_to_one_person(
    service: NewsService, discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    discord.oauth.consenting = NINA_DISCORD
    async with web_client(service, sign_in=config(discord)) as client:
        await signed_in_telegram(client, service)
        callback = await discord_sign_in(client, discord)
        assert (await client.get(callback, allow_redirects=False)).status == 303
        html = await (await client.get("/signin")).text()
        assert "nina_b" in html and "Nina Berg" in html
    tg = await service.people.find(Platform.TELEGRAM, "777")
    dc = await service.people.find(Platform.DISCORD, str(NINA_DISCORD))
    assert tg is not None and dc is not None and tg.id == dc.id and len(tg.accounts) == 2


async def test_a_banned_person_cannot_sign_in_and_is_signed_out(service: NewsService) -> None:
    article = await publish(service)
    async with web_client(service, sign_in=config()) as client:
        await signed_in_telegram(client, service)
        person = await service.people.find(Platform.TELEGRAM, "777")
        assert person is not None
        await service.people.ban(Actor.operator(), PersonId(person.id))
        html = await (await client.get(f"/articles/{article.id}")).text()
        assert "Commenting as" not in html  # the session ended with the ban
        # Another login than the first (a photo this time): when the clock ticks between the
        # two, the same fields would be a replay, refused for that reason instead.
        again = login(service, age=1, photo_url="https://t.me/i/userpic/nina.jpg")
        response = await client.get(f"/signin/telegram?{again}", allow_redirects=False)
        assert response.status == 403
        assert "no longer comment" in await response.text()
