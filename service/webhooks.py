"""`POST /webhooks/github`: GitHub push deliveries become ingestion jobs.

The request path only verifies, records and sends: the delivery's row in `ingestion_commit`
(its `delivery_id` is unique, so a redelivery finds the job it already started) and one
`github/push` event whose id is the delivery id. Everything else happens in the functions.
"""

import hashlib
import hmac
import logging
from typing import Any

import inngest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from functions.events import GITHUB_PUSH
from service.db import in_session
from service.deps import Services, ServicesDep
from service.models import ConnectedRepository, IngestionCommit, IngestionTrigger
from service.planner import PAYLOAD_COMMIT_LIMIT

log = logging.getLogger("service.webhooks")

MAX_BODY_BYTES = 25 * 1024 * 1024
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
SIGNATURE_HEADER = "x-hub-signature-256"

router = APIRouter()


class PushRepository(BaseModel):
    id: int | str
    full_name: str


class PushCommit(BaseModel):
    id: str
    added: list[str] = []
    modified: list[str] = []
    removed: list[str] = []


class PushPayload(BaseModel):
    """The parts of GitHub's push payload that ingestion uses."""

    ref: str
    before: str
    after: str
    created: bool = False
    deleted: bool = False
    forced: bool = False
    repository: PushRepository
    commits: list[PushCommit] = []
    size: int | None = None  # commits in the push, when GitHub says so


class PingPayload(BaseModel):
    repository: PushRepository | None = None
    zen: str | None = None


def _answer(http_status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=http_status)


def signature_of(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub computes for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is over the limit (checked before and while reading)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/github")
async def github_webhook(request: Request, services: ServicesDep) -> JSONResponse:
    missing = [
        h for h in (EVENT_HEADER, DELIVERY_HEADER, SIGNATURE_HEADER) if not request.headers.get(h)
    ]
    if missing:
        return _answer(400, error=f"missing header(s): {', '.join(missing)}")
    body = await _read_body(request)
    if body is None:
        return _answer(413, error=f"payload over {MAX_BODY_BYTES // (1024 * 1024)} MB")
    event = request.headers[EVENT_HEADER]
    delivery = request.headers[DELIVERY_HEADER]
    try:
        payload_model = PushPayload if event == "push" else PingPayload
        payload = payload_model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return _answer(400, error=f"malformed {event} payload: {where}: {first['msg']}")
    if payload.repository is None:
        return _answer(400, error="payload has no repository")
    repository = await in_session(services.db, _find_repository, payload.repository)
    if repository is None:
        return _answer(404, error=f"repository {payload.repository.full_name} is not connected")
    expected = signature_of(repository.webhook_secret, body).encode()
    # As bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    given = request.headers[SIGNATURE_HEADER].encode("latin-1")
    if not hmac.compare_digest(expected, given):
        return _answer(401, error="signature does not match the repository's webhook secret")
    if not isinstance(payload, PushPayload):
        return _answer(200, ok=True, event=event)
    return await _accept_push(services, repository, payload, delivery)


def _find_repository(session: Session, repo: PushRepository) -> ConnectedRepository | None:
    found = session.exec(
        select(ConnectedRepository).where(ConnectedRepository.external_id == str(repo.id))
    ).first()
    return found


def _job_of(session: Session, delivery: str) -> IngestionCommit | None:
    return session.exec(
        select(IngestionCommit).where(IngestionCommit.delivery_id == delivery)
    ).first()


def _record_job(
    session: Session, repository: ConnectedRepository, push: PushPayload, delivery: str
) -> tuple[IngestionCommit | None, bool]:
    """The delivery's job, created if new, and whether its event was already sent."""
    job = _job_of(session, delivery)
    if job is not None:
        return job, job.event_id is not None
    assert repository.id is not None
    job = IngestionCommit(
        store_id=repository.store_id,
        repository_id=repository.id,
        delivery_id=delivery,
        before_sha=push.before,
        after_sha=push.after,
        ref=push.ref,
        trigger=IngestionTrigger.PUSH,
    )
    session.add(job)
    try:
        session.flush()
    except IntegrityError:  # the same delivery, arriving at the same moment, won the insert
        session.rollback()
        return _job_of(session, delivery), True
    return job, False


def _record_event(session: Session, job_id: int, event_id: str | None) -> None:
    job = session.get(IngestionCommit, job_id)
    if job is not None:
        job.event_id = event_id
        session.add(job)


async def _accept_push(
    services: Services, repository: ConnectedRepository, push: PushPayload, delivery: str
) -> JSONResponse:
    branch_ref = f"refs/heads/{repository.default_branch}"
    if push.deleted:
        return _answer(202, ignored=f"{push.ref} was deleted")
    if push.ref != branch_ref:
        return _answer(202, ignored=f"push to {push.ref}, not the ingested branch {branch_ref}")
    job, sent = await in_session(services.db, _record_job, repository, push, delivery)
    if job is None or job.id is None:
        return _answer(409, error=f"delivery {delivery} is being recorded; retry")
    if sent:
        return _answer(200, job_id=job.id, status=job.status, duplicate=True)
    truncated = push.size is not None and push.size > len(push.commits)
    data = {
        "ingestion_id": job.id,
        "repository_id": repository.id,
        "before": push.before,
        "after": push.after,
        "forced": push.forced,
        "created": push.created,
        "truncated": truncated or len(push.commits) >= PAYLOAD_COMMIT_LIMIT,
        "commits": [c.model_dump(include={"added", "modified", "removed"}) for c in push.commits],
    }
    try:
        ids = await services.inngest.send(inngest.Event(name=GITHUB_PUSH, id=delivery, data=data))
    except Exception as exc:  # the SDK raises several types; every one means "not sent"
        log.warning("job %s: could not send %s: %s", job.id, GITHUB_PUSH, exc)
        return _answer(503, error="could not start the job; GitHub will redeliver", job_id=job.id)
    await in_session(services.db, _record_event, job.id, ids[0] if ids else None)
    return _answer(202, job_id=job.id, status=job.status)
