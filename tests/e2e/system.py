"""The whole system on loopback for one test: engine, service, Qdrant Edge, the local model.

`System` connects a local git repository the test builds and pushes it through the signed
webhook, exactly as `docs-ingest push` does, then reads what a user would see: the job's row,
the index rows and the points in Qdrant.
"""

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from service.app import create_app
from service.db import migrate, session_scope
from service.deps import Services
from service.models import (
    ConnectedRepository,
    IndexedFile,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    Provider,
    Store,
)
from service.pushes import head_of, push_payload
from service.repositories import connect, local_external_id
from service.settings import Settings
from service.webhooks import signature_of
from tests.engine.harness import AppThread, EngineThread, eventually

TERMINAL = {
    IngestionStatus.PROCESSED,
    IngestionStatus.SKIPPED,
    IngestionStatus.FAILED,
    IngestionStatus.CANCELLED,
}
BRANCH = "main"


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

    def write(self, files: dict[str, str | bytes]) -> None:
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
        return self.git("rev-parse", "HEAD").strip()


class System:
    def __init__(self, services: Services, app_url: str, repo: GitRepo) -> None:
        self.services = services
        self.app_url = app_url
        self.repo = repo
        self.http = httpx.Client(base_url=app_url, timeout=30)
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

    def push(self, *, before: str | None = ..., delivery: str | None = None) -> int:  # type: ignore[assignment]
        """Push the branch since the last ingested sha; the job id."""
        repository = self.repository()
        start = repository.last_ingested_sha if before is ... else before
        payload = push_payload(
            self.repo.path,
            branch=BRANCH,
            before=start,
            after=head_of(self.repo.path, BRANCH),
            repository_id=repository.external_id,
            full_name=repository.full_name,
        )
        response = self.deliver(payload, delivery)
        assert response.status_code in (200, 202), response.text
        return int(response.json()["job_id"])

    def job(self, job_id: int) -> IngestionCommit:
        with Session(self.services.db) as session:
            job = session.get(IngestionCommit, job_id)
            assert job is not None
            return job

    def finished(self, job_id: int, timeout: float = 60) -> IngestionCommit:
        return eventually(lambda: (j := self.job(job_id)).status in TERMINAL and j, timeout)

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

    def search(self, text: str, limit: int = 5) -> list[Any]:
        async def run() -> list[Any]:
            [vector] = await self.services.embedder.embed([text])
            return await self.services.vectors.search(self.collection(), vector, limit=limit)

        return asyncio.run(run())


@contextmanager
def running_system(tmp_path: Path, **settings: Any) -> Iterator[System]:
    engine = EngineThread(tmp_path / "engine.db", None, retry_interval=1)
    config = Settings(  # type: ignore[call-arg]
        DOCS_INGEST_DATA_DIR=str(tmp_path / "data"),
        DOCS_INGEST_ENGINE_PORT=engine.port,
        **settings,
    )
    migrate(config.sqlalchemy_url)
    services = Services.create(config)
    app = AppThread(create_app(config, services))
    try:
        assert engine.sync(app.url)[0]["ok"]
        system = System(services, app.url.removesuffix("/api/inngest"), GitRepo(tmp_path / "docs"))
        with system.http:
            yield system
    finally:
        app.stop()
        engine.stop()
