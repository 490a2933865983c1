"""What comes into the console API: query parameters and bodies, checked and typed.

Every problem is a ConsoleError with the HTTP status to answer (400, or 404 for an unknown id) and
a message that names the parameter and what is wrong with it.
"""

import base64
from typing import Any

from starlette.requests import Request

from engine import expressions
from engine.bodies import parse_json, read_body
from engine.console_search import SearchError, compile_search
from engine.console_store import ConsoleStore, Cursor, RunFilter, Status, TimeField
from engine.ids import is_ulid
from engine.server import Engine
from engine.timeutil import parse_timestamp

LIMIT_DEFAULT = 40
LIMIT_MAX = 200
TIME_MAX = 4102444800000  # 2100-01-01
MANY_MAX = 200


class ConsoleError(Exception):
    """A request the console API refuses: `status` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def run_filter(request: Request, history: ConsoleStore) -> RunFilter:
    """The filters of GET /runs; functions and apps must exist (or have had runs)."""
    params = request.query_params
    statuses = set()
    for name in many(request, "status"):
        try:
            statuses.add(Status(name.upper()))
        except ValueError:
            allowed = ", ".join(status.lower() for status in Status)
            raise ConsoleError(400, f"unknown status {name[:40]!r}: use {allowed}") from None
    time_field = params.get("time_field", TimeField.QUEUED)
    if time_field not in set(TimeField):
        raise ConsoleError(400, f"'time_field' {time_field[:40]!r}: use queued, started or ended")
    functions: set[str] | None = None
    slugs = many(request, "function")
    for slug in slugs:
        if not history.has_function(slug):
            raise ConsoleError(400, f"unknown function {slug[:80]!r}")
    if slugs:
        functions = set(slugs)
    apps = many(request, "app")
    if apps:
        owners = history.function_apps()
        known = set(owners.values())
        for app in apps:
            if app not in known:
                raise ConsoleError(400, f"unknown app {app[:80]!r}")
        of_apps = {slug for slug, app in owners.items() if app in apps}
        functions = of_apps if functions is None else functions & of_apps
    since, until = time_value(params.get("from"), "from"), time_value(params.get("until"), "until")
    check_range(since, until)
    query = params.get("query") or None
    try:
        search = None if query is None else compile_search(query)
    except (SearchError, expressions.ExpressionError) as exc:
        raise ConsoleError(400, f"'query': {exc}") from None
    return RunFilter(
        statuses=frozenset(statuses),
        functions=None if functions is None else frozenset(functions),
        time_field=TimeField(time_field),
        since=since,
        until=until,
        run_id=params.get("run_id") or None,
        event_id=params.get("event_id") or None,
        search=search,
    )


def many(request: Request, name: str) -> list[str]:
    """A parameter given several times, or once with commas."""
    values = [part.strip() for raw in request.query_params.getlist(name) for part in raw.split(",")]
    if len(values) > MANY_MAX:
        raise ConsoleError(400, f"'{name}' has more than {MANY_MAX} values")
    return [value for value in values if value]


def page_limit(value: str | None) -> int:
    if value is None:
        return LIMIT_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= LIMIT_MAX:
        raise ConsoleError(400, f"'limit' must be an integer from 1 to {LIMIT_MAX}")
    return int(value)


def time_value(value: Any, name: str) -> int | None:
    """Milliseconds of an RFC 3339 timestamp or of an integer of milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    elif isinstance(value, str) and value.isdigit() and len(value) <= 15:
        ms = int(value)
    elif isinstance(value, str):
        try:
            ms = parse_timestamp(value)
        except ValueError:
            message = f"'{name}' must be an RFC 3339 timestamp or milliseconds since the epoch"
            raise ConsoleError(400, message) from None
    else:
        raise ConsoleError(400, f"'{name}' must be a string or an integer")
    if not 0 <= ms <= TIME_MAX:
        raise ConsoleError(400, f"'{name}' is out of range: from 1970 to 2100")
    return ms


def check_range(since: int | None, until: int | None) -> None:
    if since is not None and until is not None and since >= until:
        raise ConsoleError(400, "'from' must be earlier than 'until'")


def encode_cursor(
    cursor: Cursor | None, time_field: TimeField, counted: tuple[int, bool] | None = None
) -> str | None:
    """An opaque cursor: the key of the last run shown, and for a search what it counted."""
    if cursor is None:
        return None
    text = f"{time_field.value}:{cursor[0]}:{cursor[1]}"
    if counted is not None:
        text += f":{counted[0]}:{int(counted[1])}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(
    value: str | None, time_field: TimeField
) -> tuple[Cursor | None, tuple[int, bool] | None]:
    """The key a cursor goes on after, and what a search counted, if it did."""
    if not value:
        return None, None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        field, ms, run_id, *counted = text.split(":")
        numbers = [ms, *counted]
        if (
            field != time_field.value
            or not all(n.isdigit() and len(n) <= 15 for n in numbers)
            or not is_ulid(run_id)
            or len(counted) not in (0, 2)
        ):
            raise ValueError(text)
    except ValueError:
        message = "'cursor' is not one this list gave out (for this time_field)"
        raise ConsoleError(400, message) from None
    total = (int(counted[0]), counted[1] == "1") if counted else None
    return (int(ms), run_id.upper()), total


async def object_body(request: Request, engine: Engine, empty_ok: bool = False) -> dict[str, Any]:
    raw = await read_body(request, engine.max_request_size)
    if empty_ok and not raw.strip():
        return {}
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise ConsoleError(400, "the body must be a JSON object")
    return body


def body_string(body: dict[str, Any], name: str, required: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ConsoleError(400, f"'{name}' is required and must be a string")
    return value
