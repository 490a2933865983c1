"""Picks the queue items that are due and allowed to run now; never runs them.

Concurrency limits count calls in flight, per key, as Inngest counts executing steps: a sleeping
or waiting run holds no slot. In-flight state lives in memory, because after a restart nothing is
in flight and every item still in the queue is simply due again.
"""

import json
from collections import Counter
from contextlib import closing

from engine.consts import QueueKind
from engine.store import QueueItem, Store

SCAN_MIN = 500


class Scheduler:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.leased: dict[int, list[tuple[str, int]]] = {}
        self.in_flight: Counter[str] = Counter()

    def take(self, now: int, capacity: int) -> list[QueueItem]:
        """Lease up to `capacity` due items, highest priority first, within concurrency limits."""
        taken: list[QueueItem] = []
        if capacity <= 0:
            return taken
        scan = max(capacity * 4, SCAN_MIN)
        with closing(self.store.scan_due_items(now, scan, set(self.leased))) as due:
            for item, keys_json in due:
                keys = (
                    [(key, limit) for key, limit in json.loads(keys_json)]
                    if item.kind is QueueKind.CALL
                    else []
                )
                if any(self.in_flight[key] >= limit for key, limit in keys):
                    continue
                self.in_flight.update(key for key, _ in keys)
                self.leased[item.id] = keys
                taken.append(item)
                if len(taken) == capacity:
                    break
        return taken

    def release(self, item: QueueItem) -> None:
        for key, _ in self.leased.pop(item.id, []):
            self.in_flight[key] -= 1
            if self.in_flight[key] <= 0:
                del self.in_flight[key]
