"""The router's errors and their wire shape, which follows tRPC's.

A procedure raises `ProcedureError(code, message)`; the endpoint turns it into

    {"error": {"message": ..., "code": <JSON-RPC code>,
               "data": {"code": "NOT_FOUND", "httpStatus": 404, "path": "jobs.get"}}}

with that HTTP status. `message` is written for the person who made the call.
"""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    PARSE_ERROR = "PARSE_ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_SUPPORTED = "METHOD_NOT_SUPPORTED"
    CONFLICT = "CONFLICT"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    BAD_GATEWAY = "BAD_GATEWAY"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


# tRPC's TRPC_ERROR_CODES_BY_KEY: the last digits of the HTTP status, or -32603 for any 5xx.
JSON_RPC_CODES: dict[ErrorCode, int] = {
    ErrorCode.PARSE_ERROR: -32700,
    ErrorCode.BAD_REQUEST: -32600,
    ErrorCode.UNAUTHORIZED: -32001,
    ErrorCode.FORBIDDEN: -32003,
    ErrorCode.NOT_FOUND: -32004,
    ErrorCode.METHOD_NOT_SUPPORTED: -32005,
    ErrorCode.CONFLICT: -32009,
    ErrorCode.PRECONDITION_FAILED: -32012,
    ErrorCode.PAYLOAD_TOO_LARGE: -32013,
    ErrorCode.TOO_MANY_REQUESTS: -32029,
    ErrorCode.INTERNAL_SERVER_ERROR: -32603,
    ErrorCode.BAD_GATEWAY: -32603,
    ErrorCode.SERVICE_UNAVAILABLE: -32603,
}

HTTP_STATUSES: dict[ErrorCode, int] = {
    ErrorCode.PARSE_ERROR: 400,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_SUPPORTED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PRECONDITION_FAILED: 412,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.TOO_MANY_REQUESTS: 429,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
    ErrorCode.BAD_GATEWAY: 502,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


class ProcedureError(Exception):
    """A call that cannot be answered; `code` decides the HTTP status."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUSES[self.code]

    def body(self, path: str) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "code": JSON_RPC_CODES[self.code],
                "data": {"code": self.code.value, "httpStatus": self.http_status, "path": path},
            }
        }
