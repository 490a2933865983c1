"""Provider storm: the embeddings provider fails 30 % of its requests (429 with `retry-after`, or a
500, 502 or 503) and refuses one input for good (400, input too long), during an ingestion of
30 files through the whole system (engine, app, local git repository, Qdrant Edge).

Every file but the refused one must end indexed with exactly its chunks; each 429 must be waited
out before its inputs are sent again, and every server error backed off (nothing spins); the
refused input must fail only its own file, once, with the provider's message, although it went
out in requests with the chunks of other files (those files are indexed as if it was not there).

The files' chunks share requests (service/shared_embeddings.py): the first request of a fresh
service goes alone, and a search holds it at the provider while the push's files queue their
chunks, so they leave together, the refused input among them, in one request.
"""

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from service.config import RepoConfig
from service.db import session_scope
from service.events import FILE_PROCESS
from service.indexing import chunk_text
from service.models import FileStatus, IngestionStatus
from service.pacing import BACKOFF_S
from service.repositories import ensure_org
from service.shared_embeddings import SharedEmbedder
from service.tokens import issue_token
from tests.e2e.system import System, page, prose, running_system
from tests.engine.harness import eventually
from tests.faults.fake_provider import (
    RATE_LIMITED,
    REFUSAL,
    REFUSED,
    RETRY_AFTER_S,
    SERVER_ERRORS,
    Exchange,
    FakeProvider,
    Storm,
)

FILES = 30
SEED = 14
DIMENSION = 64
MODEL = "storm-embedding-1"
MARKER = "[fault-suite: this input is refused]"
POISON = "docs/refused.md"
FUNCTION_FAILED = "inngest/function.failed"


def handbook() -> dict[str, str]:
    """FILES pages of one to four chunks each; one of them holds the refused input."""
    files = {
        f"docs/page-{n:02d}.md": page(
            f"Topic {n}",
            ("Usage", prose(f"topic {n}", 3 + 9 * (n % 4))),
            ("Notes", prose(f"notes on topic {n}", 2)),
        )
        for n in range(FILES - 1)
    }
    files[POISON] = page(
        "Refused page",
        ("Before", prose("the refused page", 4)),
        ("Refused", f"{MARKER} {prose('the refused section', 3)}"),
        ("After", prose("the end of the refused page", 4)),
    )
    return files


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    provider = FakeProvider(dimension=DIMENSION, storm=Storm(SEED), refuse=MARKER)
    yield provider
    provider.stop()


def sharing(inputs: tuple[str, ...], exchanges: list[Exchange], after: Exchange) -> list[Exchange]:
    """The requests after `after` that carried any of `inputs`."""
    wanted = set(inputs)
    return [e for e in exchanges if e.arrived > after.arrived and wanted & set(e.inputs)]


def search(system: System, token: str) -> httpx.Response:
    query = json.dumps({"query": "how do I check items twice?"})
    return system.http.get(
        "/api/trpc/search.query",
        params={"input": query},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_provider_storm_indexes_every_file_and_fails_only_the_refused_one(
    tmp_path: Path, database_url: str, provider: FakeProvider
) -> None:
    leg = make_url(database_url).get_backend_name()
    settings: dict[str, Any] = {
        "DOCS_INGEST_EMBEDDER": "openai",
        "OPENAI_API_KEY": "sk-fault-suite-storm",
        "OPENAI_BASE_URL": provider.base_url,
        "OPENAI_EMBEDDING_MODEL": MODEL,
        "OPENAI_EMBEDDING_DIMENSION": DIMENSION,
    }
    with running_system(tmp_path, database_url, **settings) as system:
        files = handbook()
        system.repo.write(files)
        system.repo.commit("handbook")
        config, embedder = RepoConfig(), system.services.embedder
        assert isinstance(embedder, SharedEmbedder)
        chunks = {
            path: [
                chunk.text
                for chunk in chunk_text(
                    text, embedder, config.chunk_size, config.chunk_overlap
                ).chunks
            ]
            for path, text in files.items()
        }
        [refused] = [text for text in chunks[POISON] if MARKER in text]
        owner = {text: path for path, texts in chunks.items() for text in texts}
        assert len(owner) == sum(len(texts) for texts in chunks.values())  # every input unique
        with session_scope(system.services.db) as session:
            token = issue_token(session, ensure_org(session, "default"), name="storm").token
        print(
            f"\nprovider storm on {leg}: {FILES} files, {len(owner)} chunks; the provider fails "
            f"30 % of requests (seed {SEED}: 429 with retry-after, 500, 502, 503) and refuses "
            f"the input holding {MARKER!r} (in {POISON}) with a 400"
        )

        provider.hold()
        with ThreadPoolExecutor(1) as pool:
            searched = pool.submit(search, system, token)
            eventually(lambda: provider.waiting == 1, timeout=30)  # the search's, alone
            job_id = system.push()
            # Every chunk of every file waits for the next request, the refused one among them.
            eventually(lambda: embedder.queued == len(owner), timeout=60)
            provider.release()
            job = system.finished(job_id, timeout=120)
            found = searched.result(timeout=60)
        rows = system.files(job_id)
        points, total_points = system.points_by_path(), system.points()
        failed_runs = [
            event
            for event in system.events(FUNCTION_FAILED)
            if event["data"].get("event", {}).get("name") == FILE_PROCESS
        ]
        exchanges = sorted(provider.exchanges, key=lambda e: e.number)

    by_status = Counter(e.status for e in exchanges)
    faults = [e for e in exchanges if e.status == RATE_LIMITED or e.status in SERVER_ERRORS]
    refusals = [e for e in exchanges if e.status == REFUSED]
    alone = [e for e in refusals if e.inputs == (refused,)]
    shared_with = {owner[t] for e in refusals for t in e.inputs} - {POISON}
    start = exchanges[0].arrived  # the search's, held while the files queued
    print(f"  {len(exchanges)} requests in {exchanges[-1].answered - start:.1f} s:")
    for e in exchanges:
        sources = {owner[t] for t in e.inputs if t in owner}
        what = f"of {len(sources)} file(s)" if sources else "the search's query"
        what += ", the refused one among them" if refused in e.inputs else ""
        print(
            f"    #{e.number:<3} +{e.arrived - start:5.2f} s  {len(e.inputs):3} inputs {what}"
            f" -> {e.status}"
        )
    print(f"  answers by status: {dict(sorted(by_status.items()))}")
    print(
        f"  the refused input: refused {len(refusals)} times in requests of "
        f"{[len(e.inputs) for e in refusals]} inputs, with {len(shared_with)} other files"
    )
    print(f"  job {job.status.value}: {job.files_processed} processed, {job.files_failed} failed")

    assert found.status_code == 200, found.text
    # What the user sees: every file indexed but the refused one, which failed with its reason.
    assert job.status is IngestionStatus.PROCESSED, job.error_message
    assert (job.files_total, job.files_processed, job.files_failed) == (FILES, FILES - 1, 1)
    assert rows[POISON].status is FileStatus.FAILED
    assert REFUSAL in (rows[POISON].error or ""), rows[POISON].error
    expected = {path: len(texts) for path, texts in chunks.items() if path != POISON}
    assert {p: r.chunks for p, r in rows.items() if r.status is FileStatus.PROCESSED} == expected
    assert points == expected  # the refused file has no index row and no point
    assert total_points == sum(expected.values())
    assert [e["data"]["event"]["data"]["path"] for e in failed_runs] == [POISON]

    # The storm happened, and every failed request's inputs were sent again only after the wait
    # the provider asked for (a 429's retry-after), or after a backoff (a server error): no spin.
    # Seed 14 answers request #2 with a 429 and #8 with a 500. The refused file's chunks go out
    # on their own only after five halvings of the first request (#10 at the earliest), so
    # both of these carry other files' chunks, which must go out again.
    assert RATE_LIMITED in by_status and set(SERVER_ERRORS) & set(by_status), by_status
    waits: dict[str, list[float]] = {"429": [], "5xx": []}
    for fault in faults:
        again = sharing(fault.inputs, exchanges, fault)
        # Sent again, unless it held only inputs of the refused file, which failed meanwhile.
        assert again or {owner.get(t) for t in fault.inputs} == {POISON}, fault
        rate_limited = fault.status == RATE_LIMITED
        required = fault.retry_after if rate_limited else BACKOFF_S
        assert required is not None, fault  # every 429 said how long to wait
        for later in again:
            assert later.arrived - fault.answered >= required, (fault, later)
        waits["429" if rate_limited else "5xx"] += [e.arrived - fault.answered for e in again]
    assert waits["429"] and waits["5xx"]
    print(
        "  shortest wait before a failed request's inputs went out again: after a 429 "
        f"{min(waits['429']):.2f} s (its retry-after: {RETRY_AFTER_S} s), after a 5xx "
        f"{min(waits['5xx']):.2f} s (backoff from {BACKOFF_S} s)"
    )

    # The refused input went out with other files' chunks, was halved down to alone, refused
    # once there, and never sent again: the permanent error failed its file at once.
    assert shared_with, "the refused input shared a request with other files"
    assert {path: points[path] for path in shared_with} == {p: expected[p] for p in shared_with}
    assert all(refused in e.inputs for e in refusals)
    assert len(alone) == 1
    assert sharing((refused,), exchanges, alone[0]) == []
