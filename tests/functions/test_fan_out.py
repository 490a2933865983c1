"""The orchestrator fans out in few steps, each within what one Event API request takes."""

import json

import inngest

from functions.ingestion import FAN_OUT_BYTES, FAN_OUT_EVENTS, fan_out_batches


def event(path: str) -> inngest.Event:
    return inngest.Event(name="docs/file.process", id=path, data={"path": path})


def test_events_go_in_order_in_batches_of_at_most_the_limit() -> None:
    events = [event(f"docs/page-{n}.md") for n in range(2 * FAN_OUT_EVENTS + 1)]

    batches = fan_out_batches(events)

    assert [len(batch) for batch in batches] == [FAN_OUT_EVENTS, FAN_OUT_EVENTS, 1]
    assert [e for batch in batches for e in batch] == events


def test_long_paths_make_smaller_batches() -> None:
    events = [event(f"docs/{n:04}-" + "x" * 4000 + ".md") for n in range(600)]

    batches = fan_out_batches(events)

    assert len(batches) > 2
    assert all(sum(len(json.dumps(e.data)) for e in batch) <= FAN_OUT_BYTES for batch in batches)
    assert [e for batch in batches for e in batch] == events


def test_nothing_to_fan_out_is_no_batch() -> None:
    assert fan_out_batches([]) == []
