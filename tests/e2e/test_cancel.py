"""`docs/ingestion.cancelled` stops a running job: its runs are cancelled and the job ends so."""

from pathlib import Path

from service.events import FILE_PROCESS, INGESTION_CANCELLED
from service.models import FileStatus, IngestionStatus
from tests.e2e.system import page, prose, running_system
from tests.engine.harness import eventually

FILES = 30


def test_a_cancelled_job_ends_cancelled_and_its_file_runs_stop(
    tmp_path: Path, database_url: str
) -> None:
    # One file at a time, several chunks each: the job is still running when it is cancelled.
    with running_system(tmp_path, database_url, DOCS_INGEST_FILE_CONCURRENCY=1) as system:
        system.repo.write(
            {
                f"guide-{n:02d}.md": page(
                    f"Guide {n}", *[(f"Part {p}", prose(f"g{n}p{p}", 12)) for p in range(3)]
                )
                for n in range(FILES)
            }
        )
        system.repo.commit("guides")
        job_id = system.push()
        eventually(lambda: system.job(job_id).files_processed >= 1, timeout=30)

        sent = system.engine.post(
            "/e/test", json={"name": INGESTION_CANCELLED, "data": {"ingestion_id": job_id}}
        )
        assert sent.status_code == 200

        job = eventually(
            lambda: (j := system.job(job_id)).status is IngestionStatus.CANCELLED and j, timeout=30
        )
        [orchestrator] = system.ingestion_runs(job)
        assert orchestrator["status"] == "Cancelled"
        file_runs = [run for event in system.events(FILE_PROCESS) for run in system.runs(event)]
        eventually(
            lambda: all(
                system.engine.get(f"/v1/runs/{run['run_id']}").json()["data"]["status"]
                in {"Completed", "Cancelled"}
                for run in file_runs
            ),
            timeout=30,
        )
        statuses = {
            system.engine.get(f"/v1/runs/{run['run_id']}").json()["data"]["status"]
            for run in file_runs
        }
        assert "Cancelled" in statuses
        files = system.files(job_id).values()
        cancelled = [
            f for f in files if f.status is FileStatus.SKIPPED and f.error == "job cancelled"
        ]
        assert cancelled
        assert job.files_processed < FILES
        # A step already running when its run was cancelled still finishes in the app: the
        # index is consistent once it has.
        eventually(system.index_is_consistent, timeout=30)
