"""The REST API's shapes: the Event API and REST v1 answer with the JSON the Inngest server uses.

Protocol reference §4.2 (POST /e/{key}) and §7 (events, runs, cancellations, error envelope).
"""

import datetime
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import inngest
import pytest

from engine.timeutil import format_timestamp, parse_timestamp
from tests.engine.harness import Harness, eventually, function_uuid, harness, slug

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
EVENT_KEYS = {
    "internal_id",
    "account_id",
    "environment_id",
    "source",
    "source_id",
    "received_at",
    "id",
    "name",
    "data",
    "user",
    "ts",
    "v",
}
RUN_KEYS = {
    "run_id",
    "run_started_at",
    "function_id",
    "function_version",
    "environment_id",
    "event_id",
    "status",
    "ended_at",
}
SLEEP = datetime.timedelta(minutes=1)
PAST_SLEEP_MS = 61_000 + 5_000
executed: Counter[str] = Counter()


def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="sleeper", trigger=inngest.TriggerEvent(event="app/sleep"))
    async def sleeper(ctx: inngest.Context) -> dict[str, Any]:
        async def before() -> int:
            executed[ctx.run_id] += 1
            n = ctx.event.data["n"]
            assert isinstance(n, int)
            return n

        n = await ctx.step.run("before", before)
        await ctx.step.sleep("nap", SLEEP)
        return {"woke": n}

    @client.create_function(
        fn_id="fails", retries=0, trigger=inngest.TriggerEvent(event="app/fail")
    )
    async def fails(ctx: inngest.Context) -> None:
        raise inngest.NonRetriableError("nope, not this one")

    return [sleeper, fails]


def post_events(h: Harness, body: Any) -> Any:
    content = body if isinstance(body, str) else json.dumps(body)
    return h.http.post("/e/test-key", content=content, headers={"content-type": "application/json"})


def error_envelope(response: Any, status: int) -> str:
    """The error message of an Inngest error envelope, after checking its shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "status", "data"}, body
    assert body["status"] == status
    assert body["data"] is None
    assert isinstance(body["error"], str) and body["error"]
    error: str = body["error"]
    return error


def test_send_one_event_or_an_array_returns_ulids_in_input_order(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        one = post_events(h, {"name": "app/one", "data": {"k": 1}})
        many = post_events(
            h,
            [{"name": "app/many", "data": {"i": i}, "ts": 1_700_000_000_000 + i} for i in range(3)],
        )
        received = h.clock.now()
        stored = [h.http.get(f"/v1/events/{i}").json()["data"] for i in many.json()["ids"]]
        single = h.http.get(f"/v1/events/{one.json()['ids'][0]}").json()["data"]

    assert one.status_code == 200
    assert set(one.json()) == {"ids", "status"}
    assert one.json()["status"] == 200
    assert len(one.json()["ids"]) == 1
    assert many.status_code == 200 and many.json()["status"] == 200
    ids = many.json()["ids"]
    assert all(ULID.match(i) for i in [*ids, *one.json()["ids"]])
    assert len(set(ids)) == 3
    assert [event["data"]["i"] for event in stored] == [0, 1, 2]
    assert [event["ts"] for event in stored] == [1_700_000_000_000 + i for i in range(3)]
    assert single["ts"] == received  # no `ts` sent: the receive time
    assert parse_timestamp(single["received_at"]) == received


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("{not json", "JSON"),
        ({"data": {"k": 1}}, "'name'"),
        ({"name": "app/x", "data": [1, 2]}, "'data'"),
        ({"name": "app/x", "ts": 1_700_000_000_000.5}, "'ts'"),
        ({"name": "inngest/function.failed", "data": {}}, "inngest/"),
        ([{"name": "app/ok"}, {"name": ""}], "'name'"),
    ],
    ids=["not-json", "no-name", "data-list", "ts-float", "reserved-name", "second-bad"],
)
def test_bad_event_bodies_are_rejected_with_the_problem_named(
    tmp_path: Path, body: Any, named: str
) -> None:
    with harness(tmp_path, make) as h:
        response = post_events(h, body)
        listed = h.http.get("/v1/events").json()["data"]

    assert response.status_code == 400, response.text
    reply = response.json()
    assert reply["ids"] == []
    assert reply["status"] == 400
    assert named in reply["error"], reply["error"]
    assert listed == []  # nothing from a rejected body is recorded


def test_list_events_newest_first_with_limit_cursor_and_name(tmp_path: Path) -> None:
    names = ["app/a", "app/b", "app/a", "app/b", "app/a"]
    with harness(tmp_path, make) as h:
        ids = post_events(h, [{"name": n, "data": {"i": i}} for i, n in enumerate(names)]).json()[
            "ids"
        ]
        everything = h.http.get("/v1/events").json()
        page1 = h.http.get("/v1/events", params={"limit": 2}).json()["data"]
        page2 = h.http.get(
            "/v1/events", params={"limit": 2, "cursor": page1[-1]["internal_id"]}
        ).json()["data"]
        only_b = h.http.get("/v1/events", params={"name": "app/b"}).json()["data"]
        post_events(h, [{"name": "app/bulk"}] * 55)
        default_page = h.http.get("/v1/events").json()["data"]
        clamped = h.http.get("/v1/events", params={"limit": 500}).json()["data"]
        now = h.clock.now()

    newest_first = list(reversed(ids))
    assert set(everything) == {"data", "metadata"}
    assert parse_timestamp(everything["metadata"]["fetched_at"]) == now
    assert [e["internal_id"] for e in everything["data"]] == newest_first
    assert [e["internal_id"] for e in page1] == newest_first[:2]
    assert [e["internal_id"] for e in page2] == newest_first[2:4]
    assert [e["internal_id"] for e in only_b] == [ids[3], ids[1]]
    assert len(default_page) == 20
    assert len(clamped) == 51


def test_event_lists_every_field(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        event_id = h.send(
            "app/full",
            {"k": 1, "_inngest": {"forged": True}},
            id="user-key-1",
            user={"email": "a@example.com"},
            v="2024-01-01.1",
            ts=1_700_000_000_123,
        )
        response = h.http.get(f"/v1/events/{event_id}")
        received = h.clock.now()

    assert response.status_code == 200
    assert set(response.json()) == {"data", "metadata"}
    event = response.json()["data"]
    assert set(event) == EVENT_KEYS
    assert event["internal_id"] == event_id
    assert event["id"] == "user-key-1"
    assert event["name"] == "app/full"
    assert event["data"] == {"k": 1}  # `_inngest` is the server's to set
    assert event["user"] == {"email": "a@example.com"}
    assert event["v"] == "2024-01-01.1"
    assert event["ts"] == 1_700_000_000_123
    assert event["received_at"] == format_timestamp(received)


def test_run_has_no_output_while_running_and_has_it_once_completed(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        event_id = h.send("app/sleep", {"n": 7})
        listed = h.only_run(event_id)
        eventually(lambda: executed[listed["run_id"]] == 1)  # now asleep
        running = h.run(listed["run_id"])
        h.advance(PAST_SLEEP_MS)
        done = h.wait_run(listed["run_id"])
        listed_done = h.runs(event_id)
        run_page = h.http.get("/run", params={"runID": listed["run_id"]})

    for run in (listed, running):
        assert set(run) == RUN_KEYS, run
        assert run["status"] == "Running"
        assert run["ended_at"] is None
    assert set(done) == RUN_KEYS | {"output"}
    assert listed_done == [done]
    assert done["run_id"] == listed["run_id"]
    assert ULID.match(done["run_id"])
    assert done["event_id"] == event_id
    assert done["function_id"] == function_uuid(slug("sleeper"))
    assert done["status"] == "Completed"
    assert done["output"] == {"woke": 7}
    assert parse_timestamp(done["ended_at"]) >= parse_timestamp(done["run_started_at"])
    assert run_page.status_code == 200  # the console's run page, as `inngest dev` serves it
    assert run_page.headers["content-type"].startswith("text/html")


def test_failed_and_cancelled_runs_and_deleting_a_finished_run(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        failed = h.finished(h.send("app/fail"))
        sleeping = h.only_run(h.send("app/sleep", {"n": 1}))
        deleted = h.http.delete(f"/v1/runs/{sleeping['run_id']}")
        cancelled = h.wait_run(sleeping["run_id"])
        again = h.http.delete(f"/v1/runs/{sleeping['run_id']}")
        delete_failed = h.http.delete(f"/v1/runs/{failed['run_id']}")

    assert failed["status"] == "Failed"
    assert "nope, not this one" in json.dumps(failed["output"])
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert cancelled["status"] == "Cancelled"
    assert cancelled["ended_at"] is not None
    assert again.status_code >= 400
    assert sleeping["run_id"] in error_envelope(again, again.status_code)
    assert delete_failed.status_code >= 400
    assert failed["run_id"] in error_envelope(delete_failed, delete_failed.status_code)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/events/{id}"),
        ("GET", "/v1/events/{id}/runs"),
        ("GET", "/v1/runs/{id}"),
        ("DELETE", "/v1/runs/{id}"),
    ],
)
def test_unknown_ids_answer_404_in_the_error_envelope(
    tmp_path: Path, method: str, path: str
) -> None:
    unknown = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
    with harness(tmp_path, make) as h:
        response = h.http.request(method, path.format(id=unknown))

    assert unknown in error_envelope(response, 404)


@pytest.mark.parametrize("missing", ["app_id", "function_id", "started_before"])
def test_bulk_cancel_without_a_required_field_is_rejected(tmp_path: Path, missing: str) -> None:
    with harness(tmp_path, make) as h:
        body = {
            "app_id": "test",
            "function_id": slug("sleeper"),
            "started_before": format_timestamp(h.clock.now()),
        }
        del body[missing]
        response = h.http.post("/v1/cancellations", json=body)

    assert missing in error_envelope(response, 400)


def test_bulk_cancel_rejects_a_future_bound_and_cancels_earlier_runs(tmp_path: Path) -> None:
    with harness(tmp_path, make) as h:
        run = h.only_run(h.send("app/sleep", {"n": 1}))
        h.advance(1)
        body = {"app_id": "test", "function_id": slug("sleeper")}
        future = h.http.post(
            "/v1/cancellations",
            json={**body, "started_before": format_timestamp(h.clock.now() + 60_000)},
        )
        accepted = h.http.post(
            "/v1/cancellations",
            json={**body, "started_before": format_timestamp(h.clock.now())},
        )
        cancelled = h.wait_run(run["run_id"])

    assert "started_before" in error_envelope(future, 400)
    assert accepted.status_code == 200, accepted.text
    cancellation = accepted.json()["data"]
    assert cancellation["function_id"] == slug("sleeper")
    assert cancellation["function_internal_id"] == function_uuid(slug("sleeper"))
    assert {"id", "created_at", "app_id", "started_before", "if", "kind", "cause"} <= set(
        cancellation
    )
    assert cancelled["status"] == "Cancelled"
