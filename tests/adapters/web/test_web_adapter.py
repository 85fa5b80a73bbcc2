from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest

from adapters.web import WebAdapter
from newsbot import ConfigError, NewsService
from tests.adapters.web.test_web_helpers import publish


async def test_the_adapter_serves_on_a_real_port_and_stops(service: NewsService) -> None:
    article = await publish(service, title="Served")
    adapter = WebAdapter(service, port=0)
    assert adapter.name == "web"
    assert adapter.publisher is None
    await adapter.start()
    try:
        assert adapter.url.startswith("http://127.0.0.1:")
        assert not adapter.url.endswith(":0")
        async with aiohttp.ClientSession() as http:
            async with http.get(adapter.url + "/") as response:
                assert response.status == 200
                assert "Served" in await response.text()
            async with http.get(f"{adapter.url}/api/articles/{article.id}") as response:
                assert (await response.json())["title"] == "Served"
    finally:
        await adapter.stop()
    await adapter.stop()  # stopping twice is harmless
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(adapter.url + "/")


async def test_workers_share_the_secret_so_a_session_is_one_identity_everywhere(
    service: NewsService,
) -> None:
    """Two workers (started together) and a restart: the same cookie, the same user id."""
    article = await publish(service)
    first, second = WebAdapter(service, port=0), WebAdapter(service, port=0)
    await asyncio.gather(first.start(), second.start())
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            for n, adapter in enumerate((first, second, first)):
                async with http.post(
                    f"{adapter.url}/articles/{article.id}/comments",
                    data={"name": "Nina", "text": f"comment {n}"},
                    allow_redirects=False,
                ) as response:
                    assert response.status == 303
    finally:
        await asyncio.gather(first.stop(), second.stop())
    third = WebAdapter(service, port=0)
    await third.start()
    try:
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as http,
            http.post(
                f"{third.url}/articles/{article.id}/comments",
                data={"name": "Nina", "text": "after a restart"},
                allow_redirects=False,
            ) as response,
        ):
            assert response.status == 303
    finally:
        await third.stop()
    comments = [n.comment for n in (await service.thread(article.id)).comments]
    assert len(comments) == 4
    assert len({c.author.user_id for c in comments}) == 1


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := await reader.read(4096):
        data += chunk
    return data


async def test_idle_and_half_sent_connections_are_closed_after_the_header_timeout(
    service: NewsService,
) -> None:
    # All from one address: the per-client cap (tests/adapters/web/test_web_connections.py) is raised.
    adapter = WebAdapter(service, port=0, header_timeout=1.0, max_connections_per_client=1000)
    await adapter.start()
    host, port = "127.0.0.1", int(adapter.url.rsplit(":", 1)[1])
    sockets = [await asyncio.open_connection(host, port) for _ in range(100)]
    try:
        for n, (_, writer) in enumerate(sockets):
            if n % 2:
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a")  # never finished
        await asyncio.gather(*(w.drain() for _, w in sockets))
        started = time.monotonic()
        async with aiohttp.ClientSession() as http, http.get(adapter.url + "/") as response:
            assert response.status == 200  # served meanwhile
        closed = await asyncio.wait_for(
            asyncio.gather(*(_closed(r) for r, _ in sockets)), timeout=10
        )
        assert all(not data.startswith(b"HTTP/1.1 2") for data in closed)
        assert time.monotonic() - started < 5
    finally:
        for _, writer in sockets:
            writer.close()
        await adapter.stop()


async def test_connections_beyond_the_cap_are_answered_503_and_closed(
    service: NewsService,
) -> None:
    adapter = WebAdapter(service, port=0, header_timeout=30.0, max_connections=10)
    await adapter.start()
    host, port = "127.0.0.1", int(adapter.url.rsplit(":", 1)[1])
    idle = [await asyncio.open_connection(host, port) for _ in range(10)]
    try:
        reader, writer = await asyncio.open_connection(host, port)
        answer = await asyncio.wait_for(_closed(reader), timeout=5)
        assert answer.startswith(b"HTTP/1.1 503 ")
        writer.close()
        for _, w in idle[:3]:
            w.close()
        # Once the server has seen them close, normal requests are served again.
        deadline = time.monotonic() + 5
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(adapter.url + "/") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "never served again"
                await asyncio.sleep(0.05)
    finally:
        for _, w in idle:
            w.close()
        await adapter.stop()


async def test_a_taken_port_is_a_config_error_naming_the_setting(service: NewsService) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        adapter = WebAdapter(service, port=port)
        with pytest.raises(ConfigError, match="NEWSBOT_WEB_PORT"):
            await adapter.start()
    await adapter.stop()
