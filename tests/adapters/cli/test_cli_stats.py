"""``bot.py stats``: the figures match the events that happened."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from newsbot import (
    Actor,
    ArticleDraft,
    Author,
    DestinationKind,
    MessageRef,
    NewDestination,
    NewsService,
    Platform,
    Posted,
)
from newsbot.models import NewComment
from newsbot.reactions import ReactionEvent, ReactionOp
from storage import SqliteStore
from tests.adapters.cli.test_cli import cli


async def _events(path: Path) -> int:
    async with SqliteStore(path) as store:
        service = NewsService(store, public_url="https://news.example")
        now = service.clock.now()
        for chat in ("-1", "-2"):
            await store.add_destination(
                NewDestination(Platform.TELEGRAM, chat, DestinationKind.CHANNEL, f"Chat {chat}"),
                now,
            )
        change = await service.publish(Actor.operator(), ArticleDraft("Figures", "Body"))
        article = change.article
        now = service.clock.now()
        jobs = await store.claim_deliveries(Platform.TELEGRAM, now, 10)
        assert len(jobs) == 2
        for n, job in enumerate(jobs):
            ref = MessageRef(Platform.TELEGRAM, job.destination.chat_id, f"p{n}")
            await store.complete_delivery(
                job.delivery, Posted(ref.message_id, links=(ref,)), now + timedelta(seconds=n + 1)
            )
        for n, platform in enumerate((Platform.TELEGRAM, Platform.TELEGRAM, Platform.DISCORD)):
            await store.add_comment(
                NewComment(
                    article.id,
                    None,
                    Author(f"R{n}", platform, str(n)),
                    f"comment {n}",
                    MessageRef(platform, "-1", f"c{n}"),
                    now + timedelta(minutes=n),
                )
            )
        post = MessageRef(Platform.TELEGRAM, "-1", "p0")
        await service.reactions.record(
            [
                ReactionEvent(post, ReactionOp.SET, now, "7", ("👍",)),
                ReactionEvent(post, ReactionOp.SET, now, "8", ("👍", "🔥")),
            ]
        )
        await service.figures.add_views([(article.id, "d1", 5), (article.id, "", 2)])
        return article.id


async def test_the_stats_command_shows_what_happened(tmp_path: Path) -> None:
    article_id = await _events(tmp_path / "cli.db")
    data = json.loads(cli(tmp_path, "stats", str(article_id), "--json").stdout)
    assert data["deliveries"] == [{"platform": "telegram", "state": "sent", "count": 2}]
    assert (data["reached"], data["posts"]) == (2, 2)
    assert data["reach_seconds"] is not None and 1 <= data["reach_seconds"] < 60
    assert data["comments"] == {"discord": 1, "telegram": 2}
    assert sum(b["count"] for b in data["comments_over_time"]) == 3
    assert data["reactions"] == {"telegram": {"👍": 2, "🔥": 1}}
    assert (data["views"], data["arrivals"]) == (7, {"d1": 5, "": 2})
    human = cli(tmp_path, "stats", str(article_id)).stdout
    assert "Posts: 2 of 2 sent" in human
    assert "Reactions: 3 (👍 2 🔥 1)" in human
    assert "Web views: 7 (from telegram Chat -1 5, elsewhere 2)" in human
    latest = cli(tmp_path, "stats").stdout.splitlines()
    assert latest[0].split()[:3] == ["ID", "SENT", "REACH"]
    assert latest[1].split()[:2] == [str(article_id), "2/2"]
