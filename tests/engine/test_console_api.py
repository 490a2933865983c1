"""The console API on one engine with a history of runs: every kind of step, a failure, a retry,
runs still sleeping and waiting. The engine runs on a FakeClock, moved one second between the
first runs, so that time filters have distinct times to tell apart."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.timeutil import format_timestamp, parse_timestamp
from tests.engine import console_app as app
from tests.engine.console_app import API, get, problem, runs
from tests.engine.harness import Harness, eventually, slug
from tests.engine.timing import advance_until


@dataclass
class History:
    h: Harness
    t0: int
    ids: dict[str, str]  # name -> run id
    events: dict[str, str]  # name -> the internal id of the event that started it


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with app.console_harness(tmp_path_factory.mktemp("console"), retry_interval=1) as h:
        ids, events = {}, {}

        def start(name: str, event: str, data: dict[str, Any] | None = None) -> str:
            events[name] = h.send(event, data or {})
            ids[name] = h.only_run(events[name])["run_id"]
            return ids[name]

        t0 = h.clock.now()
        h.wait_run(start("a", app.STEPS, {"n": 1, "label": "a"}))
        h.advance(1000)
        h.wait_run(start("failed", app.FAIL, {"what": "socks"}))
        h.advance(1000)
        start("sleeper", app.SLEEP)
        eventually(
            lambda: (
                [s["type"] for s in get(h, f"/runs/{ids['sleeper']}")["steps"]][-1:] == ["SLEEP"]
            )
        )
        h.advance(1000)
        events["b"] = h.send(app.STEPS, {"n": 2, "label": "b"}, id="dedup-b")
        ids["b"] = h.finished(events["b"])["run_id"]
        for name, event in (
            ("parallel", app.PARALLEL),
            ("invoker", app.INVOKE),
            ("sender", app.SEND),
            ("big", app.BIG),
        ):
            h.wait_run(start(name, event))
        start("flaky", app.FLAKY)
        advance_until(h, 500, lambda: h.run(ids["flaky"])["status"] == "Completed")
        start("waiter", app.WAIT, {"k": 7})
        eventually(lambda: get(h, f"/runs/{ids['waiter']}")["steps"])
        ids["invoked"] = get(h, f"/runs/{ids['invoker']}")["links"]["invoked"][0]["run"]["id"]
        sent = get(h, f"/runs/{ids['sender']}")["links"]["sent_events"][0]
        events["sent"], ids["sent"] = sent["event_id"], sent["runs"][0]["id"]
        h.wait_run(ids["sent"])
        yield History(h, t0, ids, events)


def ids_of(found: list[dict[str, Any]]) -> list[str]:
    return [run["id"] for run in found]


def test_lists_every_run_newest_first_with_the_total(history: History) -> None:
    page = get(history.h, "/runs")
    everything = runs(history.h)

    assert page["total_count"] == len(everything) == len(history.ids)
    assert page["total_count_exact"] is True
    assert page["next_cursor"] is None
    assert set(ids_of(everything)) == set(history.ids.values())
    queued = [(parse_timestamp(r["queued_at"]), r["id"]) for r in everything]
    assert queued == sorted(queued, reverse=True)
    first = next(r for r in everything if r["id"] == history.ids["a"])
    assert first == {
        "id": history.ids["a"],
        "status": "COMPLETED",
        "function_id": slug("steps"),
        "function_name": "steps",
        "app_id": "test",
        "queued_at": format_timestamp(history.t0),
        "started_at": format_timestamp(history.t0),
        "ended_at": format_timestamp(history.t0),
        "duration_ms": 0,
        "event_name": app.STEPS,
        "trigger_ids": [history.events["a"]],
        "is_batch": False,
        "batch_id": None,
        "cron_schedule": None,
        "invoked_by": None,
    }


def test_filters_by_one_or_several_statuses(history: History) -> None:
    h, ids = history.h, history.ids

    failed = runs(h, status="failed")
    active = runs(h, status=["RUNNING", "failed"])
    comma = runs(h, status="running,failed")

    assert ids_of(failed) == [ids["failed"]]
    assert set(ids_of(active)) == {ids["failed"], ids["sleeper"], ids["waiter"]}
    assert ids_of(comma) == ids_of(active)
    assert runs(h, status="queued") == []
    assert get(h, "/runs", status="cancelled")["total_count"] == 0


def test_filters_by_function_and_by_app(history: History) -> None:
    h, ids = history.h, history.ids

    steps = runs(h, function=slug("steps"))
    two = runs(h, function=[slug("steps"), slug("fails")])
    of_app = get(h, "/runs", app="test", function=slug("parallel"))

    assert set(ids_of(steps)) == {ids["a"], ids["b"], ids["invoked"], ids["sent"]}
    assert set(ids_of(two)) == set(ids_of(steps)) | {ids["failed"]}
    assert ids_of(of_app["runs"]) == [ids["parallel"]]
    assert get(h, "/runs", app="test")["total_count"] == len(ids)


def test_filters_by_queued_started_or_ended_time(history: History) -> None:
    h, t0, ids = history.h, history.t0, history.ids
    second = {"from": t0 + 1000, "until": format_timestamp(t0 + 2000)}

    queued = runs(h, **second)
    started = runs(h, time_field="started", **second)
    ended = runs(h, time_field="ended", **second)
    ended_ever = runs(h, time_field="ended")
    late = runs(h, time_field="ended", **{"from": format_timestamp(t0 + 3000)})

    assert ids_of(queued) == ids_of(started) == ids_of(ended) == [ids["failed"]]
    assert ids["sleeper"] not in ids_of(ended_ever)  # still running: it has no end
    assert set(ids_of(ended_ever)) == set(ids.values()) - {ids["sleeper"], ids["waiter"]}
    assert ids["a"] not in ids_of(late) and ids["b"] in ids_of(late)
    ends = [parse_timestamp(r["ended_at"]) for r in ended_ever]
    assert ends == sorted(ends, reverse=True)


def test_finds_a_run_by_its_id_or_by_an_event_id(history: History) -> None:
    h, ids, events = history.h, history.ids, history.events

    assert ids_of(runs(h, run_id=ids["b"])) == [ids["b"]]
    assert ids_of(runs(h, event_id=events["sent"])) == [ids["sent"]]
    assert runs(h, run_id=ids["b"], status="failed") == []
    assert get(h, "/runs", run_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")["total_count"] == 0


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ('event.data.label == "b"', {"b"}),
        ("event.data.n >= 10", {"invoked", "sent"}),
        ('event.data.label in ["a", "sent"] && output.total > 3', {"a", "sent"}),
        ("output.total == 4", {"a"}),
        ('output.name == "ValueError" && output.message.contains("socks")', {"failed"}),
        ('output == "steady"', {"flaky"}),
        ("has(event.data.k) && !(event.data.k == 8)", {"waiter"}),
    ],
)
def test_searches_with_cel_over_the_event_and_the_output(
    history: History, query: str, names: set[str]
) -> None:
    page = get(history.h, "/runs", query=query)

    assert set(ids_of(page["runs"])) == {history.ids[name] for name in names}
    assert page["total_count"] == len(names)
    assert page["total_count_exact"] is True


def test_pages_through_runs_with_a_cursor(history: History) -> None:
    h = history.h
    everything = ids_of(runs(h))
    for time_field in ("queued", "ended"):
        expected = ids_of(runs(h, time_field=time_field))
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, "time_field": time_field}
            page = get(h, "/runs", **params, **({"cursor": cursor} if cursor else {}))
            assert page["total_count"] == len(expected)
            seen += ids_of(page["runs"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected
    assert len(everything) == len(history.ids)


def test_a_searched_page_continues_from_its_cursor(history: History) -> None:
    h = history.h
    query = 'event.data.label != "zzz"'  # the runs whose event has a label: a, b, sent

    first = get(h, "/runs", query=query, limit=1)
    second = get(h, "/runs", query=query, limit=1, cursor=first["next_cursor"])
    everything = get(h, "/runs", query=query)

    assert ids_of(first["runs"]) + ids_of(second["runs"]) == ids_of(everything["runs"])[:2]
    assert second["total_count"] == first["total_count"] == everything["total_count"] == 3


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"status": "sleeping"}, "sleeping"),
        ({"time_field": "created"}, "time_field"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"from": "yesterday"}, "from"),
        ({"until": "99999999999999999999"}, "until"),
        ({"from": "2024-01-02T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, "earlier"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"function": "test-nope"}, "test-nope"),
        ({"app": "nope"}, "nope"),
        ({"query": "event.data.n =="}, "query"),
        ({"query": "event.data.n + 1 > 2"}, "`+`"),
        ({"query": "user.id == 1"}, "user"),
        ({"query": 'event.data.s.matches("^a")'}, "matches"),
    ],
)
def test_bad_filters_are_400_naming_the_problem(
    history: History, params: dict[str, str], named: str
) -> None:
    response = history.h.http.get(f"{API}/runs", params=params)

    assert named in problem(response, 400)


def test_a_cursor_only_works_with_the_time_field_it_came_from(history: History) -> None:
    cursor = get(history.h, "/runs", limit=1)["next_cursor"]
    response = history.h.http.get(f"{API}/runs", params={"cursor": cursor, "time_field": "ended"})

    assert "cursor" in problem(response, 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ"),
        ("GET", "/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ/steps/abc"),
        ("POST", "/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ/cancel"),
        ("POST", "/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ/rerun"),
        ("GET", "/events/01JZZZZZZZZZZZZZZZZZZZZZZZ"),
        ("POST", "/events/01JZZZZZZZZZZZZZZZZZZZZZZZ/replay"),
        ("GET", "/functions/test-nope"),
        ("POST", "/functions/test-nope/invoke"),
        ("POST", "/apps/0123456789abcdef/sync"),
        ("DELETE", "/apps/0123456789abcdef"),
        ("GET", "/nothing-here"),
    ],
)
def test_unknown_ids_and_paths_are_404(history: History, method: str, path: str) -> None:
    response = history.h.http.request(method, API + path)

    assert problem(response, 404)


def test_a_wrong_method_is_405(history: History) -> None:
    assert problem(history.h.http.delete(f"{API}/runs"), 405)


def test_a_step_of_a_run_that_lacks_it_is_404(history: History) -> None:
    response = history.h.http.get(f"{API}/runs/{history.ids['a']}/steps/nope")

    assert "nope" in problem(response, 404)


def detail(history: History, name: str) -> dict[str, Any]:
    found: dict[str, Any] = get(history.h, f"/runs/{history.ids[name]}")
    return found


def test_a_completed_run_shows_its_input_output_and_steps(history: History) -> None:
    run = detail(history, "a")

    assert run["run"]["status"] == "COMPLETED"
    assert run["trigger"] == {
        "event_name": app.STEPS,
        "event_ids": [history.events["a"]],
        "is_batch": False,
        "batch_id": None,
        "cron_schedule": None,
    }
    assert run["input"]["event"]["data"] == {"n": 1, "label": "a"}
    assert run["input"]["events"] == [run["input"]["event"]]
    assert run["output"] == {"total": 4, "label": "a"}
    assert run["error"] is None
    assert [a["error"] for a in run["attempts"]] == [None]  # the call that returned
    assert [(s["name"], s["type"], s["status"], s["output"]) for s in run["steps"]] == [
        ("first", "RUN", "COMPLETED", 2),
        ("second", "RUN", "COMPLETED", 4),
    ]
    at = format_timestamp(history.t0)
    for step in run["steps"]:
        assert (step["queued_at"], step["started_at"], step["ended_at"]) == (at, at, at)
        assert (step["duration_ms"], step["queue_ms"], step["execution_ms"]) == (0, 0, 0)
        assert [a["attempt"] for a in step["attempts"]] == [0]
        assert step["group_id"] is None and step["error"] is None


def test_a_failed_run_shows_its_error_class_and_stack(history: History) -> None:
    run = detail(history, "failed")

    assert run["run"]["status"] == "FAILED"
    assert run["output"] is None
    assert run["error"]["name"] == "ValueError"
    assert run["error"]["message"] == "cannot handle socks"
    assert "Traceback" in run["error"]["stack"]
    assert [(a["attempt"], a["error"]["name"]) for a in run["attempts"]] == [(0, "ValueError")]
    assert run["steps"] == []


def test_a_retried_step_shows_every_attempt_and_its_error(history: History) -> None:
    (step,) = detail(history, "flaky")["steps"]

    assert step["status"] == "COMPLETED"
    assert step["output"] == "steady"
    first, second = step["attempts"]
    assert (first["attempt"], second["attempt"]) == (0, 1)
    assert first["error"]["name"] == "RuntimeError"
    assert first["error"]["message"] == "first attempt fails"
    assert second["error"] is None
    waited = parse_timestamp(second["queued_at"]) - parse_timestamp(first["ended_at"])
    assert waited == 1000  # --retry-interval 1
    assert step["duration_ms"] >= 1000
    assert step["execution_ms"] == first["duration_ms"] + second["duration_ms"]
    assert step["retry_at"] is None


def test_a_sleeping_run_shows_the_sleep_waiting(history: History) -> None:
    run = detail(history, "sleeper")
    before, nap = run["steps"]

    assert run["run"]["status"] == "RUNNING"
    assert run["run"]["ended_at"] is None and run["output"] is None
    assert (before["status"], before["output"]) == ("COMPLETED", "awake")
    assert (nap["name"], nap["type"], nap["status"]) == ("nap", "SLEEP", "WAITING")
    assert nap["ended_at"] is None
    until = parse_timestamp(nap["info"]["sleep_until"]) - parse_timestamp(nap["started_at"])
    assert abs(until - app.NAP.total_seconds() * 1000) < 5_000


def test_parallel_steps_share_a_group(history: History) -> None:
    steps = detail(history, "parallel")["steps"]

    assert [(s["name"], s["output"]) for s in steps] == [("left", 1), ("right", 2)]
    assert steps[0]["group_id"] is not None
    assert steps[0]["group_id"] == steps[1]["group_id"]


def test_an_invoke_links_the_two_runs(history: History) -> None:
    parent, child = detail(history, "invoker"), detail(history, "invoked")
    (step,) = parent["steps"]

    assert (step["type"], step["status"]) == ("INVOKE", "COMPLETED")
    assert step["info"]["function_id"] == slug("steps")
    assert step["info"]["run_id"] == history.ids["invoked"]
    assert step["info"]["timed_out"] is False
    assert step["output"] == {"total": 22, "label": None}
    assert parent["links"]["invoked"] == [
        {
            "step_id": step["id"],
            "run": {
                "id": history.ids["invoked"],
                "function_id": slug("steps"),
                "function_name": "steps",
                "status": "COMPLETED",
            },
        }
    ]
    assert child["links"]["invoked_by"] == {"run_id": history.ids["invoker"], "step_id": step["id"]}
    assert child["run"]["invoked_by"] == child["links"]["invoked_by"]


def test_a_send_event_step_links_the_runs_its_events_started(history: History) -> None:
    run = detail(history, "sender")
    (step,) = run["steps"]

    assert (step["type"], step["status"]) == ("SEND_EVENT", "COMPLETED")
    assert step["info"] == {"event_ids": [history.events["sent"]]}
    (sent,) = run["links"]["sent_events"]
    assert sent["step_id"] == step["id"]
    assert [r["id"] for r in sent["runs"]] == [history.ids["sent"]]


def test_a_wait_for_event_shows_what_it_waits_for(history: History) -> None:
    (step,) = detail(history, "waiter")["steps"]

    assert (step["type"], step["status"]) == ("WAIT_FOR_EVENT", "WAITING")
    assert step["info"]["event"] == app.GO
    assert step["info"]["if"] == "async.data.k == event.data.k"
    hour = parse_timestamp(step["info"]["timeout_at"]) - parse_timestamp(step["queued_at"])
    assert hour == 3_600_000


def test_a_large_output_is_left_out_and_read_from_the_step(history: History) -> None:
    (step,) = detail(history, "big")["steps"]
    full = get(history.h, f"/runs/{history.ids['big']}/steps/{step['id']}")

    assert step["output"] is None and step["output_inline"] is False
    assert step["output_size"] > app.BIG_OUTPUT
    assert full["output"] == "x" * app.BIG_OUTPUT and full["output_inline"] is True
    assert full["status"] == step["status"] == "COMPLETED"


def test_events_newest_first_with_the_runs_they_started(history: History) -> None:
    h = history.h
    page = get(h, "/events", limit=200)
    internal = get(h, "/events", limit=200, internal="true")["events"]
    named = get(h, "/events", name=[app.FAIL, app.WAIT])["events"]
    first = get(h, "/events", limit=2)
    second = get(h, "/events", limit=2, cursor=first["next_cursor"])

    ids = [event["id"] for event in page["events"]]
    assert ids == sorted(ids, reverse=True)
    assert all(not e["name"].startswith("inngest/") for e in page["events"])
    assert {e["name"] for e in internal} >= {"inngest/function.finished", "inngest/function.failed"}
    assert [e["name"] for e in named] == [app.WAIT, app.FAIL]
    assert [e["id"] for e in first["events"] + second["events"]] == ids[:4]
    failed = next(e for e in page["events"] if e["id"] == history.events["failed"])
    assert failed["runs"] == [
        {
            "id": history.ids["failed"],
            "function_id": slug("fails"),
            "function_name": "fails",
            "status": "FAILED",
        }
    ]
    assert failed["received_at"] == format_timestamp(history.t0 + 1000)


def test_an_event_shows_its_payload_and_dedup_id(history: History) -> None:
    event = get(history.h, f"/events/{history.events['b']}")

    assert event["id"] == history.events["b"]
    assert event["dedup_id"] == "dedup-b"
    assert event["payload"]["id"] == "dedup-b"
    assert event["payload"]["data"] == {"n": 2, "label": "b"}
    assert event["payload"]["name"] == app.STEPS
    assert [run["id"] for run in event["runs"]] == [history.ids["b"]]


def test_functions_show_triggers_and_their_whole_configuration(history: History) -> None:
    functions = {fn["id"]: fn for fn in get(history.h, "/functions")["functions"]}
    configured = get(history.h, f"/functions/{slug('configured')}")

    assert functions[slug("configured")] == configured
    assert configured["name"] == "Configured function"
    assert configured["app_id"] == "test"
    assert configured["triggers"] == [
        {"type": "EVENT", "value": "console/never", "if": "event.data.ok == true"}
    ]
    assert configured["config"] == {
        "retries": 7,
        "max_attempts": 8,
        "concurrency": [{"limit": 2, "key": "event.data.user", "scope": "fn"}],
        "throttle": {"limit": 5, "period": "1m", "burst": 1, "key": "event.data.user"},
        "rate_limit": {"limit": 100, "period": "1h", "key": None},
        "debounce": None,
        "batch_events": None,
        "priority": {"run": "event.data.vip ? 60 : 0"},
        "idempotency": "event.data.order",
        "cancel_on": [
            {
                "event": "console/stop",
                "if": "async.data.order == event.data.order",
                "timeout": None,
            }
        ],
    }
    assert configured["failure_handler_id"] == slug("configured-failure")
    assert functions[slug("configured-failure")]["handles_failures_of"] == slug("configured")
    (cron,) = functions[slug("nightly")]["triggers"]
    fires = parse_timestamp(cron["next_fire_at"])
    assert (cron["type"], cron["value"]) == ("CRON", "0 3 * * *")
    assert fires > history.h.clock.now() and fires % 86_400_000 == 3 * 3_600_000


def test_apps_show_their_sdk_functions_and_last_sync(history: History) -> None:
    (listed,) = get(history.h, "/apps")["apps"]

    assert listed["name"] == "test"
    assert listed["url"] == history.h.app.url
    assert (listed["sdk_language"], listed["sdk_version"]) == ("py", "0.5.19")
    assert listed["framework"] == "fast_api"
    assert listed["function_count"] == len(get(history.h, "/functions")["functions"])
    assert slug("steps") in listed["function_ids"]
    assert listed["synced_at"] is not None and listed["error"] is None
