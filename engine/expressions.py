"""CEL expressions, as Inngest uses them in triggers, waits, cancels and flow-control keys.

Variables: `event` is the run's triggering event; `async` is the incoming event a wait or a
cancel rule is matched against. An expression that fails to evaluate (a missing field, a type
mismatch) does not match, as in Inngest.
"""

import re
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

_env = celpy.Environment()
# `event.data.user`: most keys are a plain field path, read straight from the JSON. That gives
# what CEL gives without first converting the whole event to CEL values, most of the cost.
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


class ExpressionError(ValueError):
    """An expression that does not compile."""


@lru_cache(maxsize=1024)
def _program(source: str) -> Any:
    try:
        return _env.program(_env.compile(source))
    except Exception as exc:  # celpy raises its own parse errors with the caret diagram
        raise ExpressionError(f"invalid expression {source!r}: {exc}") from exc


def check(source: str) -> None:
    """Raise ExpressionError if `source` is not valid CEL."""
    _program(source)


def evaluate(source: str, variables: dict[str, Any]) -> Any:
    """The plain Python value of `source`, or None when evaluation fails."""
    if _FIELD_PATH.fullmatch(source):
        return _select(source.split("."), variables)
    return evaluate_cel(source, variables)


def _select(path: list[str], value: Any) -> Any:
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return None  # CEL: "no such key", an evaluation error
        value = value[name]
    return value


def evaluate_cel(source: str, variables: dict[str, Any]) -> Any:
    """`evaluate` through the CEL interpreter, whatever the expression."""
    program = _program(source)
    try:
        activation = {name: json_to_cel(value) for name, value in variables.items()}
    except (ValueError, OverflowError):  # an integer beyond 64 bits, which CEL cannot hold
        return None
    try:
        result = program.evaluate(activation)
    except CELEvalError:
        return None
    if isinstance(result, CELEvalError):
        return None
    return _to_python(result)


def matches(source: str | None, variables: dict[str, Any]) -> bool:
    """True when there is no expression, or it evaluates to true."""
    return source is None or source == "" or evaluate(source, variables) is True


def key_of(source: str | None, variables: dict[str, Any]) -> str:
    """The string a key expression evaluates to ('' without an expression)."""
    if not source:
        return ""
    value = evaluate(source, variables)
    return "" if value is None else str(value)


def _to_python(value: Any) -> Any:
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.MapType):
        return {_to_python(k): _to_python(v) for k, v in value.items()}
    if isinstance(value, celtypes.ListType):
        return [_to_python(v) for v in value]
    return value
