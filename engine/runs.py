"""The run state machine: events start runs, SDK answers move them, timers resume them.

Each public method is one transaction, so every transition (a memoized step, the run's status,
the next queue item, the events it emits) is committed together. Nothing here does I/O beyond the
store; the consumer (`engine.server`) performs the HTTP calls and hands their outcomes in.
"""

import logging
import random
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from engine import expressions
from engine.clock import Clock
from engine.console_store import ConsoleStore
from engine.consts import (
    DEFAULT_TIMEOUT_MS,
    DISCOVERY_STEP,
    INVOKE_TIMEOUT_ERROR,
    InternalEvent,
    Opcode,
    QueueKind,
    RunStatus,
)
from engine.cron import next_fire, schedule_crons, scheduled_event
from engine.executor import step_url
from engine.flow import FlowControl
from engine.functions import FunctionConfig, parse_functions
from engine.ids import new_ulid
from engine.outcomes import CallFailed, Completed, Outcome, Reported
from engine.store import QueueItem, Run, Store, StoredEvent
from engine.timeutil import parse_duration, parse_timestamp

log = logging.getLogger("engine")

Backoff = Callable[[int], int]
# A call due later than this after it was queued (a throttled start) is a delayed one: it keeps its
# due time as its place in the queue, as Inngest's queue does past its `FutureAtLimit`.
DELAYED_CALL_MS = 2000
_LIFECYCLE_EVENTS = {e.value for e in InternalEvent} - {InternalEvent.FUNCTION_INVOKED.value}


def exponential_backoff(attempt: int) -> int:
    """Milliseconds before retry number `attempt + 1`: 10 s doubling, capped at 1 h, ±20 %."""
    base = min(10_000 * 2**attempt, 3_600_000)
    return int(base * random.uniform(0.8, 1.2))


def linear_backoff(seconds: int) -> Backoff:
    return lambda attempt: seconds * 1000


class RunMachine:
    def __init__(self, store: Store, clock: Clock, backoff: Backoff = exponential_backoff) -> None:
        self.store = store
        self.clock = clock
        self.backoff = backoff
        self.functions: dict[str, FunctionConfig] = {}
        self.flow = FlowControl(store, clock, self._start_run)
        # What the console shows of each run: step times and every SDK call's outcome.
        self.history = ConsoleStore(store)
        # queue item id -> when its SDK call began; in memory: after a restart none is in flight
        self.calls_started: dict[int, int] = {}
        self._load_functions()

    def _load_functions(self) -> None:
        """The stored functions; one this engine now refuses (synced by an older version, say an
        expression it no longer takes) is left out, with a warning, until its app syncs again."""
        self.functions = {}
        for slug, raw in self.store.functions().items():
            try:
                self.functions[slug] = FunctionConfig.model_validate(raw)
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"]
                log.warning("function %s is left out until its app syncs again: %s", slug, problem)

    # sync

    def register(self, app: str, url: str, sdk: str, framework: str, raw: Any) -> bool:
        """Store an app's functions (validated first); True when they changed."""
        configs = parse_functions(raw)
        now = self.clock.now()
        with self.store.transaction():
            self.store.save_app(app, url, sdk, framework, now)
            modified = self.store.replace_functions(
                app, {c.id: c.model_dump(by_alias=True, exclude_none=True) for c in configs}
            )
            self._load_functions()
            schedule_crons(self.store, self.functions.values(), now)
        return modified

    # events

    def ingest(self, events: Iterable[dict[str, Any]]) -> list[str]:
        """Record events and act on them; returns their internal ids, in order."""
        with self.store.transaction():
            return [self._ingest_one(event) for event in events]

    def _ingest_one(self, body: dict[str, Any]) -> str:
        now = self.clock.now()
        event = StoredEvent(
            internal_id=new_ulid(now),
            id=body.get("id") or "",
            name=body["name"],
            data=body.get("data") or {},
            user=body.get("user") or {},
            ts=body.get("ts") or now,
            v=body.get("v"),
            received_at=now,
        )
        self.store.insert_event(event)
        payload = event.payload()
        self._resume_waits(payload, now)
        self._apply_cancel_rules(payload, now)
        for fn in list(self.functions.values()):
            if any(
                t.matches_name(event.name) and expressions.matches(t.expression, {"event": payload})
                for t in fn.triggers
            ):
                self.flow.admit(fn, event, now)
        return event.internal_id

    def _resume_waits(self, incoming: dict[str, Any], now: int) -> None:
        for wait in self.store.waits_for(incoming["name"], now):
            run = self.store.get_run(wait["run_id"])
            if run is None or not expressions.matches(
                wait["expr"], {"event": run.event, "async": incoming}
            ):
                continue
            self.store.remove_wait(run.run_id, wait["step_id"])
            self.store.dequeue_step(run.run_id, QueueKind.WAIT_TIMEOUT, wait["step_id"])
            self._complete_step(run, wait["step_id"], incoming, now)

    def _apply_cancel_rules(self, incoming: dict[str, Any], now: int) -> None:
        for rule in self.store.cancel_rules_for(incoming["name"], now):
            run = self.store.get_run(rule["run_id"])
            if (
                run is not None
                and run.status is RunStatus.RUNNING
                and expressions.matches(rule["expr"], {"event": run.event, "async": incoming})
            ):
                self._finish(run, RunStatus.CANCELLED, None, now)

    # runs

    def _start_run(
        self,
        fn: FunctionConfig,
        events: list[StoredEvent],
        *,
        due_at: int,
        batch_id: str | None = None,
        cron: str | None = None,
        parent: dict[str, str] | None = None,
    ) -> Run:
        now = self.clock.now()
        payloads = [event.payload() for event in events]
        variables = {"event": payloads[0]}
        run = Run(
            run_id=new_ulid(now),
            fn_slug=fn.id,
            event_id=events[0].internal_id,
            events=payloads,
            batch_id=batch_id,
            cron=cron,
            status=RunStatus.RUNNING,
            output=None,
            started_at=now,
            ended_at=None,
            concurrency=self.flow.concurrency_keys(fn, variables),
            priority=self.flow.priority(fn, variables),
            parent=parent,
        )
        self.store.insert_run(run, [event.internal_id for event in events])
        for rule in fn.cancel:
            timeout = parse_duration(rule.timeout) if rule.timeout else DEFAULT_TIMEOUT_MS
            self.store.add_cancel_rule(run.run_id, rule.event, rule.if_, now + timeout)
        self._discover(run, now, due_at)
        return run

    def _discover(self, run: Run, now: int, due_at: int | None = None) -> None:
        if not self.store.has_queued(run.run_id, QueueKind.CALL, DISCOVERY_STEP):
            self._enqueue_call(run, DISCOVERY_STEP, now, now if due_at is None else due_at)

    def _enqueue_call(self, run: Run, step_id: str, now: int, due_at: int) -> None:
        """Queue a run's next SDK call (not a retry). Among due calls it goes by when its run
        started, as Inngest orders a run's edges: otherwise a run whose first step is done waits
        behind the first calls of every run started after it, and a fan-out's last runs finish
        late."""
        delayed = due_at > now + DELAYED_CALL_MS
        self.store.enqueue(
            QueueKind.CALL,
            due_at,
            run_id=run.run_id,
            step_id=step_id,
            priority=run.priority,
            sort_at=due_at if delayed else run.started_at,
        )

    def call_request(self, item: QueueItem) -> tuple[str, dict[str, Any]] | None:
        """The URL and body of the SDK call for `item`, or None when its run has ended."""
        run = self.store.get_run(item.run_id or "")
        fn = None if run is None else self.functions.get(run.fn_slug)
        if run is None or fn is None or run.status is not RunStatus.RUNNING:
            return None
        self.calls_started[item.id] = started = self.clock.now()
        self.history.began(run.run_id, started)
        steps = self.store.steps(run.run_id)
        body = {
            "event": run.event,
            "events": run.events,
            "steps": steps,
            "ctx": {
                "run_id": run.run_id,
                "attempt": item.attempt,
                "max_attempts": fn.max_attempts,
                "disable_immediate_execution": False,
                "use_api": False,
                "stack": {"stack": list(steps), "current": len(steps)},
                "fn_id": fn.id,
                "step_id": item.step_id,
            },
            "version": 2,
            "use_api": False,
        }
        return step_url(fn.url, fn.id, item.step_id or DISCOVERY_STEP), body

    def apply_call(self, item: QueueItem, outcome: Outcome) -> None:
        """Move a run on with what its SDK call answered."""
        now = self.clock.now()
        times = (item.due_at, self.calls_started.pop(item.id, now), now)
        with self.store.transaction():
            if not self.store.dequeue(item):
                return
            run = self.store.get_run(item.run_id or "")
            if run is None or run.status is not RunStatus.RUNNING:
                return
            fn = self.functions.get(run.fn_slug)
            if fn is None:
                error = {"name": "Error", "message": f"function {run.fn_slug!r} is not registered"}
                self._finish(run, RunStatus.FAILED, error, now)
                return
            match outcome:
                case Completed(output):
                    self.history.attempt(run.run_id, item.step_id or "", item.attempt, times)
                    self._finish(run, RunStatus.COMPLETED, output, now)
                case CallFailed(error, retriable, retry_at):
                    self.history.attempt(run.run_id, item.step_id or "", item.attempt, times, error)
                    if not (retriable and self._retry(run, item, fn, now, retry_at)):
                        self._finish(run, RunStatus.FAILED, error, now)
                case Reported(ops, retriable):
                    try:
                        group = _parallel_group(ops)
                        for op in ops:
                            self._apply_op(run, fn, item, op, retriable, times, group)
                    except (ValueError, TypeError, KeyError) as exc:
                        message = f"the SDK reported a step the engine cannot read: {exc}"
                        self._finish(
                            run, RunStatus.FAILED, {"name": "Error", "message": message}, now
                        )
                        return
                    if not self.store.has_pending(run.run_id) and not self.store.has_queued_call(
                        run.run_id
                    ):
                        # Every reported step was already done (a re-discovery that raced a
                        # finishing step): without this the run would wait forever.
                        self._discover(run, now)

    def _retry(
        self, run: Run, item: QueueItem, fn: FunctionConfig, now: int, retry_at: int | None = None
    ) -> bool:
        if item.attempt + 1 >= fn.max_attempts:
            return False
        due = retry_at if retry_at is not None else now + self.backoff(item.attempt)
        self.store.enqueue(
            QueueKind.CALL,
            due,
            run_id=run.run_id,
            step_id=item.step_id,
            attempt=item.attempt + 1,
            priority=run.priority,
        )
        return True

    def _apply_op(
        self,
        run: Run,
        fn: FunctionConfig,
        item: QueueItem,
        op: dict[str, Any],
        retriable: bool,
        times: tuple[int, int, int],
        group: str | None,
    ) -> None:
        """`times`: when the call was due, began and ended; `group`: the parallel group of the
        steps the SDK planned together."""
        now = times[2]
        step_id = str(op.get("id", ""))
        opts = op.get("opts") or {}
        kind = op.get("op")
        if kind in (Opcode.STEP_RUN, Opcode.STEP_ERROR, Opcode.STEP_FAILED):
            self.history.step_seen(run.run_id, op, item.due_at)
            error = None if kind == Opcode.STEP_RUN else op.get("error") or {}
            self.history.attempt(run.run_id, step_id, item.attempt, times, error)
        if kind == Opcode.STEP_RUN:
            self._complete_step(run, step_id, {"data": op.get("data")}, now)
        elif kind == Opcode.STEP_ERROR and retriable and self._retry(run, item, fn, now):
            return
        elif kind in (Opcode.STEP_ERROR, Opcode.STEP_FAILED):
            self._complete_step(run, step_id, {"error": op.get("error")}, now)
        elif self.store.is_memoized(run.run_id, step_id) or not self.store.add_pending(
            run.run_id, step_id, opts.get("parallelMode") == "race"
        ):
            return  # already done or already under way: a re-discovered step
        elif kind == Opcode.STEP_PLANNED:
            self.history.step_seen(run.run_id, op, now, group)
            self._enqueue_call(run, step_id, now, now)
        elif kind == Opcode.SLEEP:
            wake_at = _timestamp_or(opts.get("duration"), op.get("name"), now)
            self.history.step_seen(run.run_id, op, now, info={"sleep_until": wake_at})
            self.store.enqueue(QueueKind.WAKE, wake_at, run_id=run.run_id, step_id=step_id)
        elif kind == Opcode.WAIT_FOR_EVENT:
            expires = now + parse_duration(opts.get("timeout") or "365d")
            name = str(opts.get("event") or op.get("name"))
            if opts.get("if"):  # checked now: every later event of that name evaluates it
                expressions.check(opts["if"])
            self.store.add_wait(run.run_id, step_id, name, opts.get("if"), now, expires)
            wait = {"event": name, "if": opts.get("if"), "timeout_at": expires}
            self.history.step_seen(run.run_id, op, now, info=wait)
            self.store.enqueue(QueueKind.WAIT_TIMEOUT, expires, run_id=run.run_id, step_id=step_id)
        elif kind == Opcode.INVOKE_FUNCTION:
            self._invoke(run, step_id, op, opts, now)
        elif kind == Opcode.AI_GATEWAY:
            self.history.step_seen(run.run_id, op, now)
            self.store.enqueue(
                QueueKind.AI_REQUEST, now, run_id=run.run_id, step_id=step_id, payload=opts
            )
        else:
            error = {"name": "Error", "message": f"the SDK reported an unknown opcode {kind!r}"}
            self._finish(run, RunStatus.FAILED, error, now)

    def _invoke(
        self, run: Run, step_id: str, op: dict[str, Any], opts: dict[str, Any], now: int
    ) -> None:
        target = self.functions.get(str(opts.get("function_id")))
        if target is None:
            message = f"invoked function {opts.get('function_id')!r} is not registered"
            self.history.step_seen(
                run.run_id, op, now, info={"function_id": opts.get("function_id")}
            )
            self._complete_step(run, step_id, {"error": {"name": "Error", "message": message}}, now)
            return
        timeout = parse_duration(opts["timeout"]) if opts.get("timeout") else DEFAULT_TIMEOUT_MS
        payload = opts.get("payload") or {}
        data = dict(payload.get("data") or {})
        data["_inngest"] = {
            "fn_id": target.id,
            "correlation_id": f"{run.run_id}.{step_id}",
            "expire": now + timeout,
            "name": op.get("displayName") or op.get("name"),
            "source_fn_id": run.fn_slug,
        }
        event = StoredEvent(
            internal_id=new_ulid(now),
            id="",
            name=InternalEvent.FUNCTION_INVOKED,
            data=data,
            user={},
            ts=now,
            v=payload.get("v"),
            received_at=now,
        )
        self.store.insert_event(event)
        child = self._start_run(
            target, [event], due_at=now, parent={"run_id": run.run_id, "step_id": step_id}
        )
        invoked = {"function_id": target.id, "run_id": child.run_id, "timeout_at": now + timeout}
        self.history.step_seen(run.run_id, op, now, info=invoked)
        self.store.enqueue(
            QueueKind.INVOKE_TIMEOUT, now + timeout, run_id=run.run_id, step_id=step_id
        )

    def _complete_step(self, run: Run, step_id: str, memo: Any, now: int) -> None:
        """Memoize a finished step and ask for the next one when nothing else is outstanding."""
        self.store.memoize(run.run_id, step_id, memo)
        self.history.step_ended(run.run_id, step_id, now)
        race = self.store.remove_pending(run.run_id, step_id)
        if race or not self.store.has_pending(run.run_id):
            self._discover(run, now)

    def _finish(self, run: Run, status: RunStatus, output: Any, now: int) -> None:
        self.store.finish_run(run.run_id, status, output, now)
        log.info(
            "run %s %s %s in %d ms",
            run.run_id,
            run.fn_slug,
            status.value,
            now - run.started_at,
            extra={"run_id": run.run_id, "function": run.fn_slug, "event": run.event["name"]},
        )
        if run.parent:
            self._resolve_parent(run.parent, status, output, now)
        if run.event["name"] in _LIFECYCLE_EVENTS:
            return  # no lifecycle events about lifecycle handlers, or they would recurse
        base = {
            "function_id": run.fn_slug,
            "run_id": run.run_id,
            "event": run.event,
            "events": run.events,
        }
        emitted = []
        if status is RunStatus.FAILED:
            error = _error_of(output)
            emitted.append(
                {
                    "name": InternalEvent.FUNCTION_FAILED,
                    "id": run.run_id,
                    "data": {**base, "error": error},
                }
            )
        if status is RunStatus.CANCELLED:
            emitted.append(
                {"name": InternalEvent.FUNCTION_CANCELLED, "id": run.run_id, "data": base}
            )
        finished = {**base, "_inngest": {"status": status.value}}
        finished["error" if status is RunStatus.FAILED else "result"] = output
        emitted.append(
            {"name": InternalEvent.FUNCTION_FINISHED, "id": run.run_id, "data": finished}
        )
        for event in emitted:
            self._ingest_one(event)

    def _resolve_parent(
        self, parent: dict[str, str], status: RunStatus, output: Any, now: int
    ) -> None:
        run = self.store.get_run(parent["run_id"])
        step_id = parent["step_id"]
        if run is None or run.status is not RunStatus.RUNNING:
            return
        if self.store.is_memoized(run.run_id, step_id):
            return  # the invoke already timed out
        self.store.dequeue_step(run.run_id, QueueKind.INVOKE_TIMEOUT, step_id)
        if status is RunStatus.COMPLETED:
            memo = {"data": output}
        elif status is RunStatus.CANCELLED:
            memo = {"error": {"name": "Error", "message": "invoked function was cancelled"}}
        else:
            memo = {"error": _error_of(output)}
        self._complete_step(run, step_id, memo, now)

    # timers

    def fire(self, item: QueueItem) -> None:
        """Act on a queue item that is not an SDK call: a timer, a debounce, a batch, a cron."""
        now = self.clock.now()
        with self.store.transaction():
            if not self.store.dequeue(item):
                return
            if item.kind is QueueKind.CRON:
                self._fire_cron(item, now)
                return
            if item.kind in (QueueKind.DEBOUNCE, QueueKind.BATCH):
                self.flow.fire(self.functions.get((item.payload or {}).get("fn", "")), item, now)
                return
            run = self.store.get_run(item.run_id or "")
            step_id = item.step_id or ""
            if run is None or run.status is not RunStatus.RUNNING:
                return
            if item.kind is QueueKind.WAKE or (
                item.kind is QueueKind.WAIT_TIMEOUT and self.store.remove_wait(run.run_id, step_id)
            ):
                self._complete_step(run, step_id, None, now)
            elif item.kind is QueueKind.INVOKE_TIMEOUT:
                self._complete_step(run, step_id, {"error": INVOKE_TIMEOUT_ERROR}, now)

    def _fire_cron(self, item: QueueItem, now: int) -> None:
        payload = item.payload or {}
        fn = self.functions.get(payload["fn"])
        if fn is None or not any(t.cron == payload["cron"] for t in fn.triggers):
            return
        event = scheduled_event(fn.id, payload["cron"], item.due_at, now)
        self.store.insert_event(event)
        self._start_run(fn, [event], due_at=now, cron=payload["cron"])
        self.store.enqueue(QueueKind.CRON, next_fire(payload["cron"], now), payload=payload)

    def apply_ai_result(self, item: QueueItem, memo: dict[str, Any]) -> None:
        now = self.clock.now()
        with self.store.transaction():
            if not self.store.dequeue(item):
                return
            run = self.store.get_run(item.run_id or "")
            if run is not None and run.status is RunStatus.RUNNING:
                self._complete_step(run, item.step_id or "", memo, now)

    def postpone(self, item: QueueItem, delay_ms: int) -> None:
        """Push back an item whose handling crashed, so it is retried later, not in a hot loop."""
        self.calls_started.pop(item.id, None)
        with self.store.transaction():
            if self.store.dequeue(item):
                self.store.enqueue(
                    item.kind,
                    self.clock.now() + delay_ms,
                    run_id=item.run_id,
                    step_id=item.step_id,
                    attempt=item.attempt,
                    payload=item.payload,
                )

    # cancellation

    def cancel(self, run_id: str) -> Run | None:
        """Cancel a running run; returns the run as it was, or None if unknown."""
        now = self.clock.now()
        with self.store.transaction():
            run = self.store.get_run(run_id)
            if run is not None and run.status is RunStatus.RUNNING:
                self._finish(run, RunStatus.CANCELLED, None, now)
            return run

    def cancel_many(
        self, fn_slug: str, started_after: int, started_before: int, expr: str | None
    ) -> int:
        now = self.clock.now()
        with self.store.transaction():
            runs = [
                run
                for run in self.store.running_runs(fn_slug, started_after, started_before)
                if expressions.matches(expr, {"event": run.event})
            ]
            for run in runs:
                self._finish(run, RunStatus.CANCELLED, None, now)
        return len(runs)

    # what the console does beyond the REST API

    def rerun(self, run_id: str) -> Run | None:
        """A new run of `run_id`'s function with the same events; None when the run, its function
        or its events are gone."""
        with self.store.transaction():
            run = self.store.get_run(run_id)
            fn = None if run is None else self.functions.get(run.fn_slug)
            events = [
                self.store.get_event(event_id) for event_id in self.history.event_ids_of(run_id)
            ]
            found = [event for event in events if event is not None]
            if run is None or fn is None or not found:
                return None
            now = self.clock.now()
            return self._start_run(fn, found, due_at=now, batch_id=run.batch_id, cron=run.cron)

    def invoke(self, fn_slug: str, data: dict[str, Any], user: dict[str, Any]) -> Run | None:
        """Start `fn_slug` now with `data`, whatever its triggers, as the Invoke button of the
        Inngest console does; None when no such function is registered."""
        fn = self.functions.get(fn_slug)
        if fn is None:
            return None
        now = self.clock.now()
        event = StoredEvent(
            internal_id=new_ulid(now),
            id="",
            name=InternalEvent.FUNCTION_INVOKED,
            data={**data, "_inngest": {"fn_id": fn.id, "source": "console"}},
            user=user,
            ts=now,
            v=None,
            received_at=now,
        )
        with self.store.transaction():
            self.store.insert_event(event)
            return self._start_run(fn, [event], due_at=now)

    def forget_app(self, app: str) -> None:
        """Remove an app and its functions: their crons stop and their events start nothing."""
        with self.store.transaction():
            self.store.replace_functions(app, {})
            self.history.delete_app(app)
            self._load_functions()
            schedule_crons(self.store, self.functions.values(), self.clock.now())


def _parallel_group(ops: list[Any]) -> str | None:
    """Steps the SDK planned in one answer run in parallel: they share the first one's id."""
    planned = [op for op in ops if isinstance(op, dict) and op.get("op") == Opcode.STEP_PLANNED]
    return str(planned[0].get("id", "")) if len(planned) > 1 else None


def _timestamp_or(duration: Any, name: Any, now: int) -> int:
    if isinstance(duration, str) and duration:
        return now + parse_duration(duration)
    try:
        return max(now, parse_timestamp(str(name)))
    except ValueError:
        return now


def _error_of(output: Any) -> dict[str, Any]:
    if isinstance(output, dict) and isinstance(output.get("message"), str):
        name = output.get("name") if isinstance(output.get("name"), str) else "Error"
        return {"error": f"{name}: {output['message']}", **output, "name": name}
    return {"name": "Error", "message": str(output), "error": str(output)}
