"""The shared live-status lookup against a fake Inngest API: which calls it makes, what it caches,
and what it answers when Inngest is down or slow."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from router.inngest_api import InngestApi, RunInfo
from router.live import LiveKey, LiveStatus
from tests.in_flight import InFlight

pytestmark = pytest.mark.anyio

BASE = "http://inngest.test:8288"
START = 1_800_000_000.0
TTL = 2.0
MAX_AGE = 10.0
TIMEOUT = 0.2


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_json(run_id: str, event_id: str, status: str = "Running", **fields: Any) -> dict[str, Any]:
    body = {
        "run_id": run_id,
        "run_started_at": "2026-11-30T02:03:04.123Z",
        "event_id": event_id,
        "status": status,
        "ended_at": None,
    }
    return body | fields


def envelope(data: Any) -> dict[str, Any]:
    return {"data": data, "metadata": {"fetched_at": "2026-11-30T02:03:05Z"}}


def run_route(
    router: respx.Router, run_id: str, event_id: str = "ev", **fields: Any
) -> respx.Route:
    return router.get(f"{BASE}/v1/runs/{run_id}").respond(
        200, json=envelope(run_json(run_id, event_id, **fields))
    )


def event_route(router: respx.Router, event_id: str, *runs: dict[str, Any]) -> respx.Route:
    return router.get(f"{BASE}/v1/events/{event_id}/runs").respond(200, json=envelope(list(runs)))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def live(router: respx.Router, clock: FakeClock) -> AsyncIterator[LiveStatus]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        status = LiveStatus(
            InngestApi(http, BASE), ttl=TTL, max_age=MAX_AGE, timeout=TIMEOUT, clock=clock
        )
        yield status
        await status.aclose()


async def test_only_the_given_jobs_are_asked_about(router: respx.Router, live: LiveStatus) -> None:
    asked = [run_route(router, "run-1"), event_route(router, "ev-2", run_json("run-2", "ev-2"))]
    not_asked = [run_route(router, "run-3"), event_route(router, "ev-3")]

    answer = await live.lookup(
        [LiveKey(1, "ev-1", "run-1"), LiveKey(2, "ev-2", None), LiveKey(4, None, None)]
    )

    assert [route.call_count for route in asked] == [1, 1]
    assert [route.call_count for route in not_asked] == [0, 0]
    assert len(router.calls) == 2
    assert {job: run and run.run_id for job, run in answer.runs.items()} == {
        1: "run-1",
        2: "run-2",
        4: None,  # no event sent yet: nothing to ask
    }
    assert not answer.stale
    assert answer.checked_at == datetime.fromtimestamp(START, UTC)


async def test_a_known_run_id_is_asked_directly_not_through_its_event(
    router: respx.Router, live: LiveStatus
) -> None:
    by_run = run_route(router, "run-1", "ev-1", status="Completed", ended_at="2026-11-30T02:05:00Z")
    by_event = event_route(router, "ev-1", run_json("run-1", "ev-1"))

    answer = await live.lookup([LiveKey(1, "ev-1", "run-1")])

    assert (by_run.call_count, by_event.call_count) == (1, 0)
    run = answer.runs[1]
    assert run is not None and run.status == "Completed"


async def test_twenty_concurrent_callers_cost_one_call_per_job(
    router: respx.Router, live: LiveStatus
) -> None:
    routes = [run_route(router, f"run-{n}") for n in range(3)]
    routes.append(event_route(router, "ev-9", run_json("run-9", "ev-9")))
    keys = [LiveKey(n, f"ev-{n}", f"run-{n}") for n in range(3)] + [LiveKey(9, "ev-9", None)]

    answers = await asyncio.gather(*(live.lookup(keys) for _ in range(20)))
    later = [await live.lookup(keys) for _ in range(20)]  # within the same cache window

    assert [route.call_count for route in routes] == [1, 1, 1, 1]
    assert all(answer == answers[0] for answer in answers + later)
    assert not answers[0].stale
    assert sorted(answers[0].runs) == [0, 1, 2, 9]


def answers(*statuses: str) -> list[httpx.Response]:
    """What Inngest says of run-1 on each call, in turn."""
    return [httpx.Response(200, json=envelope(run_json("run-1", "ev-1", s))) for s in statuses]


async def test_an_answer_is_kept_for_the_ttl_then_refreshed_behind_the_next_poll(
    router: respx.Router, live: LiveStatus, clock: FakeClock
) -> None:
    route = router.get(f"{BASE}/v1/runs/run-1")
    route.side_effect = answers("Running", "Failed", "Cancelled")
    key = LiveKey(1, "ev-1", "run-1")

    first = await live.lookup([key])
    clock.advance(TTL - 0.1)
    cached = await live.lookup([key])
    assert route.call_count == 1

    # Past the ttl: the known answer at once, and one call in the background for the next poll.
    clock.advance(0.2)
    known = await live.lookup([key])
    await until(lambda: route.call_count == 2)
    refreshed = await live.lookup([key])

    assert [status_of(a.runs[1]) for a in (first, cached, known, refreshed)] == [
        "Running",
        "Running",
        "Running",
        "Failed",
    ]
    assert not any(a.stale for a in (first, cached, known, refreshed))
    assert known.checked_at == datetime.fromtimestamp(START, UTC)
    assert refreshed.checked_at == datetime.fromtimestamp(START + TTL + 0.1, UTC)

    # An answer older than max_age is not given again without asking: the caller waits for it.
    clock.advance(MAX_AGE + 1)
    waited = await live.lookup([key])
    assert route.call_count == 3 and status_of(waited.runs[1]) == "Cancelled"


async def test_inngest_going_down_is_noticed_by_the_poll_after_the_refresh_failed(
    router: respx.Router, live: LiveStatus, clock: FakeClock
) -> None:
    route = router.get(f"{BASE}/v1/runs/run-1")
    route.side_effect = [*answers("Running"), httpx.ConnectError("connection refused")]
    key = LiveKey(1, "ev-1", "run-1")
    before = await live.lookup([key])

    clock.advance(TTL + 1)
    unnoticed = await live.lookup([key])
    await asyncio.sleep(0.05)  # the background refresh fails meanwhile
    noticed = await live.lookup([key])

    assert not unnoticed.stale and unnoticed.runs == before.runs
    assert noticed.stale_jobs == {1} and noticed.runs == before.runs
    assert noticed.checked_at == datetime.fromtimestamp(START, UTC)


async def test_inngest_down_answers_stale_with_the_last_value(
    router: respx.Router, live: LiveStatus, clock: FakeClock
) -> None:
    route = router.get(f"{BASE}/v1/runs/run-1")
    route.side_effect = [*answers("Running"), httpx.ConnectError("refused"), *answers("Running")]
    second = run_route(router, "run-2")
    known, never_seen = LiveKey(1, "ev-1", "run-1"), LiveKey(2, "ev-2", "run-2")
    before = await live.lookup([known])

    # Too old to give without asking, so the caller waits (at most the timeout) and is told.
    clock.advance(MAX_AGE + 1)
    down = await live.lookup([known])
    still_down = await live.lookup([known])  # the failure is kept for the window too
    await asyncio.sleep(0.05)  # room for a background call, were one made

    assert down.stale and down.stale_jobs == {1}
    assert down.runs[1] == before.runs[1] and status_of(down.runs[1]) == "Running"
    assert down.checked_at == datetime.fromtimestamp(START, UTC)
    assert still_down.stale and route.call_count == 2

    # Inngest known down: the next window answers at once and probes Inngest in the background.
    clock.advance(TTL + 1)
    probing = await live.lookup([known, never_seen])
    assert probing.stale_jobs == {1, 2} and route.call_count == 2
    assert probing.runs == {1: before.runs[1], 2: None}
    await until(lambda: route.call_count == 3 and second.call_count == 1)

    back = await live.lookup([known, never_seen])
    assert not back.stale and route.call_count == 3
    assert back.checked_at == datetime.fromtimestamp(START + MAX_AGE + TTL + 2, UTC)


async def test_inngest_down_with_nothing_known_answers_stale_and_none(
    router: respx.Router, live: LiveStatus
) -> None:
    router.get(f"{BASE}/v1/events/ev-1/runs").respond(503, json={"error": "unavailable"})
    run_route(router, "run-2")

    answer = await live.lookup([LiveKey(1, "ev-1", None), LiveKey(2, "ev-2", "run-2")])

    assert answer.stale_jobs == {1}
    assert answer.runs[1] is None
    assert status_of(answer.runs[2]) == "Running" and not answer.is_stale(2)
    assert answer.checked_at == datetime.fromtimestamp(START, UTC)


async def test_slow_inngest_answers_stale_within_the_timeout(
    router: respx.Router, live: LiveStatus, clock: FakeClock
) -> None:
    never = asyncio.Event()
    inngest = {"answers": True, "status": "Running"}
    asked = []  # respx records a call only once it is answered

    async def slow_or_not(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if not inngest["answers"]:
            await never.wait()  # an Inngest that has stopped answering
        return httpx.Response(200, json=envelope(run_json("run-1", "ev-1", inngest["status"])))

    router.get(f"{BASE}/v1/runs/run-1").mock(side_effect=slow_or_not)
    quick = run_route(router, "run-2")
    slow_key, quick_key = LiveKey(1, "ev-1", "run-1"), LiveKey(2, "ev-2", "run-2")
    await live.lookup([slow_key])
    inngest["answers"] = False
    clock.advance(MAX_AGE + 1)  # too old to give without asking

    # Unbounded, these would wait forever; the test's own limit only turns a hang into a failure.
    async with asyncio.timeout(30):
        answers = await asyncio.gather(*(live.lookup([slow_key, quick_key]) for _ in range(5)))

    for answer in answers:
        assert answer.stale_jobs == {1}
        assert status_of(answer.runs[1]) == "Running"  # the last value known
        assert status_of(answer.runs[2]) == "Running"
    assert (len(asked), quick.call_count) == (2, 1)

    # Inngest known slow: a new window is answered before Inngest is even asked; the call goes on
    # in the background.
    clock.advance(TTL + 1)
    at_once = await live.lookup([slow_key])
    assert at_once.stale_jobs == {1} and len(asked) == 2
    await until(lambda: len(asked) == 3)

    # A stuck call gives up by itself, so a later window asks again instead of joining it.
    inngest.update(answers=True, status="Cancelled")
    for _ in range(200):
        clock.advance(TTL + 1)
        recovered = await live.lookup([slow_key])
        if not recovered.stale:
            break
        await asyncio.sleep(0.02)
    assert not recovered.stale and status_of(recovered.runs[1]) == "Cancelled"


async def test_an_event_lookup_takes_the_earliest_run_of_that_event(
    router: respx.Router, live: LiveStatus
) -> None:
    event_route(
        router,
        "ev-1",
        run_json("run-late", "ev-1", run_started_at="2026-11-30T02:03:09Z"),
        run_json("run-other", "ev-x", run_started_at="2026-11-30T02:03:01Z"),
        run_json("run-first", "ev-1", run_started_at="2026-11-30T02:03:05Z"),
    )

    answer = await live.lookup([LiveKey(1, "ev-1", None)])

    run = answer.runs[1]
    assert run is not None and run.run_id == "run-first"


async def test_an_ended_run_seen_through_its_event_is_confirmed_by_its_id(
    router: respx.Router, live: LiveStatus
) -> None:
    # The events listing can say Completed (even with no end time) before the run itself does.
    listing = event_route(router, "ev-1", run_json("run-1", "ev-1", "Completed"))
    authority = run_route(router, "run-1", "ev-1", status="Running")

    answer = await live.lookup([LiveKey(1, "ev-1", None)])

    assert (listing.call_count, authority.call_count) == (1, 1)
    assert status_of(answer.runs[1]) == "Running"


@pytest.mark.parametrize("listing", ["empty", "unknown event"])
async def test_an_event_without_a_run_yet_is_none_and_fresh(
    router: respx.Router, live: LiveStatus, listing: str
) -> None:
    route = router.get(f"{BASE}/v1/events/ev-1/runs")
    if listing == "empty":
        route.respond(200, json=envelope([]))
    else:
        route.respond(404, json={"error": "event ev-1 not found", "status": 404, "data": None})

    answer = await live.lookup([LiveKey(1, "ev-1", None)])

    assert answer.runs == {1: None}
    assert not answer.stale


async def test_calls_for_different_jobs_run_concurrently_up_to_the_limit(
    router: respx.Router, clock: FakeClock
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        run_id = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json=envelope(run_json(run_id, "ev")))

    counted = InFlight(answer)
    router.get(url__regex=rf"{BASE}/v1/runs/.+").mock(side_effect=counted)
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        live = LiveStatus(InngestApi(http, BASE), timeout=10, clock=clock, max_concurrent_calls=3)
        answer = await live.lookup([LiveKey(n, None, f"run-{n}") for n in range(8)])

    assert counted.most == 3
    assert not answer.stale and len(router.calls) == 8


async def until(check: Callable[[], bool]) -> None:
    """Let background calls run until `check` holds; fail after about five seconds."""
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


def status_of(run: RunInfo | None) -> str | None:
    return None if run is None else run.status
