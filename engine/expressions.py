"""CEL expressions, as Inngest uses them in triggers, waits, cancels and flow-control keys.

Variables: `event` is the run's triggering event; `async` is the incoming event a wait or a
cancel rule is matched against. An expression that fails to evaluate (a missing field, a type
mismatch) does not match, as in Inngest.

Expressions run on the engine's event loop, and celpy, unlike cel-go, has no cost limit: nothing
stops an evaluation part way. So what could make one run for long is refused when the expression
is checked, with an ExpressionError that names it:

* the comprehension macros (`all`, `exists`, `exists_one`, `map`, `filter`, and celpy's `reduce`):
  their variable can be used several times in their body, so nested or chained they cost the
  product of the lists' sizes (four nested `exists` over a 40-item list, under 500 characters,
  take about ten minutes). Inngest refuses them in a function's cancel expressions too;
* expressions longer than MAX_LENGTH characters (cel-go allows 100,000, but celpy takes about
  two seconds to parse that many).

Without them, an evaluation visits each part of the expression once, so its time grows only with
the expression's length and the event's size. An expression nested deeper than Python's stack
allows does not match.
"""

import re
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError
from lark import Tree

MAX_LENGTH = 1000
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter", "reduce"})

_env = celpy.Environment()
# `event.data.user`: most keys are a plain field path, read straight from the JSON. That gives
# what CEL gives without first converting the whole event to CEL values, most of the cost.
_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


class ExpressionError(ValueError):
    """An expression that does not compile, or that this engine refuses to run."""


@lru_cache(maxsize=1024)
def _program(source: str) -> Any:
    if len(source) > MAX_LENGTH:  # checked first: parsing alone takes time that grows with it
        raise ExpressionError(
            f"expression is {len(source)} characters long; at most {MAX_LENGTH} are allowed"
        )
    try:
        tree = _env.compile(source)
        program = _env.program(tree)
    except Exception as exc:  # celpy raises its own parse errors with the caret diagram
        raise ExpressionError(f"invalid expression {source!r}: {exc}") from exc
    macro = _macro_in(tree)
    if macro is not None:
        raise ExpressionError(
            f"expression {source!r} uses `{macro}`: comprehension macros (all, exists, exists_one,"
            " map, filter) are not supported, as their cost grows with the product of list sizes"
        )
    return program


def _macro_in(tree: Tree[Any]) -> str | None:
    """The first comprehension macro in `tree`, as in `list.exists(x, ...)`, or None."""
    stack = [tree]  # a loop, not recursion: the tree may be deeper than Python's stack
    while stack:
        node = stack.pop()
        if node.data == "member_dot_arg" and str(node.children[1]) in _MACROS:
            return str(node.children[1])
        stack.extend(child for child in node.children if isinstance(child, Tree))
    return None


def check(source: str) -> None:
    """Raise ExpressionError if `source` is not valid CEL or is refused (see above)."""
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
    try:
        program = _program(source)
    except ExpressionError:  # a wait or cancel rule saved before these limits: it matches nothing
        return None
    try:
        activation = {name: json_to_cel(value) for name, value in variables.items()}
    except (ValueError, OverflowError):  # an integer beyond 64 bits, which CEL cannot hold
        return None
    try:
        result = program.evaluate(activation)
        return None if isinstance(result, CELEvalError) else _to_python(result)
    except (CELEvalError, RecursionError):  # celpy recurses once per level of nesting
        return None


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
