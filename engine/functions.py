"""Function configurations as apps register them, validated once at sync.

An option this engine does not implement is rejected with an error that names it, so an app
never runs with flow control silently missing.
"""

from typing import Any, Literal

import httpx
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine import expressions
from engine.consts import DEFAULT_RETRIES, DISCOVERY_STEP, MAX_RETRIES
from engine.cron import cron_expression, next_fire
from engine.timeutil import parse_duration

UNSUPPORTED_OPTIONS = ("singleton", "timeouts")


class RegistrationError(ValueError):
    """A register request this engine refuses; the message says what is wrong."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


def _expression(value: str | None) -> str | None:
    if value:
        expressions.check(value)
    return value


class Trigger(_Config):
    event: str | None = None
    expression: str | None = None
    cron: str | None = None
    jitter: str | None = None

    _check_expression = field_validator("expression")(_expression)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not croniter.is_valid(cron_expression(value)):
            raise ValueError(f"invalid cron expression {value!r}")
        try:  # an unknown TZ= zone, or a date that never comes (Feb 30)
            next_fire(value, 0)
        except Exception as exc:
            raise ValueError(f"cron expression {value!r} never fires: {exc}") from None
        return value

    @field_validator("jitter")
    @classmethod
    def _no_jitter(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("cron jitter is not supported by this engine")
        return value

    def matches_name(self, name: str) -> bool:
        if self.event is None:
            return False
        if self.event.endswith("*"):
            return name.startswith(self.event[:-1])
        return self.event == name


class Concurrency(_Config):
    limit: int = Field(ge=1)
    key: str | None = None
    scope: Literal["fn", "env", "account"] = "fn"

    _check_key = field_validator("key")(_expression)


class Throttle(_Config):
    limit: int = Field(ge=1)
    period: str
    burst: int = Field(default=1, ge=1)
    key: str | None = None

    _check_period = field_validator("period")(_duration)
    _check_key = field_validator("key")(_expression)


class RateLimit(_Config):
    limit: int = Field(ge=1)
    period: str
    key: str | None = None

    _check_period = field_validator("period")(_duration)
    _check_key = field_validator("key")(_expression)


class Debounce(_Config):
    period: str
    timeout: str | None = None
    key: str | None = None

    _check_durations = field_validator("period", "timeout")(_duration)
    _check_key = field_validator("key")(_expression)


class BatchEvents(_Config):
    max_size: int = Field(alias="maxSize", ge=1)
    timeout: str
    key: str | None = None
    if_: str | None = Field(default=None, alias="if")

    _check_timeout = field_validator("timeout")(_duration)
    _check_expressions = field_validator("key", "if_")(_expression)


class Cancel(_Config):
    event: str
    if_: str | None = Field(default=None, alias="if")
    timeout: str | None = None

    _check_timeout = field_validator("timeout")(_duration)
    _check_if = field_validator("if_")(_expression)


class Priority(_Config):
    run: str | None = None

    _check_run = field_validator("run")(_expression)


class StepRetries(_Config):
    attempts: int | None = Field(default=None, ge=0)


class StepRuntime(_Config):
    type: str
    url: str

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"invalid URL {value!r}: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{value!r} is not an http or https URL")
        return value


class StepConfig(_Config):
    id: str
    name: str
    retries: StepRetries | None = None
    runtime: StepRuntime


class FunctionConfig(_Config):
    """One element of the register request's `functions` list."""

    id: str = Field(min_length=1)
    name: str = ""
    triggers: list[Trigger] = Field(min_length=1)
    steps: dict[str, StepConfig]
    concurrency: list[Concurrency] = []
    rate_limit: RateLimit | None = Field(default=None, alias="rateLimit")
    throttle: Throttle | None = None
    debounce: Debounce | None = None
    batch_events: BatchEvents | None = Field(default=None, alias="batchEvents")
    cancel: list[Cancel] = []
    idempotency: str | None = None
    priority: Priority | None = None

    _check_idempotency = field_validator("idempotency")(_expression)

    @field_validator("steps")
    @classmethod
    def _one_step(cls, value: dict[str, StepConfig]) -> dict[str, StepConfig]:
        if DISCOVERY_STEP not in value:
            raise ValueError(f"steps must contain the entry {DISCOVERY_STEP!r}")
        return value

    @property
    def url(self) -> str:
        return self.steps[DISCOVERY_STEP].runtime.url

    @property
    def max_attempts(self) -> int:
        retries = self.steps[DISCOVERY_STEP].retries
        count = DEFAULT_RETRIES if retries is None or retries.attempts is None else retries.attempts
        return min(count, MAX_RETRIES) + 1


def parse_functions(raw: Any) -> list[FunctionConfig]:
    """Validate the `functions` list of a register request."""
    if not isinstance(raw, list) or not raw:
        raise RegistrationError("'functions' must be a non-empty list")
    configs = []
    for index, item in enumerate(raw):
        label = item.get("id", f"#{index}") if isinstance(item, dict) else f"#{index}"
        if isinstance(item, dict):
            for option in UNSUPPORTED_OPTIONS:
                if item.get(option) is not None:
                    raise RegistrationError(
                        f"function {label!r}: option {option!r} is not supported by this engine"
                    )
        try:
            configs.append(FunctionConfig.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'function'}: {err['msg']}"
                for err in exc.errors()
            )
            raise RegistrationError(f"function {label!r}: {problems}") from None
    return configs
