"""The web under connection abuse, with real sockets on loopback.

One client holding many half-sent connections must not starve another client, and a request
body trickled in byte by byte must not hold a connection open past the body timeout.
127.0.0.2 is a second client address (all of 127.0.0.0/8 is loopback on Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp

from adapters.web import WebAdapter
from adapters.web.connections import client_of
from adapters.web.guard import parse_networks
from newsbot import NewsService
from tests.adapters.web.test_web_helpers import publish
from tests.fakes.wait import wait_for

ATTACKER, READER = "127.0.0.1", "127.0.0.2"
HALF_SENT = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a"  # never finished


def port_of(adapter: WebAdapter) -> int:
    return int(adapter.url.rsplit(":", 1)[1])


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(4096):
            data += chunk
    return data


@contextlib.asynccontextmanager
async def served(adapter: WebAdapter) -> AsyncIterator[WebAdapter]:
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


async def test_one_client_holding_many_half_sent_connections_does_not_starve_another(
    service: NewsService,
) -> None:
    """The issue's case at its scale: 1,000 half-sent connections against the default cap of
    1,000 made most other readers' requests 503. Now one client keeps at most its share."""
    await publish(service, title="Still served")
    adapter = WebAdapter(service, port=0, header_timeout=60.0)  # the default caps
    async with served(adapter):
        held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        answers: list[asyncio.Task[bytes]] = []
        try:
            for _ in range(1000):
                reader, writer = await asyncio.open_connection(ATTACKER, port_of(adapter))
                writer.write(HALF_SENT)
                held.append((reader, writer))
                answers.append(asyncio.create_task(until_closed(reader)))
            refused = adapter.max_connections - adapter.max_connections_per_client

            def refusals() -> int:
                return sum(
                    1 for a in answers if a.done() and a.result().startswith(b"HTTP/1.1 503 ")
                )

            await wait_for(lambda: refusals() >= refused, 20, "the attacker's refusals")
            connector = aiohttp.TCPConnector(local_addr=(READER, 0), force_close=True)
            async with aiohttp.ClientSession(connector=connector) as http:
                statuses = []
                for _ in range(20):
                    async with http.get(f"http://{ATTACKER}:{port_of(adapter)}/") as response:
                        statuses.append(response.status)
                        assert "Still served" in await response.text()
            assert statuses == [200] * 20
            # The attacker's 50 stay open (until the header timeout) and no more get in.
            assert refusals() == refused
            assert sum(1 for a in answers if not a.done()) == adapter.max_connections_per_client
            reader, writer = await asyncio.open_connection(ATTACKER, port_of(adapter))
            one_more = await asyncio.wait_for(until_closed(reader), 10)
            assert one_more.startswith(b"HTTP/1.1 503 ")
            writer.close()
        finally:
            for _, writer in held:
                writer.close()
            for answer in answers:
                answer.cancel()
            await asyncio.gather(*answers, return_exceptions=True)


async def test_the_per_client_cap_frees_places_as_connections_close(
    service: NewsService,
) -> None:
    adapter = WebAdapter(service, port=0, header_timeout=60.0, max_connections_per_client=3)
    async with served(adapter):
        port = port_of(adapter)
        first = [await asyncio.open_connection(ATTACKER, port) for _ in range(3)]
        reader, writer = await asyncio.open_connection(ATTACKER, port)
        assert (await asyncio.wait_for(until_closed(reader), 10)).startswith(b"HTTP/1.1 503 ")
        writer.close()
        first[0][1].close()

        async def served_again() -> bool:
            reader, writer = await asyncio.open_connection(ATTACKER, port)
            writer.write(b"GET /healthz/none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await asyncio.wait_for(until_closed(reader), 10)
            writer.close()
            return answer.startswith(b"HTTP/1.1 404 ")

        await wait_for(served_again, 10, "a place freed by a closed connection")
        for _, w in first[1:]:
            w.close()


async def test_a_trusted_proxy_is_held_only_to_the_overall_cap(service: NewsService) -> None:
    """A reverse proxy carries many readers: the per-client cap does not apply to it."""
    adapter = WebAdapter(
        service, port=0, header_timeout=60.0, trust_proxy=[ATTACKER], max_connections_per_client=2
    )
    async with served(adapter):
        port = port_of(adapter)
        held = [await asyncio.open_connection(ATTACKER, port) for _ in range(5)]
        try:
            for _, writer in held:
                writer.write(HALF_SENT)
            reader, writer = await asyncio.open_connection(ATTACKER, port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await asyncio.wait_for(until_closed(reader), 10)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 200 ")
        finally:
            for _, w in held:
                w.close()


def test_connections_count_by_ipv4_address_and_ipv6_block() -> None:
    proxies = parse_networks(["10.0.0.0/8"])
    assert client_of(("192.0.2.7", 5000)) == "192.0.2.7"
    assert client_of(("::ffff:192.0.2.7", 5000, 0, 0)) == "192.0.2.7"
    same = {client_of((f"2001:db8:1:2::{n:x}", 5000, 0, 0)) for n in range(1, 100)}
    assert same == {"2001:db8:1:2::/64"}
    assert client_of(("2001:db8:1:3::1", 5000, 0, 0)) == "2001:db8:1:3::/64"
    assert client_of(("fe80::1%eth0", 5000, 0, 2)) == "fe80::/64"
    assert client_of(("10.1.2.3", 5000), proxies) is None  # a trusted proxy
    assert client_of("") is None  # a Unix socket's peer
    assert client_of(None) is None


async def open_post(
    adapter: WebAdapter, path: str, length: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(ATTACKER, port_of(adapter))
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def test_a_body_trickled_byte_by_byte_is_cut_off_after_the_body_timeout(
    service: NewsService,
) -> None:
    """The issue's case: a body sent one byte at a time stayed open for over a minute."""
    article = await publish(service)
    adapter = WebAdapter(service, port=0, header_timeout=30.0, body_timeout=1.0)
    async with served(adapter):
        reader, writer = await open_post(adapter, f"/articles/{article.id}/comments", 10_000)
        started = time.monotonic()
        answer = asyncio.create_task(until_closed(reader))
        sent = 0
        try:
            # The client's pace, not a wait for anything: a byte every 0.1 s, never all of
            # them (10,000 would take over 16 minutes), until the server closes or 15 s pass.
            while not answer.done() and time.monotonic() - started < 15:
                with contextlib.suppress(ConnectionError):
                    writer.write(b"n")
                    await writer.drain()
                    sent += 1
                await asyncio.wait([answer], timeout=0.1)
            assert answer.done(), f"still open after {sent} bytes and 15 s"
            elapsed = time.monotonic() - started
            data = answer.result()
        finally:
            writer.close()
            answer.cancel()
    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
    assert b"Connection: close" in data.split(b"\r\n\r\n", 1)[0]
    assert 0.9 <= elapsed < 5, elapsed
    assert sent >= 5  # it did trickle in meanwhile
    assert (await service.thread(article.id)).total == 0


async def test_a_body_nobody_reads_does_not_hold_the_connection_either(
    service: NewsService,
) -> None:
    """aiohttp reads an unread body for up to 10 s after the answer; the deadline ends it."""
    adapter = WebAdapter(service, port=0, header_timeout=30.0, body_timeout=1.0)
    async with served(adapter):
        reader, writer = await open_post(adapter, "/", 1000)  # GET only: 405 at once
        writer.write(b"x")
        started = time.monotonic()
        try:
            data = await asyncio.wait_for(until_closed(reader), 8)
        finally:
            writer.close()
        assert data.startswith(b"HTTP/1.1 405 ")
        assert time.monotonic() - started < 5


async def test_a_whole_body_in_time_is_served_and_the_connection_kept(
    service: NewsService,
) -> None:
    article = await publish(service)
    adapter = WebAdapter(service, port=0, body_timeout=1.0)
    async with served(adapter):
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as http:
            for n in range(2):
                async with http.post(
                    f"{adapter.url}/articles/{article.id}/comments",
                    data={"name": "Nina", "text": f"in time {n}"},
                    allow_redirects=False,
                ) as response:
                    assert response.status == 303
            async with http.get(f"{adapter.url}/articles/{article.id}") as response:
                assert response.status == 200
                assert "in time 1" in await response.text()
    assert (await service.thread(article.id)).total == 2
