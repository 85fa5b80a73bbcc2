"""What a story's slow mode costs the intake (issue 20, item 4).

The same closed loop as ``core.ingestion_capacity`` (1,000 callers storing replies through
``NewsService.record_reply`` as fast as the store takes them), with every article in slow mode
or none: in slow mode each batch that reaches those articles looks up the people behind its
authors and their latest comments there (``storage.slowmode``). Replies come from 2,000
readers in turn, so most are a reader's first on that story (stored) and the rest come too
soon (held ``slow``): both paths are measured, the held ones also with a staff chat set (each
held comment announced: folded into the pending notice, ``newsbot.holding``).
"""

from __future__ import annotations

import asyncio
import time

from bench import core
from bench.report import Result
from newsbot import Actor, Author, MessageRef, NewsService
from newsbot.staffchat import StaffChat

READERS = 2_000


async def capacity(
    count: int,
    slow: int,
    postgres: str | None = None,
    readers: int = READERS,
    staff: bool = False,
) -> Result:
    """Replies a second the service stores with every article in ``slow`` seconds of slow
    mode (0: off), written by ``readers`` readers in turn (``staff``: with a staff chat, which
    each held comment is announced to)."""
    async with core.bench_store(postgres, "slow.db") as store:
        refs = await core._posted_articles(store, 10)
        service = NewsService(store, mirror=False)
        if staff:
            service.staffchat.chat = StaffChat(core.TG, "-900")
        for ref in refs:
            link = await store.resolve_message(ref)
            assert link is not None
            await service.desk.set_slow_mode(Actor.operator(), link.article_id, slow)
        queue = iter(range(count))

        async def worker() -> None:
            for n in queue:
                await service.record_reply(
                    reply_to=refs[n % 10],
                    source=MessageRef(core.TG, "-100", f"m{n}"),
                    author=Author("Reader", core.TG, str(n % readers)),
                    text=f"comment number {n}",
                )

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(1000)))
        elapsed = time.perf_counter() - started
        shown = 0
        for ref in refs:
            link = await store.resolve_message(ref)
            shown += await store.count_comments(link.article_id) if link else 0
    mode = f"slow mode {slow} s" if slow else "no slow mode"
    mode += ", each reader once" if readers >= count else ""
    mode += ", staff chat set" if staff else ""
    return Result(
        f"4. ingestion capacity, {mode}{core._label(postgres)}",
        f"{count / elapsed:,.0f}/s",
        "(compare with and without)",
        None,
        f"{count:,} replies from {readers:,} readers on 10 stories; {shown:,} shown",
    )


def run(quick: bool) -> list[Result]:
    """Slow mode off and on, with readers writing again (most held; with and without a staff
    chat) and each reader once (the lookups alone), on SQLite and (when a server is there)
    PostgreSQL."""
    count = 5_000 if quick else 50_000
    cases = [
        (0, READERS, False),
        (3600, READERS, False),
        (3600, READERS, True),
        (3600, count, False),
    ]
    results = [
        asyncio.run(capacity(count, slow, None, readers, staff)) for slow, readers, staff in cases
    ]
    server = core.postgres_server()
    if server is not None:
        for slow, readers, staff in cases:
            with core.postgres_database(server) as url:
                results.append(asyncio.run(capacity(count, slow, url, readers, staff)))
    return results
