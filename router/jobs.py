"""`jobs.list`, `jobs.get`, `jobs.retry`, `jobs.cancel`, `jobs.retryMany`, `jobs.cancelMany`.

The table is the history; Inngest is asked only about the jobs the table has not seen finish
(through the shared `LiveStatus`, which answers from its cache or within its timeout, and says
when its answer is stale). A terminal state Inngest reports that the table has not recorded (a
run failed or was cancelled outside the app) is written back. `jobs.list` never asks about a
finished job; `jobs.get` asks about the one job it details, to show its run's output or error.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import inngest
from pydantic import AfterValidator, Field, StrictBool, StrictInt, model_validator
from sqlmodel import Session

from router import job_views as views
from router.errors import ErrorCode, ProcedureError
from router.job_views import FilePage, Job, JobFilter, Phase, StatusCounts
from router.live import LiveAnswer, LiveKey
from router.procedure import MAX_ID, Context, Id, ProcedureInput, ProcedureOutput
from router.starting import send_ingestion_event
from service import jobs, logs, metrics
from service.events import INGESTION_CANCELLED, ingestion_ended
from service.models import (
    ConnectedRepository,
    FileStatus,
    IngestionCommit,
    IngestionStatus,
    IngestionTrigger,
)

log = logging.getLogger("router.jobs")

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
DEFAULT_FILE_LIMIT = 100
MAX_FILE_LIMIT = 500
MAX_BULK = 500  # jobs one retryMany / cancelMany acts on
RETRY_DELIVERY_PREFIX = "retry-"
_CURSOR = r"^\d{1,10}$"
# Inngest's run statuses that end a run, and what the table records for them.
_ENDED_OUTSIDE = {"Failed": IngestionStatus.FAILED, "Cancelled": IngestionStatus.CANCELLED}


def _an_id(cursor: str | None) -> str | None:
    """A cursor is a row id the service gave out; a larger number is refused, not queried."""
    if cursor is not None and int(cursor) > MAX_ID:
        raise ValueError(f"a cursor is at most {MAX_ID}")
    return cursor


Cursor = Annotated[str | None, Field(pattern=_CURSOR), AfterValidator(_an_id)]


class ListInput(JobFilter):
    cursor: Cursor = None
    limit: StrictInt = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class Live(ProcedureOutput):
    checked_at: datetime | None
    stale: bool


class JobList(ProcedureOutput):
    jobs: list[Job]
    next_cursor: str | None
    counts: StatusCounts
    live: Live


class GetInput(ProcedureInput):
    id: Id
    file_status: list[FileStatus] | None = Field(None, max_length=len(FileStatus))
    file_cursor: Cursor = None
    file_limit: StrictInt = Field(DEFAULT_FILE_LIMIT, ge=1, le=MAX_FILE_LIMIT)


class RunDetails(ProcedureOutput):
    id: str
    url: str | None
    status: str | None
    output: object | None
    error: str | None


class JobDetails(ProcedureOutput):
    job: Job
    phases: list[Phase]
    run: RunDetails | None
    files: FilePage
    live: Live


class RetryInput(ProcedureInput):
    id: Id
    only_failed_files: StrictBool = False


class CancelInput(ProcedureInput):
    id: Id


class JobAnswer(ProcedureOutput):
    job: Job


class ManyInput(ProcedureInput):
    ids: list[Id] | None = Field(None, min_length=1, max_length=MAX_LIMIT)
    filter: JobFilter | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> "ManyInput":
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either `ids` or `filter`")
        return self


class RetryManyInput(ManyInput):
    only_failed_files: StrictBool = False


class Outcome(ProcedureOutput):
    id: int
    outcome: Literal["retried", "cancelled", "skipped", "failed"]
    message: str | None = None
    job_id: int | None = None  # the new job of a retry


class ManyAnswer(ProcedureOutput):
    results: list[Outcome]


# --- queries -------------------------------------------------------------------------------------


async def list_jobs(context: Context, input: ListInput) -> JobList:
    org = context.caller.organization_id
    before = int(input.cursor) if input.cursor else None

    def read(session: Session) -> tuple[list[views.Row], bool, StatusCounts, list[IngestionCommit]]:
        rows, more = views.list_page(session, org, input, before, input.limit)
        counts = context.counter.counts(session, org, input)
        # What runs ahead of the page's unfinished jobs: needed only when it shows some.
        shown = any(job.status in jobs.UNFINISHED for job, _ in rows)
        return rows, more, counts, views.unfinished(session, org) if shown else []

    rows, more, counts, active = await context.in_session(read)
    answer, rows = await _live(context, rows)
    waiting = _waiting_reasons(active, answer)
    jobs_out = [
        _view(context, job, repo, answer, waiting.get(views.id_of(job))) for job, repo in rows
    ]
    return JobList(
        jobs=jobs_out,
        next_cursor=str(jobs_out[-1].id) if more and jobs_out else None,
        counts=counts,
        live=Live(checked_at=answer.checked_at, stale=answer.stale),
    )


async def get_job(context: Context, input: GetInput) -> JobDetails:
    org = context.caller.organization_id
    after = int(input.file_cursor) if input.file_cursor else None

    def read(
        session: Session,
    ) -> tuple[views.Row, FilePage, datetime | None, list[IngestionCommit]]:
        row = _found(views.find(session, org, input.id), input.id, context)
        files = views.file_page(session, input.id, input.file_status, after, input.file_limit)
        unfinished = views.unfinished(session, org) if row[0].status in jobs.UNFINISHED else []
        return row, files, views.last_file_finished(session, input.id), unfinished

    row, files, last_file_at, active = await context.in_session(read)
    answer, [(job, repository)] = await _live(context, [row], with_finished=True)
    view = _view(
        context, job, repository, answer, _waiting_reasons(active, answer).get(views.id_of(job))
    )
    return JobDetails(
        job=view,
        phases=views.phases(job, last_file_at),
        run=_run_details(context, job, answer),
        files=files,
        live=Live(checked_at=answer.checked_at, stale=answer.stale),
    )


# --- mutations -----------------------------------------------------------------------------------


async def retry(context: Context, input: RetryInput) -> JobAnswer:
    new_id = await _retry_one(context, input.id, input.only_failed_files)
    return JobAnswer(job=await _job_view(context, new_id))


async def cancel(context: Context, input: CancelInput) -> JobAnswer:
    await _cancel_one(context, input.id)
    return JobAnswer(job=await _job_view(context, input.id))


async def retry_many(context: Context, input: RetryManyInput) -> ManyAnswer:
    results = []
    for job_id in await _selected(context, input):
        try:
            new_id = await _retry_one(context, job_id, input.only_failed_files)
        except ProcedureError as exc:
            results.append(_not_done(job_id, exc))
        else:
            results.append(Outcome(id=job_id, outcome="retried", job_id=new_id))
    return ManyAnswer(results=results)


async def cancel_many(context: Context, input: ManyInput) -> ManyAnswer:
    results = []
    for job_id in await _selected(context, input):
        try:
            await _cancel_one(context, job_id)
        except ProcedureError as exc:
            results.append(_not_done(job_id, exc))
        else:
            results.append(Outcome(id=job_id, outcome="cancelled"))
    return ManyAnswer(results=results)


def _not_done(job_id: int, error: ProcedureError) -> Outcome:
    failed = error.code is ErrorCode.SERVICE_UNAVAILABLE
    return Outcome(id=job_id, outcome="failed" if failed else "skipped", message=error.message)


async def _selected(context: Context, input: ManyInput) -> list[int]:
    if input.ids is not None:
        return list(dict.fromkeys(input.ids))
    assert input.filter is not None
    return await context.in_session(
        views.matching_ids, context.caller.organization_id, input.filter, MAX_BULK
    )


async def _retry_one(context: Context, job_id: int, only_failed: bool) -> int:
    """A new job that redoes `job_id` at its sha (only its failed files, if asked); its id."""
    org = context.caller.organization_id

    def record(session: Session) -> IngestionCommit:
        _, repository = _found(views.find(session, org, job_id), job_id, context)
        # Locked, so that of two retries of the job at once the second sees the first's job.
        job = jobs.lock_job(session, job_id)
        _check_retriable(session, job, repository, only_failed)
        return jobs.record_job(
            session,
            repository,
            delivery_id=f"{RETRY_DELIVERY_PREFIX}{uuid.uuid4()}",
            after=job.after_sha,
            before=job.before_sha,
            trigger=IngestionTrigger.RETRY,
            retry_of=job_id,
        )

    new = await context.in_session(record)
    await send_ingestion_event(context, new, {"retry_of": job_id, "only_failed": only_failed})
    assert new.id is not None
    return new.id


def _check_retriable(
    session: Session, job: IngestionCommit, repository: ConnectedRepository, only_failed: bool
) -> None:
    name = f"job #{job.id}"
    if job.status in jobs.UNFINISHED:
        raise ProcedureError(
            ErrorCode.PRECONDITION_FAILED,
            f"{name} is still {job.status.value}: cancel it first, or wait for it to end",
        )
    if only_failed and not job.files_failed:
        raise ProcedureError(ErrorCode.PRECONDITION_FAILED, f"{name} has no failed files")
    if job.status in (IngestionStatus.PROCESSED, IngestionStatus.SKIPPED) and not job.files_failed:
        raise ProcedureError(
            ErrorCode.PRECONDITION_FAILED,
            f"{name} ended {job.status.value} with no failed files: nothing to retry",
        )
    assert job.id is not None
    retrying = jobs.unfinished_retry(session, job.id)
    if retrying is not None:
        raise ProcedureError(ErrorCode.CONFLICT, f"{name} is being retried by job #{retrying}")
    newer = jobs.newer_finished(session, job)
    if newer is not None and repository.last_ingested_sha != job.after_sha:
        raise ProcedureError(
            ErrorCode.CONFLICT,
            f"the index of {repository.full_name} has moved past {name} (job #{newer} indexed "
            f"{(repository.last_ingested_sha or '')[:12]}): sync the repository instead",
        )


async def _cancel_one(context: Context, job_id: int) -> None:
    """End the job `cancelled` in the table now, and tell Inngest to stop its runs."""
    logs.bind(job_id=job_id)
    org = context.caller.organization_id

    def end(session: Session) -> int:
        _found(views.find(session, org, job_id), job_id, context)
        job = jobs.lock_job(session, job_id)  # a job that ends meanwhile is not cancelled over
        if job.status not in jobs.UNFINISHED:
            raise ProcedureError(
                ErrorCode.PRECONDITION_FAILED, f"job #{job_id} already ended {job.status.value}"
            )
        jobs.cancel(session, job_id)
        return job.repository_id

    repository_id = await context.in_session(end)
    cancelled = inngest.Event(
        name=INGESTION_CANCELLED, id=f"{job_id}:cancelled", data={"ingestion_id": job_id}
    )
    try:  # the repository's next job, if one waits for this one, goes on at once
        await metrics.send_events(
            context.services.inngest, [cancelled, ingestion_ended(job_id, repository_id)]
        )
    except Exception as exc:  # the SDK raises several types; every one means "not sent"
        # The row has ended, and the file runs still to start skip a cancelled job's files.
        log.warning("job %s: cancelled, but Inngest could not be told: %s", job_id, exc)


# --- live status ---------------------------------------------------------------------------------


async def _live(
    context: Context, rows: list[views.Row], *, with_finished: bool = False
) -> tuple[LiveAnswer, list[views.Row]]:
    """What Inngest says of the unfinished jobs among `rows`; terminal states written back."""
    keys = [
        LiveKey(views.id_of(job), job.event_id, job.run_id)
        for job, _ in rows
        if with_finished or job.status in jobs.UNFINISHED
    ]
    answer = await context.live.lookup(keys)
    ended = {
        views.id_of(job): (_ENDED_OUTSIDE[run.status], run)
        for job, _ in rows
        if job.status in jobs.UNFINISHED
        and (run := answer.runs.get(views.id_of(job))) is not None
        and run.status in _ENDED_OUTSIDE
    }
    if not ended:
        return answer, rows

    def write_back(session: Session) -> dict[int, IngestionCommit]:
        updated = {}
        # Every lock first, in id order: ending a job also updates its organization's row, so a
        # lock taken after that could wait on a finalize that waits on the organization's row.
        locked = {job_id: jobs.lock_job(session, job_id) for job_id in sorted(ended)}
        for job_id, (status, run) in ended.items():
            if locked[job_id].status not in jobs.UNFINISHED:
                continue  # it ended in the table meanwhile, which knows why
            if status is IngestionStatus.CANCELLED:
                jobs.cancel(session, job_id)
            else:
                jobs.fail(session, job_id, f"the Inngest run failed: {_run_error(run.output)}")
            updated[job_id] = jobs.get_job(session, job_id)
        return updated

    updated = await context.in_session(write_back)
    log.info("jobs %s ended in Inngest; the table now says so", sorted(updated))
    return answer, [(updated.get(views.id_of(job), job), repo) for job, repo in rows]


def _waiting_reasons(active: Sequence[IngestionCommit], answer: LiveAnswer) -> dict[int, str]:
    """Why each unfinished job waits, from the table (what runs ahead of it) and Inngest."""
    reasons: dict[int, str] = {}
    ahead_in_repository: dict[int, int] = {}  # repository → its oldest unfinished job
    files_busy: int | None = None  # the oldest running job with files still pending
    for job in active:  # oldest first
        assert job.id is not None
        ahead = ahead_in_repository.setdefault(job.repository_id, job.id)
        pending = views.pending_files(job)
        if job.status is IngestionStatus.QUEUED:
            if ahead != job.id:
                reasons[job.id] = f"waiting for job #{ahead} of this repository to finish"
            elif job.event_id is None:
                reasons[job.id] = "waiting for its event to reach Inngest"
            elif job.id in answer.runs and answer.runs[job.id] is None:
                reasons[job.id] = "waiting for Inngest to start its run"
        elif job.planned_at is not None and pending > 0:
            if pending == job.files_total and files_busy is not None:
                reasons[job.id] = f"waiting for a file slot (job #{files_busy} holds them)"
            files_busy = files_busy or job.id
    return reasons


def _run_details(context: Context, job: IngestionCommit, answer: LiveAnswer) -> RunDetails | None:
    run = answer.runs.get(views.id_of(job))
    run_id = run.run_id if run is not None else job.run_id
    if run_id is None:
        return None
    failed = run is not None and run.status == "Failed"
    return RunDetails(
        id=run_id,
        url=context.live.run_url(run_id),
        status=run.status if run is not None else None,
        output=run.output if run is not None and not failed else None,
        error=_run_error(run.output) if run is not None and failed else None,
    )


def _run_error(output: object) -> str:
    if isinstance(output, dict):
        for key in ("message", "error"):
            if isinstance(output.get(key), str):
                return str(output[key])
    return "no error message" if output is None else str(output)[:500]


# --- helpers -------------------------------------------------------------------------------------


def _view(
    context: Context,
    job: IngestionCommit,
    repository: ConnectedRepository,
    answer: LiveAnswer,
    waiting_for: str | None,
) -> Job:
    run = answer.runs.get(views.id_of(job))
    run_id = job.run_id or (run.run_id if run is not None else None)
    return views.job_view(
        job,
        repository,
        github_web=views.github_web_origin(context.services.settings.github_api_url),
        run_url=context.live.run_url(run_id) if run_id else None,
        run_status=run.status if run is not None else None,
        waiting_for=waiting_for,
        stale=answer.is_stale(views.id_of(job)),
    )


async def _job_view(context: Context, job_id: int) -> Job:
    org = context.caller.organization_id
    row = await context.in_session(views.find, org, job_id)
    job, repository = _found(row, job_id, context)
    return _view(context, job, repository, LiveAnswer.empty(), None)


def _found(row: views.Row | None, job_id: int, context: Context) -> views.Row:
    if row is None:
        raise ProcedureError(ErrorCode.NOT_FOUND, _no_job(context, job_id))
    return row


def _no_job(context: Context, job_id: int) -> str:
    return f"organization {context.caller.organization} has no job #{job_id}"
