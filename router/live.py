"""Live status: what Inngest says now about the jobs that the table has not seen finish.

The table is the history; Inngest is asked only about the jobs a caller names. The service keeps
one `LiveStatus` for all its callers, so that twenty polling tabs cost what one costs:

- each job's answer is kept for `ttl` seconds, and so is a failure, so neither a burst of polls nor
  a down Inngest costs more than one call per job per window;
- past `ttl`, an answer younger than `max_age` is still given at once while one call refreshes it
  in the background, so a poll waits for Inngest only for a job it has no recent answer about;
- callers asking about the same job at once await the same call (single flight);
- different jobs are asked concurrently, at most `MAX_CONCURRENT_CALLS` calls at a time;
- every call is bounded by `timeout`: when Inngest is down or slow, `lookup` answers within about
  `timeout` with the last value it knew, and names the jobs whose value is stale;
- once a call has failed, callers stop waiting: they are answered at once from what is known while
  the calls of each new window probe Inngest in the background, until one succeeds.

A job's run is found by its run id when the table has it (`GET /v1/runs/{id}`, the authority on a
terminal state), else as the earliest run its event started (`GET /v1/events/{id}/runs`); a run
that listing says has ended is confirmed by its run id, since the listing can run ahead of it.
Nothing here writes: the caller records the terminal states it sees.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from router.inngest_api import InngestApi, InngestApiError, NotFound, RunInfo, Unavailable

log = logging.getLogger("router.live")

Clock = Callable[[], float]  # seconds since the epoch, like time.time

TTL_S = 2.0
MAX_AGE_S = 10.0
TIMEOUT_S = 1.0
MAX_CONCURRENT_CALLS = 16
FORGET_AFTER_S = 600.0  # a job nobody has asked about for this long leaves the cache


class LiveKey(NamedTuple):
    job_id: int
    event_id: str | None
    run_id: str | None


@dataclass(frozen=True, slots=True)
class LiveAnswer:
    # When the oldest value in `runs` was fetched; None when no value was ever fetched.
    checked_at: datetime | None
    # Every job asked about: its run, or None when Inngest has none (not yet, or no longer) or
    # when it could not be asked and no earlier value is known.
    runs: dict[int, RunInfo | None]
    stale_jobs: frozenset[int]  # the jobs whose value could not be checked this time

    @classmethod
    def empty(cls) -> "LiveAnswer":
        """The answer about no jobs at all."""
        return cls(None, {}, frozenset())

    @property
    def stale(self) -> bool:
        return bool(self.stale_jobs)

    def is_stale(self, job_id: int) -> bool:
        return job_id in self.stale_jobs


class _Via(StrEnum):
    RUN = "run"
    EVENT = "event"


class _Source(NamedTuple):
    via: _Via
    id: str


@dataclass(slots=True)
class _Entry:
    source: _Source  # what the last attempt asked
    attempted_at: float
    ok: bool  # whether the last attempt got an answer
    value: RunInfo | None  # the last answer, from whichever source
    value_at: float | None  # when that answer came
    used_at: float


class LiveStatus:
    def __init__(
        self,
        api: InngestApi,
        *,
        ttl: float = TTL_S,
        max_age: float = MAX_AGE_S,
        timeout: float = TIMEOUT_S,
        clock: Clock = time.time,
        max_concurrent_calls: int = MAX_CONCURRENT_CALLS,
    ) -> None:
        self._api = api
        self._ttl = ttl
        self._max_age = max_age
        self._timeout = timeout
        self._clock = clock
        self._max_calls = max_concurrent_calls
        self._entries: dict[int, _Entry] = {}
        self._next_sweep = 0.0
        self._healthy = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(max_concurrent_calls)
        self._flights: dict[tuple[int, _Source], asyncio.Task[None]] = {}

    async def lookup(self, keys: Sequence[LiveKey]) -> LiveAnswer:
        self._bind_loop()
        now = self._clock()
        self._sweep(now)
        waiting: dict[int, asyncio.Task[None]] = {}
        for key in keys:
            source = _source(key)
            entry = self._entries.get(key.job_id)
            if entry is not None:
                entry.used_at = now
            if source is None:
                continue
            known = entry if entry is not None and entry.source == source else None
            if known is not None and now - known.attempted_at < self._ttl:
                continue
            flight = self._flight(key.job_id, source)
            if known is not None and known.ok and now - (known.value_at or 0) < self._max_age:
                continue  # answered from what is known; the flight refreshes it for later polls
            waiting[key.job_id] = flight
        if waiting and self._healthy:
            await asyncio.wait(set(waiting.values()), timeout=self._timeout)
        return self._answer(keys, waiting)

    def run_url(self, run_id: str) -> str:
        """The run's page in the Inngest UI in use."""
        return self._api.run_url(run_id)

    async def aclose(self) -> None:
        """Stop the calls still in flight (at shutdown)."""
        flights = list(self._flights.values())
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)

    def _answer(
        self, keys: Sequence[LiveKey], waiting: dict[int, asyncio.Task[None]]
    ) -> LiveAnswer:
        runs: dict[int, RunInfo | None] = {}
        stale: set[int] = set()
        fetched: list[float] = []
        for key in keys:
            source = _source(key)
            entry = self._entries.get(key.job_id)
            if source is None:  # no event sent yet: nothing in Inngest to ask about
                runs[key.job_id] = None
                continue
            task = waiting.get(key.job_id)
            answered = (
                entry is not None
                and entry.ok
                and entry.source == source
                and (task is None or task.done())
            )
            if not answered:
                stale.add(key.job_id)
            runs[key.job_id] = entry.value if entry is not None else None
            if entry is not None and entry.value_at is not None:
                fetched.append(entry.value_at)
        checked_at = datetime.fromtimestamp(min(fetched), UTC) if fetched else None
        return LiveAnswer(checked_at, runs, frozenset(stale))

    def _flight(self, job_id: int, source: _Source) -> asyncio.Task[None]:
        key = (job_id, source)
        task = self._flights.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(job_id, source))
            self._flights[key] = task
        return task

    async def _fetch(self, job_id: int, source: _Source) -> None:
        """Ask Inngest about one job and keep the outcome; never raises for Inngest's failures."""
        try:
            async with asyncio.timeout(self._timeout), self._slots:
                value = await self._ask(source)
        except (Unavailable, TimeoutError) as exc:
            self._keep(job_id, source, ok=False, value=None)
            if self._healthy:
                log.warning(
                    "Inngest does not answer; live status is stale: %s", str(exc) or "timeout"
                )
            self._healthy = False
        except InngestApiError as exc:  # about this job only: Inngest itself answers
            if self._keep(job_id, source, ok=False, value=None):
                log.warning("job %s: Inngest refused its live status: %s", job_id, exc)
        else:
            self._keep(job_id, source, ok=True, value=value)
            if not self._healthy:
                log.info("Inngest answers again; live status is fresh")
            self._healthy = True
        finally:
            self._flights.pop((job_id, source), None)

    async def _ask(self, source: _Source) -> RunInfo | None:
        try:
            if source.via is _Via.RUN:
                return await self._api.run(source.id)
            run = _orchestrator_run(source.id, await self._api.event_runs(source.id))
        except NotFound:
            return None
        if run is None or not run.finished:
            return run
        with contextlib.suppress(NotFound):
            return await self._api.run(run.run_id)
        return run

    def _keep(self, job_id: int, source: _Source, *, ok: bool, value: RunInfo | None) -> bool:
        """Record an attempt's outcome; whether it differs from the job's previous one."""
        now = self._clock()
        entry = self._entries.get(job_id)
        if entry is None:
            entry = self._entries[job_id] = _Entry(source, now, not ok, None, None, now)
        changed = entry.ok != ok
        entry.source, entry.attempted_at, entry.ok = source, now, ok
        if ok:
            entry.value, entry.value_at = value, now
        return changed

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + FORGET_AFTER_S / 10
        for job_id in [j for j, e in self._entries.items() if now - e.used_at > FORGET_AFTER_S]:
            del self._entries[job_id]

    def _bind_loop(self) -> None:
        """The service can outlive an event loop (tests start one per client): a semaphore or a
        task of a closed loop would fail in the next, so these are remade for each loop."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._slots = asyncio.Semaphore(self._max_calls)
            self._flights = {}


def _source(key: LiveKey) -> _Source | None:
    if key.run_id:
        return _Source(_Via.RUN, key.run_id)
    if key.event_id:
        return _Source(_Via.EVENT, key.event_id)
    return None


def _orchestrator_run(event_id: str, runs: list[RunInfo]) -> RunInfo | None:
    """The run the event started; of several (other functions on the same event), the earliest."""
    started_by_it = [run for run in runs if run.event_id == event_id]
    candidates = started_by_it or runs
    return candidates[0] if candidates else None
