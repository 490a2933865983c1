"""Cron triggers: when they fire next, and the event each firing carries.

Each (function, cron) pair has one CRON queue item, due at its next firing; syncing an app adds
and removes items as its triggers change. A firing enqueues the one after it, counted from the
moment it fired, so an engine that was down fires once on restart, not once per missed tick.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from croniter import croniter

from engine.consts import InternalEvent, QueueKind
from engine.ids import new_ulid
from engine.store import Store, StoredEvent
from engine.timeutil import format_timestamp

if TYPE_CHECKING:
    from engine.functions import FunctionConfig

_TZ_PREFIXES = ("TZ=", "CRON_TZ=")


def cron_expression(text: str) -> str:
    """The cron expression without a `TZ=Zone ` prefix."""
    if text.startswith(_TZ_PREFIXES):
        return text.split(" ", 1)[1] if " " in text else ""
    return text


def next_fire(cron: str, after_ms: int) -> int:
    """The first time (ms) after `after_ms` at which `cron` fires, in its `TZ=` zone if any."""
    zone = (
        ZoneInfo(cron.split(" ", 1)[0].split("=", 1)[1]) if cron.startswith(_TZ_PREFIXES) else UTC
    )
    start = datetime.fromtimestamp(after_ms / 1000, tz=zone)
    return int(croniter(cron_expression(cron), start).get_next(float) * 1000)


def schedule_crons(store: Store, functions: Iterable["FunctionConfig"], now: int) -> None:
    """Make the CRON queue items match the registered cron triggers."""
    wanted = {(fn.id, t.cron) for fn in functions for t in fn.triggers if t.cron}
    queued = {(p["fn"], p["cron"]) for p in store.queued_payloads(QueueKind.CRON)}
    for fn_slug, cron in queued - wanted:
        store.dequeue_payload(QueueKind.CRON, {"fn": fn_slug, "cron": cron})
    for fn_slug, cron in wanted - queued:
        store.enqueue(QueueKind.CRON, next_fire(cron, now), payload={"fn": fn_slug, "cron": cron})


def scheduled_event(fn_slug: str, cron: str, due_at: int, now: int) -> StoredEvent:
    """The `inngest/scheduled.timer` event of one firing."""
    scheduled = format_timestamp(due_at)
    return StoredEvent(
        internal_id=new_ulid(now),
        id=f"{fn_slug}:{scheduled}",
        name=InternalEvent.SCHEDULED_TIMER,
        data={"cron": cron, "scheduledAt": scheduled, "fireAt": format_timestamp(now)},
        user={},
        ts=now,
        v=None,
        received_at=now,
    )
