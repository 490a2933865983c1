"""One HTTP call to an SDK app, turned into an `Outcome`.

Every way a call can go wrong (no connection, a timeout, an answer that is not from an Inngest
SDK, a body that is not JSON, or JSON with `NaN` or `Infinity` that no API answer could carry)
becomes a retriable `CallFailed` here, at the boundary, so the run machine deals only with
outcomes. In signed mode every call is signed, and an answer the app refused as unauthorized
(401), did not sign with the engine's key, or signed over five minutes before the call (a replay)
is refused too: a retriable failure like an answer that is not from an SDK, as the Go executor
retries a 401, so the run fails once its attempts are spent, with the message naming the signing
key. One failure is not retried: an answer over 8 MiB (engine.transport), which the same step
would send again.
"""

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from engine.bodies import loads_finite
from engine.consts import (
    NO_RETRY_HEADER,
    REQUEST_VERSION,
    RETRY_AFTER_HEADER,
    SDK_HANDLED_HEADER,
    SDK_HEADER,
    SERVER_KIND_CLOUD,
    SERVER_KIND_DEV,
    SERVER_KIND_HEADER,
)
from engine.outcomes import CallFailed, Completed, FailureKind, Outcome, Reported
from engine.signing import ANSWER_MAX_AGE_S, SIGNATURE_HEADER, Signer, signed_at
from engine.timeutil import parse_timestamp
from engine.transport import MAX_ANSWER_SIZE, AnswerTooLarge, too_large_message

log = logging.getLogger("engine")

RETRY_AFTER_MIN_MS = 1000
RETRY_AFTER_MAX_MS = 24 * 3600 * 1000


class Executor:
    def __init__(self, http: httpx.AsyncClient, signer: Signer | None = None) -> None:
        self.http = http
        self.signer = signer

    async def call(self, url: str, body: dict[str, Any], now: int) -> Outcome:
        headers = {
            "content-type": "application/json",
            SERVER_KIND_HEADER: SERVER_KIND_DEV if self.signer is None else SERVER_KIND_CLOUD,
            "x-inngest-req-version": str(REQUEST_VERSION),
            "x-run-id": str(body["ctx"]["run_id"]),
        }
        sent_s = int(time.time())  # wall time, as signatures carry
        if self.signer is not None:
            headers[SIGNATURE_HEADER] = self.signer.sign_request(body, sent_s)
        try:
            response = await self.http.post(url, content=_encode(body), headers=headers)
        except AnswerTooLarge:
            return _too_large()
        except httpx.HTTPError as exc:
            return CallFailed(
                _error(f"could not call the SDK at {url}: {exc!r}"),
                retriable=True,
                kind=FailureKind.UNREACHABLE,
            )
        if len(response.content) > MAX_ANSWER_SIZE:  # read by httpx's transport (HTTPS)
            return _too_large()
        refused = _refusal(
            self.signer, response.status_code, response.headers, response.content, sent_s
        )
        if refused is not None:
            context = {"run_id": body["ctx"]["run_id"], "function": body["ctx"]["fn_id"]}
            log.warning("the answer of %s is refused: %s", url, refused, extra=context)
            return CallFailed(_error(refused), retriable=True, kind=FailureKind.REFUSED)
        return parse_response(response.status_code, response.headers, response.content, now)

    async def ai_request(self, opts: dict[str, Any]) -> dict[str, Any]:
        """Run an AIGateway step's provider request; the memo to store."""
        headers = dict(opts.get("headers") or {})
        if opts.get("auth_key"):
            headers.setdefault("authorization", f"Bearer {opts['auth_key']}")
        try:
            response = await self.http.post(
                str(opts.get("url")), json=opts.get("body"), headers=headers
            )
            response.raise_for_status()
            return {"data": loads_finite(response.content)}
        except (httpx.HTTPError, ValueError) as exc:
            return {"error": {"name": "AIGatewayError", "message": str(exc)}}


def step_url(url: str, fn_slug: str, step_id: str) -> str:
    """The function's runtime URL with `fnId` and `stepId` set for one call."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(fnId=fn_slug, stepId=step_id)
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_response(status: int, headers: httpx.Headers, content: bytes, now: int) -> Outcome:
    if status == 201:  # FastAPI streaming: the real answer is in a JSON envelope at the end
        try:
            envelope = json.loads(content.strip())
            status = int(envelope["status"])
            headers = httpx.Headers({**headers, **(envelope.get("headers") or {})})
            inner = envelope["body"]
            content = inner.encode() if isinstance(inner, str) else json.dumps(inner).encode()
        except (ValueError, KeyError, TypeError):
            return CallFailed(
                _error("malformed streaming response from the SDK"),
                retriable=True,
                kind=FailureKind.INVALID_ANSWER,
            )
    if not headers.get(SDK_HEADER):
        return CallFailed(
            _error(f"the response (HTTP {status}) did not come from an Inngest SDK"),
            retriable=True,
            kind=FailureKind.INVALID_ANSWER,
        )
    retriable = headers.get(NO_RETRY_HEADER, "").lower() != "true"
    try:
        body = loads_finite(content) if content else None
    except ValueError:
        return CallFailed(
            _error(f"the SDK answered HTTP {status} with a body that is not JSON"),
            retriable=True,
            kind=FailureKind.INVALID_ANSWER,
        )
    if status == 200:
        return Completed(body)
    if status == 206:
        ops = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
        return Reported(ops, retriable)
    error = body if isinstance(body, dict) else _error(f"the SDK answered HTTP {status}")
    return CallFailed(error, retriable, _retry_at(headers.get(RETRY_AFTER_HEADER), now))


def _refusal(
    signer: Signer | None, status: int, headers: httpx.Headers, content: bytes, sent_s: int
) -> str | None:
    """Why an app's answer is refused before it is read, naming the key to fix; None: read it."""
    if status == 401 and headers.get(SDK_HANDLED_HEADER):
        if signer is None:
            return (
                "the app refused the call as unauthorized (HTTP 401): it runs in cloud mode and"
                " checks request signatures; start the engine with the app's signing key"
                " (--signing-key or INNGEST_SIGNING_KEY)"
            )
        return (
            "the app refused the engine's request signature (HTTP 401): the app's signing key"
            " (its INNGEST_SIGNING_KEY) is not the engine's signing key"
        )
    if signer is None or not headers.get(SDK_HEADER):
        return None  # unsigned mode, or not from an SDK at all, which parse_response reports
    # A streamed answer (201) is signed when it starts, before its body exists: over `null`.
    signed = b"null" if status == 201 else content
    signature = headers.get(SIGNATURE_HEADER)
    if signer.verify_answer(signed, signature):
        age = sent_s - (signed_at(signature) or 0)
        if age <= ANSWER_MAX_AGE_S:
            return None
        return (
            f"the app's answer (HTTP {status}) was signed {age} s before the call was sent:"
            " refused as a replay (is the app's clock right?)"
        )
    if not signature:
        return (
            f"the app's answer (HTTP {status}) is not signed: a signed engine reads only answers"
            " signed with its signing key (is the app in cloud mode, with INNGEST_SIGNING_KEY?)"
        )
    return (
        f"the app's answer (HTTP {status}) is not signed with the engine's signing key: the"
        " app's INNGEST_SIGNING_KEY is not the engine's"
    )


def _retry_at(value: str | None, now: int) -> int | None:
    if not value:
        return None
    try:
        at = (
            now + int(float(value) * 1000)
            if value.replace(".", "", 1).isdigit()
            else parse_timestamp(value)
        )
    except ValueError:
        return None
    return min(max(at, now + RETRY_AFTER_MIN_MS), now + RETRY_AFTER_MAX_MS)


def _too_large() -> CallFailed:
    """Not retried: the same step would answer the same again."""
    return CallFailed(_error(too_large_message()), retriable=False, kind=FailureKind.INVALID_ANSWER)


def _error(message: str) -> dict[str, Any]:
    return {"name": "Error", "message": message}


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
