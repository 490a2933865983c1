"""Picks the queue items that are due and allowed to run now; never runs them.

Concurrency limits count calls in flight, per key, as Inngest counts executing steps: a sleeping
or waiting run holds no slot. In-flight state lives in memory, because after a restart nothing is
in flight and every item still in the queue is simply due again.
"""

import json
from collections import Counter

from engine.consts import QueueKind
from engine.store import QueueItem, Store

# Extra rows per query, for keys that fill up while a pass takes items.
SCAN_MARGIN = 16


class Scheduler:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.leased: dict[int, list[tuple[str, int]]] = {}
        self.in_flight: Counter[str] = Counter()
        self.limits: dict[str, int] = {}

    def take(self, now: int, capacity: int) -> list[QueueItem]:
        """Lease up to `capacity` due items, highest priority first, within concurrency limits."""
        taken: list[QueueItem] = []
        while len(taken) < capacity:
            wanted = capacity - len(taken) + SCAN_MARGIN
            due = self.store.due_items(now, wanted, set(self.leased), self._full_keys())
            for item, keys_json in due:
                keys = (
                    [(key, limit) for key, limit in json.loads(keys_json)]
                    if item.kind is QueueKind.CALL
                    else []
                )
                # A key can fill up within this pass, after the query left it out.
                if any(self.in_flight[key] >= limit for key, limit in keys):
                    continue
                self.in_flight.update(key for key, _ in keys)
                self.limits.update(keys)
                self.leased[item.id] = keys
                taken.append(item)
                if len(taken) == capacity:
                    break
            if len(due) < wanted:
                break
        return taken

    def _full_keys(self) -> set[str]:
        return {key for key, count in self.in_flight.items() if count >= self.limits[key]}

    def release(self, item: QueueItem) -> None:
        for key, _ in self.leased.pop(item.id, []):
            self.in_flight[key] -= 1
            if self.in_flight[key] <= 0:
                del self.in_flight[key]
                del self.limits[key]
