"""`POST /webhooks/github`: GitHub push deliveries become ingestion jobs.

The request path only verifies, records and sends: the delivery's row in `ingestion_commit`
(its `delivery_id` is unique, so a redelivery finds the job it already started) and one
`github/push` event whose id is the delivery id. Everything else happens in the functions.
GitHub delivers in bursts (a merge train, a mass redelivery), so the path's database work and
event sends are batched across concurrent deliveries (`PushIntake`).

A delivery that can never start a job (a bad signature, a malformed payload, a path no repository
can hold) is a 4xx that says why, before anything is recorded; one of an event other than push
is acknowledged as ignored, as GitHub lists any other answer as a failed delivery.
"""

import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, NamedTuple

import inngest
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from router.names import WEBHOOK_PATH
from service import jobs, logs, metrics
from service.batching import Batcher
from service.db import batched_in_session, insert_skipping_existing
from service.events import GITHUB_PUSH
from service.models import (
    ConnectedRepository,
    IngestionCommit,
    IngestionStatus,
    IngestionTrigger,
    utc_now,
)
from service.planner import PAYLOAD_COMMIT_LIMIT, path_problem

log = logging.getLogger("web.webhooks")

MAX_BODY_BYTES = 25 * 1024 * 1024
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
SIGNATURE_HEADER = "x-hub-signature-256"
# The events the webhook acts on. GitHub marks a delivery failed unless it gets a 2xx, so any
# other event is acknowledged as ignored.
PUSH_EVENT, PING_EVENT = "push", "ping"
# GitHub's delivery ids are GUIDs; a longer one would not fit PostgreSQL's unique index.
MAX_DELIVERY_ID = 200
# A webhook GitHub sends as a form (content type application/x-www-form-urlencoded).
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
COMMIT_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# Inngest takes events of up to 256 KiB: a push naming more paths than fit in this many bytes is
# sent without them, and planned from the whole tree as a truncated push is.
MAX_COMMITS_BYTES = 64 * 1024
# Events per send: Inngest takes at most 3 MiB in one request, and 32 of the largest fit.
SEND_BATCH = 32
# How long a copy of a delivery that is sending its job's event holds that right; a sender that
# died is replaced by a redelivery after this.
CLAIM_EXPIRES_AFTER = timedelta(seconds=60)

router = APIRouter()


def _possible_path(path: str) -> str:
    problem = path_problem(path)
    if problem is not None:
        raise PydanticCustomError("path", "{problem}", {"problem": problem})
    return path


def _commit_sha(sha: str) -> str:
    if not COMMIT_SHA.fullmatch(sha):
        shown = sha if len(sha) <= 80 else sha[:80] + "..."
        raise PydanticCustomError(
            "sha",
            "must be a commit sha of 40 or 64 lowercase hex digits (got '{sha}')",
            {"sha": shown},
        )
    return sha


RepositoryPath = Annotated[str, AfterValidator(_possible_path)]
CommitSha = Annotated[str, AfterValidator(_commit_sha)]


def _repository_id(value: int | str) -> int | str:
    # It is looked up in a text column, where PostgreSQL refuses NUL.
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("nul", "must not contain the NUL character (\\u0000)")
    return value


class PushRepository(BaseModel):
    id: Annotated[int | str, AfterValidator(_repository_id)]
    full_name: str


class PushCommit(BaseModel):
    id: str
    added: list[RepositoryPath] = []
    modified: list[RepositoryPath] = []
    removed: list[RepositoryPath] = []


class PushPayload(BaseModel):
    """The parts of GitHub's push payload that ingestion uses."""

    ref: str
    before: CommitSha
    after: CommitSha
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


@router.post(WEBHOOK_PATH)
async def github_webhook(request: Request) -> JSONResponse:
    intake: PushIntake = request.app.state.push_intake
    missing = [
        h for h in (EVENT_HEADER, DELIVERY_HEADER, SIGNATURE_HEADER) if not request.headers.get(h)
    ]
    if missing:
        return _answer(400, error=f"missing header(s): {', '.join(missing)}")
    event = request.headers[EVENT_HEADER]
    if event not in (PUSH_EVENT, PING_EVENT):
        return _answer(202, ignored=f"{event} events are not ingested, only push events")
    delivery = request.headers[DELIVERY_HEADER]
    if len(delivery) > MAX_DELIVERY_ID:
        return _answer(400, error=f"{DELIVERY_HEADER} is over {MAX_DELIVERY_ID} characters")
    if request.headers.get("content-type", "").startswith(FORM_CONTENT_TYPE):
        return _answer(
            415,
            error=f"the webhook sends {FORM_CONTENT_TYPE}; set its content type to "
            "application/json in the repository's webhook settings",
        )
    body = await _read_body(request)
    if body is None:
        return _answer(413, error=f"payload over {MAX_BODY_BYTES // (1024 * 1024)} MB")
    logs.bind(delivery_id=delivery)
    try:
        payload_model = PushPayload if event == PUSH_EVENT else PingPayload
        payload = payload_model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return _answer(400, error=f"malformed {event} payload: {where}: {first['msg']}")
    if payload.repository is None:
        return _answer(400, error="payload has no repository")
    repository = await intake.find_repository(str(payload.repository.id))
    # One answer, in the same time, whether the repository is unknown or the secret another: a
    # caller without a secret cannot learn which repositories are connected.
    expected = signature_of(repository.webhook_secret if repository else "", body).encode()
    # As bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    given = request.headers[SIGNATURE_HEADER].encode("latin-1")
    if repository is None or not hmac.compare_digest(expected, given):
        return _answer(
            401,
            error=f"signature does not match: {payload.repository.full_name} is not connected "
            "here, or its webhook secret is another",
        )
    logs.bind(repository=repository.full_name)
    if not isinstance(payload, PushPayload):
        return _answer(200, ok=True, event=event)
    return await _accept_push(intake, repository, payload, delivery)


def _find_repositories(
    session: Session, external_ids: list[str]
) -> list[ConnectedRepository | None]:
    found: dict[str, ConnectedRepository] = {}
    query = select(ConnectedRepository).where(
        col(ConnectedRepository.external_id).in_(set(external_ids))
    )
    for repository in session.exec(query.order_by(col(ConnectedRepository.id))):
        found.setdefault(repository.external_id, repository)
    return [found.get(external_id) for external_id in external_ids]


Delivery = tuple[ConnectedRepository, PushPayload, str]  # repository, payload, delivery id


class RecordedJob(NamedTuple):
    id: int
    status: IngestionStatus
    sent: bool  # its event was sent already, or another copy of the delivery is sending it
    repository_id: int


def _record_jobs(session: Session, deliveries: list[Delivery]) -> list[RecordedJob]:
    """Each delivery's job, inserted if new.

    A job's event is sent by one copy of its delivery only: the one that inserts the row, or
    that claims a row whose event was never recorded (its sender failed, or died and its claim
    has expired). So the event id the row keeps is that of the event that started the job.
    Copies arriving at once at several app processes race to insert the row: the insert skips
    a row another transaction committed, and this copy then finds that row as a redelivery would.
    """
    now = utc_now()
    wanted = {delivery_id: repository.id for repository, _, delivery_id in deliveries}
    jobs = _claim_existing(session, wanted, now)
    new_rows = {
        delivery_id: {
            "organization_id": repository.organization_id,
            "store_id": repository.store_id,
            "repository_id": repository.id,
            "delivery_id": delivery_id,
            "before_sha": push.before,
            "after_sha": push.after,
            "ref": push.ref,
            "trigger": IngestionTrigger.PUSH,
            "event_claimed_at": now,
        }
        for repository, push, delivery_id in deliveries
        if delivery_id not in jobs
    }
    if new_rows:  # one multi-row INSERT ... RETURNING, in key order (no deadlock between two)
        insert_rows = insert_skipping_existing(session, IngestionCommit, "delivery_id").returning(
            col(IngestionCommit.delivery_id),
            col(IngestionCommit.id),
            col(IngestionCommit.status),
            col(IngestionCommit.repository_id),
        )
        for row in session.execute(insert_rows, [new_rows[key] for key in sorted(new_rows)]):
            jobs[row.delivery_id] = RecordedJob(row.id, row.status, False, row.repository_id)
        raced = {key: wanted[key] for key in new_rows if key not in jobs}
        jobs |= _claim_existing(session, raced, now)
    recorded = []
    for _, _, delivery_id in deliveries:
        recorded.append(jobs[delivery_id])
        # A second copy of the delivery in this batch must not send the event again.
        jobs[delivery_id] = jobs[delivery_id]._replace(sent=True)
    return recorded


def _claim_existing(
    session: Session, deliveries: dict[str, int | None], now: datetime
) -> dict[str, RecordedJob]:
    """The jobs already recorded for these deliveries (delivery id -> the repository delivering
    it), each claimed for sending if it can be. A job of another repository is never claimed:
    its delivery id was reused, and this push must not start that job."""
    if not deliveries:
        return {}
    query = select(IngestionCommit).where(col(IngestionCommit.delivery_id).in_(deliveries))
    return {
        job.delivery_id: RecordedJob(
            job.id,
            job.status,
            job.repository_id != deliveries[job.delivery_id] or not _claim(session, job, now),
            job.repository_id,
        )
        for job in session.exec(query.order_by(col(IngestionCommit.id)))
        if job.id is not None
    }


def _claim(session: Session, job: IngestionCommit, now: datetime) -> bool:
    """Whether this copy of the delivery now owns sending the job's event (one UPDATE, so two
    copies racing under READ COMMITTED cannot both win)."""
    if job.event_id is not None:
        return False
    claimed = session.execute(
        sa.update(IngestionCommit)
        .where(
            col(IngestionCommit.id) == job.id,
            col(IngestionCommit.event_id).is_(None),
            sa.or_(
                col(IngestionCommit.event_claimed_at).is_(None),
                col(IngestionCommit.event_claimed_at) < now - CLAIM_EXPIRES_AFTER,
            ),
        )
        .values(event_claimed_at=now)
        .returning(col(IngestionCommit.id))
    )
    return claimed.first() is not None


def _release_claims(session: Session, job_ids: list[int]) -> list[None]:
    """The event of these jobs was not sent: a redelivery may send it."""
    session.execute(
        sa.update(IngestionCommit)
        .where(col(IngestionCommit.id).in_(job_ids))
        .values(event_claimed_at=None)
    )
    return [None] * len(job_ids)


def _record_events(session: Session, sent: list[tuple[int, str]]) -> list[None]:
    jobs.record_event_ids(session, sent)
    return [None] * len(sent)


class PushIntake:
    """The push path's database work and event sends, each batched across deliveries."""

    def __init__(self, db: Engine, client: inngest.Inngest) -> None:
        self.find_repository = batched_in_session(db, _find_repositories)
        self.record_job = batched_in_session(db, _record_jobs)
        self.record_event = batched_in_session(db, _record_events)
        self.release_claim = batched_in_session(db, _release_claims)
        self.send: Batcher[inngest.Event, str] = Batcher(
            partial(metrics.send_events, client), max_batch=SEND_BATCH
        )


async def _accept_push(
    intake: PushIntake, repository: ConnectedRepository, push: PushPayload, delivery: str
) -> JSONResponse:
    branch_ref = f"refs/heads/{repository.default_branch}"
    if push.deleted:
        return _answer(202, ignored=f"{push.ref} was deleted")
    if not push.after.strip("0"):  # GitHub's "no commit": only a deleted branch points there
        return _answer(400, error="malformed push payload: after is all zeros but deleted is false")
    if push.ref != branch_ref:
        return _answer(202, ignored=f"push to {push.ref}, not the ingested branch {branch_ref}")
    job = await intake.record_job((repository, push, delivery))
    if job.repository_id != repository.id:  # nothing of that job is this sender's to see
        return _answer(409, error=f"{DELIVERY_HEADER} {delivery!r} was used by another push")
    logs.bind(job_id=job.id)
    if job.sent:
        return _answer(200, job_id=job.id, status=job.status, duplicate=True)
    commits = [c.model_dump(include={"added", "modified", "removed"}) for c in push.commits]
    too_long = len(json.dumps(commits)) > MAX_COMMITS_BYTES
    truncated = push.size is not None and push.size > len(push.commits)
    data: dict[str, Any] = {
        "ingestion_id": job.id,
        "repository_id": repository.id,
        "before": push.before,
        "after": push.after,
        "forced": push.forced,
        "created": push.created,
        "truncated": truncated or too_long or len(push.commits) >= PAYLOAD_COMMIT_LIMIT,
        "commits": [] if too_long else commits,
    }
    try:
        event_id = await intake.send(inngest.Event(name=GITHUB_PUSH, id=delivery, data=data))
    except Exception as exc:  # the SDK raises several types; every one means "not sent"
        log.warning("job %s: could not send %s: %s", job.id, GITHUB_PUSH, exc)
        await intake.release_claim(job.id)
        reason = f"Inngest did not take the event ({exc})"  # its words (a wrong key is named)
        error = f"could not start the job: {reason}; GitHub will redeliver"
        return _answer(503, error=error, job_id=job.id)
    await intake.record_event((job.id, event_id))
    return _answer(202, job_id=job.id, status=job.status)
