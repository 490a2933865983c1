"""Request bodies read within limits, and JSON that every later step can store and send back.

A body is read in chunks and refused (413) as soon as it passes the request limit, so an endless
body is never held in memory. Its JSON is refused (400) when it could break something later on:
nesting deep enough to exhaust Python's recursion (the CEL adapter and the encoders recurse),
integers outside 64 bits (CEL and SQLite hold no more), and numbers JSON cannot write back
(`NaN`, `Infinity`, `1e999`), which would make every later answer that includes them fail.
"""

import json
import math
from typing import Any, NoReturn

from starlette.requests import Request

from engine.consts import INTERNAL_PREFIX

# Inngest's absolute maximum event size (pkg/consts AbsoluteMaxEventSize), which its v2 API also
# applies to a whole send-event body.
MAX_REQUEST_SIZE = 3 * 1024 * 1024
# Inngest Cloud's maximum event size on its free plan; its own server allows up to 3 MiB.
MAX_EVENT_SIZE = 256 * 1024
MAX_EVENTS = 5000  # pkg/consts MaxEvents: events in one Event API request
TS_MIN = 315532800000  # 1980-01-01
TS_MAX = 4102444800000  # 2100-01-01
MAX_DEPTH = 100
# Compact JSON is at most 4.5 times the text it was read from (`1e15` is written back as
# `1000000000000000.0`; only floats grow): no event of a body under a fifth of a limit is over it.
MAX_GROWTH = 5
_INT64 = (-(2**63), 2**63 - 1)
_INT64_DIGITS = 19


class BodyError(Exception):
    """A body refused before anything of it is acted on; `status` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or BodyError(413) once it is longer than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> NoReturn:
    raise BodyError(413, f"Request body cannot exceed {limit} bytes")


def parse_json(raw: bytes) -> Any:
    """The JSON value of `raw` (UTF-8), or BodyError(400) naming what is wrong with it."""
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"body is not valid JSON: not UTF-8 at byte {exc.start}") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_not_a_number)
    except RecursionError:
        _too_deep()
    except ValueError as exc:
        raise BodyError(400, f"body is not valid JSON: {exc}") from None
    _check_depth(value)
    if "\\u" in text:  # only an escape can make an unpaired surrogate, which UTF-8 cannot hold
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            message = "body has a string with an unpaired surrogate (\\ud800-\\udfff)"
            raise BodyError(400, message) from None
    return value


def encoded_size(value: Any) -> int:
    """Bytes of `value` as compact JSON: the size an event is measured by."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def loads_finite(raw: bytes | str) -> Any:
    """`json.loads`, refusing `NaN`, `Infinity` and overflowing numbers (ValueError)."""
    return json.loads(raw, parse_constant=_not_finite, parse_float=_finite_float)


def _int(text: str) -> int:
    if len(text.lstrip("-")) <= _INT64_DIGITS:
        value = int(text)
        if _INT64[0] <= value <= _INT64[1]:
            return value
    raise BodyError(400, f"the number {_shorten(text)} does not fit in a 64-bit integer")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError(400, f"the number {_shorten(text)} is too large")
    return value


def _not_a_number(text: str) -> NoReturn:
    raise BodyError(400, f"body is not valid JSON: {text} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {_shorten(text)} is too large")
    return value


def _not_finite(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a JSON number")


def _shorten(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def _too_deep() -> NoReturn:
    raise BodyError(400, f"body is nested too deeply: at most {MAX_DEPTH} levels")


def _check_depth(value: Any) -> None:
    """Without recursion, so that the check itself cannot run out of stack."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            _too_deep()
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def checked_events(
    body: Any, max_event_size: int, raw_size: int | None = None
) -> list[dict[str, Any]]:
    """The events of a send-event body (an event or an array of them), as functions see them;
    BodyError naming the event and the problem when any of them is refused, so none is stored.

    `raw_size` is the body's length when it was read: a body too short to hold an event over the
    limit skips measuring each event.
    """
    events = body if isinstance(body, list) else [body]
    if len(events) > MAX_EVENTS:
        raise BodyError(400, f"Cannot have more than {MAX_EVENTS} events in a batch")
    if raw_size is None or raw_size * MAX_GROWTH > max_event_size:
        _check_sizes(events, max_event_size)
    return [_event(event, index) for index, event in enumerate(events)]


def _check_sizes(events: list[Any], limit: int) -> None:
    """Refuse the whole request when one of its events is over the limit (413), so that nothing
    of it is stored; Inngest's message, with the event's index."""
    for index, event in enumerate(events):
        size = encoded_size(event)
        if size > limit:
            message = f"Event is over the max size: Max {limit} bytes / Size {size} bytes"
            raise BodyError(413, f"{message} (event {index})")


def _event(event: Any, index: int) -> dict[str, Any]:
    where = f"event {index}"
    if not isinstance(event, dict):
        raise BodyError(400, f"{where}: must be a JSON object")
    name = event.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BodyError(400, f"{where}: 'name' is required and must be a non-empty string")
    if name.startswith(INTERNAL_PREFIX):
        raise BodyError(400, f"{where}: names starting with {INTERNAL_PREFIX!r} are reserved")
    data = event.get("data")
    if data is not None and not isinstance(data, dict):
        raise BodyError(400, f"{where}: 'data' must be an object")
    data = dict(data or {})
    data.pop("_inngest", None)
    event_id = event.get("id")
    if event_id is not None and not isinstance(event_id, str):
        raise BodyError(400, f"{where}: 'id' must be a string")
    ts = event.get("ts")
    if ts not in (None, 0) and (
        not isinstance(ts, int) or isinstance(ts, bool) or not TS_MIN <= ts <= TS_MAX
    ):
        raise BodyError(400, f"{where}: 'ts' must be milliseconds since the epoch (1980-2100)")
    user = event.get("user")
    if user is not None and not isinstance(user, dict):
        raise BodyError(400, f"{where}: 'user' must be an object")
    version = event.get("v")
    if version is not None and not isinstance(version, str):
        raise BodyError(400, f"{where}: 'v' must be a string")
    return {
        "name": name,
        "data": data,
        "id": event_id or "",
        "ts": ts or None,
        "user": user or {},
        "v": version,
    }
