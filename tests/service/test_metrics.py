"""What the metrics count where the facts are known: embedding requests and their errors by kind,
Inngest API calls and their errors, and the job table read at scrape time."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from router.inngest_api import InngestApi, NotFound, Unavailable
from service import metrics
from service.db import create_db_engine, migrate, session_scope
from service.embeddings import LocalEmbedder
from service.models import IngestionStatus, Provider
from service.repositories import connect
from tests.router.jobs_factory import make_job
from tests.service.test_embeddings import embeddings_answer
from tests.service.test_shared_embeddings import shared

ENGINE = "http://127.0.0.1:8288"
INNGEST = "docs_ingest_inngest_api"


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limited"), (503, "server_error"), (401, "refused")],
)
def test_a_failed_embedding_request_is_counted_by_kind(
    openai_router: respx.Router, status: int, kind: str
) -> None:
    async def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "no"}})

    embedder = shared(openai_router, server)
    before = sample("docs_ingest_embedding_errors_total", model=embedder.model, kind=kind)
    tokens = sample("docs_ingest_embedding_tokens_total", model=embedder.model)

    with pytest.raises(Exception, match=f"HTTP {status}"):
        asyncio.run(embedder.embed(["one chunk"]))

    after = sample("docs_ingest_embedding_errors_total", model=embedder.model, kind=kind)
    assert after - before == 1
    assert sample("docs_ingest_embedding_tokens_total", model=embedder.model) == tokens


def test_an_answered_embedding_request_counts_its_tokens(openai_router: respx.Router) -> None:
    async def server(request: httpx.Request) -> httpx.Response:
        return embeddings_answer(request)

    embedder = shared(openai_router, server)
    texts = ["the first chunk", "the second chunk, a little longer"]
    requests = sample("docs_ingest_embedding_requests_total", model=embedder.model)
    tokens = sample("docs_ingest_embedding_tokens_total", model=embedder.model)

    asyncio.run(embedder.embed(texts))

    assert sample("docs_ingest_embedding_requests_total", model=embedder.model) - requests == 1
    sent = sum(embedder.count_tokens(text) for text in texts)
    assert sample("docs_ingest_embedding_tokens_total", model=embedder.model) - tokens == sent


@pytest.fixture
def api() -> Iterator[tuple[respx.Router, InngestApi]]:
    router = respx.Router(base_url=ENGINE, assert_all_called=False)
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    yield router, InngestApi(http, ENGINE)
    asyncio.run(http.aclose())


def test_inngest_api_calls_are_timed_and_their_errors_counted_by_kind(
    api: tuple[respx.Router, InngestApi],
) -> None:
    router, client = api
    router.get("/v1/runs/gone").respond(404, json={"error": "run not found"})
    router.get("/v1/runs/down").mock(side_effect=httpx.ConnectError("refused"))
    router.get("/v1/events").respond(200, json={"data": []})

    def counts() -> dict[str, float]:
        return {
            "runs": sample(f"{INNGEST}_request_duration_seconds_count", operation="run"),
            "not found": sample(f"{INNGEST}_errors_total", operation="run", kind="not_found"),
            "down": sample(f"{INNGEST}_errors_total", operation="run", kind="unavailable"),
            "pings": sample(f"{INNGEST}_request_duration_seconds_count", operation="ping"),
            "ping errors": sample(f"{INNGEST}_errors_total", operation="ping", kind="unavailable"),
        }

    before = counts()
    with pytest.raises(NotFound):
        asyncio.run(client.run("gone"))
    with pytest.raises(Unavailable):
        asyncio.run(client.run("down"))
    asyncio.run(client.ping())
    after = counts()

    grown = {name: after[name] - before[name] for name in before}
    assert grown == {"runs": 2, "not found": 1, "down": 1, "pings": 1, "ping errors": 0}


def test_the_job_gauges_are_the_table_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    migrate(url)
    db = create_db_engine(url)
    with session_scope(db) as session:
        repository = connect(
            session,
            provider=Provider.LOCAL,
            full_name="handbook",
            external_id="local:handbook",
            default_branch="main",
            embedder=LocalEmbedder(),
        )
    statuses = [IngestionStatus.PROCESSED] * 3 + [IngestionStatus.FAILED, IngestionStatus.QUEUED]
    for status in statuses:
        make_job(db, repository, status=status)

    with session_scope(db) as session:
        metrics.read_job_table(session)
    db.dispose()

    assert sample("docs_ingest_jobs", status="processed") == 3
    assert sample("docs_ingest_jobs", status="failed") == 1
    assert sample("docs_ingest_jobs", status="queued") == 1
    assert sample("docs_ingest_jobs", status="cancelled") == 0
    assert sample("docs_ingest_jobs_unfinished") == 1
    # make_job dates a job 30 s back
    assert 30 <= sample("docs_ingest_oldest_unfinished_job_age_seconds") < 3600
