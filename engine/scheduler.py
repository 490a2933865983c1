"""Picks the queue items that are due and allowed to run now; never runs them.

Concurrency limits count calls in flight, per key, as Inngest counts executing steps: a sleeping
or waiting run holds no slot. A due call whose key is full is parked on that key in the store and
comes back when a slot of the key frees, so the queue behind a busy key is not scanned again on
every pass. In-flight state lives in memory, because after a restart nothing is in flight: every
parked item is simply due again.
"""

import json
from collections import Counter

from engine.consts import QueueKind
from engine.store import QueueItem, Store

# Extra rows per query, for calls a pass parks instead of taking.
SCAN_MARGIN = 16


class Scheduler:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.leased: dict[int, list[tuple[str, int]]] = {}
        self.in_flight: Counter[str] = Counter()
        self.limits: dict[str, int] = {}
        store.unpark_all()

    def take(self, now: int, capacity: int) -> list[QueueItem]:
        """Lease up to `capacity` due items, highest priority first, within concurrency limits."""
        taken: list[QueueItem] = []
        with self.store.transaction():
            while len(taken) < capacity:
                wanted = capacity - len(taken) + SCAN_MARGIN
                due = self.store.due_items(now, wanted, set(self.leased))
                for item, keys_json in due:
                    keys = (
                        [(key, limit) for key, limit in json.loads(keys_json)]
                        if item.kind is QueueKind.CALL
                        else []
                    )
                    full = next((key for key, limit in keys if self.in_flight[key] >= limit), None)
                    if full is not None:
                        self.store.park(item.id, full)
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

    def release(self, item: QueueItem) -> None:
        for key, _ in self.leased.pop(item.id, []):
            self.in_flight[key] -= 1
            self.store.unpark(key, self.limits[key] - self.in_flight[key])
            if self.in_flight[key] <= 0:
                del self.in_flight[key]
                del self.limits[key]
