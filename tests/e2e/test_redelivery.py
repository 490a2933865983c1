"""GitHub redelivers a push (same X-GitHub-Delivery): one job, one orchestrator run, whatever
the timing."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import httpx
from sqlmodel import Session, select

from service.models import IngestionCommit, IngestionStatus
from tests.e2e.system import System, page, running_system

DOCS = {f"docs/page-{n}.md": page(f"Page {n}") for n in range(5)}


def jobs_of(system: System) -> list[IngestionCommit]:
    with Session(system.services.db) as session:
        rows = session.exec(
            select(IngestionCommit).where(IngestionCommit.repository_id == system.repository_id)
        )
        return list(rows)


def test_a_redelivery_answers_with_the_job_it_started(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(DOCS)
        system.repo.commit("docs")
        payload = system.payload()

        first = system.deliver(payload, "delivery-1")
        job = system.finished(int(first.json()["job_id"]))
        again = system.deliver(payload, "delivery-1")

        assert first.status_code == 202, first.text
        assert again.status_code == 200, again.text
        assert again.json()["job_id"] == job.id
        assert again.json()["duplicate"] is True
        assert job.status is IngestionStatus.PROCESSED
        assert [j.id for j in jobs_of(system)] == [job.id]
        assert len(system.ingestion_runs(job)) == 1
        assert system.points() == len(DOCS)


def test_concurrent_deliveries_of_one_push_start_one_job(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(DOCS)
        system.repo.commit("docs")
        payload = system.payload()
        together = Barrier(2)

        def deliver() -> httpx.Response:
            together.wait(5)
            return system.deliver(payload, "delivery-2")

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: deliver(), range(2)))

        assert all(a.status_code in (200, 202) for a in answers), [a.text for a in answers]
        [job_id] = {a.json()["job_id"] for a in answers}
        job = system.finished(job_id)
        assert job.status is IngestionStatus.PROCESSED, job.error_message
        assert [j.id for j in jobs_of(system)] == [job_id]
        assert len(system.ingestion_runs(job)) == 1
        assert job.files_processed == len(DOCS)
        system.assert_index_consistent()
        assert system.points() == len(DOCS)
