"""The service's Prometheus metrics, defined once; the code that knows a fact records it here.

Jobs by status and the unfinished backlog are read from the `ingestion_commit` table when
Prometheus scrapes (`read_job_table`), not counted at transitions: a job moves on whichever
replica runs that step (the webhook, the orchestrator, a file run, the router's cancel), so a
counter would be split across replicas, start again at every restart and count twice a step that
Inngest retried. The table is the truth for every replica, so each reports the same numbers:
aggregate those gauges with `max`, never `sum`.

Everything else is this replica's own events, counted as they happen: sum it across replicas.
The job histograms count each job the orchestrator ended once (their `_count` by status is the
failure rate's input); a file's histogram is the time of the attempt that produced its outcome.
"""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import inngest
from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from sqlalchemy import func
from sqlmodel import Session, col, select

from service.models import IngestionCommit, IngestionStatus, utc_now

# The `_created` series of every counter and histogram tell Prometheus nothing it needs here.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
REGISTRY = CollectorRegistry()
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR):
    REGISTRY.register(_collector)

UNFINISHED = (IngestionStatus.QUEUED, IngestionStatus.RUNNING)

JOBS = Gauge(
    "docs_ingest_jobs",
    "Jobs in the ingestion_commit table by status, read at scrape time (same on every replica).",
    ["status"],
    registry=REGISTRY,
)
JOBS_UNFINISHED = Gauge(
    "docs_ingest_jobs_unfinished",
    "Jobs queued or running, read at scrape time (same on every replica).",
    registry=REGISTRY,
)
OLDEST_UNFINISHED_AGE = Gauge(
    "docs_ingest_oldest_unfinished_job_age_seconds",
    "Age of the oldest queued or running job, 0 when there is none, read at scrape time.",
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "docs_ingest_job_duration_seconds",
    "From a job's creation (the push received) to its end, by the status it ended with.",
    ["status"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
    registry=REGISTRY,
)
JOB_FILES = Histogram(
    "docs_ingest_job_files",
    "Files a job planned (to index, delete or skip), by the status it ended with.",
    ["status"],
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000),
    registry=REGISTRY,
)
FILES = Counter(
    "docs_ingest_files",
    "Files whose outcome a file run recorded, by action (process, delete) and status.",
    ["action", "status"],
    registry=REGISTRY,
)
FILE_DURATION = Histogram(
    "docs_ingest_file_duration_seconds",
    "A file run's time for one file (read, chunk, embed, write; or delete), by action and status.",
    ["action", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
    registry=REGISTRY,
)
EMBEDDING_REQUESTS = Counter(
    "docs_ingest_embedding_requests",
    "Embedding requests sent (to the provider, or one batch through the local model), by model.",
    ["model"],
    registry=REGISTRY,
)
EMBEDDING_TOKENS = Counter(
    "docs_ingest_embedding_tokens",
    "Tokens of the embedding requests answered, as the service counts them, by model.",
    ["model"],
    registry=REGISTRY,
)
EMBEDDING_ERRORS = Counter(
    "docs_ingest_embedding_errors",
    "Embedding requests that failed, by model and kind: rate_limited (429), server_error (5xx), "
    "refused (another HTTP error), unreachable (no answer), invalid_answer, or the error's type.",
    ["model", "kind"],
    registry=REGISTRY,
)
EMBEDDING_DURATION = Histogram(
    "docs_ingest_embedding_request_duration_seconds",
    "Time of one embedding request, by model.",
    ["model"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
INNGEST_DURATION = Histogram(
    "docs_ingest_inngest_api_request_duration_seconds",
    "Time of a call to the Inngest API (event sends and the REST runs API), by operation.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
INNGEST_ERRORS = Counter(
    "docs_ingest_inngest_api_errors",
    "Calls to the Inngest API that failed, by operation and kind (the error's type).",
    ["operation", "kind"],
    registry=REGISTRY,
)

_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def read_job_table(session: Session) -> None:
    """Set the table-backed gauges from one read of `ingestion_commit` (status is indexed)."""
    counts = dict(
        session.exec(
            select(IngestionCommit.status, func.count()).group_by(col(IngestionCommit.status))
        ).all()
    )
    for status in IngestionStatus:
        JOBS.labels(status.value).set(counts.get(status, 0))
    JOBS_UNFINISHED.set(sum(counts.get(status, 0) for status in UNFINISHED))
    oldest = session.exec(
        select(func.min(IngestionCommit.created_at)).where(
            col(IngestionCommit.status).in_(UNFINISHED)
        )
    ).one()
    OLDEST_UNFINISHED_AGE.set(max(0.0, (utc_now() - oldest).total_seconds()) if oldest else 0)


def forget_job_table() -> None:
    """Serve no table-backed numbers rather than stale ones when the table cannot be read."""
    JOBS.clear()
    JOBS_UNFINISHED.set(float("nan"))
    OLDEST_UNFINISHED_AGE.set(float("nan"))


def job_ended(job: IngestionCommit) -> None:
    status = job.status.value
    if job.processed_at is not None:
        JOB_DURATION.labels(status).observe((job.processed_at - job.created_at).total_seconds())
    JOB_FILES.labels(status).observe(job.files_total)


def file_ended(action: str, status: str, started: datetime | None = None) -> None:
    """A file's outcome; `started`, when the run did the file's work, times it."""
    FILES.labels(action, status).inc()
    if started is not None:
        FILE_DURATION.labels(action, status).observe((utc_now() - started).total_seconds())


@contextmanager
def embedding_request(model: str, tokens: int) -> Iterator[None]:
    """Count and time one embedding request; its tokens when it is answered."""
    EMBEDDING_REQUESTS.labels(model).inc()
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        EMBEDDING_ERRORS.labels(model, _embedding_error_kind(exc)).inc()
        raise
    finally:
        EMBEDDING_DURATION.labels(model).observe(time.perf_counter() - started)
    EMBEDDING_TOKENS.labels(model).inc(tokens)


@contextmanager
def inngest_call(operation: str) -> Iterator[None]:
    """Time one call to the Inngest API and count its failure by the error's type."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        INNGEST_ERRORS.labels(operation, error_kind(exc)).inc()
        raise
    finally:
        INNGEST_DURATION.labels(operation).observe(time.perf_counter() - started)


async def send_events(client: inngest.Inngest, events: list[inngest.Event]) -> list[str]:
    """`client.send`, timed and its failures counted."""
    with inngest_call("send_events"):
        return await client.send(events)


def error_kind(exc: BaseException) -> str:
    """An exception's type as a label value: `SendEventsError` → `send_events_error`."""
    return _WORD_START.sub("_", type(exc).__name__).lower()


def _embedding_error_kind(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        if status == 429:
            return "rate_limited"
        return "server_error" if status >= 500 else "refused"
    retriable = getattr(exc, "retriable", None)
    if retriable is not None:  # an EmbeddingError without an HTTP status
        return "unreachable" if retriable else "invalid_answer"
    return error_kind(exc)
