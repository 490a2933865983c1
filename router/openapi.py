"""The app's OpenAPI document, built from the procedures themselves.

FastAPI describes a route from its signature, but one route serves every procedure
(`/api/trpc/{path}`) and reads its input by hand, so FastAPI alone would describe nothing a client
can use. Here each procedure is a path of its own, as a client calls it: a query is `GET` with its
input as JSON in the `input` query parameter, a mutation is `POST` with a JSON body. The input's
schema is its pydantic model's, by alias; a success is `{"result": {"data": ...}}` with the
handler's return type as `data`; an error is router/errors.py's body. Beside them: the GitHub
webhook (described from what web/ passes in, since router/ cannot import it) and the operations
endpoints. The Inngest SDK's endpoint is left out: only Inngest calls it, and signs its calls.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaMode

from router.endpoint import MAX_INPUT_BYTES, METHODS
from router.errors import JSON_RPC_CODES, ErrorCode
from router.names import INPUT_PARAMETER, TRPC_PATH, WEBHOOK_PATH
from router.procedure import Procedure, ProcedureKind
from service.models import IngestionStatus

OPENAPI_VERSION = "3.1.0"
BEARER = "bearer"
JSON = "application/json"
SCHEMAS = "#/components/schemas/"
RESPONSES = "#/components/responses/"
ERROR_SCHEMA = "ProcedureError"
WEBHOOK_ERROR_SCHEMA = "WebhookError"


@dataclass(frozen=True, slots=True)
class WebhookDoc:
    """What the GitHub webhook reads, as web/webhooks.py declares it."""

    event_header: str
    delivery_header: str
    signature_header: str
    payloads: tuple[type[BaseModel], ...]  # what the body may be, by event
    max_body_bytes: int


def openapi_document(
    procedures: Mapping[str, Procedure[Any]], webhook: WebhookDoc, *, title: str, version: str
) -> dict[str, Any]:
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = []
    for name, procedure in procedures.items():
        inputs.append((f"{name} input", "validation", TypeAdapter(procedure.input)))
        inputs.append((f"{name} output", "serialization", TypeAdapter(_returned(procedure))))
    inputs += [(model.__name__, "validation", TypeAdapter(model)) for model in webhook.payloads]
    refs, definitions = TypeAdapter.json_schemas(
        inputs, by_alias=True, ref_template=SCHEMAS + "{model}"
    )
    schema = {key: value for (key, _), value in refs.items()}
    paths: dict[str, Any] = {
        f"{TRPC_PATH}/{name}": {
            METHODS[procedure.kind].lower(): _operation(
                name, procedure, schema[f"{name} input"], schema[f"{name} output"]
            )
        }
        for name, procedure in procedures.items()
    }
    paths[WEBHOOK_PATH] = {
        "post": _webhook(webhook, [schema[m.__name__] for m in webhook.payloads])
    }
    paths |= OPERATIONS
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}) | _error_schemas(),
            "responses": _error_responses(),
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token of one organization (`docs-ingest token create`); "
                    "every procedure sees that organization's rows only.",
                }
            },
        },
    }


def _returned(procedure: Procedure[Any]) -> Any:
    """The handler's declared return type: what `data` holds (anything, when undeclared)."""
    return get_type_hints(procedure.handler).get("return", Any)


def _accepts_nothing(procedure: Procedure[Any]) -> bool:
    """Whether the input may be left out: the endpoint reads a missing input as `{}`."""
    try:
        procedure.input.model_validate({})
    except ValidationError:
        return False
    return True


def _operation(
    name: str, procedure: Procedure[Any], input: dict[str, Any], output: dict[str, Any]
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": name,
        "tags": [name.partition(".")[0]],
        "summary": f"{name} ({procedure.kind.value})",
        "security": [{BEARER: []}],
    }
    required = not _accepts_nothing(procedure)
    if procedure.kind is ProcedureKind.QUERY:
        operation["parameters"] = [
            {
                "name": INPUT_PARAMETER,
                "in": "query",
                "required": required,
                "description": "The input as JSON (URL-encoded); left out, it is `{}`.",
                "content": {JSON: {"schema": input}},
            }
        ]
    else:
        operation["requestBody"] = {"required": required, "content": {JSON: {"schema": input}}}
    operation["responses"] = {
        "200": {"description": "The answer.", "content": {JSON: {"schema": _result(output)}}},
        **{status: {"$ref": RESPONSES + status} for status in ("400", "401", "404", "413")},
        "default": {"$ref": RESPONSES + "default"},
    }
    return operation


def _result(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["result"],
        "properties": {
            "result": {"type": "object", "required": ["data"], "properties": {"data": data}}
        },
    }


def _error_schemas() -> dict[str, Any]:
    procedure_error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "code", "data"],
                "properties": {
                    "message": {"type": "string", "description": "Written for the caller."},
                    "code": {"type": "integer", "enum": sorted(set(JSON_RPC_CODES.values()))},
                    "data": {
                        "type": "object",
                        "required": ["code", "httpStatus", "path"],
                        "properties": {
                            "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                            "httpStatus": {"type": "integer"},
                            "path": {"type": "string"},
                        },
                    },
                },
            }
        },
    }
    webhook_error = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "job_id": {"type": "integer"}},
    }
    return {ERROR_SCHEMA: procedure_error, WEBHOOK_ERROR_SCHEMA: webhook_error}


def _error_responses() -> dict[str, Any]:
    described = {
        "400": "The input is not JSON (PARSE_ERROR) or does not fit the procedure's schema "
        "(BAD_REQUEST); the message names each bad field.",
        "401": "No token, not `Bearer <token>`, or a token that is invalid or revoked.",
        "404": "No such object in the caller's organization: another organization's answers "
        "exactly as one that does not exist.",
        "413": f"The input is over {MAX_INPUT_BYTES // 1024} KB.",
        "default": "Any other refusal or failure (409 CONFLICT, 412 PRECONDITION_FAILED, 429, "
        "502, 503, ...), in the same shape.",
    }
    return {
        status: {
            "description": text,
            "content": {JSON: {"schema": {"$ref": SCHEMAS + ERROR_SCHEMA}}},
            **(
                {"headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}}
                if status == "401"
                else {}
            ),
        }
        for status, text in described.items()
    }


def _webhook(webhook: WebhookDoc, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    def header(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "header",
            "required": True,
            "description": description,
            "schema": {"type": "string", "minLength": 1},
        }

    def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {JSON: {"schema": schema}}}

    error = {"$ref": SCHEMAS + WEBHOOK_ERROR_SCHEMA}
    accepted = {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "event": {"type": "string"},
            "job_id": {"type": "integer"},
            "status": {"type": "string", "enum": [status.value for status in IngestionStatus]},
            "duplicate": {"type": "boolean"},
            "ignored": {"type": "string"},
        },
    }
    return {
        "operationId": "github.webhook",
        "tags": ["webhooks"],
        "summary": "A GitHub delivery: a push to a connected repository's branch starts a job.",
        "security": [],
        "parameters": [
            header(
                webhook.event_header,
                "GitHub's event: `push` starts a job; any other is acknowledged (200 or 202) "
                "and starts nothing.",
            ),
            header(
                webhook.delivery_header,
                "The delivery's id, kept by redeliveries: one job per delivery.",
            ),
            header(
                webhook.signature_header,
                "`sha256=` and the hex HMAC-SHA256 of the body with "
                "the repository's webhook secret.",
            ),
        ],
        "requestBody": {"required": True, "content": {JSON: {"schema": {"anyOf": payloads}}}},
        "responses": {
            "200": answer(
                "A ping, acknowledged; or a push already recorded (`duplicate`).", accepted
            ),
            "202": answer(
                "The push recorded as a job and its event sent, or `ignored` (an event or a "
                "branch that is not ingested, a deleted branch).",
                accepted,
            ),
            "400": answer("A header is missing, or the body is not the event's payload.", error),
            "401": answer(
                "The signature does not match: the payload's repository is not connected, or "
                "its webhook secret is another (one answer, so that no caller without a secret "
                "learns which repositories are connected).",
                error,
            ),
            "413": answer(f"The body is over {webhook.max_body_bytes // 2**20} MB.", error),
            "415": answer("The body is a form: the webhook must send application/json.", error),
            "503": answer("Inngest did not take the job's event; GitHub redelivers.", error),
        },
    }


def _plain(summary: str, schema: dict[str, Any], **responses: Any) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["operations"],
            "summary": summary,
            "security": [],
            "responses": {
                "200": {"description": "OK.", "content": {JSON: {"schema": schema}}},
                **responses,
            },
        }
    }


_STATUS = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
_READINESS = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "error"]},
        "checks": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"type": "string", "enum": ["ok", "error"]},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
OPERATIONS: dict[str, Any] = {
    "/health": _plain("The process is up (as /healthz).", _STATUS),
    "/healthz": _plain("The process is up.", _STATUS),
    "/readyz": _plain(
        "The database, the vector store and Inngest each answer now.",
        _READINESS,
        **{
            "503": {
                "description": "One of them does not; each is named with its reason.",
                "content": {JSON: {"schema": _READINESS}},
            }
        },
    ),
    "/metrics": {
        "get": {
            "tags": ["operations"],
            "summary": "This replica's metrics, in Prometheus's text format.",
            "security": [],
            "responses": {
                "200": {
                    "description": "OK.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}
