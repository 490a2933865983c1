"""Run search: a CEL expression over a run's `event` and `output`, answered by SQLite.

celpy evaluates about 2,000 expressions a second, so the runs list cannot ask it about 100,000
runs; SQLite's JSON functions read them a hundred times faster. The expression is parsed by
celpy's CEL grammar and translated into a SQL condition over `runs.events` (`event` is the run's
first triggering event) and `runs.output` (the return value, or the error of a failed run).

CEL on untyped JSON has one rule that matters here: a comparison that cannot be evaluated (a
missing field, mismatched types, an int against a double for `==`, as in the engine's own
evaluator) is an error, and an error never matches, not even under `!`. SQL's NULL behaves the
same way, so each comparison is NULL where CEL has an error, and `||` / `&&` absorb it as CEL
does (NULL OR TRUE is TRUE, NULL AND FALSE is FALSE).

Supported, which covers what the Inngest console's search is used for:

* fields: `event.name`, `event.data.a.b`, `event["data"]["k-1"]`, `event.data.list[0]`,
  `output`, `output.a`;
* literals: strings, integers, doubles, `true`, `false`, `null`, and lists of them after `in`;
* `==`, `!=`, `<`, `<=`, `>`, `>=` between a field and a literal; `&&`, `||`, `!`, parentheses;
* `field in [literals]`; `literal in field` (an element of a list, a key of a map, a substring);
* `has(field)`, `size(field)` compared with a number, and the string methods `startsWith`,
  `endsWith` and `contains`.

Anything else is refused with a SearchError that names it; `matches` too, because Python's regular
expressions, unlike CEL's RE2, can take exponential time, and the search runs on the engine's
event loop.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import celpy
from lark import Tree

from engine import expressions

MAX_LENGTH = 1000
MAX_DEPTH = 64

_env = celpy.Environment()
_ROOTS = {"event": ("events", "$[0]"), "output": ("output", "$")}
_PASS_THROUGH = {
    "expr",
    "conditionalor",
    "conditionaland",
    "relation",
    "addition",
    "multiplication",
    "unary",
    "member",
    "primary",
    "paren_expr",
}
_OPERATORS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_UNSUPPORTED = {
    "expr": "the conditional operator `? :`",
    "addition_add": "`+`",
    "addition_sub": "`-`",
    "multiplication_mul": "`*`",
    "multiplication_div": "`/`",
    "multiplication_mod": "`%`",
    "unary_neg": "negation with `-`",
    "map_lit": "a map literal",
    "member_object": "a message literal",
    "dot_ident": "a name with a leading dot",
    "dot_ident_arg": "a function with a leading dot",
}
_STRING_METHODS = {
    "startsWith": "substr({v}, 1, length({a})) = {a}",
    "endsWith": "(length({a}) = 0 OR substr({v}, -length({a})) = {a})",
    "contains": "instr({v}, {a}) > 0",
}


class SearchError(ValueError):
    """A search expression the console cannot run; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Condition:
    """A piece of SQL and the values of its `?` placeholders, in order."""

    sql: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class _Field:
    """A JSON value of a run: the SQL for the value and for its JSON type (NULL when absent)."""

    value: Condition
    type: Condition
    column: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


_Operand = Condition | _Field | _Literal


@lru_cache(maxsize=256)
def compile_search(source: str) -> Condition:
    """The SQL condition on `runs` that holds where `source` is true (cached: the runs page asks
    again with the same search every few seconds)."""
    if len(source) > MAX_LENGTH:
        raise SearchError(f"the search expression is longer than {MAX_LENGTH} characters")
    expressions.check(source)
    try:
        return _predicate(_env.compile(source), 0)
    except RecursionError:
        raise SearchError("the search expression is nested too deeply") from None


def _sql(template: str, **parts: Condition | Any) -> Condition:
    """Fill `{name}` placeholders with SQL pieces (or `?` for plain values), args in order."""
    args: list[Any] = []

    def fill(match: re.Match[str]) -> str:
        part = parts[match.group(1)]
        if isinstance(part, Condition):
            args.extend(part.args)
            return part.sql
        args.append(part)
        return "?"

    sql = re.sub(r"\{(\w+)\}", fill, template)
    return Condition(sql, tuple(args))


def _predicate(tree: Tree[Any], depth: int) -> Condition:
    operand = _node(tree, depth)
    if isinstance(operand, Condition):
        return operand
    if isinstance(operand, _Field):
        return _sql("(CASE {t} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)", t=operand.type)
    if isinstance(operand.value, bool):
        return Condition("1" if operand.value else "0")
    raise SearchError(
        f"{operand.value!r} is not a condition: compare a field, e.g. event.data.n == 1"
    )


def _node(tree: Tree[Any], depth: int) -> _Operand:
    if depth > MAX_DEPTH:
        raise SearchError("the search expression is nested too deeply")
    rule, kids = str(tree.data), tree.children
    if rule in _PASS_THROUGH and len(kids) == 1:
        return _node(kids[0], depth + 1)
    if rule in ("conditionalor", "conditionaland"):
        joiner = "OR" if rule == "conditionalor" else "AND"
        first, second = _predicate(kids[0], depth + 1), _predicate(kids[1], depth + 1)
        return _sql(f"({{a}} {joiner} {{b}})", a=first, b=second)
    if rule == "relation":  # [relation_op [left], right]
        operator = str(kids[0].data)
        left, right = _node(kids[0].children[0], depth + 1), _node(kids[1], depth + 1)
        if operator in _OPERATORS:
            return _compare(left, _OPERATORS[operator], right)
        return _contains(left, right)
    if rule == "unary" and str(kids[0].data) == "unary_not":
        return _sql("(NOT {a})", a=_predicate(kids[1], depth + 1))
    if rule == "member_dot":
        return _child(_node(kids[0], depth + 1), str(kids[1]))
    if rule == "member_index":
        return _child(_node(kids[0], depth + 1), _literal_of(_node(kids[1], depth + 1)))
    if rule == "member_dot_arg":
        arguments = _arguments(kids[2:], depth)
        return _call(str(kids[1]), [_node(kids[0], depth + 1), *arguments])
    if rule == "ident":
        return _root(str(kids[0]))
    if rule == "ident_arg":
        return _call(str(kids[0]), _arguments(kids[1:], depth))
    if rule == "literal":
        return _Literal(_literal_value(str(kids[0])))
    if rule == "list_lit":
        return _Literal([_literal_of(item) for item in _arguments(kids, depth)])
    name = str(kids[0].data) if rule in ("addition", "multiplication", "unary") else rule
    raise SearchError(f"{_UNSUPPORTED.get(name, repr(name))} is not supported in a run search")


def _arguments(kids: list[Any], depth: int) -> list[_Operand]:
    if not kids:
        return []
    return [_node(item, depth + 1) for item in kids[0].children]


def _root(name: str) -> _Field:
    if name not in _ROOTS:
        raise SearchError(f"unknown name {name!r}: a run search reads `event` and `output`")
    column, path = _ROOTS[name]
    return _field(column, path)


def _field(column: str, path: str) -> _Field:
    return _Field(
        value=_sql(f"json_extract({column}, {{p}})", p=path),
        type=_sql(f"json_type({column}, {{p}})", p=path),
        column=column,
        path=path,
    )


def _child(parent: _Operand, key: Any) -> _Field:
    if not isinstance(parent, _Field) or not parent.column:
        raise SearchError("only fields of `event` and `output` can be selected from")
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise SearchError(f"{key!r} cannot select a field: use a name or a list index")
    if isinstance(key, int):
        if key < 0:
            raise SearchError(f"list index {key} is negative")
        return _field(parent.column, f"{parent.path}[{key}]")
    if '"' in key or "\\" in key:
        raise SearchError(f"field name {key!r} has a quote or a backslash")
    return _field(parent.column, f'{parent.path}."{key}"')


def _literal_value(text: str) -> Any:
    value = expressions.evaluate_cel(text, {})
    if (value is None and text != "null") or not isinstance(value, bool | int | float | str | None):
        raise SearchError(f"literal {text!r} is not supported in a run search")
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise SearchError(f"literal {text!r} has an unpaired surrogate") from None
    return value


def _is_json(operand: _Operand) -> bool:
    """A field read straight from a run's JSON (not computed, as `size(...)` is)."""
    return isinstance(operand, _Field) and bool(operand.column)


def _literal_of(operand: _Operand) -> Any:
    if not isinstance(operand, _Literal):
        raise SearchError("lists and indexes in a run search must be literals")
    return operand.value


def _json_types(value: Any, ordering: bool) -> str:
    """The JSON types (as SQL) a field must have to compare with `value`."""
    if isinstance(value, bool):
        return "('true', 'false')"
    if isinstance(value, int | float) and ordering:
        return "('integer', 'real')"
    if isinstance(value, int):
        return "('integer')"
    if isinstance(value, float):
        return "('real')"
    if isinstance(value, str):
        return "('text')"
    return "('null')"


def _compare(left: _Operand, operator: str, right: _Operand) -> Condition:
    if isinstance(left, _Literal) and isinstance(right, _Field):
        left, right, operator = right, left, _FLIPPED[operator]
    if not (isinstance(left, _Field) and isinstance(right, _Literal)):
        raise SearchError("a comparison in a run search needs a field on one side, a literal")
    value = right.value
    if isinstance(value, list):
        raise SearchError("comparing with a list is not supported: use `in`")
    ordering = operator not in ("==", "!=")
    if value is None:  # any value compares with null, as in CEL's heterogeneous equality
        if ordering:
            raise SearchError("`null` cannot be compared with <, <=, > or >=")
        test = _sql("{t} = 'null'", t=left.type)
    else:
        sql_operator = operator if ordering else "="
        literal = int(value) if isinstance(value, bool) else value
        test = _sql(f"{{v}} {sql_operator} {{x}}", v=left.value, x=literal)
    if operator == "!=":
        test = _sql("NOT ({a})", a=test)
    types = "IS NOT NULL" if value is None else "IN " + _json_types(value, ordering)
    return _sql(f"(CASE WHEN {{t}} {types} THEN {{test}} END)", t=left.type, test=test)


def _contains(item: _Operand, container: _Operand) -> Condition:
    if isinstance(item, _Field) and isinstance(container, _Literal):
        if not isinstance(container.value, list):
            raise SearchError('`in` needs a list literal, e.g. event.data.kind in ["a", "b"]')
        if not container.value:
            return Condition("0")
        tests = [_compare(item, "==", _Literal(value)) for value in container.value]
        sql = " OR ".join(test.sql for test in tests)
        return Condition(f"({sql})", tuple(arg for test in tests for arg in test.args))
    if isinstance(item, _Literal) and isinstance(container, _Field) and _is_json(container):
        value = item.value
        if isinstance(value, list):
            raise SearchError("a list cannot be looked for with `in`")
        element = _sql(
            "EXISTS (SELECT 1 FROM json_each({c}, {p}) WHERE type IN "  # noqa: S608 - fixed
            + _json_types(value, False)
            + (" AND atom = {x})" if value is not None else ")"),
            c=Condition(container.column),
            p=container.path,
            x=int(value) if isinstance(value, bool) else value,
        )
        if not isinstance(value, str):
            return _sql("(CASE {t} WHEN 'array' THEN {e} END)", t=container.type, e=element)
        key = _sql(
            "EXISTS (SELECT 1 FROM json_each({c}, {p}) WHERE key = {x})",
            c=Condition(container.column),
            p=container.path,
            x=value,
        )
        return _sql(
            "(CASE {t} WHEN 'array' THEN {e} WHEN 'object' THEN {k}"
            " WHEN 'text' THEN instr({v}, {x}) > 0 END)",
            t=container.type,
            e=element,
            k=key,
            v=container.value,
            x=value,
        )
    raise SearchError("`in` in a run search needs a field and a literal")


def _call(name: str, operands: list[_Operand]) -> _Operand:
    target = operands[0] if operands and _is_json(operands[0]) else None
    if name == "has" and len(operands) == 1 and isinstance(target, _Field):
        return _sql("({t} IS NOT NULL)", t=target.type)
    if name == "size" and len(operands) == 1 and isinstance(target, _Field):
        field = target
        c, p = Condition(field.column), field.path
        return _Field(
            value=_sql(
                "(CASE {t} WHEN 'array' THEN json_array_length({c}, {p})"
                " WHEN 'object' THEN (SELECT COUNT(*) FROM json_each({c}, {p}))"
                " WHEN 'text' THEN length({v}) END)",
                t=field.type,
                c=c,
                p=p,
                v=field.value,
            ),
            type=_sql(
                "(CASE WHEN {t} IN ('array', 'object', 'text') THEN 'integer' END)", t=field.type
            ),
        )
    if name == "matches":
        message = "`matches` is not supported in a run search (a regular expression could stall"
        raise SearchError(f"{message} the engine): use startsWith, endsWith or contains")
    if name in _STRING_METHODS and len(operands) == 2:
        receiver, argument = operands
        if not (isinstance(receiver, _Field) and isinstance(argument, _Literal)):
            raise SearchError(f"`{name}` in a run search is called on a field with a literal")
        if not isinstance(argument.value, str):
            raise SearchError(f"`{name}` takes a string")
        test = _sql(_STRING_METHODS[name], v=receiver.value, a=argument.value)
        return _sql("(CASE WHEN {t} = 'text' THEN {test} END)", t=receiver.type, test=test)
    raise SearchError(
        f"function {name!r} is not supported in a run search (or takes other arguments)"
    )
