"""SIGKILL a dispatcher in a child process mid fan-out, on SQLite and PostgreSQL; the restart
loses and repeats nothing except the sends that were in flight at the kill."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    DestinationKind,
    NewDestination,
    NewsService,
    Platform,
)
from storage import open_store
from tests.fakes.wait import wait_for

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from newsbot import Dispatcher, Platform
    from storage import open_store
    from tests.fakes.publisher import RecordingPublisher

    async def main(db, log, delay):
        async with open_store(db) as store:
            publisher = RecordingPublisher(Platform.TELEGRAM, log_path=Path(log), delay=delay)
            # A short lease: the claims of the killed life are taken over 2 s after the kill.
            dispatcher = Dispatcher(store, {Platform.TELEGRAM: publisher}, concurrency=8,
                                    poll_interval=0.05, lease=2.0)
            await dispatcher.start()
            await dispatcher.drain(max_wait=120)
            await dispatcher.stop()
            print("drained", flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    """
)


def sends(log: Path) -> collections.Counter[str]:
    if not log.exists():
        return collections.Counter()
    # The sender process may be half-way through a line: only whole lines (ended) count.
    whole = log.read_text().split("\n")[:-1]
    lines = [json.loads(line) for line in whole if line.strip()]
    return collections.Counter(entry["chat"] for entry in lines)


async def states(db: str, article_id: ArticleId) -> collections.Counter[str]:
    async with open_store(db) as store:
        return collections.Counter(
            str(s.delivery.state) for s in await store.deliveries_for_article(article_id)
        )


async def spawn(db: str, log: Path, delay: float) -> asyncio.subprocess.Process:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(db),
        str(log),
        str(delay),
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=root,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "synchronous"), [("sqlite", "NORMAL"), ("sqlite", "FULL"), ("postgres", "FULL")]
)
async def test_sigkill_mid_fanout_loses_nothing(
    tmp_path: Path, backend: str, synchronous: str, request: pytest.FixtureRequest
) -> None:
    log = tmp_path / "sends.jsonl"
    db = str(tmp_path / "crash.db")
    if backend == "postgres":
        db = str(request.getfixturevalue("pg_url"))
    destinations = 500
    async with open_store(db, synchronous=synchronous) as store:
        service = NewsService(store)
        for i in range(destinations):
            await service.subscribe(
                Actor.operator(),
                NewDestination(Platform.TELEGRAM, f"-{i}", DestinationKind.CHANNEL),
            )
        article = (await service.publish(Actor.operator(), ArticleDraft("Crash", "test"))).article

    in_flight_at_kills = 0
    kills = 0
    for kill_after in (60, 200, 330):  # sends seen before each kill
        child = await spawn(db, log, delay=0.002)
        try:
            await wait_for(
                # python/mypy#15459: a lambda default binding a loop variable
                lambda n=kill_after: sum(sends(log).values()) >= n,  # type: ignore[misc]
                timeout=60,
                what="sends",
            )
        finally:  # killed here, or left behind by a failure: never outlives the test
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
            await child.wait()
        kills += 1
        in_flight_at_kills += (await states(db, article.id))["sending"]

    child = await spawn(db, log, delay=0.0)
    try:
        out, _ = await asyncio.wait_for(child.communicate(), timeout=120)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == 0, out
    assert b"drained" in out

    counts = sends(log)
    repeated = sum(n - 1 for n in counts.values() if n > 1)
    assert len(counts) == destinations, "every destination has the article"
    assert repeated <= in_flight_at_kills, (repeated, in_flight_at_kills)
    assert await states(db, article.id) == {"sent": destinations}
    print(
        f"crash test ({backend}, {synchronous}): {kills} kills, {destinations} delivered, "
        f"{repeated} repeated, {in_flight_at_kills} in flight at the kills"
    )
