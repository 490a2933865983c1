"""The whole system on loopback for one test: engine, service, Qdrant Edge, the local model.

`System` connects a local git repository the test builds and pushes it through the signed
webhook, exactly as `docs-ingest push` does, then reads what a user would see: the job's row,
the index rows and the points in Qdrant.
"""

import asyncio
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from cli.pushes import head_of, push_payload
from engine.signing import hash_signing_key
from service.db import migrate, session_scope
from service.deps import Services
from service.events import GITHUB_PUSH
from service.models import (
    ConnectedRepository,
    IndexedFile,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    Provider,
    Store,
)
from service.repositories import connect, local_external_id
from service.settings import Settings
from tests.engine.harness import AppThread, EngineThread, eventually
from web.app import create_app
from web.webhooks import signature_of

TERMINAL = {
    IngestionStatus.PROCESSED,
    IngestionStatus.SKIPPED,
    IngestionStatus.FAILED,
    IngestionStatus.CANCELLED,
}
BRANCH = "main"
TERMINAL_RUN = {"Completed", "Failed", "Cancelled"}
SIGNING_KEY = "signkey-test-" + "7c3e" * 16  # signed mode's keys (running_system(signed=True))
EVENT_KEY = "e2e-event-key"


class _Since(Enum):
    LAST_INGESTED = "the repository's last ingested sha"


LAST_INGESTED = _Since.LAST_INGESTED


class GitRepo:
    """A real git repository in a temporary folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", BRANCH)

    def git(self, *args: str) -> str:
        return subprocess.run(
            [
                "git",
                "-C",
                str(self.path),
                "-c",
                "user.name=Test",
                "-c",
                "user.email=t@example.com",
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def write(self, files: Mapping[str, str | bytes]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def remove(self, *paths: str) -> None:
        self.git("rm", "-q", "--", *paths)

    def blob_of(self, path: str, ref: str = "HEAD") -> str:
        return self.git("rev-parse", f"{ref}:{path}").strip()

    def lose_object(self, sha: str) -> None:
        """Delete a loose object from .git/objects, as a damaged disk or a bad copy would."""
        loose = self.path / ".git" / "objects" / sha[:2] / sha[2:]
        loose.chmod(0o644)
        loose.unlink()


def page(title: str, *sections: tuple[str, str]) -> str:
    """A markdown page: an H1, an intro line and one `## heading` per (heading, body) section."""
    parts = [f"# {title}\n\nAn overview of {title.lower()}.\n"]
    parts += [f"## {heading}\n\n{body}\n" for heading, body in sections]
    return "\n".join(parts)


def prose(topic: str, sentences: int) -> str:
    """`sentences` different sentences about `topic`, enough text to fill chunks."""
    return " ".join(
        f"Step {n} of working with {topic} is to check item {n * 7} twice before moving on."
        for n in range(1, sentences + 1)
    )


class System:
    def __init__(self, services: Services, app_url: str, engine_url: str, repo: GitRepo) -> None:
        self.services = services
        self.app_url = app_url
        self.repo = repo
        self.http = httpx.Client(base_url=app_url, timeout=30)
        self.engine = httpx.Client(base_url=engine_url, timeout=10)
        with session_scope(services.db) as session:
            row = connect(
                session,
                provider=Provider.LOCAL,
                full_name=repo.path.name,
                external_id=local_external_id(repo.path),
                default_branch=BRANCH,
                embedder=services.embedder,
                local_path=repo.path,
            )
        self.repository_id = row.id

    def repository(self) -> ConnectedRepository:
        with Session(self.services.db) as session:
            found = session.get(ConnectedRepository, self.repository_id)
            assert found is not None
            return found

    def deliver(self, payload: dict[str, Any], delivery: str | None = None) -> httpx.Response:
        body = httpx.Request("POST", "/", json=payload).content
        headers = {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": delivery or str(uuid.uuid4()),
            "x-hub-signature-256": signature_of(self.repository().webhook_secret, body),
        }
        return self.http.post("/webhooks/github", content=body, headers=headers)

    def payload(
        self, *, before: str | _Since | None = LAST_INGESTED, after: str | None = None
    ) -> dict[str, Any]:
        """The push payload that moved the branch from `before` (None: a new branch) to `after`
        (None: its head)."""
        repository = self.repository()
        start = repository.last_ingested_sha if before is LAST_INGESTED else before
        return push_payload(
            self.repo.path,
            branch=BRANCH,
            before=start,
            after=after or head_of(self.repo.path, BRANCH),
            repository_id=repository.external_id,
            full_name=repository.full_name,
        )

    def push(
        self, *, before: str | _Since | None = LAST_INGESTED, delivery: str | None = None
    ) -> int:
        """Push the branch since `before` (None: a new branch); the job id."""
        response = self.deliver(self.payload(before=before), delivery)
        assert response.status_code in (200, 202), response.text
        return int(response.json()["job_id"])

    def job(self, job_id: int) -> IngestionCommit:
        with Session(self.services.db) as session:
            job = session.get(IngestionCommit, job_id)
            assert job is not None
            return job

    def finished(self, job_id: int, timeout: float = 30) -> IngestionCommit:
        try:
            job: IngestionCommit = eventually(
                lambda: (j := self.job(job_id)).status in TERMINAL and j, timeout
            )
        except AssertionError as exc:
            files = {path: row.status.value for path, row in self.files(job_id).items()}
            raise AssertionError(
                f"job {job_id} still {self.job(job_id).status.value} after {timeout} s; "
                f"its files: {files}"
            ) from exc
        return job

    def files(self, job_id: int) -> dict[str, IngestionFile]:
        with Session(self.services.db) as session:
            rows = session.exec(select(IngestionFile).where(IngestionFile.ingestion_id == job_id))
            return {row.path: row for row in rows}

    def indexed(self) -> dict[str, IndexedFile]:
        with Session(self.services.db) as session:
            rows = session.exec(
                select(IndexedFile).where(IndexedFile.repository_id == self.repository_id)
            )
            return {row.path: row for row in rows}

    def collection(self) -> str:
        with Session(self.services.db) as session:
            store = session.get(Store, self.repository().store_id)
            assert store is not None
            return store.collection

    def points(self, path: str | None = None) -> int:
        return asyncio.run(
            self.services.vectors.count(
                self.collection(), repository=self.repository().full_name, path=path
            )
        )

    def points_by_path(self) -> dict[str, int]:
        """The points of every path that has an index row."""
        return {path: self.points(path) for path in self.indexed()}

    def index_is_consistent(self) -> bool:
        """Every index row's chunk count is its path's points, and no point lies outside a row."""
        indexed = self.indexed()
        return self.points_by_path() == {
            p: row.chunk_count for p, row in indexed.items()
        } and self.points() == sum(row.chunk_count for row in indexed.values())

    def assert_index_consistent(self) -> None:
        assert self.index_is_consistent()

    def events(self, name: str) -> list[dict[str, Any]]:
        """The engine's stored events called `name`, newest first."""
        response = self.engine.get("/v1/events", params={"name": name, "limit": 100})
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()["data"]
        return events

    def runs(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The function runs an engine event started."""
        response = self.engine.get(f"/v1/events/{event['internal_id']}/runs")
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["data"]
        return runs

    def ingestion_runs(self, job: IngestionCommit) -> list[dict[str, Any]]:
        """The engine's runs of `docs-ingestion` for the push event of `job`."""
        found = [e for e in self.events(GITHUB_PUSH) if e.get("id") == job.delivery_id]
        return [run for event in found for run in self.runs(event)]

    def ingestion_run(self, job: IngestionCommit, timeout: float = 30) -> dict[str, Any]:
        """The job's `docs-ingestion` run, once it has ended (its row may be final before)."""

        def ended() -> dict[str, Any] | None:
            runs = self.ingestion_runs(job)
            assert len(runs) <= 1, runs
            return runs[0] if runs and runs[0]["status"] in TERMINAL_RUN else None

        run: dict[str, Any] = eventually(ended, timeout)
        return run

    def search(self, text: str, limit: int = 5) -> list[Any]:
        async def run() -> list[Any]:
            [vector] = await self.services.embedder.embed([text])
            return await self.services.vectors.search(self.collection(), vector, limit=limit)

        return asyncio.run(run())


@contextmanager
def running_system(
    tmp_path: Path,
    database_url: str | None = None,
    *,
    signed: bool = False,
    engine: EngineThread | None = None,
    **settings: Any,
) -> Iterator[System]:
    """The system on `database_url` (the `database_url` fixture's; None: the default SQLite
    file in the data folder). The engine keeps its own SQLite file, as it does in `serve`.
    `signed`: engine and app in signed mode, with SIGNING_KEY and EVENT_KEY, as `serve` runs
    them with DOCS_INGEST_ENGINE=embedded and both keys. `engine`: one the caller started and
    stops (a test that stops Inngest and starts it again), instead of one of its own."""
    keys: dict[str, Any] = {"signing_key": SIGNING_KEY, "event_keys": [EVENT_KEY]} if signed else {}
    own_engine = engine is None
    if engine is None:
        engine = EngineThread(tmp_path / "engine.db", None, retry_interval=1, **keys)
    if signed:  # the caller's settings win, so a test can give the app a wrong key
        settings = {
            "DOCS_INGEST_ENGINE": "embedded",
            "INNGEST_SIGNING_KEY": SIGNING_KEY,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            **settings,
        }
    config = Settings(
        DOCS_INGEST_DATA_DIR=str(tmp_path / "data"),
        DOCS_INGEST_ENGINE_PORT=engine.port,
        DATABASE_URL=database_url,
        **settings,
    )
    migrate(config.sqlalchemy_url)
    services = Services.create(config)
    app = AppThread(create_app(config, services))
    try:
        assert engine.sync(app.url)[0]["ok"]
        system = System(
            services, app.url.removesuffix("/api/inngest"), engine.url, GitRepo(tmp_path / "docs")
        )
        if signed:
            system.engine.headers["authorization"] = f"Bearer {hash_signing_key(SIGNING_KEY)}"
        with system.http, system.engine:
            yield system
    finally:
        app.stop()
        if own_engine:
            engine.stop()
