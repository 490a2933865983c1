"""The orchestrator waits about as long as its pending files should take, within bounds."""

import datetime

from functions.ingestion import FIRST_WAIT, LONGEST_WAIT, wait_timeout


def test_the_wait_follows_the_pace_of_the_job() -> None:
    # 100 files done in 50 s: half a second each.
    assert wait_timeout(pending=10, done=100, elapsed=50.0) == datetime.timedelta(seconds=5)
    assert wait_timeout(pending=1, done=100, elapsed=50.0) == FIRST_WAIT
    assert wait_timeout(pending=100_000, done=100, elapsed=50.0) == LONGEST_WAIT
    assert wait_timeout(pending=3, done=0, elapsed=20.0) == datetime.timedelta(seconds=3)


def test_the_wait_is_whole_seconds_as_the_sdk_requires() -> None:
    assert wait_timeout(pending=7, done=3, elapsed=2.0) == datetime.timedelta(seconds=5)
