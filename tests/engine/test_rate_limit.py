"""`rate_limit` drops events past the limit per key and period; they never start a run later."""

from datetime import timedelta
from pathlib import Path

import inngest

from tests.engine.harness import harness

PERIOD_MS = 60_000


def test_rate_limit_drops_excess_events_per_key_until_the_period_passes(tmp_path: Path) -> None:
    started: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[object]]:
        @client.create_function(
            fn_id="limited",
            trigger=inngest.TriggerEvent(event="app/limited"),
            rate_limit=inngest.RateLimit(
                limit=2, period=timedelta(minutes=1), key="event.data.user"
            ),
        )
        async def limited(ctx: inngest.Context) -> int:
            n: int = ctx.event.data["n"]
            started.append(n)
            return n

        return [limited]

    with harness(tmp_path, make) as h:
        a_events = [h.send("app/limited", {"user": "A", "n": n}) for n in range(4)]
        b_event = h.send("app/limited", {"user": "B", "n": 10})

        for event_id in [*a_events[:2], b_event]:
            assert h.finished(event_id)["status"] == "Completed"
        assert [h.runs(event_id) for event_id in a_events[2:]] == [[], []]

        h.advance(PERIOD_MS + 1_000)
        later = h.send("app/limited", {"user": "A", "n": 20})
        assert h.finished(later)["status"] == "Completed"

        dropped = [h.runs(event_id) for event_id in a_events[2:]]

    assert dropped == [[], []]
    assert sorted(started) == [0, 1, 10, 20]
