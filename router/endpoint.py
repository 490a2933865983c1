"""The HTTP side of the router: tRPC's wire format over `/api/trpc/<procedure>`.

    GET  /api/trpc/search.query?input=<url-encoded JSON>   a query
    POST /api/trpc/repositories.sync   {"repositoryId": 1}  a mutation

A success is `{"result": {"data": ...}}`; an error is `ProcedureError.body(...)` with its HTTP
status. A call is checked in this order: the procedure exists (404), the method fits its kind
(405), the bearer token (401), the input parses (400 PARSE_ERROR) and validates (400 BAD_REQUEST,
naming each bad field); then the handler runs. A missing input is `{}`.
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
from router.names import INPUT_PARAMETER, TRPC_PATH
from router.procedure import Context, Procedure, ProcedureKind
from router.procedures import PROCEDURES
from service.deps import ServicesDep

log = logging.getLogger("router")

METHODS = {ProcedureKind.QUERY: "GET", ProcedureKind.MUTATION: "POST"}


def create_router(procedures: Mapping[str, Procedure[Any]] = PROCEDURES) -> APIRouter:
    router = APIRouter()

    @router.api_route(
        TRPC_PATH + "/{path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def call(path: str, request: Request, services: ServicesDep) -> JSONResponse:
        try:
            procedure = _procedure(procedures, path, request.method)
            caller = await authenticate(services, request.headers.get(AUTHORIZATION_HEADER))
            raw = await _raw_input(procedure, request)
            data = await procedure.handler(Context(services, caller), _validated(procedure, raw))
        except ProcedureError as exc:
            return _error(exc, path)
        except Exception:
            log.exception("procedure %s failed", path)
            error = ProcedureError(
                ErrorCode.INTERNAL_SERVER_ERROR, f"{path} failed; the service log says why"
            )
            return _error(error, path)
        return JSONResponse({"result": {"data": to_jsonable_python(data, by_alias=True)}})

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
        text = await request.body()
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError as exc:
        where = f"the {INPUT_PARAMETER} parameter" if isinstance(text, str) else "the body"
        raise ProcedureError(ErrorCode.PARSE_ERROR, f"{where} is not valid JSON: {exc}") from exc


def _validated(procedure: Procedure[Any], raw: Any) -> Any:
    try:
        return procedure.input.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'input'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ProcedureError(
            ErrorCode.BAD_REQUEST, "invalid input: " + "; ".join(problems)
        ) from exc


def _error(error: ProcedureError, path: str) -> JSONResponse:
    headers = {"WWW-Authenticate": CHALLENGE} if error.code is ErrorCode.UNAUTHORIZED else None
    return JSONResponse(error.body(path), status_code=error.http_status, headers=headers)
