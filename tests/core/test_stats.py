"""Article figures (pure): deliveries and reach, comments over time, reactions, views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsbot.models import (
    Article,
    ArticleId,
    ArticleStatus,
    Author,
    DeliveryState,
    Platform,
)
from newsbot.reactions import ReactionCounts, Tally
from newsbot.stats import (
    CommentTime,
    PostTime,
    as_dict,
    bucket_width,
    figures,
    source_of,
    summary,
    tagged_url,
)

T = datetime(2026, 3, 1, 12, tzinfo=UTC)
TG, DC, WEB = Platform.TELEGRAM, Platform.DISCORD, Platform.WEB
ARTICLE = Article(
    ArticleId(7),
    "Title",
    "Body",
    "",
    None,
    None,
    Author("Ada", Platform.CLI, "cli"),
    (),
    ArticleStatus.PUBLISHED,
    T,
    T,
    T,
    1,
)


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def test_reach_waits_for_every_post_and_ignores_dead_ones() -> None:
    posts = [
        PostTime(TG, DeliveryState.SENT, at(1), "d1"),
        PostTime(DC, DeliveryState.PENDING, None, "d2"),
        PostTime(DC, DeliveryState.DEAD, None, "d3"),
    ]
    some = figures(ARTICLE, posts, [], ReactionCounts(ARTICLE.id), {}, at(10))
    assert (some.reached, some.posts, some.reach_seconds) == (1, 2, None)
    assert some.deliveries[(DC, DeliveryState.DEAD)] == 1
    posts[1] = PostTime(DC, DeliveryState.PENDING, at(3), "d2")  # sent, an edit waiting
    done = figures(ARTICLE, posts, [], ReactionCounts(ARTICLE.id), {}, at(10))
    assert (done.reached, done.posts, done.reach_seconds) == (2, 2, 180.0)
    assert done.deliveries[(DC, DeliveryState.SENT)] == 1


def test_comments_reactions_and_views() -> None:
    comments = [
        CommentTime(TG, at(1)),
        CommentTime(DC, at(2)),
        CommentTime(TG, at(7)),
        CommentTime(WEB, at(8), visible=False),
    ]
    counts = ReactionCounts(ARTICLE.id, Tally({(TG, "👍"): 3}), {})
    views = {"": 4, "d1": 6}
    f = figures(ARTICLE, [], comments, counts, views, at(30))
    assert f.comments == {DC: 1, TG: 2}
    assert f.bucket == 300.0
    assert f.comments_over_time == {(T, TG): 1, (T, DC): 1, (at(5), TG): 1}
    assert f.reaction_total == 3 and f.views == 10 and list(f.arrivals) == ["d1", ""]
    lines = summary(f, {"d1": "telegram News"})
    assert lines[2] == "Comments: 3 (discord 1, telegram 2)"
    assert lines[3] == "Reactions: 3 (👍 3)"
    assert lines[4] == "Web views: 10 (from telegram News 6, elsewhere 4)"
    data = as_dict(f)
    assert data["reactions"] == {"telegram": {"👍": 3}} and data["arrivals"] == {"d1": 6, "": 4}


def test_buckets_and_sources() -> None:
    assert bucket_width(T, at(60)) == timedelta(minutes=5)
    assert bucket_width(T, at(60 * 30)) == timedelta(hours=1)
    assert bucket_width(T, T + timedelta(days=400)) >= timedelta(days=8)
    assert tagged_url("https://x/articles/1", 5) == "https://x/articles/1?via=d5"
    assert tagged_url("https://x/a?b=1", 5) == "https://x/a?b=1&via=d5"
    assert source_of("d12") == "d12"
    for bad in (None, "", "d", "x12", "d1²", "d" + "9" * 19, "d-1"):
        assert source_of(bad) == ""
