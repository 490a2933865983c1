"""Two retries of one job at once, under PostgreSQL's READ COMMITTED: the second waits for the
first's transaction and then answers that the job is being retried, so one retry job starts.
(SQLite's single writer orders them; tests/router/test_jobs_list.py runs retries there.)"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import select

from engine.clock import FakeClock
from service import jobs
from service.db import session_scope
from service.models import FileStatus, IngestionCommit, IngestionStatus, IngestionTrigger
from tests.engine.harness import EngineThread, eventually
from tests.races import waiting_on_a_lock
from tests.router.jobs_factory import make_job
from tests.router.service import running_router


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineThread]:
    """Takes the retries' events; no app is synced, so they are only stored."""
    engine = EngineThread(tmp_path / "engine.db", FakeClock())
    yield engine
    engine.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_retry_while_another_is_being_recorded_is_a_conflict(
    tmp_path: Path, database_url: str, engine: EngineThread
) -> None:
    with running_router(tmp_path, database_url, DOCS_INGEST_ENGINE_PORT=engine.port) as router:
        handbook, _ = router.local_repository("handbook")
        db = router.services.db
        failed = make_job(
            db, handbook, status=IngestionStatus.FAILED, files={"a.md": FileStatus.FAILED}
        )
        token = router.token()

        with ThreadPoolExecutor(1) as pool, session_scope(db) as first:
            # The first retry, as the router records it, not yet committed.
            jobs.lock_job(first, failed)
            first_retry = jobs.record_job(
                first,
                handbook,
                delivery_id="retry-first",
                after="a" * 40,
                trigger=IngestionTrigger.RETRY,
                retry_of=failed,
            ).id
            second = pool.submit(router.mutate, "jobs.retry", token, {"id": failed})
            eventually(lambda: second.done() or waiting_on_a_lock(db))
            waited = not second.done()
        answer = second.result(timeout=30)

        with session_scope(db) as session:
            retries = session.exec(
                select(IngestionCommit.id).where(IngestionCommit.retry_of == failed)
            ).all()

    assert waited
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == (
        f"job #{failed} is being retried by job #{first_retry}"
    )
    assert retries == [first_retry]
