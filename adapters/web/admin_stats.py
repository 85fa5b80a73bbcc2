"""The admin site's figures: ``/admin/stats`` (the newest and the most-discussed articles with
their figures) and ``/admin/stats/ID`` (one article, with charts drawn on the server)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from adapters.web.admin import ADMIN_CACHE, _login_page, _private, _signed_in
from adapters.web.charts import stacked_bars
from adapters.web.context import path_id, render, site, speech
from newsbot.i18n import N_
from newsbot.models import Actor, ArticleId, Platform
from newsbot.stats import duration

RECENT = 50  # the most-discussed are picked among this many of the latest articles
SHOWN = 10


def _by_platform(
    counts: Mapping[tuple[datetime, Platform], int],
) -> dict[tuple[datetime, str], int]:
    return {(at, str(platform)): n for (at, platform), n in counts.items()}


async def stats_page(request: web.Request) -> web.Response:
    """``GET /admin/stats``: the newest and the most-discussed recent articles."""
    if not _signed_in(request):
        return _login_page(request)
    figures = await site(request).service.figures.latest(Actor.operator(), RECENT)
    discussed = sorted(figures, key=lambda f: (-f.comment_total, -f.reaction_total))
    return _private(
        render(
            request,
            "admin_stats.html",
            cache=ADMIN_CACHE,
            newest=figures[:SHOWN],
            discussed=[f for f in discussed if f.comment_total or f.reaction_total][:SHOWN],
            figures=None,
            duration=duration,
        )
    )


async def article_stats_page(request: web.Request) -> web.Response:
    """``GET /admin/stats/ID``: one article's figures with charts over time."""
    if not _signed_in(request):
        return _login_page(request)
    service = site(request).service
    found = await service.figures.article(Actor.operator(), ArticleId(path_id(request)))
    tr = speech(request).tr
    charts = [
        stacked_bars(
            tr.gettext(N_("Comments over time by platform")),
            _by_platform(found.comments_over_time),
            found.bucket,
            "comments",
            empty=tr.gettext(N_("Nothing yet")),
        ),
        stacked_bars(
            tr.gettext(N_("Reactions over time by platform")),
            _by_platform(found.reactions_over_time),
            found.bucket,
            "reactions",
            empty=tr.gettext(N_("Nothing yet")),
        ),
        stacked_bars(
            tr.gettext(N_("Posts delivered over time by platform")),
            _by_platform(found.posts_over_time),
            found.bucket,
            "deliveries",
            empty=tr.gettext(N_("Nothing yet")),
        ),
    ]
    return _private(
        render(
            request,
            "admin_stats.html",
            cache=ADMIN_CACHE,
            figures=found,
            charts=charts,
            names=await service.figures.chat_names(found),
            duration=duration,
        )
    )
