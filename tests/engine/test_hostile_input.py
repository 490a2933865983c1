"""Hostile input to every route of the engine's API: a 4xx that names the problem, never a 5xx,
and nothing stored.

One engine serves the whole table (a sleeping run, one function registered); each case compares
what the API shows before and after its request, so a case that stored anything fails on its own.
"""

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import inngest
import pytest

from tests.engine.harness import Harness, eventually, harness, slug

SLEEP_DAYS = 30
UNKNOWN = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
DEEP = 150  # past the engine's 100 levels, short of Python's recursion limit
executed: list[str] = []


def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event="app/sleep"))
    async def sleeper(ctx: inngest.Context) -> str:
        async def before() -> str:
            executed.append(ctx.run_id)
            return "slept"

        done = await ctx.step.run("before", before)
        await ctx.step.sleep("nap", datetime.timedelta(days=SLEEP_DAYS))
        return done

    return [sleeper]


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    status: int
    named: str  # what the error message must say
    body: Any = None  # JSON-encoded unless bytes or str
    params: dict[str, str] = field(default_factory=dict)


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"k": value}
    return value


def register_body(**function: Any) -> dict[str, Any]:
    fn_slug = "hostile-fn"
    config = {
        "id": fn_slug,
        "name": "fn",
        "triggers": [{"event": "app/other"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": "http://127.0.0.1:9/api/inngest"},
            }
        },
    }
    config.update(function)
    return {"appname": "hostile", "url": "http://127.0.0.1:9/api/inngest", "functions": [config]}


def cancel_body(**fields: Any) -> dict[str, Any]:
    body = {
        "app_id": "test",
        "function_id": slug("sleeper"),
        "started_before": "2020-01-01T00:00:00Z",
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


EVENT = "/e/test-key"
CASES = [
    # the Event API
    Case("e-not-json", "POST", EVENT, 400, "not valid JSON", "{not json"),
    Case("e-empty", "POST", EVENT, 400, "not valid JSON", ""),
    Case("e-not-utf8", "POST", EVENT, 400, "not valid JSON", b'{"name": "a\xff"}'),
    Case("e-deep-recursion", "POST", EVENT, 400, "nested too deeply", "[" * 100_000),
    Case("e-deep", "POST", EVENT, 400, "nested too deeply", {"name": "a", "data": nested(DEEP)}),
    Case("e-number", "POST", EVENT, 400, "must be a JSON object", 5),
    Case("e-array-of-strings", "POST", EVENT, 400, "must be a JSON object", ["a"]),
    Case("e-name-type", "POST", EVENT, 400, "'name'", {"name": 5}),
    Case("e-data-type", "POST", EVENT, 400, "'data'", {"name": "a", "data": "x"}),
    Case("e-id-type", "POST", EVENT, 400, "'id'", {"name": "a", "id": 5}),
    Case("e-user-type", "POST", EVENT, 400, "'user'", {"name": "a", "user": []}),
    Case("e-v-type", "POST", EVENT, 400, "'v'", {"name": "a", "v": 1}),
    Case("e-ts-string", "POST", EVENT, 400, "'ts'", {"name": "a", "ts": "now"}),
    Case("e-ts-bool", "POST", EVENT, 400, "'ts'", {"name": "a", "ts": True}),
    Case("e-ts-1970", "POST", EVENT, 400, "'ts'", {"name": "a", "ts": 1}),
    Case("e-ts-64-bits", "POST", EVENT, 400, "64-bit", {"name": "a", "ts": 2**64}),
    Case("e-data-64-bits", "POST", EVENT, 400, "64-bit", {"name": "a", "data": {"n": 2**63}}),
    Case("e-data-digits", "POST", EVENT, 400, "64-bit", '{"name":"a","data":{"n":' + "9" * 5000),
    Case("e-data-1e999", "POST", EVENT, 400, "1e999", '{"name": "a", "data": {"n": 1e999}}'),
    Case("e-data-nan", "POST", EVENT, 400, "NaN", '{"name": "a", "data": {"n": NaN}}'),
    Case("e-data-inf", "POST", EVENT, 400, "Infinity", '{"name": "a", "data": {"n": -Infinity}}'),
    Case("e-surrogate", "POST", EVENT, 400, "surrogate", '{"name": "a\\ud800"}'),
    Case("e-reserved", "POST", EVENT, 400, "inngest/", {"name": "inngest/function.failed"}),
    Case("e-second-bad", "POST", EVENT, 400, "event 1", [{"name": "a"}, {"name": ""}]),
    Case("e-5001", "POST", EVENT, 400, "more than 5000 events", [{"name": "a"}] * 5001),
    # app sync
    Case("reg-not-json", "POST", "/fn/register", 400, "not valid JSON", "{"),
    Case("reg-deep", "POST", "/fn/register", 400, "nested too deeply", nested(DEEP)),
    Case("reg-list", "POST", "/fn/register", 400, "JSON object", []),
    Case("reg-no-app", "POST", "/fn/register", 400, "'appname'", {"url": "http://x"}),
    Case("reg-app-type", "POST", "/fn/register", 400, "'appname'", {"appname": 1, "url": "u"}),
    Case(
        "reg-no-functions",
        "POST",
        "/fn/register",
        400,
        "'functions'",
        register_body() | {"functions": "all"},
    ),
    Case(
        "reg-bad-url",
        "POST",
        "/fn/register",
        400,
        "URL",
        register_body(
            steps={
                "step": {"id": "step", "name": "step", "runtime": {"type": "http", "url": "::nope"}}
            }
        ),
    ),
    Case(
        "reg-tz",
        "POST",
        "/fn/register",
        400,
        "Nowhere/Zone",
        register_body(triggers=[{"cron": "TZ=Nowhere/Zone * * * * *"}]),
    ),
    Case(
        "reg-feb-30",
        "POST",
        "/fn/register",
        400,
        "never fires",
        register_body(triggers=[{"cron": "0 0 30 2 *"}]),
    ),
    Case(
        "reg-long-duration",
        "POST",
        "/fn/register",
        400,
        "too long",
        register_body(debounce={"period": "9" * 30 + "d"}),
    ),
    Case(
        "reg-huge-limit",
        "POST",
        "/fn/register",
        400,
        "64-bit",
        register_body(concurrency=[{"limit": 2**64}]),
    ),
    Case(
        "reg-limit-type",
        "POST",
        "/fn/register",
        400,
        "limit",
        register_body(concurrency=[{"limit": "many"}]),
    ),
    Case(
        "reg-bad-expression",
        "POST",
        "/fn/register",
        400,
        "invalid expression",
        register_body(triggers=[{"event": "app/x", "expression": "event.data.(("}]),
    ),
    # REST v1: events
    Case("ev-limit", "GET", "/v1/events", 400, "'limit'", params={"limit": "ten"}),
    Case("ev-limit-float", "GET", "/v1/events", 400, "'limit'", params={"limit": "1e3"}),
    Case("ev-cursor", "GET", "/v1/events", 400, "cursor", params={"cursor": "nope"}),
    Case("ev-cursor-long", "GET", "/v1/events", 400, "cursor", params={"cursor": UNKNOWN + "0"}),
    Case("ev-after", "GET", "/v1/events", 400, "received_after", params={"received_after": "x"}),
    Case(
        "ev-before-1970",
        "GET",
        "/v1/events",
        400,
        "received_before",
        params={"received_before": "1960-01-01T00:00:00Z"},
    ),
    Case(
        "ev-before-year-0",
        "GET",
        "/v1/events",
        400,
        "received_before",
        params={"received_before": "0001-01-01T00:00:00+14:00"},
    ),
    Case(
        "ev-range",
        "GET",
        "/v1/events",
        400,
        "must not be later",
        params={
            "received_after": "2024-02-01T00:00:00Z",
            "received_before": "2024-01-01T00:00:00Z",
        },
    ),
    Case("ev-unknown", "GET", f"/v1/events/{UNKNOWN}", 404, UNKNOWN),
    Case("ev-unknown-runs", "GET", f"/v1/events/{UNKNOWN}/runs", 404, UNKNOWN),
    Case("ev-garbage-id", "GET", "/v1/events/%F0%9F%92%A5", 404, "not found"),
    # REST v1: runs
    Case("run-unknown", "GET", f"/v1/runs/{UNKNOWN}", 404, UNKNOWN),
    Case("run-cancel-unknown", "DELETE", f"/v1/runs/{UNKNOWN}", 404, UNKNOWN),
    Case("console-file-unknown", "GET", "/console/nothing.js", 404, "nothing.js"),
    Case("console-file-suffix", "GET", "/console/__init__.py", 404, "__init__.py"),
    # REST v1: bulk cancellation
    Case("cancel-not-json", "POST", "/v1/cancellations", 400, "not valid JSON", "{"),
    Case("cancel-deep", "POST", "/v1/cancellations", 400, "nested too deeply", nested(DEEP)),
    Case("cancel-list", "POST", "/v1/cancellations", 400, "JSON object", [cancel_body()]),
    Case("cancel-no-app", "POST", "/v1/cancellations", 400, "app_id", cancel_body(app_id=None)),
    Case(
        "cancel-fn-type",
        "POST",
        "/v1/cancellations",
        400,
        "function_id",
        cancel_body(function_id=5),
    ),
    Case(
        "cancel-before",
        "POST",
        "/v1/cancellations",
        400,
        "started_before",
        cancel_body(started_before="yesterday"),
    ),
    Case(
        "cancel-before-number",
        "POST",
        "/v1/cancellations",
        400,
        "started_before",
        cancel_body(started_before=2**40),
    ),
    Case(
        "cancel-before-64-bits",
        "POST",
        "/v1/cancellations",
        400,
        "64-bit",
        cancel_body(started_before=2**70),
    ),
    Case(
        "cancel-future",
        "POST",
        "/v1/cancellations",
        400,
        "future",
        cancel_body(started_before="2999-01-01T00:00:00Z"),
    ),
    Case(
        "cancel-range",
        "POST",
        "/v1/cancellations",
        400,
        "must not be later",
        cancel_body(started_after="2019-01-01T00:00:00Z", started_before="2018-01-01T00:00:00Z"),
    ),
    Case("cancel-if-type", "POST", "/v1/cancellations", 400, "'if'", cancel_body(**{"if": [1]})),
    Case(
        "cancel-if-cel",
        "POST",
        "/v1/cancellations",
        400,
        "invalid expression",
        cancel_body(**{"if": "event.data.(("}),
    ),
    Case(
        "cancel-unknown-fn",
        "POST",
        "/v1/cancellations",
        404,
        "nope",
        cancel_body(function_id="nope"),
    ),
    # dev server routes
    Case("dev-method", "PUT", "/dev", 405, "Method Not Allowed"),
    Case("dev-sync-method", "GET", "/dev/sync", 405, "Method Not Allowed"),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, str]]:
    """One engine for the table, with a run asleep for a month."""
    with harness(tmp_path_factory.mktemp("hostile"), make) as h:
        event_id = h.send("app/sleep")
        run_id = h.only_run(event_id)["run_id"]
        eventually(lambda: executed == [run_id])
        yield h, run_id


def stored(h: Harness, run_id: str) -> Any:
    """What the API shows of everything the engine holds."""
    events = h.http.get("/v1/events", params={"limit": 51}).json()["data"]
    return (
        [(event["internal_id"], event["name"], event["data"]) for event in events],
        h.http.get(f"/v1/runs/{run_id}").json()["data"],
        h.http.get("/dev").json(),
    )


def send(h: Harness, case: Case) -> Any:
    if isinstance(case.body, bytes | str):
        content = case.body.encode() if isinstance(case.body, str) else case.body
    elif case.body is None:
        content = b""
    else:
        content = json.dumps(case.body).encode()
    headers = {"content-type": "application/json"}
    return h.http.request(
        case.method, case.path, content=content, params=case.params, headers=headers
    )


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_is_a_4xx_naming_the_problem_and_stores_nothing(
    engine: tuple[Harness, str], case: Case
) -> None:
    h, run_id = engine
    before = stored(h, run_id)

    response = send(h, case)

    assert response.status_code == case.status, response.text
    body = _json_or_none(response)  # Starlette's own 405 is plain text
    message = body["error"] if isinstance(body, dict) else response.text
    assert case.named in message, message
    if isinstance(body, dict):
        assert body.get("status", case.status) == case.status
    assert stored(h, run_id) == before


def test_the_sleeping_run_of_the_table_was_untouched(engine: tuple[Harness, str]) -> None:
    h, run_id = engine
    run = h.run(run_id)

    assert run["status"] == "Running"
    assert executed == [run_id]
    assert h.http.get("/dev").json()["functions"] == [slug("sleeper")]


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
