"""Inngest down or slow, with jobs in the table: one ingested, two unfinished.

The Jobs tab polls `jobs.list`, which lays what Inngest says of unfinished jobs over the table.
With the engine stopped (down) or behind a proxy that holds every answer (slow), `jobs.list` must
still answer 200 with every job of the table, at once or within the router's Inngest timeout
(router/live.py), and mark the unfinished jobs' live status stale. A push while the engine is
down cannot send its event: the webhook answers 503 naming Inngest, and GitHub's redelivery of it,
once the engine is back on the same database, starts the job. Every job then ends `processed`,
and the index holds exactly the chunks of the last commit.

The unfinished jobs are held where they are by the embeddings provider
(tests/faults/fake_provider.py), which keeps its requests until the test lets them go, so they
stay unfinished for as long as the test needs, whatever the machine's speed. (A job waiting for
its files holds no concurrency slot, in Inngest as in the engine, so the second job of the
repository runs beside the first; the commits change different pages, so the order in which
their files end does not matter.)
"""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from router.live import TIMEOUT_S
from service.config import RepoConfig
from service.db import session_scope
from service.indexing import chunk_text
from service.models import IngestionStatus
from service.repositories import ensure_org
from service.tokens import issue_token
from tests.e2e.system import System, page, prose, running_system
from tests.engine.harness import EngineThread, eventually
from tests.faults.fake_provider import FakeProvider

DIMENSION = 32
UNFINISHED = {IngestionStatus.QUEUED, IngestionStatus.RUNNING}

V1 = {
    f"docs/guide-{n}.md": page(f"Guide {n}", ("Setup", prose(f"guide {n}", 3 + 5 * (n % 3))))
    for n in range(6)
}
# Each later commit changes other pages than the commits before it: adds, modifies, removes.
V2 = V1 | {
    "docs/guide-0.md": page("Guide 0", ("Setup", prose("the new guide 0", 12))),
    "docs/faq.md": page("FAQ", ("Questions", prose("questions", 4))),
}
V3 = {p: t for p, t in V2.items() if p != "docs/guide-5.md"} | {
    "docs/guide-1.md": page("Guide 1", ("Setup", prose("the new guide 1", 2))),
}
V4 = V3 | {
    "docs/changelog.md": page("Changelog", ("Latest", prose("the changelog", 6))),
    "docs/guide-2.md": page("Guide 2", ("Setup", prose("the new guide 2", 7))),
}


class HoldingProxy:
    """A TCP proxy on `port` in front of the engine at `upstream`: requests go through at once,
    answers are held until `release` (then they, and all later ones, go through)."""

    def __init__(self, port: int, upstream: int) -> None:
        self._upstream = upstream
        self._requests = 0  # reads from a client passed on to the engine
        self._held = 0  # reads from the engine not (yet) passed on to their client
        self._given = 0  # reads from the engine passed on
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._released = asyncio.Event()
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    def counts(self) -> tuple[int, int, int]:
        """Reads passed on to the engine, and the engine's reads held and passed on."""
        with self._lock:
            return self._requests, self._held, self._given

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._released.set)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in self._connections:
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self._port)

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        connection = asyncio.current_task()
        assert connection is not None
        self._connections.add(connection)
        engine, to_engine = await asyncio.open_connection("127.0.0.1", self._upstream)
        pumps = {
            asyncio.create_task(self._pump(client, to_engine, answers=False)),
            asyncio.create_task(self._pump(engine, to_client, answers=True)),
        }
        try:  # until either side closes: then both are closed
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (to_engine, to_client):
                writer.close()
            self._connections.discard(connection)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, answers: bool
    ) -> None:
        while data := await source.read(65536):
            if answers:
                self._count(held=1)
                await self._released.wait()
                self._count(held=-1, given=1)
            else:
                self._count(requests=1)
            sink.write(data)
            await sink.drain()

    def _count(self, requests: int = 0, held: int = 0, given: int = 0) -> None:
        with self._lock:
            self._requests += requests
            self._held += held
            self._given += given


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    provider = FakeProvider(dimension=DIMENSION)
    yield provider
    provider.stop()


@contextmanager
def system_with_jobs(
    tmp_path: Path, database_url: str, provider: FakeProvider, engine: EngineThread
) -> Iterator[tuple[System, str, list[int]]]:
    """The system, a token, and its three jobs, newest first: V3 and V2 unfinished (their
    embeddings held by the provider), V1 ingested."""
    settings: dict[str, Any] = {
        "DOCS_INGEST_EMBEDDER": "openai",
        "OPENAI_API_KEY": "sk-fault-suite-inngest",
        "OPENAI_BASE_URL": provider.base_url,
        "OPENAI_EMBEDDING_MODEL": "inngest-fault-embedding",
        "OPENAI_EMBEDDING_DIMENSION": DIMENSION,
    }
    with running_system(tmp_path, database_url, engine=engine, **settings) as system:
        try:
            with session_scope(system.services.db) as session:
                token = issue_token(session, ensure_org(session, "default"), name="faults").token
            system.repo.write(V1)
            system.repo.commit("v1")
            ingested = system.finished(system.push(before=None))
            assert ingested.status is IngestionStatus.PROCESSED, ingested.error_message
            provider.hold()
            system.repo.write(V2)
            v2 = system.repo.commit("v2")
            jobs = [system.push()]
            eventually(lambda: provider.waiting > 0, timeout=30)
            write_tree(system, V3)
            system.repo.commit("v3")
            jobs.insert(0, system.push(before=v2))
            for job_id in jobs:
                assert system.job(job_id).status in UNFINISHED
                assert system.job(job_id).event_id is not None
            yield system, token, [*jobs, ingested.id or 0]
        finally:  # the app stops only once the requests it waits for are answered
            provider.release()


def write_tree(system: System, files: dict[str, str]) -> None:
    """Make the working tree `files` exactly: write them, remove the pages they do not have."""
    for path in system.repo.git("ls-files").split():
        if path not in files:
            system.repo.remove(path)
    system.repo.write(files)


def list_jobs(system: System, token: str, **input: Any) -> tuple[httpx.Response, float]:
    """`jobs.list` through the router's HTTP endpoint, and how long it took."""
    started = time.monotonic()
    answer = system.http.get(
        "/api/trpc/jobs.list",
        params={"input": json.dumps(input)},
        headers={"Authorization": f"Bearer {token}"},
    )
    return answer, time.monotonic() - started


def check_stale_listing(answer: httpx.Response, jobs: list[int], unfinished: set[int]) -> None:
    """Every job of the table, newest first; the unfinished ones marked stale (a finished
    job is answered from the table alone: it never waits for Inngest, nor goes stale)."""
    assert answer.status_code == 200, answer.text
    listed = answer.json()["result"]["data"]
    assert [job["id"] for job in listed["jobs"]] == jobs
    assert {job["id"] for job in listed["jobs"] if job["stale"]} == unfinished
    assert listed["live"]["stale"] is True
    statuses = {job["id"]: job["status"] for job in listed["jobs"]}
    print(f"  jobs.list: 200, statuses {statuses}, stale: {sorted(unfinished)}")


def fresh_listing(system: System, token: str) -> dict[str, Any]:
    """`jobs.list` once Inngest answers again (an answer shared among pollers may be older)."""

    def fresh() -> dict[str, Any] | None:
        listed: dict[str, Any] = list_jobs(system, token)[0].json()["result"]["data"]
        return None if listed["live"]["stale"] else listed

    listed: dict[str, Any] = eventually(fresh, timeout=30, interval=0.5)
    return listed


def stop(engine: EngineThread | None) -> None:
    if engine is not None and engine.thread.is_alive():
        engine.stop()


def expected_points(system: System, files: dict[str, str]) -> dict[str, int]:
    config = RepoConfig()
    return {
        path: len(
            chunk_text(
                text, system.services.embedder, config.chunk_size, config.chunk_overlap
            ).chunks
        )
        for path, text in files.items()
    }


def check_all_processed(system: System, jobs: list[int], files: dict[str, str]) -> None:
    for job_id in jobs:
        job = system.finished(job_id, timeout=60)
        assert job.status is IngestionStatus.PROCESSED, (job_id, job.error_message)
        assert job.files_failed == 0
    expected = expected_points(system, files)
    assert system.points_by_path() == expected
    assert system.points() == sum(expected.values())
    print(f"  jobs {sorted(jobs)} processed; the index holds the {sum(expected.values())} chunks")


def test_with_inngest_down_jobs_list_answers_stale_and_a_redelivered_push_recovers(
    tmp_path: Path, database_url: str, provider: FakeProvider
) -> None:
    leg = make_url(database_url).get_backend_name()
    engine = EngineThread(tmp_path / "engine.db", None, retry_interval=1)
    restarted: EngineThread | None = None
    try:
        with system_with_jobs(tmp_path, database_url, provider, engine) as (system, token, jobs):
            unfinished = set(jobs[:2])
            print(f"\nInngest down on {leg}: jobs {jobs}, {sorted(unfinished)} unfinished")
            engine.stop()
            print(f"  engine on port {engine.port} stopped")

            answer, took = list_jobs(system, token)
            print(f"  jobs.list took {took:.2f} s (the router's Inngest timeout: {TIMEOUT_S} s)")
            check_stale_listing(answer, jobs, unfinished)

            write_tree(system, V4)
            v4 = system.repo.commit("v4")
            delivery = str(uuid.uuid4())
            payload = system.payload(before=system.repo.git("rev-parse", "HEAD~1").strip())
            refused = system.deliver(payload, delivery)
            print(f"  push {v4[:12]} (delivery {delivery}): {refused.status_code} {refused.text}")
            assert refused.status_code == 503
            assert "Inngest" in refused.json()["error"]
            pushed = refused.json()["job_id"]
            assert system.job(pushed).status is IngestionStatus.QUEUED
            assert system.job(pushed).event_id is None

            restarted = EngineThread(
                tmp_path / "engine.db", None, port=engine.port, retry_interval=1
            )
            print(f"  engine started again on port {restarted.port}, same database")
            provider.release()
            redelivered = system.deliver(payload, delivery)
            print(f"  the same delivery again: {redelivered.status_code} {redelivered.text}")
            assert redelivered.status_code == 202, redelivered.text
            assert redelivered.json()["job_id"] == pushed
            assert system.job(pushed).event_id is not None

            check_all_processed(system, [*jobs, pushed], V4)
            listed = fresh_listing(system, token)
            assert {job["status"] for job in listed["jobs"]} == {"processed"}
    finally:
        stop(restarted)
        stop(engine)


def test_with_inngest_slow_jobs_list_answers_stale_without_waiting_for_it(
    tmp_path: Path, database_url: str, provider: FakeProvider
) -> None:
    leg = make_url(database_url).get_backend_name()
    engine = EngineThread(tmp_path / "engine.db", None, retry_interval=1)
    behind: EngineThread | None = None
    proxy: HoldingProxy | None = None
    try:
        with system_with_jobs(tmp_path, database_url, provider, engine) as (system, token, jobs):
            unfinished = set(jobs[:2])
            print(f"\nInngest slow on {leg}: jobs {jobs}, {sorted(unfinished)} unfinished")
            engine.stop()
            behind = EngineThread(tmp_path / "engine.db", None, retry_interval=1)
            proxy = HoldingProxy(engine.port, behind.port)
            print(
                f"  engine moved to port {behind.port}, same database; on port {engine.port}, "
                "where the app reaches it, a proxy holds its answers"
            )

            answer, took = list_jobs(system, token)
            requests, held, given = proxy.counts()
            print(
                f"  jobs.list took {took:.2f} s (the router's Inngest timeout: {TIMEOUT_S} s); "
                f"meanwhile the proxy passed on {requests} request(s) and held {held} answer(s)"
            )
            assert requests > 0 and given == 0  # answered while the proxy held Inngest's answer
            check_stale_listing(answer, jobs, unfinished)

            proxy.release()
            provider.release()
            print("  proxy and provider released")
            check_all_processed(system, jobs, V3)
            listed = fresh_listing(system, token)
            assert {job["status"] for job in listed["jobs"]} == {"processed"}
    finally:
        if proxy is not None:
            proxy.stop()
        stop(behind)
        stop(engine)
