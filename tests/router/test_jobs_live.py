"""`jobs.list` asks a fake Inngest API (respx) only about the jobs the table has not seen finish:
twenty callers at once cost one call per job, a run that failed in Inngest is written back, and a
down or slow Inngest gives a stale answer from the table instead of an error."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from service.models import FileStatus, IngestionStatus
from tests.router.jobs_factory import make_job
from tests.router.service import Router, running_router


def _run(run_id: str, status: str, **fields: Any) -> dict[str, Any]:
    body = {
        "run_id": run_id,
        "run_started_at": "2026-11-30T02:03:04.123Z",
        "event_id": "01KEVENT",
        "status": status,
        "ended_at": None,
    }
    return {"data": body | fields, "metadata": {"fetched_at": "2026-11-30T02:03:05Z"}}


@pytest.fixture
def router(tmp_path: Path, database_url: str) -> Iterator[Router]:
    with running_router(tmp_path, database_url) as router:
        yield router


def _list_concurrently(router: Router, token: str, callers: int) -> list[dict[str, Any]]:
    transport = httpx.ASGITransport(app=router.client.app)
    headers = {"Authorization": f"Bearer {token}"}

    async def main() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            answers = await asyncio.gather(
                *(
                    client.get("/api/trpc/jobs.list", params={"input": "{}"}, headers=headers)
                    for _ in range(callers)
                )
            )
        return [answer.json()["result"]["data"] for answer in answers]

    return asyncio.run(main())


def test_only_unfinished_jobs_are_asked_and_twenty_callers_cost_one_call(router: Router) -> None:
    repository, _ = router.local_repository("handbook")
    db = router.services.db
    make_job(db, repository, event_id="01KDONE", run_id="01KRUNDONE")
    running = make_job(
        db,
        repository,
        status=IngestionStatus.RUNNING,
        files={"a.md": FileStatus.PENDING},
        event_id="01KRUNNING",
        run_id="01KRUNRUNNING",
    )
    other = router.local_repository("api-docs")[0]
    queued = make_job(db, other, status=IngestionStatus.QUEUED, event_id="01KQUEUED")
    token = router.token()
    origin = router.services.settings.engine_url
    with respx.mock(assert_all_called=True) as inngest:
        run = inngest.get(f"{origin}/v1/runs/01KRUNRUNNING").respond(
            200, json=_run("01KRUNRUNNING", "Running")
        )
        runs = inngest.get(f"{origin}/v1/events/01KQUEUED/runs").respond(
            200, json={"data": [], "metadata": {}}
        )
        answers = _list_concurrently(router, token, 20)

    assert run.call_count == runs.call_count == 1  # and nothing about the finished job
    for answer in answers:
        by_id = {job["id"]: job for job in answer["jobs"]}
        assert answer["live"]["stale"] is False
        assert by_id[running]["run"]["status"] == "Running"
        assert by_id[queued]["waitingFor"] == "waiting for Inngest to start its run"


def test_a_run_that_failed_in_inngest_is_written_back(router: Router) -> None:
    repository, _ = router.local_repository("handbook")
    job_id = make_job(
        router.services.db,
        repository,
        status=IngestionStatus.RUNNING,
        files={"a.md": FileStatus.PENDING},
        run_id="01KRUN",
    )
    token = router.token()
    with respx.mock() as inngest:
        inngest.get(f"{router.services.settings.engine_url}/v1/runs/01KRUN").respond(
            200, json=_run("01KRUN", "Failed", output={"message": "the worker was killed"})
        )
        first = router.query("jobs.list", token).json()["result"]["data"]["jobs"][0]
    # Written back: the next answer comes from the table alone.
    with respx.mock(assert_all_called=False) as inngest:
        second = router.query("jobs.get", token, {"id": job_id}).json()["result"]["data"]
        assert not inngest.calls

    assert first["status"] == "failed"
    assert first["error"] == "the Inngest run failed: the worker was killed"
    assert second["job"]["status"] == "failed"
    assert second["phases"][-1]["state"] == "failed"


@pytest.mark.parametrize("failure", ["down", "slow", "error in a 200"])
def test_inngest_down_or_slow_answers_from_the_table_marked_stale(
    router: Router, failure: str
) -> None:
    repository, _ = router.local_repository("handbook")
    job_id = make_job(
        router.services.db, repository, status=IngestionStatus.RUNNING, run_id="01KRUN"
    )
    token = router.token()

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json=_run("01KRUN", "Running"))

    with respx.mock(assert_all_called=False) as inngest:
        route = inngest.get(f"{router.services.settings.engine_url}/v1/runs/01KRUN")
        if failure == "down":
            route.side_effect = httpx.ConnectError("connection refused")
        elif failure == "slow":
            route.side_effect = slow
        else:
            route.respond(200, json={"error": "Invalid run ID", "status": 400, "data": None})
        answer = router.query("jobs.list", token, {}).json()["result"]["data"]

    [job] = answer["jobs"]
    assert (job["id"], job["status"], job["stale"]) == (job_id, "running", True)
    assert answer["live"]["stale"] is True
    assert json.dumps(answer)  # a whole answer, not an error
