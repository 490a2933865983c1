"""A file run retried after its row was recorded (its `files-done` notice could not be sent)
embeds nothing again and leaves its row as recorded; the orchestrator is told once, and the job
ends. A file run of a job that does not exist fails at once, naming what is missing."""

from pathlib import Path
from typing import Any

import pytest

import functions.file_process
from service.models import FileStatus, IngestionStatus
from tests.e2e.system import System, page, running_system
from tests.engine.harness import eventually

FILE_RUN = "docs-ingest-docs-file-process"
DOCS = {f"docs/page-{n}.md": page(f"Page {n}", ("Usage", f"Topic {n}.")) for n in range(3)}


def file_runs_ended(system: System) -> bool:
    engine = system.engine
    runs = engine.get("/api/console/runs", params={"function": FILE_RUN}).json()["runs"]
    return len(runs) == len(DOCS) and all(run["status"] != "RUNNING" for run in runs)


def test_a_retried_file_run_does_not_index_its_file_again(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    notices: list[int] = []
    send = functions.file_process.send_files_done

    async def failing_once(client: Any, ingestion_id: int) -> None:
        notices.append(ingestion_id)
        if len(notices) == 1:
            raise ConnectionError("the Inngest server did not answer")
        await send(client, ingestion_id)

    monkeypatch.setattr(functions.file_process, "send_files_done", failing_once)
    with running_system(tmp_path, database_url) as system:
        embedded: list[str] = []
        embed = system.services.embedder.embed

        async def counting(texts: list[str], *counts: Any) -> list[list[float]]:
            embedded.extend(texts)
            return await embed(texts, *counts)

        monkeypatch.setattr(system.services.embedder, "embed", counting)
        system.repo.write(DOCS)
        system.repo.commit("docs")

        job = system.finished(system.push())
        # The job can end as soon as the last row is recorded, before its run sends the notice.
        eventually(lambda: file_runs_ended(system), timeout=30)

        assert job.status is IngestionStatus.PROCESSED, job.error_message
        assert notices == [job.id, job.id]  # the last file's notice, and its retry's
        files = system.files(job.id or 0)
        assert all(files[path].status is FileStatus.PROCESSED for path in DOCS)
        assert len(embedded) == system.points() == sum(files[path].chunks for path in DOCS)
        system.assert_index_consistent()


def test_a_file_of_a_job_that_does_not_exist_fails_at_once(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(DOCS)
        system.repo.commit("docs")
        job = system.finished(system.push())  # a repository and a store to name
        task = system.events("docs/file.process")[0]["data"]
        response = system.engine.post(
            "/e/test", json={"name": "docs/file.process", "data": {**task, "ingestion_id": 999}}
        )
        response.raise_for_status()
        [event_id] = response.json()["ids"]

        def ended() -> dict[str, Any] | None:
            runs = system.engine.get(f"/v1/events/{event_id}/runs").json()["data"]
            return runs[0] if runs and runs[0]["status"] != "Running" else None

        run = eventually(ended, timeout=30)

        assert job.status is IngestionStatus.PROCESSED
        assert run["status"] == "Failed"
        assert run["output"]["message"] == f"ingestion 999 has no file {task['path']!r}"
        attempts = system.engine.get(f"/api/console/runs/{run['run_id']}").json()["attempts"]
        assert len(attempts) == 1  # not retried: the job will not appear later
