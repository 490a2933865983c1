"""What a procedure is: a kind (query or mutation), an input model and an async handler.

A handler receives a `Context` (the service's parts and the authenticated caller) and its input,
already validated, and returns an output model (or a list of them). Inputs and outputs are
pydantic models whose fields are camelCase on the wire, as a tRPC client expects.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic.alias_generators import to_camel

from router.auth import Caller
from router.live import LiveStatus
from service import db
from service.deps import Services

if TYPE_CHECKING:  # job_views declares its inputs with this module
    from router.job_views import StatusCounter

T = TypeVar("T")


# Row ids are INTEGER columns: 32-bit on PostgreSQL (SQLite's are wider). A larger number is a
# 400, not a database error.
MAX_ID = 2**31 - 1
# Strict: `true` or `"7"` is a 400, never read as job 1 or 7.
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class ProcedureKind(StrEnum):
    QUERY = "query"  # GET, input in the `input` query parameter
    MUTATION = "mutation"  # POST, input as the JSON body


class ProcedureInput(BaseModel):
    """Unknown fields are refused, so a misspelt one is a 400 that names it, not ignored.

    So is a string no database can take (PostgreSQL's text refuses NUL, UTF-8 a lone surrogate,
    which JSON's `\\ud800` escapes can spell), and which git refuses as an argument: a 400 naming
    the field, not a 500 from the query or the command it would reach.
    """

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            if "\x00" in text:
                raise ValueError("must not contain the NUL character (\\u0000)")
            try:
                text.encode()
            except UnicodeEncodeError as exc:
                raise ValueError("must be valid Unicode (it has a lone surrogate)") from exc
        return value


class NoInput(ProcedureInput):
    pass


class ProcedureOutput(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


@dataclass(frozen=True, slots=True)
class Context:
    services: Services
    caller: Caller
    live: LiveStatus  # what Inngest says of unfinished jobs, shared by every call
    counter: "StatusCounter"  # jobs by status, shared by every call

    async def in_session(self, work: Callable[..., T], *args: object) -> T:
        """Run `work(session, *args)` in one transaction, off the event loop."""
        return await db.in_session(self.services.db, work, *args)


InputT = TypeVar("InputT", bound=ProcedureInput)


@dataclass(frozen=True, slots=True)
class Procedure(Generic[InputT]):
    kind: ProcedureKind
    input: type[InputT]
    handler: Callable[[Context, InputT], Awaitable[Any]]
    polled: bool = False  # asked again and again alike: answers are shared for a moment


def query(
    input: type[InputT], handler: Callable[[Context, InputT], Awaitable[Any]]
) -> Procedure[InputT]:
    return Procedure(ProcedureKind.QUERY, input, handler)


def polled_query(
    input: type[InputT], handler: Callable[[Context, InputT], Awaitable[Any]]
) -> Procedure[InputT]:
    """A query that pages poll: callers of one organization share its answer for a moment."""
    return Procedure(ProcedureKind.QUERY, input, handler, polled=True)


def mutation(
    input: type[InputT], handler: Callable[[Context, InputT], Awaitable[Any]]
) -> Procedure[InputT]:
    return Procedure(ProcedureKind.MUTATION, input, handler)
