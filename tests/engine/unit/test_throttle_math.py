"""Throttle is GCRA: `limit` starts per `period` evenly spaced, `burst` of them at once."""

import pytest

from engine.consts import QueueKind
from tests.engine.unit.factories import MakeParts, function_config


def start_offsets(
    make_parts: MakeParts, throttle: dict[str, object], users: list[str]
) -> list[int]:
    """When (ms after the events arrived together) each event's run may make its first call."""
    parts = make_parts(function_config("t", "app/t", throttle=throttle))
    now = parts.clock.now()
    for user in users:
        parts.send("app/t", {"user": user})
    far = now + 3_600_000
    calls = [item for item, _ in parts.store.due_items(far, 100, set())]
    assert all(item.kind is QueueKind.CALL for item in calls)
    return sorted(item.due_at - now for item in calls)


@pytest.mark.parametrize(
    ("burst", "expected"),
    [(1, [0, 5_000, 10_000, 15_000]), (2, [0, 0, 5_000, 10_000])],
)
def test_starts_are_spaced_by_period_over_limit(
    make_parts: MakeParts, burst: int, expected: list[int]
) -> None:
    throttle = {"limit": 2, "period": "10s", "burst": burst}
    assert start_offsets(make_parts, throttle, ["a"] * 4) == expected


def test_each_key_has_its_own_throttle(make_parts: MakeParts) -> None:
    throttle = {"limit": 1, "period": "1m", "key": "event.data.user"}
    assert start_offsets(make_parts, throttle, ["a", "b", "a"]) == [0, 0, 60_000]


def test_a_throttle_recovers_once_time_has_passed(make_parts: MakeParts) -> None:
    parts = make_parts(function_config("t", "app/t", throttle={"limit": 1, "period": "10s"}))
    first_at = parts.clock.now()
    parts.send("app/t")
    parts.clock.advance(30_000)
    parts.send("app/t")

    due = sorted(item.due_at for item, _ in parts.store.due_items(parts.clock.now(), 10, set()))
    assert due == [first_at, first_at + 30_000]
