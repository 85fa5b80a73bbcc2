"""Operations endpoints every worker serves: ``/healthz`` and ``/metrics`` (Prometheus).

``/healthz`` answers 200 once the database answers (ready), 503 while it does not (the
process is alive either way; ``/healthz/live`` says only that). ``/metrics`` is the
Prometheus text format through prometheus-client: what the outbox holds, what this worker
sent, the roles it holds, comments stored, ingestion batch latency, database errors.

They are served on a listener of their own (``OpsListener``, ``NEWSBOT_OPS_HOST`` and
``NEWSBOT_OPS_PORT``), and then not on the site; without one, on the site, where the reverse
proxy must block them (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.web.connections import HEADER_TIMEOUT, CappedRunner, add_body_deadline
from adapters.web.context import log
from adapters.web.figure_metrics import figure_metrics
from newsbot import Dispatcher, NewsService, Platform, Roles
from newsbot.errors import ConfigError, StorageError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEALTH_TIMEOUT = 2.0
OPS_MAX_CONNECTIONS = 64  # scrapers and health checks, not readers


@dataclass
class Sources:
    """Where the figures come from; bot.py fills it in as the parts start.

    Attributes:
        service: the service (it answers the outbox and database figures).
        worker: this worker's id.
        dispatcher: the outbox worker, for sends by outcome.
        roles: the role holder, for the roles held.
        rate_limit_answers: per platform, how many 429 answers the platform gave this worker.
    """

    service: NewsService
    worker: str = ""
    dispatcher: Dispatcher | None = None
    roles: Roles | None = None
    rate_limit_answers: Callable[[], Mapping[str, int]] = field(default=lambda: {})


class _Snapshot(Collector):
    """The figures read for one scrape (the outbox needs awaited queries, which a
    prometheus-client collector cannot make)."""

    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


class Operations:
    """The two endpoints and the registry behind ``/metrics``."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.registry = CollectorRegistry(auto_describe=False)
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)
        self.batches = Histogram(
            "newsbot_ingest_batch_seconds",
            "Time to store one group-commit batch of incoming comments.",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        sources.service.observe_ingest(lambda seconds, _size: self.batches.observe(seconds))
        self._lock = asyncio.Lock()

    def routes(self) -> list[web.RouteDef]:
        """The routes to add to the site."""
        return [
            web.get("/healthz", self.health),
            web.get("/healthz/live", self.live),
            web.get("/metrics", self.metrics),
        ]

    async def live(self, request: web.Request) -> web.Response:
        """``GET /healthz/live``: the process answers."""
        return web.json_response({"alive": True}, headers={"Cache-Control": "no-store"})

    async def health(self, request: web.Request) -> web.Response:
        """``GET /healthz``: 200 when the database answers within two seconds, else 503."""
        started = time.perf_counter()
        body: dict[str, Any] = {"alive": True, "worker": self.sources.worker}
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await self.sources.service.health()
        except (StorageError, TimeoutError) as exc:
            body.update(ready=False, error=str(exc) or "the database did not answer in time")
            status = 503
        else:
            body["ready"] = True
            status = 200
        body["database_seconds"] = round(time.perf_counter() - started, 4)
        if self.sources.roles is not None:
            body["roles"] = list(self.sources.roles.held)
        return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})

    async def metrics(self, request: web.Request) -> web.Response:
        """``GET /metrics``: the Prometheus text format."""
        async with self._lock:  # one scrape at a time shares the snapshot
            self._snapshot.metrics = await self._read()
            text = generate_latest(self.registry)
        return web.Response(
            body=text, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
        )

    async def _read(self) -> list[Metric]:
        sources = self.sources
        service = sources.service
        metrics: list[Metric] = []
        errors = GaugeMetricFamily(
            "newsbot_database_up", "1 when the database answered this scrape's queries."
        )
        try:
            counts = await service.delivery_counts()
            due = {p: await service.next_due(p) for p in (Platform.TELEGRAM, Platform.DISCORD)}
        except StorageError:
            errors.add_metric([], 0)
            counts, due = {}, {}
        else:
            errors.add_metric([], 1)
        metrics.append(errors)
        deliveries = GaugeMetricFamily(
            "newsbot_deliveries",
            "Deliveries in the outbox by platform and state.",
            labels=["platform", "state"],
        )
        for (platform, state), count in sorted(counts.items()):
            deliveries.add_metric([str(platform), str(state)], count)
        metrics.append(deliveries)
        oldest = GaugeMetricFamily(
            "newsbot_oldest_due_delivery_age_seconds",
            "How long the earliest due delivery has been waiting (0 when none is due).",
            labels=["platform"],
        )
        now = service.clock.now()
        for platform, when in due.items():
            age = 0.0 if when is None else max((now - when).total_seconds(), 0.0)
            oldest.add_metric([str(platform)], age)
        metrics.append(oldest)
        sends = CounterMetricFamily(
            "newsbot_sends",
            "Deliveries this worker attempted, by platform and outcome.",
            labels=["platform", "outcome"],
        )
        if sources.dispatcher is not None:
            for (sender, outcome), count in sorted(sources.dispatcher.outcomes.items()):
                sends.add_metric([sender, outcome], count)
        metrics.append(sends)
        answers = CounterMetricFamily(
            "newsbot_platform_rate_limited",
            "Answers of 429 (rate limited) the platforms gave this worker.",
            labels=["platform"],
        )
        for limited, count in sorted(sources.rate_limit_answers().items()):
            answers.add_metric([limited], count)
        metrics.append(answers)
        stored = CounterMetricFamily(
            "newsbot_comments_stored", "Comments this worker stored (created, not repeats)."
        )
        stored.add_metric([], service.comments_stored)
        metrics.append(stored)
        db_errors = CounterMetricFamily(
            "newsbot_database_errors", "Database operations that failed in this worker."
        )
        db_errors.add_metric([], float(service.storage_errors()))
        metrics.append(db_errors)
        roles = GaugeMetricFamily(
            "newsbot_role_held", "1 for each role this worker holds.", labels=["role", "worker"]
        )
        if sources.roles is not None:
            for role in sources.roles.wanted:
                roles.add_metric([role, sources.worker], 1 if sources.roles.holds(role) else 0)
        metrics.append(roles)
        return metrics + await figure_metrics(service)


class OpsListener:
    """The operations endpoints on an address of their own, apart from the site.

    A private address (loopback, an internal network) that only the monitoring reaches,
    so ``/metrics`` and ``/healthz`` do not depend on the reverse proxy's rules and no
    visitor of the site reaches them.

    Args:
        ops: the endpoints.
        host: the address to listen on.
        port: the TCP port; 0 picks a free one (see ``url`` after ``start``).
    """

    def __init__(self, ops: Operations, host: str = "127.0.0.1", port: int = 9090) -> None:
        self.ops = ops
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The address served (with the real port once started)."""
        port = self.port
        if self._runner is not None and self._runner.addresses:
            port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    async def start(self) -> None:
        """Start serving.

        Raises:
            ConfigError: the address cannot be listened on (the port is taken, say).
        """
        app = web.Application()
        app.router.add_routes(self.ops.routes())
        add_body_deadline(app, HEADER_TIMEOUT)
        runner = CappedRunner(
            app,
            shutdown_timeout=2.0,
            keepalive_timeout=HEADER_TIMEOUT,
            max_connections=OPS_MAX_CONNECTIONS,
            max_per_client=OPS_MAX_CONNECTIONS,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"The operations endpoints cannot listen on {self.host}:{self.port} "
                f"({exc.strerror or exc}). Set NEWSBOT_OPS_PORT to a free port (and "
                "NEWSBOT_OPS_HOST to an address of this machine), or leave it empty to serve "
                "them on the site."
            ) from exc
        self._runner = runner
        log.info("operations endpoints serving", extra={"url": self.url})

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
