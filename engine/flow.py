"""Flow control applied when an event triggers a function, and the keys runs carry afterwards.

In the order Inngest applies them: event-id deduplication and `idempotency` (one run per key per
24 h), `rate_limit` (drop past the limit), `debounce` (start once the events stop), `batch_events`
(start with several events), `throttle` (delay starts), then the run records its `concurrency`
keys and `priority`, which the scheduler honours for every call of the run.
"""

from collections.abc import Callable
from typing import Any

from engine import expressions
from engine.clock import Clock
from engine.consts import DEDUP_WINDOW_MS, QueueKind
from engine.functions import FunctionConfig
from engine.ids import new_ulid
from engine.store import QueueItem, Store, StoredEvent
from engine.timeutil import parse_duration

StartRun = Callable[..., Any]
PRIORITY_LIMIT_S = 600


class FlowControl:
    def __init__(self, store: Store, clock: Clock, start_run: StartRun) -> None:
        self.store = store
        self.clock = clock
        self._start_run = start_run

    def admit(self, fn: FunctionConfig, event: StoredEvent, now: int) -> None:
        """Start, delay, batch, debounce or drop a run of `fn` for `event`."""
        variables = {"event": event.payload()}
        expiry = now + DEDUP_WINDOW_MS
        if event.id and not self.store.claim_key(f"event:{fn.id}:{event.id}", now, expiry):
            return
        if fn.idempotency:
            key = expressions.key_of(fn.idempotency, variables)
            if not self.store.claim_key(f"idempotency:{fn.id}:{key}", now, expiry):
                return
        if fn.rate_limit:
            limit = fn.rate_limit
            key = f"rate:{fn.id}:{expressions.key_of(limit.key, variables)}"
            if self.store.count_hits(key, now - parse_duration(limit.period)) >= limit.limit:
                return
            self.store.add_hit(key, now)
        if fn.debounce:
            self._debounce(fn, event, variables, now)
        elif fn.batch_events and expressions.matches(fn.batch_events.if_, variables):
            self._batch(fn, event, variables, now)
        else:
            self.start(fn, [event], now)

    def start(
        self, fn: FunctionConfig, events: list[StoredEvent], now: int, batch_id: str | None = None
    ) -> None:
        due_at = self._throttle(fn, {"event": events[0].payload()}, now) if fn.throttle else now
        self._start_run(fn, events, due_at=due_at, batch_id=batch_id)

    def _debounce(
        self, fn: FunctionConfig, event: StoredEvent, variables: dict[str, Any], now: int
    ) -> None:
        assert fn.debounce is not None
        key = expressions.key_of(fn.debounce.key, variables)
        existing = self.store.debounce(fn.id, key)
        first_at = now if existing is None else int(existing["first_at"])
        self.store.save_debounce(fn.id, key, event.internal_id, first_at)
        due = now + parse_duration(fn.debounce.period)
        if fn.debounce.timeout:
            due = min(due, first_at + parse_duration(fn.debounce.timeout))
        self.store.reschedule(QueueKind.DEBOUNCE, {"fn": fn.id, "key": key}, due)

    def _batch(
        self, fn: FunctionConfig, event: StoredEvent, variables: dict[str, Any], now: int
    ) -> None:
        assert fn.batch_events is not None
        key = expressions.key_of(fn.batch_events.key, variables)
        found = self.store.batch(fn.id, key)
        if found is None:
            batch_id, event_ids = new_ulid(now), list[str]()
            due = now + parse_duration(fn.batch_events.timeout)
            self.store.enqueue(QueueKind.BATCH, due, payload=_batch_payload(fn.id, key, batch_id))
        else:
            batch_id, event_ids = found
        event_ids.append(event.internal_id)
        if len(event_ids) < fn.batch_events.max_size:
            self.store.save_batch(fn.id, key, batch_id, event_ids)
            return
        self.store.pop_batch(fn.id, key)
        self.store.dequeue_payload(QueueKind.BATCH, _batch_payload(fn.id, key, batch_id))
        self.start(fn, self._events(event_ids), now, batch_id=batch_id)

    def fire(self, fn: FunctionConfig | None, item: QueueItem, now: int) -> None:
        """A debounce period or a batch timeout has passed."""
        payload = item.payload or {}
        if fn is None:
            return
        if item.kind is QueueKind.DEBOUNCE:
            event_id = self.store.pop_debounce(fn.id, payload["key"])
            if event_id is not None:
                self.start(fn, self._events([event_id]), now)
            return
        found = self.store.batch(fn.id, payload["key"])
        if found is not None and found[0] == payload["batch"]:
            self.store.pop_batch(fn.id, payload["key"])
            self.start(fn, self._events(found[1]), now, batch_id=found[0])

    def _events(self, event_ids: list[str]) -> list[StoredEvent]:
        events = [self.store.get_event(event_id) for event_id in event_ids]
        return [event for event in events if event is not None]

    def _throttle(self, fn: FunctionConfig, variables: dict[str, Any], now: int) -> int:
        """When the run may start: GCRA, `limit` starts per `period`, `burst` at once."""
        assert fn.throttle is not None
        throttle = fn.throttle
        key = f"throttle:{fn.id}:{expressions.key_of(throttle.key, variables)}"
        interval = parse_duration(throttle.period) / throttle.limit
        tolerance = interval * (throttle.burst - 1)
        tat = max(self.store.throttle_tat(key) or now, now)
        allowed_at = max(now, int(tat - tolerance))
        self.store.set_throttle_tat(key, int(max(tat, allowed_at) + interval))
        return allowed_at

    @staticmethod
    def concurrency_keys(fn: FunctionConfig, variables: dict[str, Any]) -> list[tuple[str, int]]:
        keys = []
        for rule in fn.concurrency:
            value = expressions.key_of(rule.key, variables)
            owner = fn.id if rule.scope == "fn" else rule.scope
            keys.append((f"{owner}:{rule.key or ''}:{value}", rule.limit))
        return keys

    @staticmethod
    def priority(fn: FunctionConfig, variables: dict[str, Any]) -> int:
        if fn.priority is None or not fn.priority.run:
            return 0
        value = expressions.evaluate(fn.priority.run, variables)
        if not isinstance(value, int | float):
            return 0
        return max(-PRIORITY_LIMIT_S, min(PRIORITY_LIMIT_S, int(value)))


def _batch_payload(fn_slug: str, key: str, batch_id: str) -> dict[str, str]:
    return {"fn": fn_slug, "key": key, "batch": batch_id}
