"""Retention: history older than the period goes in small batches; running runs and the events
something still needs stay, and so does flow-control state that still counts."""

import sqlite3
from pathlib import Path

from engine.consts import QueueKind, RunStatus
from engine.outcomes import Completed, Reported
from engine.retention import BATCH, Retention, longest_rate_period
from tests.engine.unit.factories import MakeParts, Parts, function_config

DAY = 86_400_000
KEEP = 7 * DAY


def retention(parts: Parts) -> Retention:
    return Retention(
        parts.store,
        parts.clock,
        KEEP,
        lambda: longest_rate_period(parts.machine.functions.values()),
    )


def prune(parts: Parts) -> list[int]:
    """One whole pass now; the rows each batch deleted."""
    return list(retention(parts).prune(parts.clock.now()))


def run_to_the_end(parts: Parts, name: str, step_data: int = 1) -> tuple[str, str]:
    """Send an event whose run memoizes one step and completes: (event id, run id)."""
    event_id = parts.send(name)
    [call] = parts.scheduler.take(parts.clock.now(), 10)
    step = {"op": "StepRun", "id": "s", "data": step_data}
    parts.machine.apply_call(call, Reported([step], retriable=True))
    parts.scheduler.release(call)
    [again] = parts.scheduler.take(parts.clock.now(), 10)
    parts.machine.apply_call(again, Completed("done"))
    parts.scheduler.release(again)
    assert call.run_id is not None
    return event_id, call.run_id


def asleep(parts: Parts, name: str) -> tuple[str, str]:
    """Send an event whose run memoizes one step, then sleeps for 30 days."""
    event_id = parts.send(name)
    [call] = parts.scheduler.take(parts.clock.now(), 10)
    ops = [{"op": "StepRun", "id": "s", "data": 7}]
    parts.machine.apply_call(call, Reported(ops, retriable=True))
    parts.scheduler.release(call)
    [again] = parts.scheduler.take(parts.clock.now(), 10)
    nap = {"op": "Sleep", "id": "nap", "name": "nap", "opts": {"duration": "30d"}}
    parts.machine.apply_call(again, Reported([nap], retriable=True))
    parts.scheduler.release(again)
    assert call.run_id is not None
    return event_id, call.run_id


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_old_history_goes_and_recent_history_stays(make_parts: MakeParts) -> None:
    parts = make_parts(function_config("done", "app/done"))
    old_event, old_run = run_to_the_end(parts, "app/done")
    parts.clock.advance(KEEP + DAY)
    new_event, new_run = run_to_the_end(parts, "app/done")

    deleted = prune(parts)

    assert sum(deleted) > 0
    assert parts.store.get_run(old_run) is None
    assert parts.store.steps(old_run) == {}
    assert parts.store.get_event(old_event) is None
    new = parts.store.get_run(new_run)
    assert new is not None and new.status is RunStatus.COMPLETED
    assert parts.store.steps(new_run) == {"s": {"data": 1}}
    assert [run.run_id for run in parts.store.runs_for_event(new_event)] == [new_run]
    names = [
        e.name
        for e in parts.store.list_events(
            limit=50, before_id=None, name=None, received_after=None, received_before=None
        )
    ]
    assert names == ["inngest/function.finished", "app/done"]  # only the recent run's events


def test_a_running_run_keeps_its_state_and_its_event(make_parts: MakeParts) -> None:
    parts = make_parts(function_config("sleepy", "app/sleepy"))
    event_id, run_id = asleep(parts, "app/sleepy")
    parts.clock.advance(KEEP + DAY)

    prune(parts)

    run = parts.store.get_run(run_id)
    assert run is not None and run.status is RunStatus.RUNNING
    assert parts.store.steps(run_id) == {"s": {"data": 7}}
    assert parts.store.get_event(event_id) is not None
    assert [r.run_id for r in parts.store.runs_for_event(event_id)] == [run_id]


def test_events_a_debounce_or_a_batch_will_start_a_run_with_stay(make_parts: MakeParts) -> None:
    debounced = function_config("deb", "app/deb", debounce={"period": "10d"})
    batched = function_config("bat", "app/bat", batchEvents={"maxSize": 5, "timeout": "10d"})
    parts = make_parts(debounced, batched)
    debounce_event = parts.send("app/deb", {"n": 1})
    batch_event = parts.send("app/bat", {"n": 2})
    parts.clock.advance(KEEP + DAY)

    prune(parts)
    parts.clock.advance(3 * DAY)
    for item in parts.scheduler.take(parts.clock.now(), 10):
        assert item.kind in (QueueKind.DEBOUNCE, QueueKind.BATCH)
        parts.machine.fire(item)
        parts.scheduler.release(item)

    for event_id, data in ((debounce_event, {"n": 1}), (batch_event, {"n": 2})):
        assert parts.store.get_event(event_id) is not None
        [run] = parts.store.runs_for_event(event_id)
        assert run.event["data"] == data


def test_a_pass_deletes_in_batches_of_at_most_batch_rows(make_parts: MakeParts) -> None:
    parts = make_parts(function_config("many", "app/many"))
    total = BATCH * 2 + 50
    for _ in range(total):
        run_to_the_end(parts, "app/many")
    parts.clock.advance(KEEP + DAY)

    deleted = prune(parts)

    assert len(deleted) > 3
    assert max(deleted) <= BATCH * 4  # prune_state may take BATCH of each of its 4 kinds
    assert max(deleted[:3]) == BATCH  # the runs went 200 at a time
    assert (
        parts.store.list_events(
            limit=1, before_id=None, name=None, received_after=None, received_before=None
        )
        == []
    )


def test_flow_control_state_goes_only_once_it_no_longer_counts(
    make_parts: MakeParts, tmp_path: Path
) -> None:
    limited = function_config("lim", "app/lim", rateLimit={"limit": 1, "period": "10d"})
    deduped = function_config("dup", "app/dup")
    parts = make_parts(limited, deduped)
    db = tmp_path / "engine-0.db"
    parts.machine.ingest([{"name": "app/dup", "id": "old-key"}])
    parts.send("app/lim")  # a hit that counts for 10 days
    parts.clock.advance(KEEP + DAY)
    parts.machine.ingest([{"name": "app/dup", "id": "new-key"}])
    keys_before = count(db, "claimed_keys")

    prune(parts)
    runs_before = count(db, "runs")
    parts.send("app/lim")  # still rate limited: the hit was kept
    parts.machine.ingest([{"name": "app/dup", "id": "new-key"}])  # still a duplicate

    assert keys_before == 2
    assert count(db, "claimed_keys") == 1  # the expired dedup key went, the live one stayed
    assert count(db, "rate_hits") == 1
    assert count(db, "runs") == runs_before
