"""The HTTP side of the router: tRPC's wire format over `/api/trpc/<procedure>`.

    GET  /api/trpc/search.query?input=<url-encoded JSON>   a query
    POST /api/trpc/repositories.sync   {"repositoryId": 1}  a mutation

A success is `{"result": {"data": ...}}`; an error is `ProcedureError.body(...)` with its HTTP
status. A call is checked in this order: the procedure exists (404), the method fits its kind
(405), the bearer token (401), the input fits (413), parses (400 PARSE_ERROR) and validates (400
BAD_REQUEST, naming each bad field); then the handler runs. A missing input is `{}`.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from router.auth import AUTHORIZATION_HEADER, CHALLENGE, authenticate
from router.errors import ErrorCode, ProcedureError
from router.job_views import StatusCounter
from router.live import LiveStatus
from router.names import INPUT_PARAMETER, TRPC_PATH
from router.procedure import Context, Procedure, ProcedureKind
from router.procedures import PROCEDURES
from router.shared import SharedAnswers
from service.deps import ServicesDep

log = logging.getLogger("router")

METHODS = {ProcedureKind.QUERY: "GET", ProcedureKind.MUTATION: "POST"}
MAX_INPUT_BYTES = 256 * 1024
MAX_PROBLEMS = 10  # a message names this many bad fields at most
MAX_LOCATION = 100  # characters of a bad field's name (it may come from the input)


def create_router(
    live: LiveStatus, procedures: Mapping[str, Procedure[Any]] = PROCEDURES
) -> APIRouter:
    router = APIRouter()
    counter = StatusCounter()
    shared = SharedAnswers()

    @router.api_route(
        TRPC_PATH + "/{path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def call(path: str, request: Request, services: ServicesDep) -> JSONResponse:
        try:
            procedure = _procedure(procedures, path, request.method)
            caller = await authenticate(services, request.headers.get(AUTHORIZATION_HEADER))
            input = _validated(procedure, await _raw_input(procedure, request))
            context = Context(services, caller, live, counter)

            async def answer() -> Any:
                return to_jsonable_python(await procedure.handler(context, input), by_alias=True)

            org = caller.organization_id
            if procedure.polled:
                data = await shared.get(org, (path, input.model_dump_json()), answer)
            else:
                data = await answer()
                if procedure.kind is ProcedureKind.MUTATION:
                    shared.forget(org)
        except ProcedureError as exc:
            return _error(exc, path)
        except Exception:
            log.exception("procedure %s failed", path)
            error = ProcedureError(
                ErrorCode.INTERNAL_SERVER_ERROR, f"{path} failed; the service log says why"
            )
            return _error(error, path)
        return JSONResponse({"result": {"data": data}})

    return router


def _procedure(procedures: Mapping[str, Procedure[Any]], path: str, method: str) -> Procedure[Any]:
    procedure = procedures.get(path)
    if procedure is None:
        raise ProcedureError(ErrorCode.NOT_FOUND, f'no procedure on path "{path}"')
    expected = METHODS[procedure.kind]
    if method != expected:
        raise ProcedureError(
            ErrorCode.METHOD_NOT_SUPPORTED,
            f"{path} is a {procedure.kind.value}: call it with {expected}, not {method}",
        )
    return procedure


async def _raw_input(procedure: Procedure[Any], request: Request) -> Any:
    if procedure.kind is ProcedureKind.QUERY:
        text: str | bytes | None = request.query_params.get(INPUT_PARAMETER)
    else:
        text = await _body(request)
    if not text:
        return {}
    where = f"the {INPUT_PARAMETER} parameter" if isinstance(text, str) else "the body"
    if len(text) > MAX_INPUT_BYTES:
        raise ProcedureError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"{where} is over {MAX_INPUT_BYTES // 1024} KB"
        )
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ProcedureError(ErrorCode.PARSE_ERROR, f"{where} is nested too deeply") from exc
    except ValueError as exc:
        raise ProcedureError(ErrorCode.PARSE_ERROR, f"{where} is not valid JSON: {exc}") from exc


async def _body(request: Request) -> bytes:
    """The body, read no further than one byte past the limit."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_INPUT_BYTES:
            break
    return b"".join(chunks)


def _validated(procedure: Procedure[Any], raw: Any) -> Any:
    try:
        return procedure.input.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{_location(error['loc'])}: {error['msg']}" for error in exc.errors()[:MAX_PROBLEMS]
        ]
        raise ProcedureError(
            ErrorCode.BAD_REQUEST, "invalid input: " + "; ".join(problems)
        ) from exc


def _location(loc: tuple[int | str, ...]) -> str:
    where = ".".join(str(part) for part in loc) or "input"
    return where if len(where) <= MAX_LOCATION else where[:MAX_LOCATION] + "…"


def _error(error: ProcedureError, path: str) -> JSONResponse:
    headers = {"WWW-Authenticate": CHALLENGE} if error.code is ErrorCode.UNAUTHORIZED else None
    return JSONResponse(error.body(path), status_code=error.http_status, headers=headers)
