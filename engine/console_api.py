"""The engine console's JSON API, under /api/console: what the console's pages read and do.

The Inngest dev server's own UI is the model (its pages Runs, Events, Functions and Apps, and the
GraphQL schema they read); names are that schema's in snake case. REST v1 (engine/api.py) stays
exactly the real server's; nothing here changes it. All answers are JSON. Times are RFC 3339 in
UTC with milliseconds, durations integer milliseconds, unknown values null. Time parameters take
RFC 3339 or integer milliseconds since the epoch. A parameter listed as "many" may be repeated or
comma-separated. Errors: `{"error": "<what is wrong>", "status": <code>}` with that HTTP status;
an unknown id is 404, a bad parameter or body 400 (413 for a body over the engine's size limit),
an action on a run that has ended 409.

A run (`Run`):
  {id, status: QUEUED|RUNNING|COMPLETED|FAILED|CANCELLED, function_id (the function's slug),
   function_name, app_id, queued_at, started_at (its first SDK call; null while QUEUED),
   ended_at, duration_ms (end minus start, or minus queueing if it never started),
   event_name, trigger_ids (internal event ids), is_batch, batch_id, cron_schedule,
   invoked_by: {run_id, step_id} | null}

GET /runs
    Every run, newest first on `time_field`. Parameters:
      status        many of queued, running, completed, failed, cancelled (any case)
      function      many function slugs;   app   many app names (their functions)
      time_field    queued (default) | started | ended: what `from`/`until` filter and the
                    order sorts on; runs without that time (not started, not ended) are left out
      from, until   from <= time < until
      run_id        only this run;   event_id   only runs this event (internal id) started
      query         CEL over `event` (the first triggering event) and `output` (the return
                    value, or the error of a failed run): see engine/console_search.py for what
                    is supported. It is checked against at most 2,000 runs a request.
      limit         1..200, default 40;   cursor   `next_cursor` of the previous page
    -> {runs: [Run], total_count, total_count_exact, next_cursor}
    `total_count` counts every run the filters select, not only this page. With a `query`
    over more than 2,000 runs it counts the matches among the newest 2,000 and
    `total_count_exact` is false; later pages of a search repeat the first page's count (their
    cursor carries it). `next_cursor` is null on the last page. Pages stay stable while
    new runs arrive: they sort above the first page. A search may return fewer than `limit`
    runs with a `next_cursor` when its window ended: the next page searches on from there.

GET /runs/{id}
    -> {run: Run, trigger: {event_name, event_ids, is_batch, batch_id, cron_schedule},
        input: {event, events} (the payloads the function received),
        output (COMPLETED), error: {name, message, stack} (FAILED),
        attempts: [Attempt] (SDK calls that errored or returned at function level, outside any
                  step: the run's own retries and its final call),
        steps: [Step] (in the order the SDK first reported them),
        links: {invoked_by: {run_id, step_id} | null,
                invoked: [{step_id, run: RunLink}], sent_events: [{step_id, event_id,
                runs: [RunLink]}]}}
    RunLink = {id, function_id, function_name, status}.
    Attempt = {attempt (0-based), queued_at (due), started_at, ended_at, queue_ms, duration_ms,
               error: {name, message, stack} | null}
    Step = {id (the SDK's step hash), name, type: RUN|SEND_EVENT|SLEEP|WAIT_FOR_EVENT|INVOKE|
            AI_GATEWAY, status: QUEUED|RUNNING|WAITING|COMPLETED|FAILED|CANCELLED,
            group_id (steps planned together, run in parallel, share it; null otherwise),
            queued_at, started_at, ended_at, duration_ms (end - start),
            queue_ms (start - queued: waiting for a worker before the first attempt),
            execution_ms (time inside SDK calls, summed over attempts), attempts: [Attempt],
            retry_at (the next attempt, when the last one failed), output, error,
            output_size (bytes), output_inline (false: over 64 KiB, read it from the step's URL),
            info: SLEEP {sleep_until} | WAIT_FOR_EVENT {event, if, timeout_at, timed_out} |
                  INVOKE {function_id, run_id, timeout_at, timed_out} | SEND_EVENT {event_ids}
                  | RUN and AI_GATEWAY {}}
    A step is SEND_EVENT when the SDK says so (`opts.type`), or when its output is a list of
    ids of events this engine received (the Python SDK's `step.send_event`).
GET /runs/{id}/steps/{step_id}    -> Step, with its output however large
POST /runs/{id}/cancel            -> {run: Run}; 409 if the run has ended
POST /runs/{id}/rerun             -> 201 {run_id}: a new run of the same function and event(s)
POST /cancellations   {function_id, from?, until?, if?, dry_run?}
    Cancels the function's active runs queued in [from, until) whose triggering event matches
    the CEL `if` over `event` (as POST /v1/cancellations does); `until` defaults to now.
    -> {id, function_id, from, until, if, count, dry_run}; a dry run only counts (id null).

An event (`Event`): {id (internal), name, received_at, ts (ms, as sent), dedup_id (the `id` it
was sent with, or null), runs: [RunLink]}
GET /events      newest first; name (many), from, until (received), internal (true: include
                 inngest/... events), limit 1..200 (default 40), cursor (`next_cursor`)
                 -> {events: [Event], next_cursor}
GET /events/{id}               -> Event + {payload} (the event as functions see it)
POST /events     an event or an array of events, validated as POST /e/{key} -> 201 {ids}
POST /events/{id}/replay       the payload sent again as a new event -> 201 {ids}

A function: {id (slug), name, app_id, url, triggers: [{type: EVENT, value, if} |
{type: CRON, value, next_fire_at}], config, failure_handler_id (its `on_failure` function),
handles_failures_of}. `config` is what the engine applies, null where unset: {retries,
max_attempts, concurrency: [{limit, key, scope}], throttle: {limit, period, burst, key},
rate_limit: {limit, period, key}, debounce: {period, timeout, key}, batch_events: {max_size,
timeout, key, if}, priority: {run}, idempotency, cancel_on: [{event, if, timeout}]}.
GET /functions  -> {functions: [...]};   GET /functions/{id}  -> the function
POST /functions/{id}/invoke  {data?: {}, user?: {}} -> 201 {run_id, event_id}: a run now, with an
    `inngest/function.invoked` event, whatever the triggers

An app: {id (from its URL), name (once it has synced), url, sdk_language, sdk_version, framework,
function_count, function_ids, synced_at (its last registration), error (of the last sync the
console made, when that came after it), kept (synced with the configured apps, `--sdk-url` or
added here)}
GET /apps  -> {apps: [...]};   POST /apps {url}  -> 201 app: added, kept and synced now
POST /apps/sync  -> {apps: [...]} all kept apps synced now;  POST /apps/{id}/sync  -> app
DELETE /apps/{id}  -> {id}: its functions are removed and it is no longer synced (a
    `--sdk-url` app comes back when the engine restarts with that flag)
"""

import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import engine.console_params as incoming
from engine import expressions
from engine.bodies import BodyError, checked_events, parse_json, read_body
from engine.console_apps import app_routes
from engine.console_params import ConsoleError
from engine.console_store import INLINE_OUTPUT_BYTES, ConsoleStore, EventRecord, RunRecord, Status
from engine.console_views import (
    attempt_json,
    error_json,
    function_json,
    run_brief,
    run_json,
    sent_event_candidates,
    steps_json,
    timestamp,
)
from engine.consts import DISCOVERY_STEP, ZERO_UUID, RunStatus
from engine.functions import FunctionConfig
from engine.ids import is_ulid
from engine.server import Engine
from engine.store import StoredEvent
from engine.timeutil import format_timestamp

CONSOLE_PREFIX = "/api/console"
ALL_OUTPUT = 1 << 62


def console_app(engine: Engine) -> Starlette:
    """The console API for `engine`, to mount at CONSOLE_PREFIX."""
    history = engine.machine.history

    def functions() -> dict[str, FunctionConfig]:
        return engine.machine.functions

    def runs_json(records: list[RunRecord]) -> list[dict[str, Any]]:
        apps = history.function_apps()
        return [run_json(run, functions(), apps, _trigger_ids(history, run)) for run in records]

    async def list_runs(request: Request) -> Response:
        flt = incoming.run_filter(request, history)
        limit = incoming.page_limit(request.query_params.get("limit"))
        cursor, counted = incoming.decode_cursor(request.query_params.get("cursor"), flt.time_field)
        page = history.list_runs(flt, limit, cursor, counted)
        total = (page.total, page.total_exact) if flt.search else None
        return _json(
            {
                "runs": runs_json(page.runs),
                "total_count": page.total,
                "total_count_exact": page.total_exact,
                "next_cursor": incoming.encode_cursor(page.next_cursor, flt.time_field, total),
            }
        )

    def run_detail(run_id: str, inline_bytes: int) -> dict[str, Any]:
        timeline = history.timeline(run_id, inline_bytes)
        if timeline is None:
            raise ConsoleError(404, f"run {run_id} not found")
        run, fns = timeline.run, functions()
        candidates = sent_event_candidates(timeline)
        known = history.known_events(i for ids in candidates.values() for i in ids)
        sent = {step_id: ids for step_id, ids in candidates.items() if set(ids) <= known}
        started = history.event_runs([i for ids in sent.values() for i in ids])
        children = [step for step in timeline.steps if step.info.get("run_id")]
        linked = history.run_records(
            [str(step.info["run_id"]) for step in children]
            + [r for ids in started.values() for r in ids]
        )
        output = timeline.output
        return {
            "run": run_json(run, fns, history.function_apps(), timeline.event_ids),
            "trigger": {
                "event_name": run.event_name,
                "event_ids": timeline.event_ids,
                "is_batch": run.batch_id is not None,
                "batch_id": run.batch_id,
                "cron_schedule": run.cron,
            },
            "input": {"event": timeline.events[0], "events": timeline.events},
            "output": output if run.status is Status.COMPLETED else None,
            "error": error_json(output) if run.status is Status.FAILED else None,
            "attempts": [attempt_json(a) for a in timeline.attempts if a.step_id == DISCOVERY_STEP],
            "steps": steps_json(timeline, engine.machine.calls_started, sent),
            "links": {
                "invoked_by": run.parent,
                "invoked": [
                    {"step_id": step.step_id, "run": run_brief(linked[step.info["run_id"]], fns)}
                    for step in children
                    if step.info["run_id"] in linked
                ],
                "sent_events": [
                    {
                        "step_id": step_id,
                        "event_id": event_id,
                        "runs": [run_brief(linked[r], fns) for r in started.get(event_id, [])],
                    }
                    for step_id, ids in sent.items()
                    for event_id in ids
                ],
            },
        }

    async def get_run(request: Request) -> Response:
        return _json(run_detail(request.path_params["id"], INLINE_OUTPUT_BYTES))

    async def get_step(request: Request) -> Response:
        run_id, step_id = request.path_params["id"], request.path_params["step_id"]
        for step in run_detail(run_id, ALL_OUTPUT)["steps"]:
            if step["id"] == step_id:
                return _json(step)
        raise ConsoleError(404, f"run {run_id} has no step {step_id}")

    async def cancel_run(request: Request) -> Response:
        run_id = request.path_params["id"]
        run = engine.machine.cancel(run_id)
        if run is None:
            raise ConsoleError(404, f"run {run_id} not found")
        if run.status is not RunStatus.RUNNING:
            raise ConsoleError(409, f"run {run_id} has already ended ({run.status.value})")
        engine.notify()
        return _json({"run": runs_json(list(history.run_records([run_id]).values()))[0]})

    async def rerun(request: Request) -> Response:
        run_id = request.path_params["id"]
        if not history.run_records([run_id]):
            raise ConsoleError(404, f"run {run_id} not found")
        new = engine.machine.rerun(run_id)
        if new is None:
            message = f"run {run_id} cannot run again: its function or its events are gone"
            raise ConsoleError(409, message)
        engine.notify()
        return _json({"run_id": new.run_id}, 201)

    async def bulk_cancel(request: Request) -> Response:
        body = await incoming.object_body(request, engine)
        slug = incoming.body_string(body, "function_id", required=True)
        if slug not in functions():
            raise ConsoleError(404, f"function {slug!r} not found")
        now = engine.clock.now()
        since = incoming.time_value(body.get("from"), "from")
        until = incoming.time_value(body.get("until"), "until")
        since, until = since or 0, now + 1 if until is None else until
        incoming.check_range(since, until)
        expr = incoming.body_string(body, "if") or None
        if expr is not None:
            try:
                expressions.check(expr)
            except expressions.ExpressionError as exc:
                raise ConsoleError(400, f"'if': {exc}") from None
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise ConsoleError(400, "'dry_run' must be true or false")
        cancellation_id = None
        if dry_run:
            count = sum(
                expressions.matches(expr, {"event": run.event})
                for run in engine.store.running_runs(slug, since, until)
            )
        else:
            count = engine.machine.cancel_many(slug, since, until, expr)
            engine.notify()
            cancellation_id = str(uuid.uuid4())
            record = {
                "id": cancellation_id,
                "created_at": format_timestamp(now),
                "app_id": ZERO_UUID,
                "function_id": slug,
                "started_after": format_timestamp(since),
                "started_before": format_timestamp(until),
                "if": expr,
                "kind": "bulk_run",
                "cause": "console",
                "cancelled_runs": count,
            }
            engine.store.save_cancellation(cancellation_id, record)
        return _json(
            {
                "id": cancellation_id,
                "function_id": slug,
                "from": timestamp(since),
                "until": timestamp(until),
                "if": expr,
                "count": count,
                "dry_run": dry_run,
            }
        )

    # events

    def events_json(records: list[EventRecord] | list[StoredEvent]) -> list[dict[str, Any]]:
        started = history.event_runs([event.internal_id for event in records])
        runs = history.run_records([r for ids in started.values() for r in ids])
        return [
            {
                "id": event.internal_id,
                "name": event.name,
                "received_at": timestamp(event.received_at),
                "ts": event.ts,
                "dedup_id": event.id or None,
                "runs": [
                    run_brief(runs[r], functions())
                    for r in started.get(event.internal_id, [])
                    if r in runs
                ],
            }
            for event in records
        ]

    async def list_events(request: Request) -> Response:
        params = request.query_params
        limit = incoming.page_limit(params.get("limit"))
        cursor = params.get("cursor") or None
        if cursor is not None and not is_ulid(cursor):
            raise ConsoleError(400, f"'cursor' {cursor[:40]!r} is not an event id")
        since = incoming.time_value(params.get("from"), "from")
        until = incoming.time_value(params.get("until"), "until")
        incoming.check_range(since, until)
        internal = params.get("internal", "false").lower()
        if internal not in ("true", "false"):
            raise ConsoleError(400, "'internal' must be true or false")
        records = history.list_events(
            limit=limit + 1,
            before_id=cursor and cursor.upper(),
            names=incoming.many(request, "name"),
            since=since,
            until=until,
            internal=internal == "true",
        )
        page = records[:limit]
        next_cursor = page[-1].internal_id if len(records) > limit else None
        return _json({"events": events_json(page), "next_cursor": next_cursor})

    def stored_event(request: Request) -> StoredEvent:
        event_id = request.path_params["id"]
        event = engine.store.get_event(event_id)
        if event is None:
            raise ConsoleError(404, f"event {event_id} not found")
        return event

    async def get_event(request: Request) -> Response:
        event = stored_event(request)
        return _json({**events_json([event])[0], "payload": event.payload()})

    def ingest(events: list[Any], raw_size: int | None = None) -> list[str]:
        """Store and act on events, refused as POST /e/{key} refuses them."""
        if not events:
            raise ConsoleError(400, "no event to send: the array is empty")
        try:
            cleaned = checked_events(events, engine.max_event_size, raw_size)
        except BodyError as exc:
            raise ConsoleError(exc.status, exc.message) from None
        ids = engine.machine.ingest(cleaned)
        engine.notify()
        return ids

    async def send_events(request: Request) -> Response:
        raw = await read_body(request, engine.max_request_size)
        body = parse_json(raw)
        return _json({"ids": ingest(body if isinstance(body, list) else [body], len(raw))}, 201)

    async def replay_event(request: Request) -> Response:
        event = stored_event(request)
        payload: dict[str, Any] = {"name": event.name, "data": event.data, "user": event.user}
        if event.v is not None:
            payload["v"] = event.v
        return _json({"ids": ingest([payload])}, 201)

    # functions

    def function_body(slug: str) -> dict[str, Any]:
        fn = functions().get(slug)
        if fn is None:
            raise ConsoleError(404, f"function {slug!r} not found")
        apps, now = history.function_apps(), engine.clock.now()
        return function_json(fn, apps.get(slug), functions(), history.cron_fires(), now)

    async def list_functions(request: Request) -> Response:
        return _json({"functions": [function_body(slug) for slug in sorted(functions())]})

    async def get_function(request: Request) -> Response:
        return _json(function_body(request.path_params["id"]))

    async def invoke_function(request: Request) -> Response:
        slug = request.path_params["id"]
        if slug not in functions():
            raise ConsoleError(404, f"function {slug!r} not found")
        body = await incoming.object_body(request, engine, empty_ok=True)
        data, user = body.get("data") or {}, body.get("user") or {}
        if not isinstance(data, dict) or not isinstance(user, dict):
            raise ConsoleError(400, "'data' and 'user' must be objects")
        data.pop("_inngest", None)
        run = engine.machine.invoke(slug, data, user)
        if run is None:
            raise ConsoleError(404, f"function {slug!r} not found")
        engine.notify()
        return _json({"run_id": run.run_id, "event_id": run.event_id}, 201)

    routes = [
        Route("/runs", list_runs, methods=["GET"]),
        Route("/runs/{id}", get_run, methods=["GET"]),
        Route("/runs/{id}/steps/{step_id}", get_step, methods=["GET"]),
        Route("/runs/{id}/cancel", cancel_run, methods=["POST"]),
        Route("/runs/{id}/rerun", rerun, methods=["POST"]),
        Route("/cancellations", bulk_cancel, methods=["POST"]),
        Route("/events", list_events, methods=["GET"]),
        Route("/events", send_events, methods=["POST"]),
        Route("/events/{id}", get_event, methods=["GET"]),
        Route("/events/{id}/replay", replay_event, methods=["POST"]),
        Route("/functions", list_functions, methods=["GET"]),
        Route("/functions/{id}", get_function, methods=["GET"]),
        Route("/functions/{id}/invoke", invoke_function, methods=["POST"]),
        *app_routes(engine),
    ]
    handlers = {ConsoleError: _error, BodyError: _error, HTTPException: _http_error}
    return Starlette(routes=routes, exception_handlers=handlers)


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleError | BodyError)
    return _json({"error": exc.message, "status": exc.status}, exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths (404) and methods (405) answer in the same shape as every other error."""
    assert isinstance(exc, HTTPException)
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return _json({"error": message, "status": exc.status_code}, exc.status_code)


def _trigger_ids(history: ConsoleStore, run: RunRecord) -> list[str]:
    return history.event_ids_of(run.run_id) if run.batch_id else [run.event_id]
