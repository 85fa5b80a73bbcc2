"""The ingestion variants with reply notices and first-comment holding do what their rows
say: each reply answers a writer's comment, a signed-in writer gets a notice queued, the
first-comment check runs and holds nothing (the reader has a visible comment)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import core, ingest_notices
from bench.core import READER, TG, Prepare
from newsbot import CommentStatus, MessageRef, NewsService
from storage import SqliteStore


async def _one_reply(db: Path, prepare: Prepare) -> tuple[NewsService, CommentStatus]:
    async with SqliteStore(db) as store:
        refs = await core._posted_articles(store, 3)
        service = NewsService(store, mirror=False)
        targets = await core._targets(service, refs, prepare)
        assert targets != refs
        reply = await service.record_reply(
            reply_to=targets[1], source=MessageRef(TG, "-100", "r"), author=READER, text="yes"
        )
        assert reply is not None and reply.parent_id is not None
        parent = await store.get_comment(reply.parent_id)  # the writer's, shown
        assert parent is not None and parent.status is CommentStatus.VISIBLE
        return service, reply.status


def test_writers_told_and_first_comments_checked(tmp_path: Path) -> None:
    everything = ingest_notices.parents(True, True, True)
    service, status = asyncio.run(_one_reply(tmp_path / "n.db", everything))
    assert service.desk_settings.first_time and status is CommentStatus.VISIBLE
    assert service.notifications.queued == 1


def test_nobody_told_and_the_old_check_agrees(tmp_path: Path) -> None:
    service, status = asyncio.run(
        _one_reply(tmp_path / "n.db", ingest_notices.parents(True, False, False))
    )
    assert status is CommentStatus.VISIBLE and service.notifications.queued == 0
    old = ingest_notices.reading_all(ingest_notices.parents(True, True, True))
    service, status = asyncio.run(_one_reply(tmp_path / "old.db", old))
    assert status is CommentStatus.VISIBLE and service.notifications.queued == 1


def test_rows_run_at_small_scale() -> None:
    rows = ingest_notices.run(True, 0.3)
    assert len(rows) == 4 + 2 + 2 and all("replies to comments" in r.name for r in rows[1:4])
