"""The JSON the console API answers with: runs, a run's step timeline, events, functions, apps.

Times are RFC 3339 strings in UTC with milliseconds (as REST v1 writes them), durations are
integer milliseconds, and a value the engine does not know (yet) is null. Names follow the
Inngest GraphQL schema the dev server's own UI reads, in snake case (`queuedAt` is `queued_at`).
"""

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from engine.console_store import (
    AttemptRecord,
    MemoRecord,
    RunRecord,
    RunTimeline,
    Status,
    StepKind,
    StepRecord,
)
from engine.consts import DISCOVERY_STEP, QueueKind
from engine.cron import next_fire
from engine.functions import FunctionConfig

_TERMINAL = {Status.COMPLETED, Status.FAILED, Status.CANCELLED}
_WAITING_KINDS = {StepKind.SLEEP, StepKind.WAIT_FOR_EVENT, StepKind.INVOKE}


def timestamp(ms: int | None) -> str | None:
    """As `engine.timeutil.format_timestamp`, several times faster: a run's timeline has
    thousands of times, most within a few seconds of each other."""
    return None if ms is None else f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


@lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def run_json(
    run: RunRecord,
    functions: dict[str, FunctionConfig],
    apps: dict[str, str],
    trigger_ids: list[str],
) -> dict[str, Any]:
    fn = functions.get(run.fn_slug)
    begun = run.began_at if run.began_at is not None else run.queued_at
    return {
        "id": run.run_id,
        "status": run.status.value,
        "function_id": run.fn_slug,
        "function_name": (fn.name or fn.id) if fn else run.fn_slug,
        "app_id": apps.get(run.fn_slug),
        "queued_at": timestamp(run.queued_at),
        "started_at": timestamp(run.began_at),
        "ended_at": timestamp(run.ended_at),
        "duration_ms": None if run.ended_at is None else run.ended_at - begun,
        "event_name": run.event_name,
        "trigger_ids": trigger_ids,
        "is_batch": run.batch_id is not None,
        "batch_id": run.batch_id,
        "cron_schedule": run.cron,
        "invoked_by": run.parent,
    }


def run_brief(run: RunRecord, functions: dict[str, FunctionConfig]) -> dict[str, Any]:
    """A run as a link: enough to show its status next to an event or a step."""
    fn = functions.get(run.fn_slug)
    return {
        "id": run.run_id,
        "function_id": run.fn_slug,
        "function_name": (fn.name or fn.id) if fn else run.fn_slug,
        "status": run.status.value,
    }


def error_json(value: Any) -> dict[str, Any]:
    """An error as `{name, message, stack}`, whatever shape the SDK or the engine gave it."""
    if not isinstance(value, dict):
        return {"name": "Error", "message": str(value), "stack": None}
    message = value.get("message") or value.get("error") or ""
    return {
        "name": str(value.get("name") or "Error"),
        "message": message if isinstance(message, str) else str(message),
        "stack": value.get("stack") if isinstance(value.get("stack"), str) else None,
    }


def attempt_json(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "queued_at": timestamp(attempt.queued_at),
        "started_at": timestamp(attempt.started_at),
        "ended_at": timestamp(attempt.ended_at),
        "queue_ms": max(0, attempt.started_at - attempt.queued_at),
        "duration_ms": attempt.ended_at - attempt.started_at,
        "error": None if attempt.error is None else error_json(attempt.error),
    }


def steps_json(
    timeline: RunTimeline, in_flight: dict[int, int], sent: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The step timeline in the order steps were first reported. `in_flight`: queue item id ->
    when its SDK call began; `sent`: step id -> the events a step sent (its output's ids)."""
    attempts: dict[str, list[AttemptRecord]] = {}
    for attempt in timeline.attempts:
        attempts.setdefault(attempt.step_id, []).append(attempt)
    return [
        _step_json(step, timeline, attempts.get(step.step_id, []), in_flight, sent)
        for step in _steps(timeline)
    ]


def _steps(timeline: RunTimeline) -> Iterable[StepRecord]:
    seen = {step.step_id for step in timeline.steps}
    yield from timeline.steps
    for memo in timeline.memos.values():  # steps memoized before the engine kept a timeline
        if memo.step_id not in seen:
            yield StepRecord(memo.step_id, StepKind.RUN, memo.step_id, None, 0, None, {})


def _step_json(
    step: StepRecord,
    timeline: RunTimeline,
    attempts: list[AttemptRecord],
    in_flight: dict[int, int],
    sent: dict[str, list[str]],
) -> dict[str, Any]:
    memo = timeline.memos.get(step.step_id)
    # A step that failed inside a discovery call is retried by a discovery call too.
    retried_inline = bool(attempts) and attempts[-1].error is not None
    calls = [
        call
        for call in timeline.queued
        if call.kind is QueueKind.CALL
        and (
            call.step_id == step.step_id
            or (retried_inline and call.step_id == DISCOVERY_STEP and call.attempt > 0)
        )
    ]
    running = next((in_flight[c.item_id] for c in calls if c.item_id in in_flight), None)
    started = attempts[0].started_at if attempts else running
    if started is None and step.kind not in (StepKind.RUN, StepKind.SEND_EVENT):
        started = step.queued_at
    output, error = _result(step.kind, memo)
    ended = step.ended_at if memo is not None else None
    kind = StepKind.SEND_EVENT if step.step_id in sent else step.kind
    return {
        "id": step.step_id,
        "name": step.name,
        "type": kind.value,
        "status": _step_status(step, timeline, memo, attempts, running),
        "group_id": step.group_id,
        "queued_at": timestamp(step.queued_at or None),
        "started_at": timestamp(started),
        "ended_at": timestamp(ended),
        "duration_ms": None if ended is None or started is None else ended - started,
        "queue_ms": None if started is None or not step.queued_at else started - step.queued_at,
        "execution_ms": sum(a.ended_at - a.started_at for a in attempts) if attempts else None,
        "attempts": [attempt_json(attempt) for attempt in attempts],
        "retry_at": next((timestamp(c.due_at) for c in calls if c.attempt > 0), None)
        if retried_inline and memo is None
        else None,
        "output": output,
        "output_size": None if memo is None else memo.size,
        "output_inline": memo is None or memo.inline,
        "error": error,
        "info": _info(step, kind, memo, sent),
    }


def _result(kind: StepKind, memo: MemoRecord | None) -> tuple[Any, dict[str, Any] | None]:
    if memo is None or not memo.inline:
        return None, None
    value = memo.memo
    if kind in (StepKind.SLEEP, StepKind.WAIT_FOR_EVENT):
        return value, None  # a sleep ends with null; a wait with the event, or null on timeout
    if isinstance(value, dict) and "error" in value:
        return None, error_json(value["error"])
    return (value.get("data") if isinstance(value, dict) else value), None


def _step_status(
    step: StepRecord,
    timeline: RunTimeline,
    memo: MemoRecord | None,
    attempts: list[AttemptRecord],
    running: int | None,
) -> str:
    """Inngest's span statuses: QUEUED, RUNNING, WAITING, COMPLETED, FAILED, CANCELLED."""
    if memo is not None:
        failed = memo.failed and step.kind not in (StepKind.SLEEP, StepKind.WAIT_FOR_EVENT)
        return "FAILED" if failed else "COMPLETED"
    if timeline.run.status in _TERMINAL:
        return "FAILED" if attempts and attempts[-1].error is not None else "CANCELLED"
    if step.kind in _WAITING_KINDS:
        return "WAITING"
    return "RUNNING" if running is not None else "QUEUED"


def _info(
    step: StepRecord, kind: StepKind, memo: MemoRecord | None, sent: dict[str, list[str]]
) -> dict[str, Any]:
    info = step.info
    ended = memo is not None
    if kind is StepKind.SLEEP:
        return {"sleep_until": timestamp(info.get("sleep_until"))}
    if kind is StepKind.WAIT_FOR_EVENT:
        matched = memo.memo if memo is not None and memo.inline else None
        return {
            "event": info.get("event"),
            "if": info.get("if"),
            "timeout_at": timestamp(info.get("timeout_at")),
            "timed_out": ended and matched is None and memo is not None and memo.inline,
        }
    if kind is StepKind.INVOKE:
        error = memo.memo.get("error") if memo and isinstance(memo.memo, dict) else None
        return {
            "function_id": info.get("function_id"),
            "run_id": info.get("run_id"),
            "timeout_at": timestamp(info.get("timeout_at")),
            "timed_out": isinstance(error, dict)
            and error.get("name") == "InngestInvokeTimeoutError",
        }
    if kind is StepKind.SEND_EVENT:
        return {"event_ids": sent.get(step.step_id, [])}
    return {}


def sent_event_candidates(timeline: RunTimeline) -> dict[str, list[str]]:
    """Steps whose output is a list of strings: a `send_event` step returns its events' ids."""
    found = {}
    for step_id, memo in timeline.memos.items():
        data = memo.memo.get("data") if memo.inline and isinstance(memo.memo, dict) else None
        if isinstance(data, list) and data and all(isinstance(item, str) for item in data):
            found[step_id] = data
    return found


def function_json(
    fn: FunctionConfig,
    app: str | None,
    functions: dict[str, FunctionConfig],
    cron_fires: dict[tuple[str, str], int],
    now: int,
) -> dict[str, Any]:
    triggers: list[dict[str, Any]] = []
    for trigger in fn.triggers:
        if trigger.cron:
            fires = cron_fires.get((fn.id, trigger.cron)) or next_fire(trigger.cron, now)
            triggers.append(
                {"type": "CRON", "value": trigger.cron, "next_fire_at": timestamp(fires)}
            )
        else:
            triggers.append({"type": "EVENT", "value": trigger.event, "if": trigger.expression})
    handler = f"{fn.id}-failure"
    parent = fn.id.removesuffix("-failure") if fn.id.endswith("-failure") else None
    return {
        "id": fn.id,
        "name": fn.name or fn.id,
        "app_id": app,
        "url": fn.url,
        "triggers": triggers,
        "config": _config(fn),
        "failure_handler_id": handler if handler in functions else None,
        "handles_failures_of": parent if parent in functions else None,
    }


def _config(fn: FunctionConfig) -> dict[str, Any]:
    """Every option the engine applies to the function, with the defaults it uses."""

    def plain(model: Any) -> Any:
        if model is None:
            return None
        return {key.rstrip("_"): value for key, value in model.model_dump().items()}

    return {
        "retries": fn.max_attempts - 1,
        "max_attempts": fn.max_attempts,
        "concurrency": [plain(rule) for rule in fn.concurrency],
        "throttle": plain(fn.throttle),
        "rate_limit": plain(fn.rate_limit),
        "debounce": plain(fn.debounce),
        "batch_events": plain(fn.batch_events),
        "priority": plain(fn.priority),
        "idempotency": fn.idempotency,
        "cancel_on": [plain(rule) for rule in fn.cancel],
    }
