"""The jobs router against the real engine: what `jobs.list` / `jobs.get` show of a real job,
retrying only its failed files, cancelling a running job, and a run cancelled outside the app
being written back to the table."""

import json
from pathlib import Path
from typing import Any

from service.db import session_scope
from service.models import IngestionStatus
from service.repositories import ensure_org
from service.tokens import issue_token
from tests.e2e.system import System, page, prose, running_system
from tests.engine.harness import eventually

GOOD = {f"docs/good-{n}.md": page(f"Good {n}") for n in range(3)}
BROKEN = "docs/broken.md"


def _token(system: System) -> str:
    with session_scope(system.services.db) as session:
        return issue_token(session, ensure_org(session, "default"), name="test").token


def _call(system: System, token: str, procedure: str, input: Any, *, query: bool = True) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if query:
        response = system.http.get(
            f"/api/trpc/{procedure}", params={"input": json.dumps(input)}, headers=headers
        )
    else:
        response = system.http.post(f"/api/trpc/{procedure}", json=input, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["result"]["data"]


def test_a_failed_file_is_shown_and_retried_alone(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write({**GOOD, BROKEN: page("Broken", ("Why", "Its blob will be gone."))})
        system.repo.commit("docs")
        blob = system.repo.blob_of(BROKEN)
        system.repo.lose_object(blob)
        first = system.finished(system.push())
        token = _token(system)

        listed = _call(system, token, "jobs.list", {})
        details = _call(system, token, "jobs.get", {"id": first.id, "fileStatus": ["failed"]})
        system.repo.git("hash-object", "-w", BROKEN)  # the blob is readable again
        retried = _call(
            system, token, "jobs.retry", {"id": first.id, "onlyFailedFiles": True}, query=False
        )["job"]
        second = system.finished(retried["id"])
        found = _call(system, token, "jobs.list", {"text": "broken"})

    [job] = listed["jobs"]
    assert (job["id"], job["status"], job["trigger"]) == (first.id, "processed", "push")
    assert job["progress"] == {
        "total": 4,
        "processed": 3,
        "skipped": 0,
        "failed": 1,
        "pending": 0,
    }
    assert job["run"]["id"] == first.run_id
    engine_origin = str(system.engine.base_url).rstrip("/")
    assert job["run"]["url"] == f"{engine_origin}/run?runID={first.run_id}"
    assert details["run"]["status"] == "Completed"
    [failed] = details["files"]["items"]
    assert failed["path"] == BROKEN and blob in failed["error"]
    assert [phase["state"] for phase in details["phases"]] == ["done"] * 5
    assert (retried["trigger"], retried["retryOf"]) == ("retry", first.id)
    assert second.status is IngestionStatus.PROCESSED, second.error_message
    assert (second.files_total, second.files_processed, second.files_failed) == (1, 1, 0)
    assert system.points(BROKEN) > 0
    assert [job["id"] for job in found["jobs"]] == [second.id, first.id]


def test_a_whole_job_retry_redoes_what_the_index_lacks_at_the_jobs_sha(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write({**GOOD, BROKEN: page("Broken", ("Why", "Its blob will be gone."))})
        system.repo.commit("docs")
        system.repo.lose_object(system.repo.blob_of(BROKEN))
        first = system.finished(system.push())
        token = _token(system)

        system.repo.git("hash-object", "-w", BROKEN)
        retried = _call(system, token, "jobs.retry", {"id": first.id}, query=False)["job"]
        second = system.finished(retried["id"])

    assert (retried["trigger"], retried["retryOf"], retried["after"]) == (
        "retry",
        first.id,
        first.after_sha,
    )
    assert second.status is IngestionStatus.PROCESSED, second.error_message
    # The other files are indexed at that sha already: only the failed one is redone.
    assert (second.files_total, second.files_processed) == (1, 1)


def _many_files(system: System) -> None:
    system.repo.write(
        {
            f"guide-{n:02d}.md": page(
                f"Guide {n}", *[(f"Part {p}", prose(f"g{n}p{p}", 12)) for p in range(3)]
            )
            for n in range(30)
        }
    )
    system.repo.commit("guides")


def test_cancel_ends_a_running_job_and_stops_its_runs(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url, DOCS_INGEST_FILE_CONCURRENCY=1) as system:
        _many_files(system)
        job_id = system.push()
        eventually(lambda: system.job(job_id).files_processed >= 1, timeout=30)
        token = _token(system)

        running = _call(system, token, "jobs.list", {"status": ["running"]})
        answer = _call(system, token, "jobs.cancel", {"id": job_id}, query=False)["job"]
        orchestrator = system.ingestion_run(system.job(job_id))

        assert [job["id"] for job in running["jobs"]] == [job_id]
        assert running["counts"]["running"] == 1
        assert answer["status"] == "cancelled"
        assert orchestrator["status"] == "Cancelled"
        job = system.job(job_id)
        assert job.status is IngestionStatus.CANCELLED
        assert job.files_processed < 30
        eventually(system.index_is_consistent, timeout=30)


def test_a_run_cancelled_outside_the_app_is_written_back(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url, DOCS_INGEST_FILE_CONCURRENCY=1) as system:
        _many_files(system)
        job_id = system.push()
        job = eventually(lambda: (j := system.job(job_id)).files_processed >= 1 and j, timeout=30)
        token = _token(system)

        assert system.engine.delete(f"/v1/runs/{job.run_id}").status_code == 200
        shown = eventually(
            lambda: (
                (found := _call(system, token, "jobs.list", {})["jobs"][0])["status"] == "cancelled"
                and found
            ),
            timeout=30,
        )

        assert shown["run"]["status"] == "Cancelled"
        assert system.job(job_id).status is IngestionStatus.CANCELLED
        eventually(system.index_is_consistent, timeout=30)
