"""Durations and timestamps parse as the Inngest wire writes them; ULIDs sort by creation."""

import pytest

from engine.ids import new_ulid, ulid_ms
from engine.timeutil import format_timestamp, parse_duration, parse_timestamp

JAN_2_2024 = 1_704_164_645_000  # 2024-01-02T03:04:05Z


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90s", 90_000),
        ("1m", 60_000),
        ("1h", 3_600_000),
        ("2h45m", 9_900_000),
        ("300ms", 300),
        ("1d", 86_400_000),
        ("1w", 604_800_000),
        ("1.5s", 1_500),
        (" 5m ", 300_000),
    ],
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "10", "abc", "5 m", "1h30", "10x", "-5s", "s"])
def test_invalid_durations_raise_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as raised:
        parse_duration(text)
    assert repr(text.strip()) in str(raised.value)
    assert "expected" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2024-01-02T03:04:05Z", JAN_2_2024),
        ("2024-01-02T05:04:05+02:00", JAN_2_2024),
        ("2024-01-01T22:04:05-05:00", JAN_2_2024),
        ("2024-01-02T03:04:05.123Z", JAN_2_2024 + 123),
        ("2024-01-02T03:04:05.123456789Z", JAN_2_2024 + 123),  # Go writes nanoseconds
        ("2024-01-02T03:04:05.5Z", JAN_2_2024 + 500),
        ("2024-01-02T03:04:05", JAN_2_2024),  # no zone: UTC
    ],
)
def test_timestamps(text: str, ms: int) -> None:
    assert parse_timestamp(text) == ms


def test_an_invalid_timestamp_raises() -> None:
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


def test_format_timestamp_is_utc_with_milliseconds_and_round_trips() -> None:
    assert format_timestamp(JAN_2_2024 + 7) == "2024-01-02T03:04:05.007Z"
    assert parse_timestamp(format_timestamp(JAN_2_2024 + 999)) == JAN_2_2024 + 999


def test_ulids_sort_by_time_and_increase_within_one_millisecond() -> None:
    # ULIDs never go back in time within a process, so start from whatever it last used.
    ms = ulid_ms(new_ulid(JAN_2_2024))
    same_ms = [new_ulid(ms) for _ in range(100)]
    later = new_ulid(ms + 1)

    assert all(len(ulid) == 26 for ulid in [*same_ms, later])
    assert {ulid_ms(ulid) for ulid in same_ms} == {ms}
    assert ulid_ms(later) == ms + 1
    assert same_ms == sorted(same_ms)
    assert len(set(same_ms)) == 100
    assert later > same_ms[-1]
