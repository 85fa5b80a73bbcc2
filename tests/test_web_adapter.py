from __future__ import annotations

import socket

import aiohttp
import pytest

from adapters.web import WebAdapter
from newsbot import ConfigError, NewsService
from tests.test_web_helpers import form_fields, publish


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


async def test_open_forms_survive_a_restart(service: NewsService) -> None:
    article = await publish(service)
    jar = aiohttp.CookieJar(unsafe=True)
    first = WebAdapter(service, port=0)
    await first.start()
    try:
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as http,
            http.get(f"{first.url}/articles/{article.id}") as response,
        ):
            form = form_fields(await response.text())
    finally:
        await first.stop()
    second = WebAdapter(service, port=0)
    await second.start()
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            form.update(name="Nina", text="Written before the restart")
            async with http.post(
                f"{second.url}/articles/{article.id}/comments", data=form, allow_redirects=False
            ) as response:
                assert response.status == 303
    finally:
        await second.stop()
    assert await service.comment_count(article.id) == 1


async def test_a_taken_port_is_a_config_error_naming_the_setting(service: NewsService) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        adapter = WebAdapter(service, port=port)
        with pytest.raises(ConfigError, match="NEWSBOT_WEB_PORT"):
            await adapter.start()
    await adapter.stop()
