"""The engine's HTTP surface, at the origin root as the SDK expects.

Event API `POST /e/{key}`, sync `POST /fn/register`, REST v1 for events, runs and cancellations,
plus `GET /health`, `GET /metrics` (Prometheus, engine.metrics), `GET /dev` and `POST /dev/sync`
(sync the configured apps now). The console's JSON API is mounted under /api/console and its pages
at the root (`/run?runID=` shows a run, as `inngest dev` does; the Jobs tab links there).
Errors use the Inngest envelope `{"error", "status", "data": null}` with the same HTTP status.
Bad input of any kind is a 4xx that names the problem: bodies go through `engine.bodies`.

Signed (a signing key given), the engine is what `inngest start` is: sync, `POST /dev/sync` and
REST v1 take the signing key as bearer, raw or hashed, and every answer says `cloud` as its server
kind. Given event keys, `POST /e/{key}` takes only those (401 otherwise, as Inngest answers). The
console, its JSON and `GET /dev` stay open: they are the human UI, as the dev server's is; so do
`/health` and `/metrics`, which a probe and a scraper read without a key.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.bodies import BodyError, checked_events, parse_json, read_body
from engine.console_api import CONSOLE_PREFIX, console_app
from engine.console_pages import page_routes
from engine.consts import (
    ENVIRONMENT_ID,
    EXPECTED_SERVER_KIND_HEADER,
    SERVER_KIND_HEADER,
    ZERO_UUID,
    RunStatus,
)
from engine.expressions import ExpressionError, check
from engine.functions import RegistrationError
from engine.ids import is_ulid
from engine.metrics import CONTENT_TYPE
from engine.server import Engine
from engine.signing import is_event_key
from engine.store import Run, StoredEvent
from engine.timeutil import format_timestamp, parse_timestamp

EVENTS_LIMIT_DEFAULT = 20
EVENTS_LIMIT_MAX = 51
NO_EVENT_KEY = "NO_EVENT_KEY_SET"  # what the SDK sends in dev mode when it has no event key
Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_api(engine: Engine) -> Starlette:
    async def send_events(request: Request) -> Response:
        refused = _event_key_problem(request.path_params.get("key", ""), engine.event_keys)
        if refused is not None:
            return _json({"ids": [], "status": 401, "error": refused}, 401)
        try:
            raw = await read_body(request, engine.max_request_size)
            cleaned = checked_events(parse_json(raw), engine.max_event_size, len(raw))
        except BodyError as exc:
            return _json({"ids": [], "status": exc.status, "error": exc.message}, exc.status)
        ids = engine.machine.ingest(cleaned)
        engine.notify()
        return _json({"ids": ids, "status": 200})

    async def register(request: Request) -> Response:
        expected = request.headers.get(EXPECTED_SERVER_KIND_HEADER)
        if expected and expected != engine.server_kind:
            return _json(
                {"error": f"this is a {engine.server_kind} server, the app expects {expected!r}"},
                400,
            )
        try:
            body = parse_json(await read_body(request, engine.max_request_size))
            if not isinstance(body, dict):
                raise RegistrationError("the body must be a JSON object")
            app = body.get("appname") or body.get("appName")
            if not (isinstance(app, str) and app and isinstance(body.get("url"), str)):
                raise RegistrationError("'appname' and 'url' are required and must be strings")
            modified = engine.machine.register(
                app,
                body["url"],
                str(body.get("sdk", "")),
                str(body.get("framework", "")),
                body.get("functions"),
            )
        except BodyError as exc:
            return _json({"error": exc.message}, exc.status)
        except (ValueError, RegistrationError) as exc:
            return _json({"error": str(exc)}, 400)
        engine.notify()
        return _json({"ok": True, "modified": modified})

    async def list_events(request: Request) -> Response:
        params = request.query_params
        limit = _int_param(params.get("limit"), EVENTS_LIMIT_DEFAULT, "limit")
        cursor = params.get("cursor") or None
        if cursor is not None and not is_ulid(cursor):
            raise ApiError(400, f"Invalid cursor query parameter: {cursor!r} is not an event id")
        after = _time_param(params.get("received_after"), "received_after")
        before = _time_param(params.get("received_before"), "received_before")
        _check_range(after, before, "received_after", "received_before")
        events = engine.store.list_events(
            limit=max(1, min(limit, EVENTS_LIMIT_MAX)),
            before_id=cursor and cursor.upper(),
            name=params.get("name"),
            received_after=after,
            received_before=before,
        )
        return _data([_event_json(event) for event in events], engine)

    async def get_event(request: Request) -> Response:
        return _data(_event_json(_find_event(engine, request)), engine)

    async def event_runs(request: Request) -> Response:
        event = _find_event(engine, request)
        return _data(
            [_run_json(run) for run in engine.store.runs_for_event(event.internal_id)], engine
        )

    async def get_run(request: Request) -> Response:
        return _data(_run_json(_find_run(engine, request)), engine)

    async def cancel_run(request: Request) -> Response:
        run = _find_run(engine, request)
        if run.status is not RunStatus.RUNNING:
            raise ApiError(400, f"run {run.run_id} has already ended ({run.status.value})")
        engine.machine.cancel(run.run_id)
        engine.notify()
        return Response(status_code=200)

    async def bulk_cancel(request: Request) -> Response:
        body = parse_json(await read_body(request, engine.max_request_size))
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        for name in ("app_id", "function_id", "started_before"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise ApiError(400, f"'{name}' is required")
        now = engine.clock.now()
        before = _time_param(body["started_before"], "started_before")
        assert before is not None  # a non-empty string, checked above
        after = _time_param(body.get("started_after"), "started_after")
        if before > now:
            raise ApiError(400, "'started_before' must not be in the future")
        _check_range(after, before, "started_after", "started_before")
        after = after or 0
        expr = body.get("if") or None
        if expr is not None and not isinstance(expr, str):
            raise ApiError(400, "'if' must be a string (a CEL expression)")
        if expr is not None:
            try:
                check(expr)
            except ExpressionError as exc:
                raise ApiError(400, str(exc)) from exc
        slug = body["function_id"]
        if slug not in engine.machine.functions:
            raise ApiError(404, f"function {slug!r} not found")
        count = engine.machine.cancel_many(slug, after, before, expr)
        engine.notify()
        cancellation = {
            "id": str(uuid.uuid4()),
            "created_at": format_timestamp(now),
            "app_id": ZERO_UUID,
            "function_id": slug,
            "function_internal_id": _fn_uuid(slug),
            "started_after": format_timestamp(after) if body.get("started_after") else None,
            "started_before": format_timestamp(before),
            "if": expr,
            "kind": "bulk_run",
            "cause": "api",
            "cancelled_runs": count,
        }
        engine.store.save_cancellation(cancellation["id"], cancellation)
        return _data(cancellation, engine)

    async def sync_now(request: Request) -> Response:
        return _json({"results": await engine.sync()})

    async def health(request: Request) -> Response:
        return _json({"status": 200, "message": "OK"})

    async def metrics(request: Request) -> Response:
        return Response(engine.metrics.render(), media_type=CONTENT_TYPE)

    async def dev_info(request: Request) -> Response:
        return _json(
            {
                "version": "docs-ingest-engine",
                "functions": sorted(engine.machine.functions),
                "apps": [{"name": row["name"], "url": row["url"]} for row in engine.store.apps()],
                "queue": engine.store.queue_size(),
            }
        )

    guard = _bearer_guard(engine)
    routes: list[BaseRoute] = [
        Route("/e/{key}", send_events, methods=["POST"]),
        Route("/fn/register", guard(register, _APP_KEY_MISSING, _APP_KEY_WRONG), methods=["POST"]),
        Route("/v1/events", guard(list_events), methods=["GET"]),
        Route("/v1/events/{id}", guard(get_event), methods=["GET"]),
        Route("/v1/events/{id}/runs", guard(event_runs), methods=["GET"]),
        Route("/v1/runs/{id}", guard(get_run), methods=["GET"]),
        Route("/v1/runs/{id}", guard(cancel_run), methods=["DELETE"]),
        Route("/v1/cancellations", guard(bulk_cancel), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/dev", dev_info, methods=["GET"]),
        Route("/dev/sync", guard(sync_now), methods=["POST"]),
        Mount(CONSOLE_PREFIX, app=console_app(engine)),
        *page_routes(),
    ]
    if engine.event_keys:  # `/e/` names no key: refused as Inngest does, not a 404
        routes.insert(1, Route("/e/", send_events, methods=["POST"]))
    handlers = {ApiError: _api_error, BodyError: _api_error}
    return Starlette(
        routes=routes,
        exception_handlers=handlers,
        middleware=[Middleware(_ServerKindHeader, kind=engine.server_kind)],
    )


_BEARER_MISSING = (
    "Authentication failed: this engine runs signed and takes its signing key"
    " (INNGEST_SIGNING_KEY) as 'Authorization: Bearer <key>', raw or hashed"
)
_BEARER_WRONG = (
    "Authentication failed: the bearer token is not the engine's signing key"
    " (INNGEST_SIGNING_KEY), raw or hashed"
)
_APP_KEY_MISSING = (
    "Authentication failed: the app sent no signing key; this engine runs signed and syncs only"
    " apps whose INNGEST_SIGNING_KEY is its signing key"
)
_APP_KEY_WRONG = (
    "Authentication failed: the app's signing key (its INNGEST_SIGNING_KEY) is not the engine's"
    " signing key"
)


def _bearer_guard(engine: Engine) -> Callable[..., Handler]:
    """Wraps a handler so that, when the engine is signed, it first checks the bearer token."""

    def guard(
        handler: Handler, missing: str = _BEARER_MISSING, wrong: str = _BEARER_WRONG
    ) -> Handler:
        signer = engine.signer
        if signer is None:
            return handler

        async def guarded(request: Request) -> Response:
            authorization = request.headers.get("authorization")
            if not signer.bearer_matches(authorization):
                raise ApiError(401, wrong if authorization else missing)
            return await handler(request)

        return guarded

    return guard


def _event_key_problem(key: str, keys: list[str]) -> str | None:
    """Why `POST /e/{key}` is refused, naming the event key; None when no key is required."""
    if not keys:
        return None
    if not key or key == NO_EVENT_KEY:
        return (
            "Event key is required: the sender gave none; set its INNGEST_EVENT_KEY to one of"
            " the engine's event keys"
        )
    if not is_event_key(key, keys):
        return (
            "Event key not found: the key in /e/{key} is not one of the engine's event keys"
            " (--event-key or INNGEST_EVENT_KEY)"
        )
    return None


class _ServerKindHeader:
    """Every answer says which kind of server this is (`dev`, or `cloud` when signed), as the Go
    server's static headers do; the SDK compares it with its own mode."""

    def __init__(self, app: ASGIApp, kind: str) -> None:
        self.app = app
        self.header = (SERVER_KIND_HEADER.encode(), kind.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_kind(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_kind)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError | BodyError)
    return _json({"error": exc.message, "status": exc.status, "data": None}, exc.status)


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _data(data: Any, engine: Engine) -> JSONResponse:
    fetched = format_timestamp(engine.clock.now())
    return _json({"data": data, "metadata": {"fetched_at": fetched, "cached_until": None}})


def _find_event(engine: Engine, request: Request) -> StoredEvent:
    event_id = request.path_params["id"]
    event = engine.store.get_event(event_id)
    if event is None:
        raise ApiError(404, f"event {event_id} not found")
    return event


def _find_run(engine: Engine, request: Request) -> Run:
    run_id = request.path_params["id"]
    run = engine.store.get_run(run_id)
    if run is None:
        raise ApiError(404, f"run {run_id} not found")
    return run


def _int_param(value: str | None, default: int, name: str) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ApiError(400, f"'{name}' must be an integer") from exc


def _time_param(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        ms = parse_timestamp(str(value))
    except ValueError as exc:
        raise ApiError(400, f"'{name}' must be an RFC 3339 timestamp") from exc
    if ms < 0:
        raise ApiError(400, f"'{name}' is out of range: it is before 1970")
    return ms


def _check_range(after: int | None, before: int | None, after_name: str, before_name: str) -> None:
    if after is not None and before is not None and after > before:
        raise ApiError(400, f"'{after_name}' must not be later than '{before_name}'")


def _fn_uuid(slug: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"inngest:function:{slug}"))


def _event_json(event: StoredEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "internal_id": event.internal_id,
        "account_id": ZERO_UUID,
        "environment_id": ENVIRONMENT_ID,
        "source": "",
        "source_id": "",
        "received_at": format_timestamp(event.received_at),
        "name": event.name,
        "data": event.data,
        "user": event.user,
        "ts": event.ts,
    }
    if event.id:
        body["id"] = event.id
    if event.v is not None:
        body["v"] = event.v
    return body


def _run_json(run: Run) -> dict[str, Any]:
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "run_started_at": format_timestamp(run.started_at),
        "function_id": _fn_uuid(run.fn_slug),
        "function_version": 1,
        "environment_id": ENVIRONMENT_ID,
        "event_id": run.event_id,
        "status": run.status.value,
        "ended_at": None if run.ended_at is None else format_timestamp(run.ended_at),
    }
    for key in ("batch_id", "cron"):
        if getattr(run, key):
            body[key] = getattr(run, key)
    if run.status is not RunStatus.RUNNING:
        body["output"] = run.output
    return body
