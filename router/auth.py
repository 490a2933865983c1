"""Who is calling: `Authorization: Bearer <token>` resolves to one organization, or the call is 401.

Every procedure runs for a `Caller`, and every query a procedure makes is scoped to the caller's
organization, so another organization's rows answer as if they did not exist (404, not 403).
"""

import asyncio
from dataclasses import dataclass

from router.errors import ErrorCode, ProcedureError
from service.db import session_scope
from service.deps import Services
from service.tokens import find_owner

AUTHORIZATION_HEADER = "authorization"
BEARER_SCHEME = "bearer"
CHALLENGE = 'Bearer realm="docs-ingest"'
_HOW_TO_GET_ONE = "create one with `docs-ingest token create --org SLUG`"


@dataclass(frozen=True, slots=True)
class Caller:
    organization_id: int
    organization: str  # slug
    token_id: int


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; 401 for anything else."""
    if not authorization:
        raise ProcedureError(
            ErrorCode.UNAUTHORIZED,
            f"missing token: send `Authorization: Bearer <token>` ({_HOW_TO_GET_ONE})",
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != BEARER_SCHEME or not token.strip():
        raise ProcedureError(
            ErrorCode.UNAUTHORIZED, "the Authorization header must be `Bearer <token>`"
        )
    return token.strip()


async def authenticate(services: Services, authorization: str | None) -> Caller:
    token = bearer_token(authorization)

    def look_up() -> Caller | None:
        with session_scope(services.db) as session:
            owner = find_owner(session, token)
        if owner is None:
            return None
        return Caller(owner.organization_id, owner.organization, owner.token_id)

    caller = await asyncio.to_thread(look_up)
    if caller is None:
        raise ProcedureError(
            ErrorCode.UNAUTHORIZED, f"invalid or revoked token ({_HOW_TO_GET_ONE})"
        )
    return caller
