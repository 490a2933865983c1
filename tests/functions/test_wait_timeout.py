"""The orchestrator waits about as long as its pending files should take, within bounds."""

import datetime

from functions.ingestion import FIRST_WAIT, LONGEST_WAIT, backoff, wait_timeout

LATE = 10  # a wait late in a long job, where the doubling no longer bounds it


def test_the_wait_follows_the_pace_of_the_job() -> None:
    # 100 files done in 50 s: half a second each.
    assert wait_timeout(10, 100, 50.0, waits=LATE) == datetime.timedelta(seconds=5)
    assert wait_timeout(1, 100, 50.0, waits=LATE) == FIRST_WAIT
    assert wait_timeout(100_000, 100, 50.0, waits=LATE) == LONGEST_WAIT
    assert wait_timeout(3, 0, 20.0, waits=LATE) == datetime.timedelta(seconds=3)


def test_early_waits_are_short_whatever_the_pace_says() -> None:
    """A job slowed by a queue (3 files, 1 done after 37 s) loses little if its wake-up came
    before its wait began."""
    assert [wait_timeout(2, 1, 37.0, waits=n).total_seconds() for n in range(7)] == [
        1,
        2,
        4,
        8,
        16,
        30,
        30,
    ]


def test_the_wait_is_whole_seconds_as_the_sdk_requires() -> None:
    assert wait_timeout(7, 3, 2.0, waits=LATE) == datetime.timedelta(seconds=5)


def test_backoff_doubles_up_to_the_longest_wait_however_long_it_goes_on() -> None:
    assert [backoff(n).total_seconds() for n in (0, 1, 4, 5, 10_000)] == [1, 2, 16, 30, 30]
