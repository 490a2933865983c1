"""Trigger, wait, cancel and key expressions evaluate as CEL; a failing expression never matches."""

from typing import Any

import pytest

from engine.expressions import ExpressionError, check, evaluate, evaluate_cel, key_of, matches

EVENT = {"name": "app/order", "data": {"amount": 120, "plan": "pro", "user": {"id": "u1"}}}
REPLY = {"name": "app/reply", "data": {"user_id": "u1"}}


@pytest.mark.parametrize(
    ("expression", "variables", "expected"),
    [
        (None, {"event": EVENT}, True),
        ("", {"event": EVENT}, True),
        ("event.data.amount > 100", {"event": EVENT}, True),
        ("event.data.amount > 500", {"event": EVENT}, False),
        ("event.data.plan == 'pro' && event.data.user.id == 'u1'", {"event": EVENT}, True),
        ("async.data.user_id == event.data.user.id", {"event": EVENT, "async": REPLY}, True),
        ("async.data.user_id == event.data.plan", {"event": EVENT, "async": REPLY}, False),
        ("event.data.plan.startsWith('p')", {"event": EVENT}, True),
        ("size(event.data.user) == 1", {"event": EVENT}, True),
        ("'plan' in event.data", {"event": EVENT}, True),
        # failures: a missing field, a type mismatch, a non-boolean result
        ("event.data.missing == 'x'", {"event": EVENT}, False),
        ("event.data.amount > 'ten'", {"event": EVENT}, False),
        ("async.data.user_id == 'u1'", {"event": EVENT}, False),
        ("event.data.amount", {"event": EVENT}, False),
    ],
)
def test_matches(expression: str | None, variables: dict[str, Any], expected: bool) -> None:
    assert matches(expression, variables) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (None, ""),
        ("event.data.user.id", "u1"),
        ("event.data.amount", "120"),
        ("event.data.plan + '-' + event.data.user.id", "pro-u1"),
        ("event.data.missing", ""),
    ],
)
def test_key_of(expression: str | None, expected: str) -> None:
    assert key_of(expression, {"event": EVENT}) == expected


def test_evaluate_gives_plain_values_or_none() -> None:
    variables = {"event": EVENT}
    assert evaluate("event.data.plan == 'pro' ? 120 : 0", variables) == 120
    assert evaluate("event.data.amount / 8.0", variables) == 15.0
    assert evaluate("event.data.user", variables) == {"id": "u1"}
    assert evaluate("[event.data.plan, 'x']", variables) == ["pro", "x"]
    assert evaluate("event.data.nope.deeper", variables) is None


TYPED = {
    "name": "app/typed",
    "data": {"n": 3, "x": 1.5, "yes": True, "none": None, "tags": ["a"], "deep": {"k": "v"}},
}


@pytest.mark.parametrize(
    "path",
    [
        "event.name",
        "event.data.n",
        "event.data.x",
        "event.data.yes",
        "event.data.none",
        "event.data.tags",
        "event.data.deep",
        "event.data.deep.k",
        "event.data.missing",
        "event.data.n.below_a_number",
        "event.data.tags.below_a_list",
        "nothing.data",
    ],
)
def test_a_field_path_is_read_as_cel_reads_it(path: str) -> None:
    variables = {"event": TYPED}
    assert evaluate(path, variables) == evaluate_cel(path, variables)
    assert type(evaluate(path, variables)) is type(evaluate_cel(path, variables))


def test_an_expression_that_does_not_compile_is_named_in_the_error() -> None:
    with pytest.raises(ExpressionError, match=r"event\.data\.x >"):
        check("event.data.x >")
    check("event.data.x > 1")
