"""What one SDK call came back with, independent of how it travelled."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FailureKind(StrEnum):
    """Why a call failed, for the engine's error counter (engine.metrics); a `CallFailed` has one
    of the first four."""

    UNREACHABLE = "unreachable"  # no answer: connection refused, timeout
    REFUSED = "refused"  # signed mode: the app refused the call, or its answer was not signed
    INVALID_ANSWER = "invalid_answer"  # not from an SDK, or not JSON
    FUNCTION = "function"  # the SDK answered with the function's error
    STEP = "step"  # the call went well, but a step raised: the SDK reported StepError or StepFailed


@dataclass(frozen=True, slots=True)
class Completed:
    """200: the function returned."""

    output: Any


@dataclass(frozen=True, slots=True)
class Reported:
    """206: one or more opcodes; `retriable` is False when the SDK sent x-inngest-no-retry."""

    ops: list[dict[str, Any]]
    retriable: bool


@dataclass(frozen=True, slots=True)
class CallFailed:
    """A function-level error, a network failure, or an answer that is not from an SDK."""

    error: dict[str, Any]
    retriable: bool
    retry_at: int | None = None
    kind: FailureKind = FailureKind.FUNCTION


Outcome = Completed | Reported | CallFailed
