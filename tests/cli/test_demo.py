"""`docs-ingest serve` with DOCS_INGEST_DEMO=1 seeds the demo once and prints where to look.

What a person sees: a Jobs tab link whose token answers the router; a first job that ends
processed with the one damaged page failed and every other page processed; a second job failed
with the `lightfast.yml` error naming its line; a search that finds a page. A second start on the
same data adds nothing and prints the same link.
"""

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

import cli.demo
from cli.demo import DAMAGED_PAGE, DEMO_ORG, PAGES_TAG, REPOSITORY_NAME, demo_path
from cli.pushes import git
from service.db import create_db_engine
from service.models import (
    ApiToken,
    ConnectedRepository,
    FileStatus,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
)
from service.settings import Settings
from tests.cli.cli_runner import COMMAND
from tests.engine.harness import eventually, free_port

LINK = re.compile(r"Jobs tab: (http://\S+)/#token=(\S+)")
READY = "demo ready"
FAILED = "could not be seeded"
PAGES = Path(cli.demo.__file__).parent / "demo_docs"
SEED_TIMEOUT_S = 120
# Variables of the developer's shell that would point `serve` elsewhere than the test's folder.
FOREIGN = ("DOCS_INGEST_", "INNGEST_", "DATABASE_URL", "QDRANT_", "OPENAI_", "GITHUB_")


def test_serve_seeds_the_demo_once_and_prints_its_link(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with _serving(tmp_path, data, "first.log") as log:
        url, token = _wait_for(log, _link)
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as router:
            listed = router.get("/api/trpc/repositories.list")
            assert listed.status_code == 200, listed.text
            names = [repo["fullName"] for repo in listed.json()["result"]["data"]]
            assert names == [REPOSITORY_NAME]
            _wait_for(log, _ready)
            hits = _search(router, "how do I cancel a running job?")
    assert "guides/retries-and-cancellation.md" in [hit["path"] for hit in hits]

    settings = Settings(DOCS_INGEST_DATA_DIR=str(data))
    pages, config = _demo_jobs(settings)
    assert pages.after_sha == git(demo_path(settings), "rev-parse", PAGES_TAG).strip()
    assert pages.status is IngestionStatus.PROCESSED, pages.error_message
    files_of_pages = _files(settings, pages)
    assert sorted(files_of_pages) == sorted(
        p.relative_to(PAGES).as_posix() for p in PAGES.rglob("*.md")
    )
    statuses = {path: row.status for path, row in files_of_pages.items()}
    assert [path for path, status in statuses.items() if status is not FileStatus.PROCESSED] == [
        DAMAGED_PAGE
    ]
    damaged = files_of_pages[DAMAGED_PAGE]
    assert damaged.status is FileStatus.FAILED
    assert "not found" in (damaged.error or "")
    assert (pages.files_processed, pages.files_failed) == (len(files_of_pages) - 1, 1)

    assert config.status is IngestionStatus.FAILED
    assert (config.error_message or "").startswith("lightfast.yml line 3: chunk_size")
    assert (data / "cli-tokens" / DEMO_ORG).stat().st_mode & 0o777 == 0o600

    with _serving(tmp_path, data, "second.log") as log:
        _wait_for(log, _ready)
        again = _link(log.read_text())
    assert again is not None and again[1] == token
    assert [job.id for job in _demo_jobs(settings)] == [pages.id, config.id]
    assert _token_count(settings) == 1


@contextmanager
def _serving(tmp_path: Path, data: Path, log_name: str) -> Iterator[Path]:
    """`docs-ingest serve` with the demo on, stopped with Ctrl-C as a person would stop it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env |= {
        "DOCS_INGEST_DATA_DIR": str(data),
        "DOCS_INGEST_PORT": str(free_port()),
        "DOCS_INGEST_ENGINE_PORT": str(free_port()),
        "DOCS_INGEST_DEMO": "1",
    }
    log_path = tmp_path / log_name
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [COMMAND, "serve"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        ) as process,
    ):
        try:
            yield log_path
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)


def _wait_for(log: Path, seen: Callable[[str], Any]) -> Any:
    """What `seen` finds in the log; fails at once, with the log, if the demo was not seeded."""

    def check() -> Any:
        text = log.read_text()
        assert FAILED not in text, text
        return seen(text)

    try:
        return eventually(check, timeout=SEED_TIMEOUT_S, interval=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the log:\n{log.read_text()}") from exc


def _link(text: str) -> tuple[str, str] | None:
    found = LINK.search(text)
    return (found[1], found[2]) if found else None


def _ready(text: str) -> bool:
    return READY in text


def _search(router: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = router.get(
        "/api/trpc/search.query", params={"input": json.dumps({"query": query, "limit": 5})}
    )
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["result"]["data"]["hits"]
    return hits


def _demo_jobs(settings: Settings) -> list[IngestionCommit]:
    engine = create_db_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            repository = session.exec(select(ConnectedRepository)).one()
            return list(
                session.exec(
                    select(IngestionCommit)
                    .where(IngestionCommit.repository_id == repository.id)
                    .order_by(IngestionCommit.id)  # type: ignore[arg-type]
                )
            )
    finally:
        engine.dispose()


def _files(settings: Settings, job: IngestionCommit) -> dict[str, IngestionFile]:
    engine = create_db_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(IngestionFile).where(IngestionFile.ingestion_id == job.id))
            return {row.path: row for row in rows}
    finally:
        engine.dispose()


def _token_count(settings: Settings) -> int:
    engine = create_db_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            return len(session.exec(select(ApiToken)).all())
    finally:
        engine.dispose()
