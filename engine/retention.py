"""History retention: what is older than the retention period leaves the engine file.

A pass deletes finished runs (with their step outputs) that ended before the cutoff, then the
events received before it that nothing stored refers to, then flow-control rows that no longer
decide anything. A running run is never deleted, and neither is an event a stored run refers to
(so never a running run's), nor one a pending debounce or batch will start a run with: those read
their events back from the events table when they fire. Waits and cancel rules belong to running
runs and go when their run ends.

Each batch is one short transaction on the engine's event loop and the loop pauses between
batches, so runs are never held up for long. SQLite reuses the pages deletes free, so under steady
use the file stays the size of one retention period of history (bench/engine.py --retention).
"""

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator

from engine.clock import Clock
from engine.functions import FunctionConfig
from engine.store import Store
from engine.timeutil import format_timestamp, parse_duration

log = logging.getLogger("engine")
DEFAULT_RETENTION_MS = 7 * 86_400_000
BATCH = 200
PAUSE_S = 0.01
MIN_INTERVAL_MS = 1_000
MAX_INTERVAL_MS = 60_000


def longest_rate_period(functions: Iterable[FunctionConfig]) -> int:
    """How far back rate-limit hits still count for some function (ms)."""
    periods = [parse_duration(fn.rate_limit.period) for fn in functions if fn.rate_limit]
    return max(periods, default=0)


class Retention:
    def __init__(
        self, store: Store, clock: Clock, keep_ms: int, rate_window: Callable[[], int]
    ) -> None:
        self.store = store
        self.clock = clock
        self.keep_ms = keep_ms
        self.rate_window = rate_window
        # A pass every quarter of the period (at most a minute): history stays at most 1.25 times
        # the period old.
        self.interval_ms = max(MIN_INTERVAL_MS, min(MAX_INTERVAL_MS, keep_ms // 4))

    def prune(self, now: int) -> Iterator[int]:
        """One pass at time `now`; yields the rows each batch deleted, between batches."""
        cutoff = now - self.keep_ms
        for prune_table in (self.store.prune_runs, self.store.prune_events):
            position: int | None = 0
            while position is not None:
                deleted, position = prune_table(cutoff, position, BATCH)
                yield deleted
        hits_before = now - self.rate_window()
        while deleted := self.store.prune_state(now, hits_before, format_timestamp(cutoff), BATCH):
            yield deleted

    async def run(self) -> None:
        """A pass now and every `interval_ms` of engine time, until cancelled."""
        wake = asyncio.Event()
        next_pass = self.clock.now()
        while True:
            now = self.clock.now()
            if now >= next_pass:
                try:
                    for _ in self.prune(now):
                        await asyncio.sleep(PAUSE_S)
                except Exception:  # the next pass tries again; runs go on meanwhile
                    log.exception("pruning history failed")
                next_pass = now + self.interval_ms
            wake.clear()
            await self.clock.wait(next_pass, wake)
