"""Run search: a CEL expression translated to SQL selects exactly the runs the engine's own CEL
evaluator says it matches, on runs of every JSON shape; what it cannot translate is refused by
name."""

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from engine.console_search import SearchError, compile_search
from engine.expressions import ExpressionError, evaluate_cel

RUNS: list[tuple[dict[str, Any], Any]] = [
    (
        {
            "name": "app/a",
            "data": {
                "n": 5,
                "f": 2.5,
                "s": "abc",
                "b": True,
                "l": [1, "x", True, None],
                "m": {"k": 1, "key with space": "v"},
                "z": None,
            },
        },
        {"count": 3, "ok": True, "name": "ValueError", "message": "bad socks"},
    ),
    ({"name": "app/b", "data": {"n": "5", "s": "xyz", "l": [], "m": {}, "b": False}}, "done"),
    ({"name": "app/c", "data": {}}, None),
    ({"name": "app/d", "data": {"n": 7.0, "s": "", "l": ["abc"]}}, [1, 2]),
]

AGREED = [
    "event.data.n == 5",
    'event.data.n == "5"',
    "event.data.n == 7.0",
    "event.data.n == 5.0",
    "event.data.n != 5",
    "!(event.data.n == 5)",
    "event.data.n < 6",
    "6 > event.data.n",
    "event.data.n >= 5 && event.data.n <= 7",
    "event.data.f > 2",
    'event.data.s > "abb"',
    'event.data.s.startsWith("ab")',
    'event.data.s.endsWith("bc")',
    'event.data.s.endsWith("")',
    'event.data.s.contains("y")',
    '"x" in event.data.l',
    '"k" in event.data.m',
    '"b" in event.data.s',
    "1 in event.data.l",
    "true in event.data.l",
    'event.data.s in ["abc", "xyz"]',
    "event.data.n in [5, 7.0]",
    "event.data.z == null",
    "has(event.data.z)",
    "has(event.data.nope)",
    "size(event.data.l) == 4",
    "size(event.data.l) == 0",
    "size(event.data.s) == 3",
    "event.data.l.size() == 1",
    "size(event.data.m) >= 1",
    "event.data.b",
    "!event.data.b",
    "event.data.b == true",
    "event.data.b != true",
    "output.count >= 3",
    'output == "done"',
    'output.name == "ValueError" && output.message.contains("socks")',
    'event.name == "app/b"',
    'event["data"]["m"]["k"] == 1',
    'event.data.m["key with space"] == "v"',
    "event.data.l[0] == 1",
    'event.data.l[1] == "x"',
    "event.data.l[9] == 1",
    'event.data.n == 5 || output == "done"',
    "event.data.missing == 1 || true",
    "event.data.missing == 1 && false",
    "!(event.data.missing == 1)",
    "event.data.m.k == 1 && output.ok",
    "true",
    "false",
]


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE runs (events TEXT NOT NULL, output TEXT)")
    for event, output in RUNS:
        encoded = None if output is None else json.dumps(output)
        connection.execute("INSERT INTO runs VALUES (?, ?)", (json.dumps([event]), encoded))
    yield connection
    connection.close()


def selected(db: sqlite3.Connection, source: str) -> list[int]:
    condition = compile_search(source)
    rows = db.execute(f"SELECT rowid FROM runs WHERE {condition.sql}", condition.args)  # noqa: S608
    return [row[0] for row in rows]


@pytest.mark.parametrize("source", AGREED)
def test_sql_selects_what_the_cel_evaluator_matches(db: sqlite3.Connection, source: str) -> None:
    expected = [
        index
        for index, (event, output) in enumerate(RUNS, start=1)
        if evaluate_cel(source, {"event": event, "output": output}) is True
    ]

    assert selected(db, source) == expected


def test_null_compares_with_any_value_as_in_cel(db: sqlite3.Connection) -> None:
    # celpy errors on `5 == null` but not on `"done" != null`; the CEL spec says false / true
    assert selected(db, "output != null") == [1, 2, 4]
    assert selected(db, "event.data.z != null") == []
    assert selected(db, "event.data.n == null") == []


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("event.data.n + 1 > 2", "`+`"),
        ("-event.data.n < 1", "negation"),
        ("event.data.n ? 1 : 2", "? :"),
        ('{"a": 1}.a == 1', "map literal"),
        ("user.id == 1", "'user'"),
        ("event.data.n == event.data.f", "literal"),
        ("event.data.n == [1]", "use `in`"),
        ("event.data.n < null", "null"),
        ("5", "not a condition"),
        ('b"x" in event.data.l', "literal"),
        ('event.data["a\\"b"] == 1', "quote"),
        ("event.data.l[-1] == 1", "negative"),
        ('event.data.s.matches("^a")', "`matches`"),
        ("event.data.s == '\\ud800'", "surrogate"),
        ("int(event.data.n) == 5", "'int'"),
        ("(" * 80 + "true" + ")" * 80, "nested"),
        ("event.data.n == 1 && " * 100 + "true", "longer than"),
    ],
)
def test_what_cannot_be_translated_is_refused_by_name(source: str, named: str) -> None:
    with pytest.raises(SearchError) as raised:
        compile_search(source)

    assert named in str(raised.value)


def test_invalid_cel_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        compile_search("event.data.n ==")


def test_values_are_bound_never_spliced(db: sqlite3.Connection) -> None:
    condition = compile_search('event.data.s == "x\') OR 1=1 --"')

    assert "OR 1=1" not in condition.sql
    assert selected(db, 'event.data.s == "x\') OR 1=1 --"') == []
