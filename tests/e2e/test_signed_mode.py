"""The whole ingestion in signed mode: engine and app hold a signing key and an event key, as
`serve` runs them when both are set. The SDK is in cloud mode and checks every call; the jobs
router reads and cancels runs with the hashed signing key as bearer; a wrong event key makes the
webhook answer 503 naming it, and nothing is started."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.inngest_api import InngestApiError, NotFound, create_inngest_api
from service.db import session_scope
from service.events import GITHUB_PUSH
from service.models import IngestionStatus
from service.repositories import ensure_org
from service.settings import Settings
from service.tokens import issue_token
from tests.e2e.system import System, page, running_system

FILES = {f"docs/page-{n}.md": page(f"Signed {n}", ("Body", f"Signed page {n}.")) for n in range(5)}
UNKNOWN_RUN = "01JRUN0000000000000000000A"


def _jobs_get(system: System, job_id: int) -> Any:
    with session_scope(system.services.db) as session:
        token = issue_token(session, ensure_org(session, "default"), name="test").token
    response = system.http.get(
        "/api/trpc/jobs.get",
        params={"input": json.dumps({"id": job_id})},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]["data"]


def _cancel(settings: Settings, *, signing_key: str | None) -> None:
    async def cancel() -> None:
        async with httpx.AsyncClient() as http:
            config = settings.model_copy(update={"inngest_signing_key": signing_key})
            await create_inngest_api(config, http).cancel_run(UNKNOWN_RUN)

    asyncio.run(cancel())


def test_a_push_is_ingested_with_engine_and_app_signed(tmp_path: Path) -> None:
    with running_system(tmp_path, signed=True) as system:
        settings = system.services.settings
        system.repo.write(FILES)
        system.repo.commit("docs")
        job = system.finished(system.push())
        consistent = system.index_is_consistent()
        details = _jobs_get(system, job.id or 0)
        # The router's cancel reaches the signed engine's REST API: the run is unknown (404),
        # not refused (401); without the key it is refused, naming the signing key.
        with pytest.raises(NotFound):
            _cancel(settings, signing_key=settings.inngest_signing_key)
        with pytest.raises(InngestApiError) as refused:
            _cancel(settings, signing_key=None)
        unsigned_call = system.http.post(
            "/api/inngest", params={"fnId": "docs-ingest-docs-ingestion", "stepId": "step"}
        )

    assert settings.engine_signed and system.services.inngest.is_production
    assert job.status is IngestionStatus.PROCESSED, job.error_message
    assert (job.files_total, job.files_processed, job.files_failed) == (5, 5, 0)
    assert sorted(system.indexed()) == sorted(FILES)
    assert consistent and system.points() >= 5  # every page indexed, its chunks all points
    assert details["run"]["status"] == "Completed"  # live status, read with the bearer
    assert refused.value.status == 401
    assert "signing key" in str(refused.value)
    assert unsigned_call.status_code == 401  # the app took only the engine's signed calls


def test_a_wrong_event_key_makes_the_webhook_answer_503_naming_it(tmp_path: Path) -> None:
    with running_system(tmp_path, signed=True, INNGEST_EVENT_KEY="not-the-engines-key") as system:
        system.repo.write(FILES)
        system.repo.commit("docs")
        answer = system.deliver(system.payload())
        job = system.job(answer.json()["job_id"])
        sent = system.events(GITHUB_PUSH)

    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error.startswith("could not start the job: Inngest did not take the event")
    assert "Event key not found" in error and "INNGEST_EVENT_KEY" in error
    assert "not-the-engines-key" not in error
    assert job.status is IngestionStatus.QUEUED and job.event_id is None
    assert sent == []
