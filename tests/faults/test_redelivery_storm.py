"""Redelivery storm: one GitHub push delivery arrives 50 times at once (a mass redelivery from the
hooks page, a proxy retrying), spread over two app processes that share the database, as replicas
behind one URL would be. The outcome must be one job row and one `github/push` event, and every
copy a 2xx, so GitHub marks each delivered: 202 from the copy that recorded the job and sent its
event, 200 with `duplicate: true` and the same job id from every other copy.

How the copies at the two processes interleave is up to timing here; the worst interleaving of
two copies, one inserting while the other reads, is forced in tests/web/test_event_claims.py.
"""

import contextlib
import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url
from sqlmodel import Session, select

from engine.clock import FakeClock
from service.db import create_db_engine
from service.events import GITHUB_PUSH
from service.models import IngestionCommit
from tests.cli.cli_runner import COMMAND
from tests.engine.harness import EngineThread, eventually, free_port
from tests.web.repositories import connect_github_repository
from web.webhooks import signature_of

COPIES = 50
REPLICAS = 2
DELIVERY = "5b1e7c2a-storm-0000-0000-000000000001"
REPO_ID = 1296269
FULL_NAME = "acme/handbook"
PUSH = {
    "ref": "refs/heads/main",
    "before": "b" * 40,
    "after": "a" * 40,
    "repository": {"id": REPO_ID, "full_name": FULL_NAME},
    "commits": [{"id": "a" * 40, "added": [], "modified": ["docs/guide.md"], "removed": []}],
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineThread]:
    """The Inngest server the replicas send to; no app is synced, so events are only stored."""
    engine = EngineThread(tmp_path / "engine.db", FakeClock())
    yield engine
    engine.stop()


@pytest.fixture
def secret(database_url: str) -> str:
    """The webhook secret of the connected repository, in a freshly migrated database."""
    return connect_github_repository(database_url, FULL_NAME, REPO_ID)


@pytest.fixture
def replicas(
    tmp_path: Path, database_url: str, secret: str, engine: EngineThread
) -> Iterator[list[str]]:
    """The URLs of REPLICAS `docs-ingest serve` processes on one database, with Inngest
    configured (the engine above), so each runs the app alone, as a deployed replica does."""
    foreign = ("DOCS_INGEST_", "INNGEST_", "DATABASE_URL", "QDRANT_", "OPENAI_", "GITHUB_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(foreign)}
    urls, processes = [], []
    with contextlib.ExitStack() as stack:
        for n in range(REPLICAS):
            port = free_port()
            env = clean | {
                "DATABASE_URL": database_url,
                "DOCS_INGEST_DATA_DIR": str(tmp_path / f"replica-{n}"),
                "DOCS_INGEST_PORT": str(port),
                "INNGEST_DEV": engine.url,
            }
            log = stack.enter_context((tmp_path / f"replica-{n}.log").open("w"))
            processes.append(
                subprocess.Popen(
                    [COMMAND, "serve"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        try:
            for n, url in enumerate(urls):
                try:
                    eventually(lambda url=url: _healthy(url), timeout=60, interval=0.1)
                except AssertionError as exc:
                    log_text = (tmp_path / f"replica-{n}.log").read_text()
                    raise AssertionError(f"replica {n} did not start: {log_text}") from exc
            yield urls
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def deliver_all(urls: list[str], body: bytes, secret: str) -> list[httpx.Response]:
    """COPIES deliveries, each from its own thread and connection, released together."""
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": DELIVERY,
        "x-hub-signature-256": signature_of(secret, body),
    }
    together = Barrier(COPIES)

    def deliver(n: int) -> httpx.Response:
        with httpx.Client(base_url=urls[n % len(urls)], timeout=60) as http:
            http.get("/health").raise_for_status()  # connected before the storm starts
            together.wait(30)
            return http.post("/webhooks/github", content=body, headers=headers)

    with ThreadPoolExecutor(COPIES) as pool:
        return list(pool.map(deliver, range(COPIES)))


def test_fifty_copies_of_one_delivery_make_one_job_and_one_event(
    database_url: str, secret: str, engine: EngineThread, replicas: list[str]
) -> None:
    leg = make_url(database_url).get_backend_name()
    print(f"redelivery storm on {leg}: {COPIES} signed copies of push delivery {DELIVERY}")
    print(f"  sent at once, alternating between {REPLICAS} app processes on one database")

    answers = deliver_all(replicas, json.dumps(PUSH).encode(), secret)

    by_status = Counter(answer.status_code for answer in answers)
    db = create_db_engine(database_url)
    with Session(db) as session:
        rows = session.exec(select(IngestionCommit)).all()
    db.dispose()
    with httpx.Client(base_url=engine.url) as http:
        listed = http.get("/v1/events", params={"name": GITHUB_PUSH, "limit": 100})
    events = [event for event in listed.json()["data"] if event.get("id") == DELIVERY]
    print(f"  answers by status: {dict(sorted(by_status.items()))}")
    print(f"  job rows: {len(rows)}; github/push events the engine received: {len(events)}")

    assert by_status == {202: 1, 200: COPIES - 1}, [a.text for a in answers if a.status_code >= 300]
    bodies: list[dict[str, Any]] = [answer.json() for answer in answers]
    [job] = rows
    assert job.delivery_id == DELIVERY
    assert {body["job_id"] for body in bodies} == {job.id}
    assert [body.get("duplicate") for body in bodies].count(True) == COPIES - 1
    [event] = events
    assert job.event_id == event["internal_id"]
    assert event["data"]["ingestion_id"] == job.id
