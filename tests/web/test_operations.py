"""/healthz, /readyz, /metrics and the JSON logs: the real app, SQLite, Qdrant Edge and engine."""

import io
import json
import logging
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fastapi
import pytest
import yaml
from fastapi.responses import JSONResponse
from prometheus_client.parser import text_string_to_metric_families

from cli.pushes import head_of, push_payload
from router.inngest_api import hash_signing_key
from service import logs, metrics
from service.db import session_scope
from service.repositories import ensure_org
from service.settings import Settings
from service.tokens import issue_token
from tests.e2e.system import (
    BRANCH,
    EVENT_KEY,
    SIGNING_KEY,
    System,
    page,
    prose,
    running_system,
)
from tests.engine.harness import AppThread
from tests.router.service import running_router
from web.operations import READY_TIMEOUT_S
from web.webhooks import signature_of


@contextmanager
def json_logs(level: int = logging.INFO, **settings: Any) -> Iterator[list[dict[str, Any]]]:
    """Every line the process logs meanwhile, through the handler `LOG_FORMAT=json` installs;
    the list fills when the block ends."""
    stream = io.StringIO()
    handler = logs.handler(Settings(LOG_FORMAT="json", **settings), stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def three_pages(system: System) -> None:
    system.repo.write(
        {
            f"docs/{topic}.md": page(topic.title(), ("Usage", prose(topic, 6)))
            for topic in ("install", "deploy", "upgrade")
        }
    )
    system.repo.commit("three pages")


# --- /healthz and /readyz ----------------------------------------------------------------------


def test_healthz_answers_while_the_process_serves(tmp_path: Path) -> None:
    with running_router(tmp_path) as router:
        answer = router.client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_is_ready_when_database_vectors_and_inngest_answer(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        answer = system.http.get("/readyz")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "vectors": {"status": "ok"},
            "inngest": {"status": "ok"},
        },
    }


def test_readyz_is_503_naming_inngest_when_it_cannot_be_reached(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:  # its engine port has nothing listening
        answer = router.client.get("/readyz")

    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == {"status": "ok"}
    assert checks["vectors"] == {"status": "ok"}
    assert checks["inngest"]["status"] == "error"
    assert "could not be reached" in checks["inngest"]["reason"]


def test_readyz_answers_in_its_time_when_inngest_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as hung:  # takes connections (the kernel's backlog), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        monkeypatch.setenv("INNGEST_DEV", url)  # the SDK reads it itself
        with running_router(tmp_path, INNGEST_DEV=url) as router:
            answer = router.client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["checks"]["inngest"] == {
        "status": "error",
        "reason": f"no answer within {READY_TIMEOUT_S:g} s",
    }


def test_readyz_names_a_vector_folder_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "qdrant").write_text("a file where Qdrant Edge's folder should be")
    with running_router(tmp_path) as router:
        answer = router.client.get("/readyz")

    assert answer.status_code == 503
    vectors = answer.json()["checks"]["vectors"]
    assert vectors["status"] == "error"
    assert "cannot write" in vectors["reason"]


# --- /metrics ----------------------------------------------------------------------------------


def test_metrics_count_a_real_ingestion(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        before = samples(system.http.get("/metrics").text)
        three_pages(system)
        job = system.finished(system.push(before=None))
        answer = system.http.get("/metrics")
        after = samples(answer.text)

    assert job.status.value == "processed"
    assert answer.headers["content-type"].startswith("text/plain")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # The table's numbers: this test's database holds this one job.
    assert value(after, "docs_ingest_jobs", status="processed") == 1
    assert value(after, "docs_ingest_jobs", status="running") == 0
    assert value(after, "docs_ingest_jobs_unfinished") == 0
    # This replica's events.
    assert grew("docs_ingest_job_files_count", status="processed") == 1
    assert grew("docs_ingest_job_files_sum", status="processed") == 3
    assert grew("docs_ingest_job_duration_seconds_count", status="processed") == 1
    assert grew("docs_ingest_files_total", action="process", status="processed") == 3
    assert (
        grew("docs_ingest_file_duration_seconds_count", action="process", status="processed") == 3
    )
    model = system.services.embedder.model
    assert grew("docs_ingest_embedding_requests_total", model=model) >= 1
    assert grew("docs_ingest_embedding_tokens_total", model=model) > 0
    assert (
        grew("docs_ingest_inngest_api_request_duration_seconds_count", operation="send_events") >= 1
    )


def test_metrics_show_the_backlog_of_a_job_that_could_not_start(
    tmp_path: Path, database_url: str
) -> None:
    # No engine listens: the push's event cannot be sent.
    with running_router(tmp_path, database_url) as router:
        repository, repo = router.local_repository("handbook")
        repo.write({"README.md": "# Handbook\n"})
        repo.commit("first")
        answer = _deliver(router.client, repository, repo.path, delivery=str(uuid.uuid4()))
        scraped = samples(router.client.get("/metrics").text)

    assert answer.status_code == 503
    assert value(scraped, "docs_ingest_jobs", status="queued") == 1
    assert value(scraped, "docs_ingest_jobs_unfinished") == 1
    assert value(scraped, "docs_ingest_oldest_unfinished_job_age_seconds") > 0
    assert (
        value(
            scraped,
            "docs_ingest_inngest_api_errors_total",
            operation="send_events",
            kind="send_events_error",
        )
        >= 1
    )


def _deliver(client: Any, repository: Any, path: Path, *, delivery: str) -> Any:
    payload = push_payload(
        path,
        branch=BRANCH,
        before=None,
        after=head_of(path, BRANCH),
        repository_id=repository.external_id,
        full_name=repository.full_name,
    )
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": signature_of(repository.webhook_secret, body),
    }
    return client.post("/webhooks/github", content=body, headers=headers)


ALERTS = Path(__file__).parents[2] / "deploy" / "prometheus-alerts.yml"
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}


def test_the_example_alert_rules_load_and_use_only_metrics_the_service_exports() -> None:
    exported = {
        family.name + suffix
        for family in metrics.REGISTRY.collect()
        for suffix in SERIES_SUFFIXES.get(family.type, ())
    }
    [group] = yaml.safe_load(ALERTS.read_text())["groups"]
    rules = group["rules"]

    assert {"DocsIngestJobFailureRate", "DocsIngestFileLatencyP95", "DocsIngestJobLatencyP95"} <= {
        rule["alert"] for rule in rules
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        used = set(re.findall(r"\bdocs_ingest_\w+", rule["expr"]))
        assert used and used <= exported, (rule["alert"], used - exported)


# --- structured logs ---------------------------------------------------------------------------


def test_json_logs_carry_the_job_and_delivery_of_a_webhook_delivery(
    tmp_path: Path, database_url: str
) -> None:
    delivery = str(uuid.uuid4())
    with running_router(tmp_path, database_url) as router, json_logs() as lines:
        repository, repo = router.local_repository("handbook")
        repo.write({"README.md": "# Handbook\n"})
        repo.commit("first")
        answer = _deliver(router.client, repository, repo.path, delivery=delivery)

    assert answer.status_code == 503  # no engine: the job's event could not be sent
    job_id = answer.json()["job_id"]
    [line] = [line for line in lines if "could not send" in line["message"]]
    assert line["level"] == "WARNING"
    assert line["logger"] == "web.webhooks"
    assert line["job_id"] == job_id
    assert line["delivery_id"] == delivery
    assert line["repository"] == "handbook"
    assert line["time"].endswith("+00:00")


def test_json_logs_of_a_function_carry_its_run_and_job(tmp_path: Path) -> None:
    with running_system(tmp_path) as system, json_logs() as lines:
        three_pages(system)
        job = system.finished(system.push(before=None))
        run = system.ingestion_run(job)

    [ended] = [line for line in lines if line["message"].startswith(f"job {job.id} ended")]
    assert ended["logger"] == "functions.ingestion"
    assert ended["job_id"] == job.id
    assert ended["run_id"] == run["run_id"]
    assert ended["repository"] == system.repo.path.name
    assert "delivery_id" not in ended  # another task's: the webhook's


def openai_refusing_every_key() -> fastapi.FastAPI:
    """An OpenAI-compatible endpoint refusing the key it was sent, quoting it, as OpenAI does."""
    app = fastapi.FastAPI()

    @app.post("/v1/embeddings")
    async def embeddings(request: fastapi.Request) -> JSONResponse:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        error = {
            "message": f"Incorrect API key provided: {key}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        return JSONResponse({"error": error}, status_code=401)

    return app


def test_no_secret_reaches_a_log_line(tmp_path: Path, database_url: str) -> None:
    """In signed mode: webhook deliveries (a forged one too), an ingestion whose embedding
    requests are refused with the key quoted back, and the router's Inngest calls with the
    signing key. DEBUG lines and all, no line holds the webhook secret, the OpenAI key, the API
    token, or Inngest's signing key (raw or as the bearer) or event key."""
    openai_key = "sk-proj-" + uuid.uuid4().hex + uuid.uuid4().hex
    openai = AppThread(openai_refusing_every_key())
    settings = {
        "DOCS_INGEST_EMBEDDER": "openai",
        "OPENAI_API_KEY": openai_key,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{openai.port}/v1",
    }
    keys = {"INNGEST_SIGNING_KEY": SIGNING_KEY, "INNGEST_EVENT_KEY": EVENT_KEY}
    try:
        with (
            json_logs(logging.DEBUG, **keys, **settings) as lines,
            running_system(tmp_path, database_url, signed=True, **settings) as system,
        ):
            three_pages(system)
            forged = _forged_delivery(system)
            token = _token(system)
            job_id = system.push(before=None)
            # While the job runs, the router asks Inngest about it, with the signing key.
            listed = system.http.get(
                "/api/trpc/jobs.list", headers={"Authorization": f"Bearer {token}"}
            )
            job = system.finished(job_id)
            webhook_secret = system.repository().webhook_secret
    finally:
        openai.stop()

    assert forged.status_code == 401
    assert listed.status_code == 200, listed.text
    assert job.files_failed == 3  # every request was refused, its key quoted back
    assert any(line.get("job_id") == job.id for line in lines)
    refusals = [line for line in lines if "Incorrect API key" in json.dumps(line)]
    assert refusals, "the refusal, the key it quoted redacted, is in the log"
    secrets = (
        webhook_secret,
        openai_key,
        token,
        SIGNING_KEY,
        hash_signing_key(SIGNING_KEY),
        EVENT_KEY,
    )
    for secret in secrets:
        leaked = [line for line in lines if secret in json.dumps(line)]
        assert leaked == []


def _forged_delivery(system: System) -> Any:
    """A push signed with another secret than the repository's."""
    body = json.dumps(system.payload(before=None)).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": signature_of(uuid.uuid4().hex, body),
    }
    return system.http.post("/webhooks/github", content=body, headers=headers)


def _token(system: System) -> str:
    with session_scope(system.services.db) as session:
        org = ensure_org(session, "default")
        return issue_token(session, org, name="operations").token
