"""What operators and orchestrators ask of a replica: `/healthz`, `/readyz` and `/metrics`.

`/healthz` answers while the process serves requests. `/readyz` asks each dependency whether it
answers now: the database (`SELECT 1`), the vector store (Qdrant Edge's folder, or the Qdrant
server) and Inngest (its REST API, with the signing key when one is set). It answers 200 when
every check is ok and 503 otherwise, naming each with `ok` or `error` and a short reason, secrets
redacted. A check gets READY_TIMEOUT_S; one still running from an earlier probe is awaited again,
not started twice, so a hung database holds one worker thread, not one more per probe.

`/metrics` reads the job table's gauges (service/metrics.py) and serves this replica's metrics in
Prometheus's text format.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine

from router.inngest_api import InngestApi
from service import db, logs, metrics
from service.deps import Services

log = logging.getLogger("web.operations")

READY_TIMEOUT_S = 2.0
REASON_LENGTH = 200
OK = "ok"
ERROR = "error"


class SingleFlight:
    """An async check whose run is shared by the callers that arrive while it runs."""

    def __init__(self, check: Callable[[], Awaitable[None]]) -> None:
        self._check = check
        self._running: asyncio.Future[None] | None = None

    async def __call__(self) -> None:
        """Run the check, or join the run under way; a caller that stops waiting (its timeout)
        leaves the run going for the others."""
        running = self._running
        loop = asyncio.get_running_loop()
        if running is None or running.done() or running.get_loop() is not loop:
            running = self._running = asyncio.ensure_future(self._check())
            # Its outcome is read here even when every caller has stopped waiting.
            running.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(running)


def create_operations_router(services: Services, inngest_api: InngestApi) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    redact = logs.Redactor(logs.secrets_of(services.settings))
    checks = {
        "database": SingleFlight(lambda: asyncio.to_thread(_select_one, services.db)),
        "vectors": SingleFlight(services.vectors.ready),
        "inngest": SingleFlight(inngest_api.ping),
    }
    job_table = SingleFlight(lambda: db.in_session(services.db, metrics.read_job_table))

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": OK}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_outcome(check, redact) for check in checks.values()))
        answers = dict(zip(checks, results, strict=True))
        ready = all(answer["status"] == OK for answer in answers.values())
        return JSONResponse(
            {"status": OK if ready else ERROR, "checks": answers},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics_text() -> Response:
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                await job_table()
        except Exception as exc:
            log.warning("/metrics serves no job counts: %s", _reason(exc, redact))
            metrics.forget_job_table()
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


async def _outcome(check: SingleFlight, redact: logs.Redactor) -> dict[str, str]:
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await check()
    except TimeoutError:
        return {"status": ERROR, "reason": f"no answer within {READY_TIMEOUT_S:g} s"}
    except Exception as exc:
        return {"status": ERROR, "reason": _reason(exc, redact)}
    return {"status": OK}


def _reason(exc: Exception, redact: logs.Redactor) -> str:
    """The first line of the error's message (SQLAlchemy adds a second, a link), redacted."""
    lines = str(exc).strip().splitlines()
    reason = redact(lines[0]) if lines else type(exc).__name__
    return reason if len(reason) <= REASON_LENGTH else reason[: REASON_LENGTH - 1] + "…"


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
