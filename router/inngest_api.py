"""The Inngest REST v1 API as the jobs router uses it: the runs of an event, one run, cancel a run.

One client for every Inngest the service can run on: the embedded engine, `inngest dev`,
self-hosted `inngest start` and Inngest Cloud. It takes an injected `httpx.AsyncClient`, sends the
signing key as the SDK does (`Bearer` + sha256 of the key's hex, without its `signkey-…-` prefix),
and translates every failure once, here, into one small tree:

    InngestApiError        the API refused the call or answered in an unexpected shape;
    │                      `status` is the HTTP status it meant (None if there was none)
    ├── NotFound           no such event or run (404)
    └── Unavailable        connection failed, timed out, 5xx or 429; retriable

Inngest sometimes answers an error with HTTP 200 and the real status only in the body
(`{"error": "Invalid run ID: x", "status": 400, "data": null}`), so the body is checked as well as
the status line. The signing key never appears in a message.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from service import metrics
from service.settings import Settings

CLOUD_API_ORIGIN = "https://api.inngest.com"
CLOUD_APP_URL = "https://app.inngest.com/env/production"
DEV_SERVER_ORIGIN = "http://127.0.0.1:8288"
REQUEST_TIMEOUT_S = 10.0

_SIGNING_KEY_PREFIX = re.compile(r"^signkey-\w+-")  # inngest-py's remove_signing_key_prefix


class RunStatus(StrEnum):
    """Inngest's run statuses; an answer may carry one this list does not know."""

    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SKIPPED = "Skipped"
    OVERFLOWED = "Overflowed"
    UNKNOWN = "Unknown"


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


class InngestApiError(Exception):
    """Inngest could not answer the call; `retriable` says whether asking later may help."""

    retriable: bool = False

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(InngestApiError):
    """Inngest has no such event or run: not yet, never, or no longer (history is pruned)."""


class Unavailable(InngestApiError):
    """Inngest could not be reached, took too long, or failed on its side."""

    retriable = True


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    event_id: str | None
    status: str  # a RunStatus value as Inngest spells it, or one newer than this module
    started_at: datetime | None
    ended_at: datetime | None
    output: Any = None  # the return value, or the error of a failed run; None until it ends

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


class _Run(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    event_id: str | None = None
    status: str
    run_started_at: str | None = None
    ended_at: str | None = None
    output: Any = None


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Any = None


class _RunEnvelope(_Envelope):
    data: _Run


class _RunsEnvelope(_Envelope):
    data: list[_Run] | None


EnvelopeT = TypeVar("EnvelopeT", bound=_Envelope)


class InngestApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        signing_key: str | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._http = http
        # The SDK joins absolute paths onto its base URL, so only the origin counts; do the same.
        parts = urlsplit(base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._timeout = timeout
        self._headers = {"accept": "application/json"}
        if signing_key:
            self._headers["authorization"] = f"Bearer {hash_signing_key(signing_key)}"

    async def event_runs(self, event_id: str) -> list[RunInfo]:
        """The runs an event started, oldest first; `[]` until Inngest has scheduled them."""
        what = f"the runs of event {event_id}"
        path = f"/v1/events/{quote(event_id, safe='')}/runs"
        body = await self._call("GET", path, what, "event_runs")
        runs = _parse(_RunsEnvelope, body, what).data or []
        return sorted((_run_info(run) for run in runs), key=_start_order)

    async def run(self, run_id: str) -> RunInfo:
        body = await self._call("GET", f"/v1/runs/{quote(run_id, safe='')}", f"run {run_id}", "run")
        return _run_info(_parse(_RunEnvelope, body, f"run {run_id}").data)

    async def cancel_run(self, run_id: str) -> None:
        path = f"/v1/runs/{quote(run_id, safe='')}"
        await self._call("DELETE", path, f"run {run_id}", "cancel_run")

    async def ping(self) -> None:
        """Whether Inngest answers its REST API and takes the signing key: the latest event."""
        await self._call("GET", "/v1/events?limit=1", "a readiness check", "ping")

    def run_url(self, run_id: str) -> str:
        """The run's page in the UI of this Inngest: the Cloud app, else the server's own UI."""
        if self.origin == CLOUD_API_ORIGIN:
            return f"{CLOUD_APP_URL}/runs/{quote(run_id, safe='')}"
        return f"{self.origin}/run?runID={quote(run_id, safe='')}"

    async def _call(self, method: str, path: str, what: str, operation: str) -> Any:
        with metrics.inngest_call(operation):
            return await self._request(method, path, what)

    async def _request(self, method: str, path: str, what: str) -> Any:
        try:
            response = await self._http.request(
                method, self.origin + path, headers=self._headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(f"Inngest at {self.origin} timed out on {what}") from exc
        except httpx.TransportError as exc:
            raise Unavailable(f"Inngest at {self.origin} could not be reached: {exc!r}") from exc
        body = _json(response)
        status = response.status_code
        if isinstance(body, dict) and body.get("error") and isinstance(body.get("status"), int):
            status = max(status, body["status"])
        if status >= httpx.codes.BAD_REQUEST:
            raise _error(status, what, body)
        return body


def hash_signing_key(key: str) -> str:
    """What the SDK sends as its bearer token: sha256 of the key's hex, prefix removed."""
    hex_part = _SIGNING_KEY_PREFIX.sub("", key.strip(), count=1)
    try:
        raw = bytes.fromhex(hex_part)
    except ValueError:
        raise ValueError("INNGEST_SIGNING_KEY must be hex after its signkey-…- prefix") from None
    return hashlib.sha256(raw).hexdigest()


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time of any precision (Inngest writes ms and ns), in UTC; Go's zero → None."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year == 1:
        return None
    return parsed.astimezone(UTC)


def create_inngest_api(
    settings: Settings, http: httpx.AsyncClient, *, timeout: float = REQUEST_TIMEOUT_S
) -> InngestApi:
    """The client for the Inngest the service's SDK client talks to."""
    return InngestApi(
        http, api_origin(settings), signing_key=settings.inngest_signing_key, timeout=timeout
    )


def api_origin(settings: Settings) -> str:
    """The API origin by inngest-py 0.5.19's rules (client_lib.utils.get_api_origin).

    The embedded engine is configured explicitly (service.inngest_client). Otherwise the first
    usable URL of INNGEST_API_BASE_URL, INNGEST_BASE_URL, INNGEST_DEV wins; with none, a truthy
    INNGEST_DEV means the dev server's default origin and anything else Inngest Cloud.
    """
    if settings.embedded_engine:
        return settings.engine_url
    dev = _truthy(settings.inngest_dev)
    candidates = (settings.inngest_api_base_url, settings.inngest_base_url, settings.inngest_dev)
    for value in candidates:
        url = _sdk_url(value, dev)
        if url is not None:
            return url
    return DEV_SERVER_ORIGIN if dev else CLOUD_API_ORIGIN


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false")


def _sdk_url(value: str | None, dev: bool) -> str | None:
    """A setting as the SDK's net.parse_url reads it, quirks included, so both pick one server:
    `1` is not a URL (no `.` nor `:` once its scheme's characters are stripped from both ends),
    and a URL without a scheme gets http:// in dev mode, https:// otherwise."""
    if value is None:
        return None
    value = value.strip()
    bare = value.strip("http://").strip("https://")  # noqa: B005 - the SDK's own check
    if "." not in bare and ":" not in bare:
        return None
    if not value.startswith("http"):
        value = ("http://" if dev else "https://") + value
    parts = urlsplit(value)
    if not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _error(status: int, what: str, body: Any) -> InngestApiError:
    detail = body.get("error") if isinstance(body, dict) else None
    message = f"Inngest answered {status} for {what}" + (f": {detail}" if detail else "")
    if status == httpx.codes.NOT_FOUND:
        return NotFound(message, status)
    if status >= httpx.codes.INTERNAL_SERVER_ERROR or status == httpx.codes.TOO_MANY_REQUESTS:
        return Unavailable(message, status)
    return InngestApiError(message, status)


def _parse(model: type[EnvelopeT], body: Any, what: str) -> EnvelopeT:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InngestApiError(f"Inngest sent an unexpected answer for {what}") from exc


def _run_info(run: _Run) -> RunInfo:
    try:
        started_at, ended_at = parse_time(run.run_started_at), parse_time(run.ended_at)
    except ValueError as exc:
        raise InngestApiError(f"Inngest sent a malformed time for run {run.run_id}") from exc
    return RunInfo(run.run_id, run.event_id, run.status, started_at, ended_at, run.output)


def _start_order(run: RunInfo) -> tuple[datetime, str]:
    return (run.started_at or datetime.max.replace(tzinfo=UTC), run.run_id)
