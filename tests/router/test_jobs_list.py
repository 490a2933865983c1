"""`jobs.list` and `jobs.get` from the table: filters, text search, counts, pagination that holds
while new jobs arrive, the file table, and another organization's jobs answering as missing.

No Inngest answers here, so every unfinished job's live part is stale; finished ones are not."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from service.db import session_scope
from service.models import ConnectedRepository, FileStatus, IngestionCommit, IngestionStatus
from tests.router.jobs_factory import make_job
from tests.router.service import Router, running_router


def _data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["result"]["data"]


def _ids(router: Router, token: str, **input: Any) -> list[int]:
    return [job["id"] for job in _data(router.query("jobs.list", token, input))["jobs"]]


def test_jobs_list_newest_first_with_progress_counts_and_filters(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        handbook, _ = router.local_repository("handbook")
        api, _ = router.local_repository("api-docs")
        db = router.services.db
        done = make_job(
            db, handbook, files={"a.md": FileStatus.PROCESSED, "b.md": FileStatus.SKIPPED}
        )
        failed = make_job(db, api, status=IngestionStatus.FAILED, error="lightfast.yml line 3")
        running = make_job(
            db,
            handbook,
            status=IngestionStatus.RUNNING,
            files={"x.md": FileStatus.PROCESSED, "y.md": FileStatus.PENDING},
            event_id="01KEVENTOFARUNNINGJOB0000",
        )
        token = router.token()

        everything = _data(router.query("jobs.list", token))
        only_failed = _ids(router, token, status=["failed"])
        only_api = _ids(router, token, repositoryIds=[api.id])
        by_path = _ids(router, token, text="b.md")
        by_path_in_other_case = _ids(router, token, text="B.MD")
        by_id = _ids(router, token, text=f"#{failed}")
        by_an_id_beyond_any = _ids(router, token, text=f"#{2**40}")

    assert [job["id"] for job in everything["jobs"]] == [running, failed, done]
    assert everything["counts"] == {
        "queued": 0,
        "running": 1,
        "processed": 1,
        "skipped": 0,
        "failed": 1,
        "cancelled": 0,
    }
    first = everything["jobs"][0]
    assert first["progress"] == {
        "total": 2,
        "processed": 1,
        "skipped": 0,
        "failed": 0,
        "pending": 1,
    }
    assert first["repository"] == {
        "id": handbook.id,
        "fullName": "handbook",
        "provider": "local",
        "url": None,
    }
    assert everything["jobs"][1]["error"] == "lightfast.yml line 3"
    assert first["stale"] is True and everything["jobs"][2]["stale"] is False
    assert everything["live"]["stale"] is True
    assert only_failed == [failed]
    assert only_api == [failed]
    assert by_path == by_path_in_other_case == [done]
    assert by_id == [failed]
    assert by_an_id_beyond_any == []


def test_a_page_cursor_is_stable_while_new_jobs_arrive(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        handbook, _ = router.local_repository("handbook")
        db = router.services.db
        made = [make_job(db, handbook, after=f"{n:040x}") for n in range(7)]
        token = router.token()

        first = _data(router.query("jobs.list", token, {"limit": 3}))
        newer = make_job(db, handbook)
        second = _data(
            router.query("jobs.list", token, {"limit": 3, "cursor": first["nextCursor"]})
        )
        third = _data(
            router.query("jobs.list", token, {"limit": 3, "cursor": second["nextCursor"]})
        )
        # The first page asked again within a second is the answer shared a moment ago; the
        # first page of this repository is computed now.
        fresh = _ids(router, token, limit=3, repositoryIds=[handbook.id])

    newest_first = made[::-1]
    assert [job["id"] for job in first["jobs"]] == newest_first[:3]
    assert [job["id"] for job in second["jobs"]] == newest_first[3:6]
    assert [job["id"] for job in third["jobs"]] == newest_first[6:]
    assert third["nextCursor"] is None
    assert fresh[0] == newer


def test_jobs_get_pages_and_filters_the_files_of_a_job(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        handbook, _ = router.local_repository("handbook")
        files = {f"page-{n:03d}.md": FileStatus.PROCESSED for n in range(250)}
        files["broken.md"] = FileStatus.FAILED
        job_id = make_job(router.services.db, handbook, files=files)
        token = router.token()

        first = _data(router.query("jobs.get", token, {"id": job_id, "fileLimit": 100}))
        cursor = first["files"]["nextCursor"]
        second = _data(
            router.query("jobs.get", token, {"id": job_id, "fileLimit": 100, "fileCursor": cursor})
        )
        failed = _data(router.query("jobs.get", token, {"id": job_id, "fileStatus": ["failed"]}))

    assert len(first["files"]["items"]) == 100
    assert first["files"]["items"][0]["path"] == "page-000.md"
    assert second["files"]["items"][0]["path"] == "page-100.md"
    assert first["files"]["counts"] == {"pending": 0, "processed": 250, "skipped": 0, "failed": 1}
    [broken] = failed["files"]["items"]
    assert (broken["path"], broken["error"]) == ("broken.md", "cannot be decoded")
    assert [phase["state"] for phase in first["phases"]] == ["done"] * 5
    assert first["phases"][2]["label"] == "Indexing 251 files"


def test_another_organizations_job_is_missing_on_every_procedure(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        theirs, _ = router.local_repository("secrets", org="acme")
        job_id = make_job(router.services.db, theirs, status=IngestionStatus.FAILED)
        token = router.token("default")

        listed = _ids(router, token)
        searched = _ids(router, token, text=str(job_id))
        answers = [
            router.query("jobs.get", token, {"id": job_id}),
            router.mutate("jobs.retry", token, {"id": job_id}),
            router.mutate("jobs.cancel", token, {"id": job_id}),
        ]
        many = _data(router.mutate("jobs.retryMany", token, {"ids": [job_id]}))

    assert listed == searched == []
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == f"organization default has no job #{job_id}"
    assert many["results"] == [
        {
            "id": job_id,
            "outcome": "skipped",
            "message": f"organization default has no job #{job_id}",
            "jobId": None,
        }
    ]


def test_a_job_that_cannot_be_retried_or_cancelled_says_why(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        handbook, _ = router.local_repository("handbook")
        db = router.services.db
        done = make_job(db, handbook, files={"a.md": FileStatus.PROCESSED})
        running = make_job(db, handbook, status=IngestionStatus.RUNNING)
        token = router.token()

        retry_done = router.mutate("jobs.retry", token, {"id": done})
        retry_running = router.mutate("jobs.retry", token, {"id": running})
        cancel_done = router.mutate("jobs.cancel", token, {"id": done})

    assert retry_done.status_code == retry_running.status_code == cancel_done.status_code == 412
    assert retry_done.json()["error"]["message"] == (
        f"job #{done} ended processed with no failed files: nothing to retry"
    )
    assert retry_running.json()["error"]["message"].startswith(f"job #{running} is still running")
    assert cancel_done.json()["error"]["message"] == f"job #{done} already ended processed"


def test_cancel_ends_a_queued_job_at_once_even_when_inngest_is_unreachable(
    tmp_path: Path,
    database_url: str,
) -> None:
    with running_router(tmp_path, database_url) as router:
        handbook, _ = router.local_repository("handbook")
        job_id = make_job(
            router.services.db,
            handbook,
            status=IngestionStatus.QUEUED,
            files={"a.md": FileStatus.PENDING},
        )
        token = router.token()

        cancelled = _data(router.mutate("jobs.cancel", token, {"id": job_id}))["job"]
        many = _data(router.mutate("jobs.cancelMany", token, {"filter": {"status": ["queued"]}}))

    assert cancelled["status"] == "cancelled"
    assert cancelled["progress"]["skipped"] == 1
    assert many["results"] == []


def test_a_cancelled_job_shows_the_phase_it_stopped_as_cancelled(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        handbook, _ = router.local_repository("handbook")
        files = {"a.md": FileStatus.PROCESSED, "b.md": FileStatus.SKIPPED}
        job_id = make_job(
            router.services.db, handbook, status=IngestionStatus.CANCELLED, files=files
        )
        with session_scope(router.services.db) as session:
            job = session.get(IngestionCommit, job_id)
            assert job is not None and job.processed_at is not None
            cancelled_at = job.processed_at - timedelta(seconds=5)  # a.md ended after the cancel
            job.processed_at = cancelled_at

        phases = _data(router.query("jobs.get", router.token(), {"id": job_id}))["phases"]

    assert [(phase["name"], phase["state"]) for phase in phases] == [
        ("queued", "done"),
        ("planning", "done"),
        ("indexing", "cancelled"),
        ("finalizing", "pending"),
        ("done", "cancelled"),
    ]
    indexing = phases[2]
    assert datetime.fromisoformat(indexing["finishedAt"]) == cancelled_at
    assert indexing["startedAt"] < indexing["finishedAt"]


def test_a_job_being_retried_or_left_behind_by_the_index_is_not_retried_again(
    tmp_path: Path,
    database_url: str,
) -> None:
    with running_router(tmp_path, database_url) as router:
        handbook, _ = router.local_repository("handbook")
        db = router.services.db
        failed = make_job(db, handbook, status=IngestionStatus.FAILED, after="a" * 40)
        make_job(db, handbook, status=IngestionStatus.QUEUED, after="a" * 40, retry_of=failed)
        older = make_job(db, handbook, status=IngestionStatus.FAILED, after="b" * 40)
        newer = make_job(db, handbook, status=IngestionStatus.PROCESSED, after="c" * 40)
        with session_scope(db) as session:
            row = session.get(ConnectedRepository, handbook.id)
            assert row is not None
            row.last_ingested_sha = "c" * 40
            session.add(row)
        token = router.token()

        being_retried = router.mutate("jobs.retry", token, {"id": failed})
        left_behind = router.mutate("jobs.retry", token, {"id": older})

    assert being_retried.status_code == left_behind.status_code == 409
    assert (
        being_retried.json()["error"]["message"]
        == f"job #{failed} is being retried by job #{failed + 1}"
    )
    assert left_behind.json()["error"]["message"] == (
        f"the index of handbook has moved past job #{older} (job #{newer} indexed "
        f"{'c' * 12}): sync the repository instead"
    )
