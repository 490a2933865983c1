"""Keeping embedding requests within the account's rate limits instead of running into 429s.

OpenAI limits an account by requests and by tokens per minute (RPM, TPM) and says where it
stands in the headers of every answer: `x-ratelimit-limit-*` and `x-ratelimit-remaining-*`, for
requests and for tokens. `Pacing` keeps one budget of each, refilled
continuously at the per-minute rate: the limits come from the settings when they are known, else
from the headers (`x-ratelimit-limit-*`); what they say remains lowers a budget that counted on
more. A request waits for its turn in the requests budget before it takes its inputs (so those
that arrive meanwhile go with it), then for its tokens.

The first request goes alone; each answered request allows one more in flight, up to the
configured number. A 429 or a server error pauses every request for the wait the provider asked
for (or a backoff) and halves the requests allowed in flight. So a storm of 429s and 5xx slows
the job down; it never spins.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: Wait after a retriable error the provider gave no wait for, doubling per failed attempt.
BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0


@dataclass
class Budget:
    """Units per minute, refilled continuously; a reservation may take it below zero, which
    is how long the next one waits."""

    per_minute: float
    level: float
    at: float

    def reserve(self, units: float, now: float) -> float:
        """Take `units` (at most a minute's worth); the seconds to wait before using them."""
        rate = self.per_minute / 60
        self.level = min(self.per_minute, self.level + (now - self.at) * rate)
        self.at = now
        self.level -= min(units, self.per_minute)
        return max(0.0, -self.level / rate)

    def lower_to(self, remaining: float, now: float) -> None:
        """The provider says only `remaining` is left: never count on more."""
        self.reserve(0, now)
        self.level = min(self.level, remaining)


@dataclass
class Pacing:
    requests_per_minute: int | None
    tokens_per_minute: int | None
    concurrency: int
    clock: Callable[[], float] = time.monotonic
    allowed: int = 0  # requests allowed in flight now (AIMD)
    paused_until: float = 0.0
    _budgets: dict[str, Budget] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # One request first: its answer's headers tell how much of the account is left before
        # the others go out (an account another process uses may have little).
        self.allowed = 1
        now = self.clock()
        for name, limit in (
            ("requests", self.requests_per_minute),
            ("tokens", self.tokens_per_minute),
        ):
            if limit:
                self._budgets[name] = Budget(limit, limit, now)

    def wait_request(self) -> float:
        """Reserve one request; seconds until it may go out."""
        return max(self._reserve("requests", 1), self.pause_left())

    def unreserve_request(self) -> None:
        """A reserved request was not sent after all."""
        if (budget := self._budgets.get("requests")) is not None:
            budget.level += 1

    def wait_tokens(self, tokens: int) -> float:
        """Reserve `tokens` tokens; seconds until they may be sent."""
        return self._reserve("tokens", tokens)

    def _reserve(self, name: str, units: int) -> float:
        budget = self._budgets.get(name)
        return 0.0 if budget is None else budget.reserve(units, self.clock())

    def pause_left(self) -> float:
        """Seconds until requests may go out again after a 429 or a server error."""
        return max(0.0, self.paused_until - self.clock())

    def answered(self, headers: Mapping[str, str]) -> None:
        """A request succeeded: one more slot (up to the configured number), and what the
        provider's headers say of the account's limits."""
        self.allowed = min(self.concurrency, self.allowed + 1)
        self._learn(headers)

    def _learn(self, headers: Mapping[str, str]) -> None:
        now = self.clock()
        for name in ("requests", "tokens"):
            limit = _number(headers.get(f"x-ratelimit-limit-{name}"))
            budget = self._budgets.get(name)
            if budget is None and limit:
                budget = self._budgets[name] = Budget(limit, limit, now)
            remaining = _number(headers.get(f"x-ratelimit-remaining-{name}"))
            if budget is not None and remaining is not None:
                budget.lower_to(remaining, now)

    def refused(
        self, retry_after: float | None, attempt: int, headers: Mapping[str, str] | None = None
    ) -> float:
        """A 429 or a server error: halve the requests in flight and pause them all; the pause."""
        self._learn(headers or {})
        self.allowed = max(1, self.allowed // 2)
        pause = retry_after if retry_after is not None else BACKOFF_S * 2**attempt
        pause = min(pause, MAX_BACKOFF_S)
        self.paused_until = max(self.paused_until, self.clock() + pause)
        return pause


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
