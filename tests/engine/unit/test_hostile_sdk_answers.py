"""What an SDK answers cannot leave state behind that later breaks the API or event intake."""

import asyncio

import httpx

from engine.consts import SDK_HEADER, RunStatus
from engine.executor import Executor, parse_response
from engine.outcomes import CallFailed, Completed, FailureKind, Reported
from tests.engine.unit.factories import START_MS, MakeParts, function_config

SDK = httpx.Headers({SDK_HEADER: "py:v0.5.19"})
CALL = {"ctx": {"run_id": "r1", "fn_id": "f"}}


def test_json_numbers_no_api_answer_could_carry_fail_the_call() -> None:
    outcomes = [
        parse_response(200, SDK, body, START_MS)
        for body in (b'{"n": NaN}', b'{"n": Infinity}', b'{"n": 1e999}')
    ]
    fine = parse_response(200, SDK, b'{"n": 1e308, "big": 18446744073709551616}', START_MS)

    assert all(isinstance(o, CallFailed) and o.retriable for o in outcomes), outcomes
    assert fine == Completed({"n": 1e308, "big": 2**64})


def test_a_wait_with_an_invalid_expression_fails_its_run_and_intake_goes_on(
    make_parts: MakeParts,
) -> None:
    parts = make_parts(function_config("w", "app/w"))
    parts.send("app/w")
    [call] = parts.scheduler.take(parts.clock.now(), 10)
    wait = {
        "op": "WaitForEvent",
        "id": "w",
        "name": "app/answer",
        "opts": {"event": "app/answer", "if": "async.data.((", "timeout": "1h"},
    }

    parts.machine.apply_call(call, Reported([wait], retriable=True))
    parts.send("app/answer")  # would evaluate the expression if the wait had been kept

    run = parts.store.get_run(call.run_id or "")
    assert run is not None and run.status is RunStatus.FAILED
    assert "invalid expression" in run.output["message"]


def test_an_event_with_an_integer_beyond_64_bits_matches_no_expression(
    make_parts: MakeParts,
) -> None:
    fn = function_config("x", "app/x")
    fn["triggers"] = [{"event": "app/x", "expression": "event.data.n > 1 && true"}]
    parts = make_parts(fn)

    parts.machine.ingest([{"name": "app/x", "data": {"n": 2**64}}])
    parts.machine.ingest([{"name": "app/x", "data": {"n": 2}}])

    assert parts.store.queue_size() == 1  # only the second event started a run


def test_an_answer_over_8_mib_read_by_httpx_fails_the_call_without_retry() -> None:
    """HTTPS answers come through httpx's own transport, which reads them whole: the same bound
    then applies once they are read."""

    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SDK, content=b'"' + b"x" * (8 * 1024 * 1024) + b'"')

    async def call() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(app)) as http:
            return await Executor(http).call("https://app.example/api/inngest", CALL, START_MS)

    outcome = asyncio.run(call())

    assert outcome == CallFailed(
        {"name": "Error", "message": "the app's answer is over 8 MiB, the most it may be"},
        retriable=False,
        kind=FailureKind.INVALID_ANSWER,
    )
