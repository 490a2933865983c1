"""What one SDK call came back with, independent of how it travelled."""

from dataclasses import dataclass
from typing import Any


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


Outcome = Completed | Reported | CallFailed
