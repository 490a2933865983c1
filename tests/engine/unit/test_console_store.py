"""The console's runs list, read partition by partition and merged, gives exactly the runs a plain
filter-and-sort over all of them gives, in the same order, page after page; a search checks a
bounded window of runs and its cursor goes on from where the window ended."""

import random
from dataclasses import dataclass
from typing import Any

import pytest

from engine import console_store
from engine.console_search import compile_search
from engine.console_store import Cursor, RunFilter, Status, TimeField
from engine.consts import RunStatus
from tests.engine.unit.factories import APP, MakeParts, Parts, function_config

FUNCTIONS = 25


@dataclass
class Expected:
    run_id: str
    fn: str
    status: Status
    times: dict[TimeField, int | None]
    n: int


def history(make_parts: MakeParts, runs: int, seed: int = 1) -> tuple[Parts, list[Expected]]:
    """`runs` runs of FUNCTIONS functions with random statuses and times."""
    rng = random.Random(seed)
    parts = make_parts(*(function_config(f"f{i}", f"unit/e{i}") for i in range(FUNCTIONS)))
    expected = []
    for n in range(runs):
        parts.clock.advance(rng.choice([0, 1, 7, 1000]))
        fn = rng.randrange(FUNCTIONS)
        event_id = parts.send(f"unit/e{fn}", {"n": n})
        (run,) = parts.machine.history.event_runs([event_id])[event_id]
        queued = parts.clock.now()
        status, began, ended = Status.QUEUED, None, None
        if rng.random() < 0.8:
            began = queued + rng.randrange(0, 3000)
            parts.machine.history.began(run, began)
            status = Status.RUNNING
            if rng.random() < 0.85:
                status = rng.choice([Status.COMPLETED, Status.FAILED, Status.CANCELLED])
                ended = began + rng.randrange(0, 5000)
                parts.store.finish_run(run, RunStatus[status.name], {"n": n}, ended)
        times = {TimeField.QUEUED: queued, TimeField.STARTED: began, TimeField.ENDED: ended}
        expected.append(Expected(run, f"{APP}-f{fn}", status, times, n))
    return parts, expected


def plain(expected: list[Expected], flt: RunFilter) -> list[str]:
    """The runs the filter selects, newest first: what the console must answer."""
    chosen = [
        run
        for run in expected
        if (not flt.statuses or run.status in flt.statuses)
        and (flt.functions is None or run.fn in flt.functions)
        and (time := run.times[flt.time_field]) is not None
        and (flt.since is None or time >= flt.since)
        and (flt.until is None or time < flt.until)
    ]
    chosen.sort(key=lambda run: (run.times[flt.time_field] or 0, run.run_id), reverse=True)
    return [run.run_id for run in chosen]


def every_page(parts: Parts, flt: RunFilter, limit: int) -> tuple[list[str], set[int]]:
    seen: list[str] = []
    totals = set()
    cursor: Cursor | None = None
    while True:
        page = parts.machine.history.list_runs(flt, limit, cursor)
        seen += [run.run_id for run in page.runs]
        totals.add(page.total)
        cursor = page.next_cursor
        if cursor is None:
            return seen, totals


def filters(expected: list[Expected]) -> list[RunFilter]:
    start = expected[len(expected) // 3].times[TimeField.QUEUED]
    end = expected[2 * len(expected) // 3].times[TimeField.QUEUED]
    few = frozenset(f"{APP}-f{i}" for i in (1, 2, 3))
    many = frozenset(f"{APP}-f{i}" for i in range(FUNCTIONS - 1))  # past the partition limit
    found = []
    for time_field in TimeField:
        found += [
            RunFilter(time_field=time_field),
            RunFilter(time_field=time_field, statuses=frozenset({Status.FAILED, Status.QUEUED})),
            RunFilter(time_field=time_field, functions=few),
            RunFilter(time_field=time_field, functions=many, statuses=frozenset({Status.RUNNING})),
            RunFilter(time_field=time_field, since=start, until=end),
            RunFilter(time_field=time_field, functions=few, since=start),
        ]
    return found


def test_pages_of_every_filter_match_a_plain_filter_and_sort(make_parts: MakeParts) -> None:
    parts, expected = history(make_parts, 300)

    for flt in filters(expected):
        wanted = plain(expected, flt)
        seen, totals = every_page(parts, flt, limit=7)
        assert seen == wanted, flt
        assert totals == {len(wanted)}, flt


def test_a_search_checks_a_window_and_goes_on_from_where_it_ended(
    make_parts: MakeParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_store, "SEARCH_WINDOW", 10)
    parts, expected = history(make_parts, 60, seed=2)
    flt = RunFilter(search=compile_search("output.n >= 0 && event.data.n < 60"))
    first = parts.machine.history.list_runs(flt, 40, None)
    seen, _ = every_page(parts, flt, limit=40)

    finished = [run for run in expected if run.times[TimeField.ENDED] is not None]
    newest = plain(expected, RunFilter())[:10]
    assert [run.run_id for run in first.runs] == [r for r in newest if r in _ids(finished)]
    assert first.next_cursor is not None
    assert first.total_exact is False
    assert first.total == len(first.runs)
    assert seen == [r for r in plain(expected, RunFilter()) if r in _ids(finished)]


def _ids(runs: list[Expected]) -> set[str]:
    return {run.run_id for run in runs}


def test_a_run_id_or_an_event_id_picks_runs_the_other_filters_still_apply_to(
    make_parts: MakeParts,
) -> None:
    parts, expected = history(make_parts, 20, seed=3)
    run = next(r for r in expected if r.status is Status.COMPLETED)
    history_store = parts.machine.history
    (event_id,) = history_store.event_ids_of(run.run_id)

    def listed(**options: Any) -> list[str]:
        return [r.run_id for r in history_store.list_runs(RunFilter(**options), 10, None).runs]

    assert listed(run_id=run.run_id) == [run.run_id]
    assert listed(event_id=event_id) == [run.run_id]
    assert listed(run_id=run.run_id, statuses=frozenset({Status.FAILED})) == []
    assert listed(event_id=event_id, search=compile_search(f"event.data.n == {run.n}")) == [
        run.run_id
    ]
