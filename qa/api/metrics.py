"""Prometheus metrics: requests and latency by route and status, index size, stage times."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from qa.pipeline import Pipeline, Timings

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _IndexCollector(Collector):
    """Reads the index size at scrape time, so it is right after writes by other processes."""

    def __init__(self, pipeline: Callable[[], Pipeline | None]) -> None:
        self._pipeline = pipeline

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Documents and passages in the index (absent while it loads)."""
        pipeline = self._pipeline()
        if pipeline is None:
            return
        stats = pipeline.stats()
        yield GaugeMetricFamily("qa_index_documents", "Documents in the index.", stats["documents"])
        yield GaugeMetricFamily("qa_index_passages", "Passages in the index.", stats["passages"])


class Metrics:
    """One registry per app (tests build many apps in one process).

    With `shared_dir` (QA_METRICS_DIR; `qa serve --workers N` sets one up), every
    worker writes its counts to files there and a scrape adds up all the workers' files, so
    whichever worker answers reports the service's totals.
    """

    def __init__(self, shared_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()  # what /metrics reports
        counted = self.registry
        if shared_dir is not None:
            counted = CollectorRegistry()  # never scraped: the files hold this worker's counts
            MultiProcessCollector(self.registry, path=str(shared_dir))  # type: ignore[no-untyped-call]
        self.requests = Counter(
            "qa_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=counted,
        )
        self.latency = Histogram(
            "qa_http_request_duration_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=counted,
        )
        self.stages = Histogram(
            "qa_stage_duration_seconds",
            "Time spent embedding the query, searching and answering, by operation.",
            ["operation", "stage"],
            buckets=STAGE_BUCKETS,
            registry=counted,
        )
        self._pipeline: Pipeline | None = None
        self.registry.register(_IndexCollector(lambda: self._pipeline))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a finished request and its latency."""
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def observe_timings(self, operation: str, timings: Timings) -> None:
        """Record the embed, search, answer and reader time of one ask or search."""
        self.stages.labels(operation, "embed").observe(timings.embed)
        self.stages.labels(operation, "search").observe(timings.search)
        if operation == "ask":
            self.stages.labels(operation, "answer").observe(timings.answer)
            self.stages.labels(operation, "read").observe(timings.read)

    def bind(self, pipeline: Pipeline | None) -> None:
        """Listen to the pipeline's timings (once; the pipeline loads after the app starts)."""
        if pipeline is None or pipeline is self._pipeline:
            return
        self._pipeline = pipeline
        pipeline.timing_listeners.append(self.observe_timings)


metrics_router = APIRouter(tags=["operations"])


@metrics_router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format (with several workers, the totals of all of them)."""
    from prometheus_client import generate_latest

    state = request.app.state
    state.metrics.bind(state.pipeline)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
