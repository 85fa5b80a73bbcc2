"""NEWSBOT_WEB_PROCESSES: the site served by processes of its own on one port (SO_REUSEPORT),
their page caches kept current through the store."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from newsbot import Actor, ArticleDraft, NewsService
from storage import open_store
from tests.fakes.wait import wait_for

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_web_processes_share_the_port_and_see_every_change(tmp_path: Path) -> None:
    database = str(tmp_path / "web.db")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        NEWSBOT_DATABASE=database,
        NEWSBOT_WEB_PORT=str(port),
        NEWSBOT_WEB_PROCESSES="2",
        NEWSBOT_LOG_LEVEL="WARNING",
    )
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        bot = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
        )
    try:
        # Each request on a connection of its own, so the kernel spreads them.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:

            async def status(path: str) -> int:
                try:
                    async with http.get(base + path) as r:
                        return r.status
                except aiohttp.ClientError:
                    return 0

            async def up() -> bool:
                return await status("/") == 200

            await wait_for(up, 30, "the site")
            workers: set[str] = set()

            async def both_answer() -> bool:
                async with http.get(f"{base}/healthz") as r:
                    workers.add((await r.json())["worker"])
                return len(workers) == 2

            await wait_for(both_answer, 10, "both web processes")
            assert all(w.endswith(("-web0", "-web1")) for w in workers)

            async with open_store(database) as store:
                service = NewsService(store)
                article = (
                    await service.publish(Actor.operator(), ArticleDraft("Shared", "Body"))
                ).article
            path = f"/articles/{article.id}"

            async def everywhere(text: str) -> bool:
                for _ in range(6):  # fresh connections: both processes answer some
                    async with http.get(base + path) as r:
                        if text not in await r.text():
                            return False
                return True

            await wait_for(lambda: everywhere("Shared"), 1.0, "the article in both")
            form = {"name": "Nina", "text": "Seen by both", "website": ""}
            async with http.post(f"{base}{path}/comments", data=form, allow_redirects=False) as r:
                assert r.status == 303
            await wait_for(lambda: everywhere("Seen by both"), 1.0, "the comment in both")
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(30)
    text = log.read_text(errors="replace")
    found = re.search(r"served by 2 processes of its own \(pids (\d+), (\d+)\)", text)
    assert found is not None, text
    pids = [int(p) for p in found.groups()]
    assert bot.returncode == 0, text
    assert not any(_alive(pid) for pid in pids)
