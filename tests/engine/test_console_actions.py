"""What the console does, not only reads: cancel, rerun, bulk cancel, send and replay events,
invoke functions, add, sync and remove apps. Each test has an engine of its own."""

import json
from pathlib import Path
from typing import Any

import pytest

from engine.timeutil import parse_timestamp
from tests.engine import console_app as app
from tests.engine.console_app import API, ended, get, problem, runs
from tests.engine.harness import Harness, eventually, free_port, slug


def post(h: Harness, path: str, body: Any = None, status: int = 200) -> Any:
    response = h.http.post(API + path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def sleeping(h: Harness, data: dict[str, Any] | None = None) -> str:
    """Start a sleeper run and return its id once it sleeps."""
    run_id: str = h.only_run(h.send(app.SLEEP, data or {}))["run_id"]
    eventually(lambda: waiting(h, run_id))
    return run_id


def waiting(h: Harness, run_id: str) -> bool:
    """Whether the run's last step is a sleep or a wait under way."""
    return [s["status"] for s in get(h, f"/runs/{run_id}")["steps"]][-1:] == ["WAITING"]


def test_cancel_ends_a_sleeping_run_and_rerun_starts_it_again(tmp_path: Path) -> None:
    with app.console_harness(tmp_path) as h:
        run_id = sleeping(h)
        cancelled = post(h, f"/runs/{run_id}/cancel")
        again = h.http.post(f"{API}/runs/{run_id}/cancel")
        rerun = post(h, f"/runs/{run_id}/rerun", status=201)
        new_id = rerun["run_id"]
        eventually(lambda: waiting(h, new_id))
        old, new = get(h, f"/runs/{run_id}"), get(h, f"/runs/{new_id}")
        done = ended(h, h.only_run(h.send(app.STEPS, {"n": 4}))["run_id"])
        repeated = ended(h, post(h, f"/runs/{done['run']['id']}/rerun", status=201)["run_id"])

    assert cancelled["run"]["id"] == run_id
    assert cancelled["run"]["status"] == "CANCELLED"
    assert run_id in problem(again, 409)
    assert old["run"]["status"] == "CANCELLED"
    assert old["steps"][-1]["status"] == "CANCELLED"  # the sleep it never finished
    assert new_id != run_id
    assert new["run"]["status"] == "RUNNING"
    assert new["trigger"]["event_ids"] == old["trigger"]["event_ids"]
    assert repeated["run"]["status"] == "COMPLETED"
    assert repeated["output"] == done["output"] == {"total": 10, "label": None}


def test_bulk_cancel_cancels_exactly_the_runs_the_expression_matches(tmp_path: Path) -> None:
    with app.console_harness(tmp_path) as h:
        ids = {user: sleeping(h, {"user": user}) for user in (1, 2, 3)}
        body = {"function_id": slug("sleeper"), "if": "event.data.user != 2"}
        dry = post(h, "/cancellations", {**body, "dry_run": True})
        untouched = {r["id"]: r["status"] for r in runs(h, function=slug("sleeper"))}
        done = post(h, "/cancellations", body)
        statuses = {r["id"]: r["status"] for r in runs(h, function=slug("sleeper"))}
        none_left = post(h, "/cancellations", {**body, "until": h.clock.now() - 60_000})

    assert (dry["count"], dry["dry_run"], dry["id"]) == (2, True, None)
    assert set(untouched.values()) == {"RUNNING"}
    assert (done["count"], done["dry_run"]) == (2, False)
    assert done["id"] and done["if"] == "event.data.user != 2"
    assert statuses == {ids[1]: "CANCELLED", ids[2]: "RUNNING", ids[3]: "CANCELLED"}
    assert none_left["count"] == 0


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({}, 400, "function_id"),
        ({"function_id": 7}, 400, "function_id"),
        ({"function_id": "test-nope"}, 404, "test-nope"),
        ({"function_id": "test-sleeper", "if": "event.data.x =="}, 400, "if"),
        ({"function_id": "test-sleeper", "if": 3}, 400, "if"),
        ({"function_id": "test-sleeper", "from": "soon"}, 400, "from"),
        ({"function_id": "test-sleeper", "from": 2000, "until": 1000}, 400, "earlier"),
        ({"function_id": "test-sleeper", "dry_run": "yes"}, 400, "dry_run"),
        ([1, 2], 400, "object"),
    ],
)
def test_bulk_cancel_refuses_bad_bodies(tmp_path: Path, body: Any, status: int, named: str) -> None:
    with app.console_harness(tmp_path) as h:
        response = h.http.post(f"{API}/cancellations", json=body)

    assert named in problem(response, status)


def test_send_replay_and_invoke_start_runs(tmp_path: Path) -> None:
    with app.console_harness(tmp_path) as h:
        sent = post(h, "/events", {"name": app.STEPS, "data": {"n": 5}}, status=201)
        two = post(h, "/events", [{"name": app.STEPS, "data": {"n": i}} for i in (6, 7)], 201)
        replayed = post(h, f"/events/{sent['ids'][0]}/replay", status=201)
        invoked = post(h, f"/functions/{slug('steps')}/invoke", {"data": {"n": 3}}, 201)
        outputs = {
            event_id: ended(h, h.only_run(event_id)["run_id"])["output"]["total"]
            for event_id in [*sent["ids"], *two["ids"], *replayed["ids"]]
        }
        invoked_run = ended(h, invoked["run_id"])
        original = get(h, f"/events/{sent['ids'][0]}")
        replay = get(h, f"/events/{replayed['ids'][0]}")

    assert list(outputs.values()) == [12, 14, 16, 12]
    assert replayed["ids"] != sent["ids"]
    assert replay["payload"]["data"] == original["payload"]["data"] == {"n": 5}
    assert invoked_run["output"] == {"total": 8, "label": None}
    assert invoked_run["run"]["event_name"] == "inngest/function.invoked"
    assert invoked_run["trigger"]["event_ids"] == [invoked["event_id"]]


@pytest.mark.parametrize(
    ("content", "status", "named"),
    [
        ("{not json", 400, "JSON"),
        ("[" * 500 + "]" * 500, 400, "nested"),
        ("[]", 400, "empty"),
        (json.dumps({"data": {}}), 400, "'name'"),
        (json.dumps({"name": "inngest/function.failed"}), 400, "inngest/"),
        (json.dumps({"name": app.STEPS, "data": [1]}), 400, "'data'"),
        (json.dumps({"name": app.STEPS, "data": {"n": 10**30}}), 400, "64-bit"),
        (json.dumps({"name": app.STEPS, "data": {"pad": "x" * 2000}}), 413, "1024"),
    ],
    ids=["not-json", "deep", "empty", "no-name", "reserved", "data-list", "huge-int", "oversize"],
)
def test_sending_a_bad_event_is_refused_and_stores_nothing(
    tmp_path: Path, content: str, status: int, named: str
) -> None:
    with app.console_harness(tmp_path, max_event_size=1024) as h:
        response = h.http.post(
            f"{API}/events", content=content, headers={"content-type": "application/json"}
        )
        stored = get(h, "/events", internal="true")["events"]

    assert named in problem(response, status)
    assert stored == []


def test_invoke_refuses_data_that_is_not_an_object(tmp_path: Path) -> None:
    with app.console_harness(tmp_path) as h:
        response = h.http.post(f"{API}/functions/{slug('steps')}/invoke", json={"data": [1]})
        listed = runs(h)

    assert "'data'" in problem(response, 400)
    assert listed == []


def test_pages_stay_stable_while_new_runs_arrive(tmp_path: Path) -> None:
    with app.console_harness(tmp_path) as h:
        older = [h.finished(h.send(app.STEPS, {"n": n}))["run_id"] for n in range(3)]
        first = get(h, "/runs", limit=2)
        newer = [h.finished(h.send(app.STEPS, {"n": n}))["run_id"] for n in range(3, 5)]
        second = get(h, "/runs", limit=2, cursor=first["next_cursor"])
        fresh = get(h, "/runs", limit=2)

    assert [r["id"] for r in first["runs"]] == older[:0:-1]
    assert [r["id"] for r in second["runs"]] == older[:1]
    assert second["next_cursor"] is None
    assert (first["total_count"], second["total_count"]) == (3, 5)
    assert [r["id"] for r in fresh["runs"]] == newer[::-1]


def test_apps_can_be_added_synced_and_removed(tmp_path: Path) -> None:
    with app.console_harness(tmp_path) as h:
        unreachable = f"http://127.0.0.1:{free_port()}/api/inngest"
        bad_url = h.http.post(f"{API}/apps", json={"url": "ftp://example.com/x"})
        added = post(h, "/apps", {"url": unreachable}, status=201)
        listed = get(h, "/apps")["apps"]
        real = next(a for a in listed if a["name"] == "test")
        synced = post(h, f"/apps/{real['id']}/sync")
        removed = h.http.delete(f"{API}/apps/{real['id']}")
        functions_after = get(h, "/functions")["functions"]
        event_after = get(h, f"/events/{h.send(app.STEPS, {'n': 1})}")
        started_after = runs(h)
        back = post(h, "/apps", {"url": h.app.url}, status=201)
        everything = post(h, "/apps/sync")["apps"]
        h.http.delete(f"{API}/apps/{added['id']}")
        remaining = get(h, "/apps")["apps"]

    assert "url" in problem(bad_url, 400)
    assert added["url"] == unreachable
    assert added["name"] is None and added["function_count"] == 0
    assert added["error"] and added["kept"] is True
    assert {a["id"] for a in listed} == {added["id"], real["id"]}
    assert synced["error"] is None and synced["function_count"] > 0
    assert removed.status_code == 200 and removed.json() == {"id": real["id"]}
    assert functions_after == [] and started_after == []
    assert event_after["runs"] == []
    assert back["name"] == "test" and back["kept"] is True
    assert back["function_count"] == synced["function_count"]
    assert {a["id"]: a["error"] is None for a in everything} == {
        added["id"]: False,
        back["id"]: True,
    }
    assert [a["id"] for a in remaining] == [back["id"]]


def test_a_configured_app_that_cannot_be_synced_shows_why(tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/api/inngest"
    with app.console_harness(tmp_path, sdk_urls=[unreachable]) as h:
        apps = eventually(
            lambda: [a for a in get(h, "/apps")["apps"] if a["url"] == unreachable and a["error"]]
        )

    (configured,) = apps
    assert configured["kept"] is True and configured["synced_at"] is None
    assert "ConnectError" in configured["error"]


def test_a_step_waiting_for_its_retry_shows_when_it_comes(tmp_path: Path) -> None:
    with app.console_harness(tmp_path, retry_interval=1) as h:
        run_id = h.only_run(h.send(app.FLAKY))["run_id"]
        steps = eventually(lambda: (s := get(h, f"/runs/{run_id}")["steps"]) and s)
        h.advance(1000)
        done = ended(h, run_id)

    (waiting,) = steps
    failed_at = parse_timestamp(waiting["attempts"][0]["ended_at"])
    assert (waiting["status"], waiting["output"]) == ("QUEUED", None)
    assert waiting["attempts"][0]["error"]["message"] == "first attempt fails"
    assert parse_timestamp(waiting["retry_at"]) == failed_at + 1000
    (step,) = done["steps"]
    assert (step["status"], step["retry_at"], len(step["attempts"])) == ("COMPLETED", None, 2)
