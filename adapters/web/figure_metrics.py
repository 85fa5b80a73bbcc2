"""The article figures' totals on ``/metrics``: reactions per platform and web views."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from newsbot.errors import StorageError
from newsbot.service import NewsService


async def figure_metrics(service: NewsService) -> list[Metric]:
    """Every reaction stored per platform, and every web view counted (all workers, as far
    as flushed); nothing when the database does not answer."""
    try:
        views, reactions = await service.figures.totals()
    except StorageError:
        return []
    by_platform = GaugeMetricFamily(
        "newsbot_reactions",
        "Reactions stored, by platform (banned readers' included).",
        labels=["platform"],
    )
    for platform, count in sorted(reactions.items()):
        by_platform.add_metric([str(platform)], count)
    seen = GaugeMetricFamily(
        "newsbot_web_views", "Article page views counted by every worker (flushed so far)."
    )
    seen.add_metric([], views)
    return [by_platform, seen]
