"""`docs-ingestion`: one run per push (or manual sync) that plans the job and fans out its files.

Steps: wait for the repository's earlier jobs to end → mark running → load `lightfast.yml` at
the pushed sha → resolve the store → plan → record the plan as `ingestion_file` rows → send
`docs/file.process` / `docs/file.delete` events in batches → wait for
`docs/ingestion.files-done` → delete the repository's chunks from the stores it left → finalize
from the rows → send `docs/ingestion.ended`.

The jobs of one repository run one after another. A job planned while an earlier one still writes
would read the index before that job's files land, and a file both change could end at the
earlier, older version. The concurrency limit per repository does not order them: a run waiting
for an event holds no slot. So a job first waits, still queued, until every earlier job of its
repository that will run has ended (`jobs.earlier_unfinished`; `docs/ingestion.ended` wakes it).

Jobs run in the order their pushes arrived, which need not be the order of the commits (GitHub
delivers late, redelivers). So a job whose commit is behind the one indexed, or one a later job is
indexing, ends skipped as overtaken at its start (`_overtaken`): it would take the index back. A
push that moved the branch back (a force push) is not overtaken: the branch is at its commit.

A wait only sees events sent after it begins, and the last file can finish between the count of
pending rows and the start of the wait: its `files-done` is then lost (under load, when calls
queue for seconds, about one job in ten). So the rows are counted again after every wait, and a
wait lasts no longer than the pending files should take at the job's pace so far, than 2ⁿ
seconds at its n-th wait, or than 30 s (`wait_timeout`): a lost wake-up costs a short job a few
seconds and a long one at most 30 s, for one count every 30 s while it runs.
"""

import contextlib
import datetime
import itertools
import json
import logging
import math
from typing import Any

import inngest
from pydantic import BaseModel
from sqlmodel import Session

from functions.steps import FailedRun, event_data, in_session, translating
from service import db, jobs, logs, metrics
from service.config import CONFIG_FILE, RepoConfig, RepoConfigError, parse_repo_config
from service.deps import Services
from service.events import (
    FILE_DELETE,
    FILE_PROCESS,
    FILES_DONE,
    GITHUB_PUSH,
    INGESTION_CANCELLED,
    INGESTION_ENDED,
    SYNC_REQUESTED,
    ingestion_ended,
)
from service.indexing import FileTask
from service.models import (
    ConnectedRepository,
    FileAction,
    IngestionCommit,
    IngestionStatus,
    utc_now,
)
from service.planner import (
    PlannedFile,
    Push,
    changed_paths,
    chunking_changed,
    full_diff_reason,
    plan,
)
from service.sources import Ancestry, Source, SourceNotFound
from service.vectors import CollectionNotFoundError

# Events per fan-out step, sent in requests of at most FAN_OUT_BYTES of data (Inngest takes up to
# 5,000 events and 3 MiB in one). Each step adds a call that replays the run, so fewer, larger
# steps fan out faster; a step sent again after a crash is still one event per file (event ids).
FAN_OUT_EVENTS = 1000
FAN_OUT_BYTES = 1024 * 1024
FIRST_WAIT = datetime.timedelta(seconds=1)
LONGEST_WAIT = datetime.timedelta(seconds=30)
NARROW_READS_UP_TO = 1000  # paths; a longer list costs more as a filter than a full read
GIVE_UP_AFTER = datetime.timedelta(days=1)  # then the job is finalized with files still pending
CANCEL_MATCH = "async.data.ingestion_id == event.data.ingestion_id"

log = logging.getLogger("functions.ingestion")


class IngestionEvent(BaseModel):
    """The data of `github/push` and `docs/sync.requested`."""

    ingestion_id: int
    repository_id: int
    before: str | None = None
    after: str | None = None
    forced: bool = False
    created: bool = False
    truncated: bool = False
    commits: list[dict[str, list[str]]] = []
    full: bool = False  # a manual sync: compare the whole tree and re-index everything
    retry_of: int | None = None  # a retry: the job it retries, at that job's sha
    only_failed: bool = False  # a retry of the files that failed in `retry_of` only


def create_ingestion(client: inngest.Inngest, services: Services) -> inngest.Function[Any]:
    async def mark_failed(ctx: inngest.Context) -> None:
        failed = FailedRun.model_validate(ctx.event.data)
        job_id = int(failed.original_data["ingestion_id"])

        async def mark() -> int | None:
            log.warning("job %s failed: %s", job_id, failed.message)
            try:
                job = await db.in_session(services.db, _fail, job_id, failed.message)
            except jobs.JobNotFound:
                return None  # a run for a job that never was, or was deleted: nothing to mark
            metrics.job_ended(job)
            return job.repository_id

        repository_id = await ctx.step.run("mark-failed", mark)
        if repository_id is not None:
            await ctx.step.send_event("announce-end", ingestion_ended(job_id, repository_id))

    @client.create_function(
        fn_id="docs-ingestion",
        name="Ingest a push",
        trigger=[
            inngest.TriggerEvent(event=GITHUB_PUSH),
            inngest.TriggerEvent(event=SYNC_REQUESTED),
        ],
        concurrency=[inngest.Concurrency(limit=1, key="event.data.repository_id")],
        cancel=[inngest.Cancel(event=INGESTION_CANCELLED, if_exp=CANCEL_MATCH)],
        retries=3,
        on_failure=mark_failed,
    )
    async def ingestion(ctx: inngest.Context) -> dict[str, Any]:
        event = event_data(IngestionEvent, ctx)
        job_id = event.ingestion_id
        for attempt in itertools.count():
            earlier = await ctx.step.run("earlier-job", _earlier_job, services, job_id)
            if earlier is None:
                break
            await ctx.step.wait_for_event(
                "earlier-job-ended",
                event=INGESTION_ENDED,
                if_exp=f"async.data.ingestion_id == {earlier}",
                timeout=backoff(attempt),
            )

        async def mark_running() -> dict[str, Any]:
            overtaken = await _overtaken(services, event)

            def work(session: Session) -> dict[str, Any]:
                job = jobs.start(session, job_id, ctx.run_id, overtaken=overtaken)
                repository = jobs.get_repository(session, job.repository_id)
                return {
                    "after": job.after_sha,
                    "repository": repository.full_name,
                    "status": job.status.value,
                }

            return await in_session(services, work)

        started = await ctx.step.run("mark-running", mark_running)
        logs.bind(repository=started.get("repository"))
        if started.get("status", IngestionStatus.RUNNING) != IngestionStatus.RUNNING:
            # It ended before it started (cancelled, or overtaken by a later job).
            await ctx.step.send_event("announce-end", ingestion_ended(job_id, event.repository_id))
            return {"status": started["status"]}
        after = str(started["after"])

        async def load_config() -> dict[str, Any]:
            repository = await in_session(services, jobs.get_repository, event.repository_id)
            source = services.source_for(repository)
            content = await translating(source.read_file(after, CONFIG_FILE))
            try:
                config = parse_repo_config(content)
            except RepoConfigError as exc:
                await in_session(services, jobs.record_config_error, repository.id, str(exc))
                raise inngest.NonRetriableError(str(exc)) from exc
            return {"config": config.model_dump(mode="json"), "found": content is not None}

        loaded = await ctx.step.run("load-config", load_config)
        config = RepoConfig.model_validate(loaded["config"])

        async def resolve_store() -> dict[str, Any]:
            def work(session: Session) -> dict[str, Any]:
                job = jobs.get_job(session, job_id)
                store = jobs.store_for(session, job, config, services.embedder)
                return {"store_id": store.id, "collection": store.collection}

            found = await in_session(services, work)
            await translating(
                services.vectors.ensure_collection(found["collection"], services.embedder.dimension)
            )
            return found

        store = await ctx.step.run("resolve-store", resolve_store)

        async def plan_files() -> dict[str, Any]:
            return await _plan(services, event, after, config, int(store["store_id"]))

        planned = await ctx.step.run("plan", plan_files)

        async def record_plan() -> int:
            files = [_planned_file(item) for item in planned["files"]]
            await in_session(services, jobs.record_plan, job_id, files)
            return len(files)

        await ctx.step.run("record-plan", record_plan)
        # Every call of the run replays these lines: the events are made only in the step that
        # sends them, so that the calls after the fan-out do not make thousands of them again.
        to_send = [item for item in planned["files"] if item["skip_reason"] is None]

        async def fan_out(first: int) -> list[str]:
            """The events of the files from `first` on; their ids, as `step.send_event` answers
            (the engine console lists the runs they started)."""
            events = [
                _file_event(
                    job_id,
                    event,
                    store,
                    started["repository"],
                    _planned_file(item),
                    config,
                    planned["force"],
                )
                for item in to_send[first : first + FAN_OUT_EVENTS]
            ]
            ids = []
            for batch in fan_out_batches(events):
                ids += await metrics.send_events(client, batch)
            return ids

        for number, first in enumerate(range(0, len(to_send), FAN_OUT_EVENTS)):
            await ctx.step.run(f"fan-out-{number}", fan_out, first)

        for waits in itertools.count():
            progress = await ctx.step.run("count-pending", _progress, services, job_id)
            if not progress["pending"] or progress["elapsed"] > GIVE_UP_AFTER.total_seconds():
                break
            pace = (progress["pending"], progress["done"], progress["elapsed"])
            await ctx.step.wait_for_event(
                "files-done",
                event=FILES_DONE,
                if_exp=f"async.data.ingestion_id == {job_id}",
                timeout=wait_timeout(*pace, waits=waits),
            )

        async def leave_old_stores() -> list[str]:
            repository = str(started["repository"])
            return await _leave_old_stores(services, job_id, event.repository_id, repository)

        left = await ctx.step.run("leave-old-stores", leave_old_stores)

        async def finalize() -> dict[str, Any]:
            def work(session: Session) -> IngestionCommit:
                found = bool(loaded["found"])
                return jobs.finalize(session, job_id, config_found=found, chunking=config.chunking)

            job = await in_session(services, work)
            metrics.job_ended(job)
            log.info("job %s ended %s: %d files", job_id, job.status.value, job.files_total)
            return {
                "status": job.status.value,
                "files_total": job.files_total,
                "files_processed": job.files_processed,
                "files_failed": job.files_failed,
                "files_skipped": job.files_skipped,
                "plan": planned["reason"],
                "stores_left": left,
            }

        ended = await ctx.step.run("finalize", finalize)
        await ctx.step.send_event("announce-end", ingestion_ended(job_id, event.repository_id))
        return ended

    return ingestion


async def _earlier_job(services: Services, job_id: int) -> int | None:
    return await in_session(services, jobs.earlier_unfinished, job_id)


async def _overtaken(services: Services, event: IngestionEvent) -> str | None:
    """Why the job must not index its commit, or None when it may.

    It must not when its commit is behind (or beside) the one its repository's index holds or a
    later job is indexing, unless the branch is at it now: then a push moved the branch back (a
    force push). Otherwise the branch has moved on, and the push that moved it is indexed or will
    be. A push that continues the indexed commit costs no question to the source.
    """

    def read(session: Session) -> tuple[str, ConnectedRepository, list[jobs.NewerCommit]]:
        job = jobs.get_job(session, event.ingestion_id)
        repository = jobs.get_repository(session, job.repository_id)
        if job.status in jobs.FINISHED:
            return job.after_sha, repository, []
        return job.after_sha, repository, jobs.newer_commits(session, event.ingestion_id)

    after, repository, newer = await in_session(services, read)
    source = services.source_for(repository)
    branch = repository.default_branch
    for commit in newer:
        if commit.sha == after:
            if commit.running:
                return f"job #{commit.job_id} of a later push is indexing {after[:12]} already"
            continue  # the same commit again: a retry or a sync
        if commit.sha == event.before and not commit.running and not event.forced:
            continue  # a push that continues the indexed commit: GitHub says `forced` if not
        relation = await translating(_ancestry(source, commit.sha, after))
        if relation in (None, Ancestry.AHEAD):
            continue
        if await translating(_branch_head(source, branch)) == after:
            return None
        by = f"job #{commit.job_id}" if commit.job_id is not None else "an earlier job"
        did = f"{by} {'is indexing' if commit.running else 'indexed'} {commit.sha[:12]}"
        if relation is Ancestry.BEHIND:
            return f"{did}, a later commit than {after[:12]}"
        return f"{did}, and {branch} is no longer at {after[:12]}"
    return None


async def _ancestry(source: Source, base: str, head: str) -> Ancestry | None:
    """How `head` relates to `base`; None when `base` has gone from the repository (rewritten
    history, then garbage-collected): nothing can be behind it any more."""
    try:
        return await source.ancestry(base, head)
    except SourceNotFound:
        await source.resolve(head)  # the job's own commit must exist: its absence is an error
        return None


async def _branch_head(source: Source, branch: str) -> str | None:
    try:
        return await source.resolve(branch)
    except SourceNotFound:
        return None  # the branch was deleted: no push is at its head


async def _leave_old_stores(
    services: Services, job_id: int, repository_id: int, repository: str
) -> list[str]:
    """Delete the repository's chunks from the stores other than the job's, and then their rows,
    so that a failure leaves the rows to find them again (the next job's run does); the names of
    the stores. Only the repository's points are deleted: other repositories share those stores."""
    left = await in_session(services, jobs.stores_left, job_id)
    for store in left:
        await translating(_delete_repository(services, store.collection, repository))
        await in_session(services, jobs.forget_store, store.id, repository_id)
    return [store.name for store in left]


async def _delete_repository(services: Services, collection: str, repository: str) -> None:
    with contextlib.suppress(CollectionNotFoundError):  # a collection that is gone holds none
        await services.vectors.delete_repository(collection, repository)


def _fail(session: Session, job_id: int, message: str) -> IngestionCommit:
    jobs.fail(session, job_id, message)
    return jobs.get_job(session, job_id)


def fan_out_batches(events: list[inngest.Event]) -> list[list[inngest.Event]]:
    """`events` in order, in batches of at most FAN_OUT_EVENTS events and FAN_OUT_BYTES of data."""
    batches: list[list[inngest.Event]] = []
    size = 0
    for event in events:
        event_size = len(json.dumps(event.data))
        if not batches or len(batches[-1]) == FAN_OUT_EVENTS or size + event_size > FAN_OUT_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += event_size
    return batches


def wait_timeout(pending: int, done: int, elapsed: float, waits: int) -> datetime.timedelta:
    """How long the pending files should take at the pace of the files done so far, within
    2^`waits` seconds and LONGEST_WAIT (see the module's docstring).

    Whole seconds: the SDK refuses a wait timeout with a fraction of a second.
    """
    per_file = elapsed / done if done else FIRST_WAIT.total_seconds()
    expected = datetime.timedelta(seconds=math.ceil(pending * per_file))
    return max(FIRST_WAIT, min(expected, backoff(waits)))


def backoff(attempt: int) -> datetime.timedelta:
    """FIRST_WAIT doubled `attempt` times, at most LONGEST_WAIT."""
    doubled: datetime.timedelta = FIRST_WAIT * 2 ** min(attempt, 16)
    return min(doubled, LONGEST_WAIT)


async def _plan(
    services: Services, event: IngestionEvent, after: str, config: RepoConfig, store_id: int
) -> dict[str, Any]:
    repository = await in_session(services, jobs.get_repository, event.repository_id)
    push = Push(
        before=None if event.full else event.before,
        after=after,
        forced=event.forced,
        created=event.created,
        commits=event.commits,
        truncated=event.truncated,
    )
    reason = full_diff_reason(push, repository.last_ingested_sha)
    force = event.full or chunking_changed(push, repository.chunking, config)
    candidates = None if reason is not None else changed_paths(push)
    if event.retry_of is not None:
        reason = f"retry of job #{event.retry_of}"
        if event.only_failed:
            reason = f"retry of the failed files of job #{event.retry_of}"
            candidates = set(await in_session(services, jobs.failed_paths, event.retry_of))
    # A trusted payload names the paths to look at: the rest of the tree and index is not read.
    narrow = candidates if candidates is None or len(candidates) <= NARROW_READS_UP_TO else None
    source = services.source_for(repository)
    tree = await translating(source.tree(after, narrow))
    indexed = await in_session(services, jobs.indexed_shas, store_id, event.repository_id, narrow)
    files = plan(tree, indexed, config, candidates=candidates, force=force)
    return {
        "reason": reason or "changed files from the push payload",
        "force": force,
        "files": [_planned_json(item) for item in files],
    }


def _planned_json(item: PlannedFile) -> dict[str, Any]:
    return {
        "path": item.path,
        "action": item.action.value,
        "blob_sha": item.blob_sha,
        "size": item.size,
        "skip_reason": item.skip_reason,
    }


async def _progress(services: Services, job_id: int) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        counts = jobs.update_counts(session, job_id)
        started = jobs.get_job(session, job_id).started_at or utc_now()
        return {
            "pending": counts.pending,
            "done": counts.total - counts.pending,
            "elapsed": (utc_now() - started).total_seconds(),
        }

    return await in_session(services, work)


def _planned_file(item: dict[str, Any]) -> PlannedFile:
    return PlannedFile(**{**item, "action": FileAction(item["action"])})


def _file_event(
    job_id: int,
    event: IngestionEvent,
    store: dict[str, Any],
    repository: str,
    item: PlannedFile,
    config: RepoConfig,
    force: bool,
) -> inngest.Event:
    task = FileTask(
        ingestion_id=job_id,
        store_id=int(store["store_id"]),
        collection=str(store["collection"]),
        repository_id=event.repository_id,
        repository=repository,
        path=item.path,
        blob_sha=item.blob_sha,
        force=force,
        chunk_size=config.chunk_size,
        chunk_overlap=config.chunk_overlap,
        max_file_size=config.max_file_size,
    )
    name = FILE_PROCESS if item.action is FileAction.PROCESS else FILE_DELETE
    return inngest.Event(name=name, id=f"{job_id}:{item.path}", data=task.model_dump())
