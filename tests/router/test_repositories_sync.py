"""`repositories.sync` records a manual job only once it knows the branch head, and a job whose
event Inngest did not take is marked failed, with the reason, instead of staying queued forever."""

from pathlib import Path

from sqlmodel import Session, select

from service.models import IngestionCommit, IngestionStatus, IngestionTrigger
from tests.router.service import running_router


def test_a_branch_without_commits_is_a_412_and_starts_no_job(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        empty, _ = router.local_repository("empty")

        response = router.mutate("repositories.sync", router.token(), {"repositoryId": empty.id})

        with Session(router.services.db) as session:
            jobs = session.exec(select(IngestionCommit)).all()
    assert response.status_code == 412
    error = response.json()["error"]
    assert error["data"]["code"] == "PRECONDITION_FAILED"
    assert error["message"].startswith("cannot read branch main of empty: ")
    assert jobs == []


def test_a_sync_that_inngest_cannot_take_fails_its_job_with_the_reason(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        row, repo = router.local_repository("handbook")
        repo.write({"index.md": "# Handbook\n"})
        head = repo.commit("first")

        response = router.mutate("repositories.sync", router.token(), {"repositoryId": row.id})

        with Session(router.services.db) as session:
            [job] = session.exec(select(IngestionCommit)).all()
    assert response.status_code == 503
    assert response.json()["error"]["data"]["code"] == "SERVICE_UNAVAILABLE"
    assert (job.trigger, job.after_sha, job.before_sha) == (IngestionTrigger.MANUAL, head, None)
    assert job.status is IngestionStatus.FAILED
    assert job.error_message == response.json()["error"]["message"]
    expected = f"could not start job #{job.id}: Inngest did not take the event"
    assert job.error_message.startswith(expected)
