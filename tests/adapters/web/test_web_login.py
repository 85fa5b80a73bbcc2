"""Admin login throttling: per address, and a way in for the real admin.

With ``NEWSBOT_WEB_TRUST_PROXY=127.0.0.1`` any local user reaching the site directly can
claim the admin's address in ``X-Forwarded-For`` and fail logins until it is throttled. A
browser the admin logged in from before holds a device cookie with slots of its own.
"""

from __future__ import annotations

from newsbot import NewsService
from tests.adapters.web.test_web_helpers import Client, web_client

TOKEN = "s3cret-admin-token-long-enough-1234"
ADMIN_HOME, ATTACKER = "198.51.100.7", "203.0.113.5"


async def attempt(client: Client, token: str, address: str, cookie: str = "") -> int:
    headers = {"X-Forwarded-For": address}
    if cookie:
        headers["Cookie"] = f"newsbot_admin_device={cookie}"
    response = await client.post(
        "/admin/login", data={"token": token}, headers=headers, allow_redirects=False
    )
    return response.status


async def device_cookie_of_a_login(client: Client, address: str) -> str:
    response = await client.post(
        "/admin/login",
        data={"token": TOKEN},
        headers={"X-Forwarded-For": address},
        allow_redirects=False,
    )
    assert response.status == 303
    (header,) = [
        h for h in response.headers.getall("Set-Cookie") if h.startswith("newsbot_admin_device=")
    ]
    for part in ("HttpOnly", "SameSite=Strict", "Path=/admin/login", "Max-Age=15552000"):
        assert part in header, header
    client.session.cookie_jar.clear()
    return header.split(";", 1)[0].split("=", 1)[1]


async def test_spoofed_failed_logins_cannot_lock_out_a_browser_the_admin_used_before(
    service: NewsService,
) -> None:
    """The issue's case: a local user reaching the site directly claims the admin's address
    in X-Forwarded-For and fails logins until it is throttled."""
    async with web_client(service, admin_token=TOKEN, trust_proxy=["127.0.0.1"]) as client:
        device = await device_cookie_of_a_login(client, ADMIN_HOME)
        statuses = [await attempt(client, f"guess{n}", ADMIN_HOME) for n in range(6)]
        assert statuses == [403] * 4 + [429] * 2  # the admin's login above took a slot
        assert await attempt(client, TOKEN, ADMIN_HOME) == 429  # a new browser must wait
        assert await attempt(client, TOKEN, ADMIN_HOME, device) == 303  # the admin's doesn't


async def test_a_device_cookie_has_a_limit_of_its_own(service: NewsService) -> None:
    """Stolen, it buys no more guesses than an address."""
    async with web_client(service, admin_token=TOKEN, trust_proxy=["127.0.0.1"]) as client:
        device = await device_cookie_of_a_login(client, ADMIN_HOME)
        statuses = [await attempt(client, f"g{n}", ATTACKER, device) for n in range(6)]
        assert statuses == [403] * 5 + [429]
        assert await attempt(client, TOKEN, ATTACKER) == 303  # the address's own slots


async def test_forged_and_session_cookies_are_not_device_cookies(
    service: NewsService,
) -> None:
    async with web_client(service, admin_token=TOKEN, trust_proxy=["127.0.0.1"]) as client:
        response = await client.post(
            "/admin/login",
            data={"token": TOKEN},
            headers={"X-Forwarded-For": ADMIN_HOME},
            allow_redirects=False,
        )
        session = response.cookies["newsbot_admin"].value
        device = response.cookies["newsbot_admin_device"].value
        client.session.cookie_jar.clear()
        for n in range(4):
            assert await attempt(client, f"g{n}", ADMIN_HOME) == 403
        expires, nonce, mac = device.split(".")
        for fake in (session, f"{expires}.{nonce}x.{mac}", f"{int(expires) + 1}.{nonce}.{mac}"):
            assert await attempt(client, TOKEN, ADMIN_HOME, fake) == 429, fake


async def test_one_address_cannot_lock_out_the_others(service: NewsService) -> None:
    async with web_client(service, admin_token=TOKEN, trust_proxy=["127.0.0.1"]) as client:
        assert [await attempt(client, "g", ATTACKER) for _ in range(6)] == [403] * 5 + [429]
        assert await attempt(client, TOKEN, ADMIN_HOME) == 303


async def test_ipv6_addresses_of_one_block_share_one_login_limit(service: NewsService) -> None:
    """Walking through the /64 one subscriber holds buys no extra guesses."""
    async with web_client(service, admin_token=TOKEN, trust_proxy=["127.0.0.1"]) as client:
        statuses = [await attempt(client, "g", f"2001:db8:5:6::{n + 1:x}") for n in range(6)]
        assert statuses == [403] * 5 + [429]
        assert await attempt(client, TOKEN, "2001:db8:5:7::1") == 303  # the next block
