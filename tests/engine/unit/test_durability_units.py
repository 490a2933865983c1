"""A failed transaction leaves nothing behind; a reopened SQLite file keeps runs, steps, queue."""

from pathlib import Path

import pytest

from engine.clock import FakeClock
from engine.consts import QueueKind, RunStatus
from engine.outcomes import Reported
from engine.runs import RunMachine
from engine.store import Store, StoredEvent
from tests.engine.unit.factories import START_MS, MakeParts, function_config


def event(internal_id: str) -> StoredEvent:
    return StoredEvent(internal_id, "", "app/x", {}, {}, START_MS, None, START_MS)


def test_a_transaction_that_raises_is_rolled_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "engine.db")
    try:
        with pytest.raises(RuntimeError), store.transaction():
            store.insert_event(event("kept-out"))
            with store.transaction():  # a nested one joins the outer transaction
                store.enqueue(QueueKind.WAKE, START_MS)
            raise RuntimeError("boom")
        with store.transaction():
            store.insert_event(event("kept"))

        assert store.get_event("kept-out") is None
        assert store.get_event("kept") is not None
        assert store.queue_size() == 0
    finally:
        store.close()


def test_a_failing_state_transition_changes_nothing(
    make_parts: MakeParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = make_parts(function_config("d", "app/d"))
    parts.send("app/d")
    [call] = parts.scheduler.take(parts.clock.now(), 10)
    done_step = {"op": "StepRun", "id": "a", "data": 1}
    planned = {"op": "StepPlanned", "id": "b", "name": "b"}

    def disk_full(*args: object) -> bool:
        raise OSError("disk full")

    monkeypatch.setattr(parts.store, "add_pending", disk_full)
    with pytest.raises(OSError, match="disk full"):
        parts.machine.apply_call(call, Reported([done_step, planned], retriable=True))

    assert parts.store.steps(call.run_id or "") == {}  # the step before the failure is undone
    assert parts.store.queue_size() == 1  # and the call is still queued


def test_an_unreadable_step_fails_the_run_with_a_message(make_parts: MakeParts) -> None:
    parts = make_parts(function_config("d", "app/d"))
    parts.send("app/d")
    [call] = parts.scheduler.take(parts.clock.now(), 10)
    bad_sleep = {"op": "Sleep", "id": "nap", "name": "now", "opts": {"duration": "soon"}}

    parts.machine.apply_call(call, Reported([bad_sleep], retriable=True))

    run = parts.store.get_run(call.run_id or "")
    assert run is not None
    assert run.status is RunStatus.FAILED
    assert "invalid duration 'soon'" in run.output["message"]
    assert parts.store.queue_size() == 0


def test_reopening_the_file_keeps_runs_steps_and_queue(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    clock = FakeClock(START_MS)
    store = Store(db)
    machine = RunMachine(store, clock)
    machine.register(
        "unit", "http://127.0.0.1:9/api/inngest", "py", "fast_api", [function_config("d", "app/d")]
    )
    [event_id] = machine.ingest([{"name": "app/d", "data": {"k": 1}}])
    [run] = store.runs_for_event(event_id)
    [call] = store.due_items(clock.now(), 10, set())
    machine.apply_call(call[0], Reported([{"op": "StepRun", "id": "a", "data": 1}], True))
    store.close()

    reopened = Store(db)
    try:
        again = RunMachine(reopened, clock)
        [same] = reopened.runs_for_event(event_id)
        due = reopened.due_items(clock.now(), 10, set())

        assert same == run
        assert same.status is RunStatus.RUNNING
        assert reopened.steps(run.run_id) == {"a": {"data": 1}}
        assert [(item.kind, item.run_id) for item, _ in due] == [(QueueKind.CALL, run.run_id)]
        assert list(again.functions) == ["unit-d"]
        assert again.call_request(due[0][0]) is not None
    finally:
        reopened.close()


def test_a_call_back_after_its_run_ended_leaves_the_call_queued_since_in_place(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "engine.db")
    try:
        with store.transaction():
            store.enqueue(QueueKind.CALL, START_MS, run_id="cancelled")
        [(in_flight, _keys)] = store.due_items(START_MS, 10, [])
        with store.transaction():  # cancelled while its call is in flight
            store.finish_run("cancelled", RunStatus.CANCELLED, None, START_MS)
            store.enqueue(QueueKind.CALL, START_MS, run_id="next")
        [(queued, _keys)] = store.due_items(START_MS, 10, [])
        assert queued.id == in_flight.id  # SQLite reuses the id of a deleted last row

        with store.transaction():  # the cancelled run's call comes back
            assert store.dequeue(in_flight) is False

        assert store.due_items(START_MS, 10, []) == [(queued, "[]")]
        with store.transaction():
            assert store.dequeue(queued) is True
        assert store.queue_size() == 0
    finally:
        store.close()


def test_a_stored_function_this_engine_refuses_is_left_out_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "engine.db"
    store = Store(db)
    machine = RunMachine(store, FakeClock(START_MS))
    good, bad = function_config("good", "app/good"), function_config("bad", "app/bad")
    machine.register("unit", "http://127.0.0.1:9/api/inngest", "py", "fast_api", [good, bad])
    # As an older engine stored it: a cancel expression with a macro, refused at sync today.
    store.replace_functions(
        "unit",
        {
            good["id"]: good,
            bad["id"]: {**bad, "cancel": [{"event": "app/x", "if": "[1].exists(x, x == 1)"}]},
        },
    )
    store.close()

    reopened = Store(db)
    try:
        again = RunMachine(reopened, FakeClock(START_MS))
        [event_id] = again.ingest([{"name": "app/good", "data": {}}])

        assert list(again.functions) == ["unit-good"]
        assert len(reopened.runs_for_event(event_id)) == 1
        assert "unit-bad is left out until its app syncs again" in caplog.text
        assert "exists" in caplog.text
    finally:
        reopened.close()
