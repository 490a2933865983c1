"""A repository whose lightfast.yml names another store moves there: once a job has indexed it into
the new store, its chunks and index rows leave the old one (other repositories' stay), and search
finds each of its files once, in its current store, never a file deleted since."""

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient
from sqlmodel import Session, select

from service.db import session_scope
from service.events import INGESTION_CANCELLED
from service.models import IndexedFile, IngestionStatus, Store
from service.repositories import ensure_org
from service.tokens import issue_token
from service.vectors import ChunkRecord, EdgeVectorStore, VectorStore
from service.vectors_server import QdrantServerVectorStore
from tests.e2e.system import GitRepo, System, page, prose, running_system
from tests.engine.harness import eventually

EPSILON = "docs/epsilon.md"
ELEPHANT = "The elephant procedure: lead the elephant through the wide gate, never the narrow one."
PAGES = {
    f"docs/{name}.md": page(name.title(), ("Notes", f"{name.title()} notes about {topic}."))
    for name, topic in [
        ("alpha", "the tide tables"),
        ("beta", "the printing press"),
        ("gamma", "the glacier survey"),
        ("delta", "the river ferry"),
    ]
} | {EPSILON: page("Epsilon", ("Procedure", ELEPHANT))}
MOVE = "version: 1\nstore: other\n"
RUNBOOK = "runbooks/pager.md"
PAGER = "When the pager rings at night, acknowledge it within five minutes."


def search(system: System, text: str, **input: Any) -> list[dict[str, Any]]:
    """`search.query` over every store of the organization, as the UI and the CLI ask it."""
    with session_scope(system.services.db) as session:
        token = issue_token(session, ensure_org(session, "default"), name="test").token
    response = system.http.get(
        "/api/trpc/search.query",
        params={"input": json.dumps({"query": text, "limit": 20, **input})},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["result"]["data"]["hits"]
    return hits


def chunks_found(hits: list[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    return [(h["store"], h["repository"], h["path"], h["chunkIndex"]) for h in hits]


def store_named(system: System, name: str) -> Store:
    with Session(system.services.db) as session:
        found = session.exec(select(Store).where(Store.name == name)).one()
        return found


def indexed_by_store(system: System) -> dict[str, set[str]]:
    """The repository's index rows: store name -> paths."""
    with Session(system.services.db) as session:
        rows = session.exec(
            select(Store.name, IndexedFile.path)
            .join(Store, Store.id == IndexedFile.store_id)  # type: ignore[arg-type]
            .where(IndexedFile.repository_id == system.repository_id)
        ).all()
    found: dict[str, set[str]] = {}
    for store, path in rows:
        found.setdefault(store, set()).add(path)
    return found


def points_in(system: System, store: str, repository: str) -> int:
    collection = store_named(system, store).collection
    return asyncio.run(system.services.vectors.count(collection, repository=repository))


def test_a_moved_repository_leaves_its_old_store_and_is_found_once(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        runbooks = System(
            system.services, system.app_url, str(system.engine.base_url), GitRepo(tmp_path / "rb")
        )
        with runbooks.http, runbooks.engine:
            runbooks.repo.write({RUNBOOK: page("Pager", ("Night", PAGER))})
            runbooks.repo.commit("runbook")
            assert runbooks.finished(runbooks.push()).status is IngestionStatus.PROCESSED
        kept = points_in(system, "docs", runbooks.repository().full_name)
        name = system.repository().full_name
        system.repo.write(PAGES)
        system.repo.commit("docs")
        assert system.finished(system.push()).status is IngestionStatus.PROCESSED

        system.repo.write({"lightfast.yml": MOVE})
        system.repo.commit("move to the store 'other'")
        moved = system.finished(system.push())

        assert moved.status is IngestionStatus.PROCESSED, moved.error_message
        assert system.ingestion_run(moved)["output"]["stores_left"] == ["docs"]
        assert system.repository().store_id == store_named(system, "other").id
        assert indexed_by_store(system) == {"other": set(PAGES)}
        assert points_in(system, "docs", name) == 0
        assert points_in(system, "docs", runbooks.repository().full_name) == kept > 0
        system.assert_index_consistent()
        hits = search(system, "elephant procedure")
        assert {h["store"] for h in hits if h["path"] == EPSILON} == {"other"}
        assert len(set(chunks_found(hits))) == len(hits)

        system.repo.remove(EPSILON)
        system.repo.commit("no more elephants")
        removed = system.finished(system.push())

        assert removed.status is IngestionStatus.PROCESSED, removed.error_message
        hits = search(system, "elephant procedure")
        assert EPSILON not in {h["path"] for h in hits}
        mine = [h for h in hits if h["repository"] == name]
        assert {h["store"] for h in mine} == {"other"}
        assert sorted(h["path"] for h in mine if h["chunkIndex"] == 0) == sorted(
            set(PAGES) - {EPSILON}
        )
        [pager, *_] = search(system, PAGER)
        assert (pager["store"], pager["path"]) == ("docs", RUNBOOK)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_move_cut_short_shows_no_file_twice_and_the_next_job_completes_it(
    tmp_path: Path, database_url: str
) -> None:
    """The move's job is cancelled half way: the old store still holds every file, the new one
    some; search shows each file at most once, from the new store. The next push finishes the move
    and empties the old store."""
    guides = {
        f"docs/guide-{n:02d}.md": page(
            f"Guide {n}", *[(f"Part {p}", prose(f"guide {n} part {p}", 12)) for p in range(3)]
        )
        for n in range(20)
    }
    with running_system(tmp_path, database_url, DOCS_INGEST_FILE_CONCURRENCY=1) as system:
        name = system.repository().full_name
        system.repo.write({**PAGES, **guides})
        system.repo.commit("docs")
        assert system.finished(system.push(), timeout=120).status is IngestionStatus.PROCESSED
        system.repo.write({"lightfast.yml": MOVE})
        system.repo.commit("move to the store 'other'")
        move = system.push()
        eventually(lambda: system.job(move).files_processed >= 1, timeout=60)
        sent = system.engine.post(
            "/e/test", json={"name": INGESTION_CANCELLED, "data": {"ingestion_id": move}}
        )
        assert sent.status_code == 200
        assert system.finished(move).status is IngestionStatus.CANCELLED

        left = indexed_by_store(system)
        assert left["docs"] == set(PAGES) | set(guides)
        assert points_in(system, "docs", name) > 0
        for text in (ELEPHANT, "guide 3 part 1"):
            hits = search(system, text)
            assert {h["store"] for h in hits if h["repository"] == name} <= {"other"}
            assert len(set(chunks_found(hits))) == len(hits)
        assert search(system, ELEPHANT, repository=name, store="docs") == []

        system.repo.remove(EPSILON)
        system.repo.commit("no more elephants")
        done = system.finished(system.push(), timeout=120)

        assert done.status is IngestionStatus.PROCESSED, done.error_message
        assert system.ingestion_run(done)["output"]["stores_left"] == ["docs"]
        assert indexed_by_store(system) == {"other": (set(PAGES) | set(guides)) - {EPSILON}}
        assert points_in(system, "docs", name) == 0
        system.assert_index_consistent()
        hits = search(system, "elephant procedure")
        assert EPSILON not in {h["path"] for h in hits}
        assert len(set(chunks_found(hits))) == len(hits)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")
@pytest.mark.parametrize("backend", ["edge", "qdrant-client-local"])
async def test_deleting_a_repository_leaves_the_other_repositories_points(
    tmp_path: Path, backend: str
) -> None:
    """What the clean-up of a store a repository left asks of both vector backends."""
    vectors: VectorStore = (
        EdgeVectorStore(tmp_path / "qdrant")
        if backend == "edge"
        else QdrantServerVectorStore(AsyncQdrantClient(location=":memory:"))
    )
    vector = np.ones(4, dtype=np.float32)
    chunk = ChunkRecord(0, "text", ("Title",), "Title", "blob", vector)
    try:
        await vectors.ensure_collection("shared", 4)
        for repository in ("acme/moved", "acme/stays", "acme/moved-too"):
            for path in ("a.md", "b.md"):
                await vectors.upsert_file("shared", repository, path, [chunk])

        await vectors.delete_repository("shared", "acme/moved")

        counts = {
            repository: await vectors.count("shared", repository=repository)
            for repository in ("acme/moved", "acme/stays", "acme/moved-too")
        }
        assert counts == {"acme/moved": 0, "acme/stays": 2, "acme/moved-too": 2}
    finally:
        await vectors.close()
