"""Sleeps wake and waits time out only when due, and memoize `null` for their step."""

from engine.consts import QueueKind
from engine.outcomes import Reported
from engine.store import QueueItem
from engine.timeutil import format_timestamp
from tests.engine.unit.factories import MakeParts, Parts, function_config

MINUTE = 60_000


def started(make_parts: MakeParts) -> tuple[Parts, str, QueueItem]:
    """A run whose discovery call has been leased."""
    parts = make_parts(function_config("timers", "app/timers"))
    parts.send("app/timers", {"id": "42"})
    [call] = parts.scheduler.take(parts.clock.now(), 10)
    assert call.run_id is not None
    return parts, call.run_id, call


def report(parts: Parts, call: QueueItem, op: dict[str, object]) -> None:
    parts.machine.apply_call(call, Reported([op], retriable=True))
    parts.scheduler.release(call)


def fire_due(parts: Parts) -> list[str]:
    """Fire every due timer; the kinds of the items that were due."""
    kinds = []
    for item in parts.scheduler.take(parts.clock.now(), 10):
        kinds.append(item.kind.value)
        if item.kind is not QueueKind.CALL:
            parts.machine.fire(item)
        parts.scheduler.release(item)
    return kinds


def test_a_sleep_wakes_only_when_due_and_memoizes_null(make_parts: MakeParts) -> None:
    parts, run_id, call = started(make_parts)
    wake_at = format_timestamp(parts.clock.now() + MINUTE)
    report(parts, call, {"op": "Sleep", "id": "nap", "name": wake_at, "opts": None})

    parts.clock.advance(MINUTE - 1)
    assert fire_due(parts) == []
    assert parts.store.steps(run_id) == {}

    parts.clock.advance(1)
    assert fire_due(parts) == ["wake"]
    assert parts.store.steps(run_id) == {"nap": None}
    assert fire_due(parts) == ["call"]  # the run is asked for its next step


def test_a_wait_times_out_with_null(make_parts: MakeParts) -> None:
    parts, run_id, call = started(make_parts)
    opts = {"if": "async.data.id == event.data.id", "timeout": "1m"}
    report(parts, call, {"op": "WaitForEvent", "id": "w", "name": "app/reply", "opts": opts})

    parts.send("app/reply", {"id": "other"})  # does not match the `if`
    parts.clock.advance(MINUTE - 1)
    assert fire_due(parts) == []
    parts.clock.advance(1)

    assert fire_due(parts) == ["wait_timeout"]
    assert parts.store.steps(run_id) == {"w": None}


def test_a_wait_met_in_time_keeps_the_event_after_the_timeout(make_parts: MakeParts) -> None:
    parts, run_id, call = started(make_parts)
    opts = {"if": "async.data.id == event.data.id", "timeout": "1m"}
    report(parts, call, {"op": "WaitForEvent", "id": "w", "name": "app/reply", "opts": opts})

    parts.send("app/reply", {"id": "42"})
    parts.clock.advance(2 * MINUTE)
    assert fire_due(parts) == ["call"]  # no timeout left to fire

    memo = parts.store.steps(run_id)["w"]
    assert memo["name"] == "app/reply"
    assert memo["data"] == {"id": "42"}
