"""The engine's Prometheus metrics, served at `GET /metrics` in the text format.

Runs by status and the queued calls are read from the store when Prometheus scrapes (a custom
collector), not counted at transitions: the SQLite file is the truth across restarts, and a
resumed engine reports what it holds. Everything else counts this process's own SDK calls: their
latency by function, the attempts after the first (retries) and the failures by kind.

Each engine has its own registry, so several engines in one process (the tests) never share or
clash over a metric. Every name starts with `docs_ingest_engine_`.
"""

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.consts import Opcode, RunStatus
from engine.outcomes import CallFailed, FailureKind, Outcome, Reported
from engine.store import Store

# The `_created` series of every counter and histogram tell Prometheus nothing it needs here.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client

PREFIX = "docs_ingest_engine_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_STEP_ERRORS = {Opcode.STEP_ERROR.value, Opcode.STEP_FAILED.value}


class StoreCollector(Collector):
    """The gauges read from the store at scrape time: one GROUP BY over runs, one pass over the
    queue's calls."""

    def __init__(
        self, store: Store, now: Callable[[], int], leased: Callable[[], Iterable[int]]
    ) -> None:
        self.store = store
        self.now = now
        self.leased = leased

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(
            PREFIX + "runs",
            "Runs in the engine's store by status, read at scrape time.",
            labels=["status"],
        )
        counts = self.store.run_counts()
        for status in RunStatus:
            runs.add_metric([status.value], counts.get(status.value, 0))
        yield runs
        queued = GaugeMetricFamily(
            PREFIX + "queued_calls",
            "SDK calls in the queue by state: in_flight, ready (due, waiting for a worker),"
            " delayed (due later) and parked (held by a full concurrency key).",
            labels=["state"],
        )
        for state, count in self.store.queued_calls(self.now(), self.leased()).items():
            queued.add_metric([state], count)
        yield queued


class EngineMetrics:
    """One engine's registry; `call_made` records an SDK call once its outcome is known."""

    def __init__(
        self, store: Store, now: Callable[[], int], leased: Callable[[], Iterable[int]]
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(store, now, leased))
        self.step_duration = Histogram(
            PREFIX + "step_duration_seconds",
            "Time of one SDK call (a step, or the discovery of the next), by function.",
            ["function"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.retries = Counter(
            PREFIX + "retries",
            "SDK calls that were a retry (an attempt after the first), by function.",
            ["function"],
            registry=self.registry,
        )
        self.errors = Counter(
            PREFIX + "call_errors",
            "SDK calls that failed, by function and kind: unreachable, refused, invalid_answer,"
            " function (the function raised) or step (a step raised).",
            ["function", "kind"],
            registry=self.registry,
        )

    def call_made(self, function: str, attempt: int, seconds: float, outcome: Outcome) -> None:
        self.step_duration.labels(function).observe(seconds)
        if attempt > 0:
            self.retries.labels(function).inc()
        if isinstance(outcome, CallFailed):
            self.errors.labels(function, outcome.kind.value).inc()
        elif isinstance(outcome, Reported):
            failed = sum(
                1 for op in outcome.ops if isinstance(op, dict) and op.get("op") in _STEP_ERRORS
            )
            if failed:
                self.errors.labels(function, FailureKind.STEP.value).inc(failed)

    def render(self) -> bytes:
        return generate_latest(self.registry)
