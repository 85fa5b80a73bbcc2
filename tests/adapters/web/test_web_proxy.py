"""Behind a reverse proxy without trusting every local user.

Trusting ``127.0.0.1`` as the proxy trusts every user of the machine: any of them can
connect directly and claim any ``X-Forwarded-For``. So the site can listen on a Unix socket
only the proxy may open (and there its headers are believed), and ``/metrics`` and
``/healthz`` can be served on a listener of their own. (The admin login's throttle:
tests/adapters/web/test_web_login.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.web import WebAdapter
from bot import Settings, serve
from newsbot import ConfigError, NewsService
from tests.adapters.web.test_web_helpers import publish
from tests.fakes.wait import wait_for


@contextlib.asynccontextmanager
async def on_socket(adapter: WebAdapter, path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    await adapter.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(path))) as http:
            yield http
    finally:
        await adapter.stop()


# -- the Unix socket ------------------------------------------------------------------------


async def test_the_site_serves_on_a_unix_socket_that_only_owner_and_group_may_open(
    service: NewsService, tmp_path: Path
) -> None:
    await publish(service, title="Through the socket")
    path = tmp_path / "web.sock"
    adapter = WebAdapter(service, unix_socket=str(path))
    async with on_socket(adapter, path) as http:
        assert adapter.url == f"unix:{path}"
        mode = path.lstat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
        async with http.get("http://news.example/") as response:
            assert response.status == 200
            assert "Through the socket" in await response.text()
    assert not path.exists()  # removed on stop


async def test_forwarded_for_is_believed_on_the_unix_socket_and_not_over_tcp(
    service: NewsService, tmp_path: Path
) -> None:
    """The comment limit (5 a minute) counts each reader the proxy names, on the socket."""
    article = await publish(service)
    path = tmp_path / "web.sock"
    form = f"http://news.example/articles/{article.id}/comments"

    async def post(http: aiohttp.ClientSession, url: str, reader: str, n: int) -> int:
        async with http.post(
            url,
            data={"name": "Nina", "text": f"{reader} {n}"},
            headers={"X-Forwarded-For": f"10.9.9.9, {reader}"},
            allow_redirects=False,
        ) as response:
            return response.status

    async with on_socket(WebAdapter(service, unix_socket=str(path)), path) as http:
        assert [await post(http, form, "192.0.2.1", n) for n in range(6)] == [303] * 5 + [429]
        assert await post(http, form, "192.0.2.2", 0) == 303  # another reader, not limited
    # Over TCP with no trusted proxy the header is the client's own claim: ignored.
    tcp = WebAdapter(service, port=0)
    await tcp.start()
    try:
        url = f"{tcp.url}/articles/{article.id}/comments"
        async with aiohttp.ClientSession() as http:
            statuses = [await post(http, url, f"192.0.2.{10 + n}", n) for n in range(6)]
        assert statuses == [303] * 5 + [429]
    finally:
        await tcp.stop()


async def test_a_trusted_forwarded_proto_on_the_socket_makes_cookies_secure(
    service: NewsService, tmp_path: Path
) -> None:
    article = await publish(service)
    path = tmp_path / "web.sock"
    async with on_socket(WebAdapter(service, unix_socket=str(path)), path) as http:
        # Another host than the https public URL's, so only the proxy's header can tell.
        for proto, secure in (("https", True), ("http", False)):
            async with http.post(
                f"http://backend.internal/articles/{article.id}/comments",
                data={"name": "Nina", "text": f"over {proto}"},
                headers={"X-Forwarded-Proto": proto},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
                assert ("; Secure" in response.headers["Set-Cookie"]) is secure


async def test_a_socket_left_by_a_dead_process_is_replaced(
    service: NewsService, tmp_path: Path
) -> None:
    path = tmp_path / "web.sock"
    with socket.socket(socket.AF_UNIX) as old:
        old.bind(str(path))  # bound, never listening: what a killed process leaves
    async with (
        on_socket(WebAdapter(service, unix_socket=str(path)), path) as http,
        http.get("http://news.example/") as response,
    ):
        assert response.status == 200


async def test_a_path_that_is_not_a_free_socket_is_a_config_error(
    service: NewsService, tmp_path: Path
) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me")
    with pytest.raises(ConfigError, match="NEWSBOT_WEB_UNIX_SOCKET") as refused:
        await WebAdapter(service, unix_socket=str(taken)).start()
    assert "not a socket" in str(refused.value)
    assert taken.read_text() == "keep me"
    path = tmp_path / "web.sock"
    first = WebAdapter(service, unix_socket=str(path))
    await first.start()
    try:
        with pytest.raises(ConfigError, match="another process is listening"):
            await WebAdapter(service, unix_socket=str(path)).start()
    finally:
        await first.stop()
    with pytest.raises(ConfigError, match="NEWSBOT_WEB_UNIX_SOCKET"):
        await WebAdapter(service, unix_socket=str(tmp_path / "no" / "such" / "dir.sock")).start()


def test_socket_settings_are_checked() -> None:
    url = "https://news.example"
    settings = Settings(web_unix_socket=" /run/newsbot/web.sock ", public_url=url)
    assert settings.web_unix_socket == "/run/newsbot/web.sock"
    assert settings.web_unix_socket_mode == 0o660
    for text, mode in (("660", 0o660), ("0640", 0o640), ("0o600", 0o600)):
        assert Settings(web_unix_socket_mode=text).web_unix_socket_mode == mode
    for bad, message in (
        ("666", "every local user"),
        ("777", "every local user"),
        ("6600", "between 000 and 777"),
        ("rw-rw----", "octal"),
    ):
        with pytest.raises(ValueError, match=message):
            Settings(web_unix_socket_mode=bad)
    with pytest.raises(ValueError, match="NEWSBOT_PUBLIC_URL"):
        Settings(web_unix_socket="/run/newsbot/web.sock")
    assert Settings(ops_port="").ops_port is None
    assert Settings(ops_port="9100").ops_port == 9100


# -- the operations listener ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_operations_endpoints_on_their_own_listener_and_not_on_the_site(
    tmp_path: Path,
) -> None:
    path = tmp_path / "web.sock"
    ops = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        database=tmp_path / "ops.db",
        public_url="https://news.example",
        web_unix_socket=str(path),
        ops_port=int(ops.rsplit(":", 1)[1]),
        _env_file=None,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop))
    try:

        async def up() -> bool:
            if running.done():
                running.result()  # a failed start fails the test with its error
            try:
                async with aiohttp.ClientSession() as http, http.get(f"{ops}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(up, 30, "the operations listener")
        await wait_for(path.exists, 30, "the site's socket")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{ops}/metrics") as response:
                assert response.status == 200
                assert "newsbot_database_up 1.0" in await response.text()
            async with http.get(f"{ops}/healthz/live") as response:
                assert (await response.json())["alive"] is True
            async with http.get(f"{ops}/") as response:
                assert response.status == 404  # the site is not served there
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(str(path))) as http:
            async with http.get("http://news.example/") as response:
                assert response.status == 200
            for route in ("/metrics", "/healthz", "/healthz/live"):
                async with http.get(f"http://news.example{route}") as response:
                    assert response.status == 404, route
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0
    assert not path.exists()


async def test_without_an_operations_listener_the_site_serves_them_as_before(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = Settings(
        database=tmp_path / "ops.db",
        web_port=port,
        _env_file=None,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop))
    try:

        async def metrics() -> bool:
            if running.done():
                running.result()
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"http://127.0.0.1:{port}/metrics") as r,
                ):
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(metrics, 30, "/metrics on the site")
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0
