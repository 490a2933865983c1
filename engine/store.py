"""All of the engine's SQL: one SQLite file in WAL mode.

Every state transition runs inside `transaction()`, so a step result, the run status and the next
queue item are committed together or not at all. The connection belongs to the engine's event
loop thread; nothing else touches it.
"""

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.consts import QueueKind, RunStatus

_MIGRATIONS = [
    """
    CREATE TABLE apps (
        name TEXT PRIMARY KEY, url TEXT NOT NULL, sdk TEXT NOT NULL, framework TEXT NOT NULL,
        synced_at INTEGER NOT NULL
    );
    CREATE TABLE functions (
        slug TEXT PRIMARY KEY, app TEXT NOT NULL, config TEXT NOT NULL
    );
    CREATE TABLE events (
        internal_id TEXT PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
        user TEXT NOT NULL, ts INTEGER NOT NULL, v TEXT, received_at INTEGER NOT NULL
    );
    CREATE INDEX events_by_name ON events (name, internal_id);
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, fn_slug TEXT NOT NULL, event_id TEXT NOT NULL,
        events TEXT NOT NULL, batch_id TEXT, cron TEXT, status TEXT NOT NULL, output TEXT,
        started_at INTEGER NOT NULL, ended_at INTEGER, concurrency TEXT NOT NULL,
        priority INTEGER NOT NULL, parent TEXT
    );
    CREATE INDEX runs_by_event ON runs (event_id);
    CREATE INDEX runs_by_fn ON runs (fn_slug, status, started_at);
    CREATE TABLE run_events (run_id TEXT NOT NULL, event_id TEXT NOT NULL,
        PRIMARY KEY (event_id, run_id));
    CREATE TABLE steps (
        run_id TEXT NOT NULL, step_id TEXT NOT NULL, memo TEXT NOT NULL, position INTEGER NOT NULL,
        PRIMARY KEY (run_id, step_id)
    );
    CREATE TABLE pending (
        run_id TEXT NOT NULL, step_id TEXT NOT NULL, race INTEGER NOT NULL,
        PRIMARY KEY (run_id, step_id)
    );
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, run_id TEXT, step_id TEXT,
        attempt INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL, sort_at INTEGER NOT NULL,
        payload TEXT
    );
    CREATE INDEX queue_by_sort ON queue (sort_at);
    CREATE INDEX queue_by_due ON queue (due_at);
    CREATE INDEX queue_by_run ON queue (run_id, kind, step_id);
    CREATE TABLE waits (
        run_id TEXT NOT NULL, step_id TEXT NOT NULL, event_name TEXT NOT NULL, expr TEXT,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (run_id, step_id)
    );
    CREATE INDEX waits_by_name ON waits (event_name);
    CREATE TABLE cancel_rules (
        run_id TEXT NOT NULL, event_name TEXT NOT NULL, expr TEXT, expires_at INTEGER NOT NULL
    );
    CREATE INDEX cancel_rules_by_name ON cancel_rules (event_name);
    CREATE INDEX cancel_rules_by_run ON cancel_rules (run_id);
    CREATE TABLE claimed_keys (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
    CREATE TABLE rate_hits (key TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE INDEX rate_hits_by_key ON rate_hits (key, at);
    CREATE TABLE throttles (key TEXT PRIMARY KEY, tat INTEGER NOT NULL);
    CREATE TABLE debounces (
        fn_slug TEXT NOT NULL, key TEXT NOT NULL, event_id TEXT NOT NULL,
        first_at INTEGER NOT NULL, PRIMARY KEY (fn_slug, key)
    );
    CREATE TABLE batches (
        fn_slug TEXT NOT NULL, key TEXT NOT NULL, batch_id TEXT NOT NULL, events TEXT NOT NULL,
        PRIMARY KEY (fn_slug, key)
    );
    CREATE TABLE cancellations (
        id TEXT PRIMARY KEY, body TEXT NOT NULL
    );
    """,
    # A call blocked by a full concurrency key is parked on that key, out of the ready index,
    # until a slot of the key frees: a long queue behind one key costs nothing per pass.
    """
    ALTER TABLE queue ADD COLUMN parked TEXT;
    DROP INDEX queue_by_sort;
    CREATE INDEX queue_ready ON queue (sort_at, id) WHERE parked IS NULL;
    CREATE INDEX queue_parked ON queue (parked, sort_at, id) WHERE parked IS NOT NULL;
    """,
    # The console (engine/console_store.py): when a run's first SDK call began (`started_at` is
    # when it was queued), each step's timeline and every SDK call it took, and indexes that list
    # runs newest first per status, or per function and status, on each of the three times.
    """
    ALTER TABLE runs ADD COLUMN began_at INTEGER;
    DROP INDEX runs_by_fn;
    CREATE INDEX runs_by_fn_queued ON runs (fn_slug, status, started_at, run_id);
    CREATE INDEX runs_by_fn_began ON runs (fn_slug, status, began_at, run_id)
        WHERE began_at IS NOT NULL;
    CREATE INDEX runs_by_fn_ended ON runs (fn_slug, status, ended_at, run_id)
        WHERE ended_at IS NOT NULL;
    CREATE INDEX runs_by_status_queued ON runs (status, started_at, run_id);
    CREATE INDEX runs_by_status_began ON runs (status, began_at, run_id)
        WHERE began_at IS NOT NULL;
    CREATE INDEX runs_by_status_ended ON runs (status, ended_at, run_id)
        WHERE ended_at IS NOT NULL;
    CREATE INDEX run_events_by_run ON run_events (run_id);
    CREATE TABLE run_steps (
        run_id TEXT NOT NULL, step_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
        group_id TEXT, queued_at INTEGER NOT NULL, ended_at INTEGER, info TEXT,
        PRIMARY KEY (run_id, step_id)
    );
    CREATE TABLE step_attempts (
        run_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
        queued_at INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL,
        error TEXT
    );
    CREATE INDEX step_attempts_by_run ON step_attempts (run_id);
    CREATE TABLE app_syncs (
        url TEXT PRIMARY KEY, kept INTEGER NOT NULL, synced_at INTEGER, error TEXT
    );
    """,
]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    internal_id: str
    id: str
    name: str
    data: dict[str, Any]
    user: dict[str, Any]
    ts: int
    v: str | None
    received_at: int

    def payload(self) -> dict[str, Any]:
        """The event as functions and expressions see it."""
        body: dict[str, Any] = {
            "name": self.name,
            "data": self.data,
            "id": self.id or self.internal_id,
            "ts": self.ts,
            "user": self.user,
        }
        if self.v is not None:
            body["v"] = self.v
        return body


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    fn_slug: str
    event_id: str
    events: list[dict[str, Any]]
    batch_id: str | None
    cron: str | None
    status: RunStatus
    output: Any
    started_at: int
    ended_at: int | None
    concurrency: list[tuple[str, int]]
    priority: int
    parent: dict[str, str] | None

    @property
    def event(self) -> dict[str, Any]:
        return self.events[0]


@dataclass(frozen=True, slots=True)
class QueueItem:
    id: int
    kind: QueueKind
    run_id: str | None
    step_id: str | None
    attempt: int
    due_at: int
    payload: dict[str, Any] | None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Store:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # The WAL file keeps the largest size it ever reached unless this trims it when it is
        # reset; 4 MiB is what the default checkpoint (every 1000 pages) lets it reach.
        self._db.execute("PRAGMA journal_size_limit=4194304")
        self._depth = 0
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
        return row

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self._db.execute(sql, args).fetchall()

    def _run(self, sql: str, *args: Any) -> int:
        return self._db.execute(sql, args).rowcount

    # apps and functions

    def save_app(self, name: str, url: str, sdk: str, framework: str, now: int) -> None:
        self._run(
            "INSERT INTO apps VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " url = excluded.url, sdk = excluded.sdk, framework = excluded.framework,"
            " synced_at = excluded.synced_at",
            name,
            url,
            sdk,
            framework,
            now,
        )

    def replace_functions(self, app: str, configs: dict[str, dict[str, Any]]) -> bool:
        """Store an app's functions; True when anything changed."""
        old = {
            row["slug"]: row["config"]
            for row in self._all("SELECT slug, config FROM functions WHERE app = ?", app)
        }
        new = {slug: _dumps(config) for slug, config in configs.items()}
        if old == new:
            return False
        self._run("DELETE FROM functions WHERE app = ?", app)
        self._db.executemany(
            "INSERT OR REPLACE INTO functions VALUES (?, ?, ?)",
            [(slug, app, config) for slug, config in new.items()],
        )
        return True

    def functions(self) -> dict[str, dict[str, Any]]:
        return {
            row["slug"]: json.loads(row["config"])
            for row in self._all("SELECT slug, config FROM functions")
        }

    def apps(self) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM apps ORDER BY name")

    # events

    def insert_event(self, event: StoredEvent) -> None:
        self._run(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            event.internal_id,
            event.id,
            event.name,
            _dumps(event.data),
            _dumps(event.user),
            event.ts,
            event.v,
            event.received_at,
        )

    def get_event(self, internal_id: str) -> StoredEvent | None:
        row = self._one("SELECT * FROM events WHERE internal_id = ?", internal_id)
        return None if row is None else _event_from_row(row)

    def list_events(
        self,
        *,
        limit: int,
        before_id: str | None,
        name: str | None,
        received_after: int | None,
        received_before: int | None,
    ) -> list[StoredEvent]:
        clauses, args = ["1 = 1"], []
        for clause, value in (
            ("internal_id < ?", before_id),
            ("name = ?", name),
            ("received_at >= ?", received_after),
            ("received_at <= ?", received_before),
        ):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        rows = self._all(
            f"SELECT * FROM events WHERE {' AND '.join(clauses)}"  # noqa: S608 - fixed clauses
            " ORDER BY internal_id DESC LIMIT ?",
            *args,
            limit,
        )
        return [_event_from_row(row) for row in rows]

    # runs

    def insert_run(self, run: Run, event_ids: list[str]) -> None:
        self._run(
            "INSERT INTO runs (run_id, fn_slug, event_id, events, batch_id, cron, status,"
            " started_at, concurrency, priority, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run.run_id,
            run.fn_slug,
            run.event_id,
            _dumps(run.events),
            run.batch_id,
            run.cron,
            run.status,
            run.started_at,
            _dumps(run.concurrency),
            run.priority,
            None if run.parent is None else _dumps(run.parent),
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO run_events VALUES (?, ?)",
            [(run.run_id, event_id) for event_id in event_ids],
        )

    def get_run(self, run_id: str) -> Run | None:
        row = self._one("SELECT * FROM runs WHERE run_id = ?", run_id)
        return None if row is None else _run_from_row(row)

    def runs_for_event(self, event_id: str) -> list[Run]:
        rows = self._all(
            "SELECT runs.* FROM run_events JOIN runs USING (run_id)"
            " WHERE run_events.event_id = ? ORDER BY runs.run_id",
            event_id,
        )
        return [_run_from_row(row) for row in rows]

    def running_runs(self, fn_slug: str, started_after: int, started_before: int) -> list[Run]:
        rows = self._all(
            "SELECT * FROM runs WHERE fn_slug = ? AND status = ? AND started_at >= ?"
            " AND started_at < ?",
            fn_slug,
            RunStatus.RUNNING,
            started_after,
            started_before,
        )
        return [_run_from_row(row) for row in rows]

    def finish_run(self, run_id: str, status: RunStatus, output: Any, now: int) -> None:
        self._run(
            "UPDATE runs SET status = ?, output = ?, ended_at = ? WHERE run_id = ?",
            status,
            _dumps(output),
            now,
            run_id,
        )
        for table in ("queue", "pending", "waits", "cancel_rules"):
            self._run(f"DELETE FROM {table} WHERE run_id = ?", run_id)  # noqa: S608

    # memoized steps and outstanding work

    def steps(self, run_id: str) -> dict[str, Any]:
        rows = self._all(
            "SELECT step_id, memo FROM steps WHERE run_id = ? ORDER BY position", run_id
        )
        return {row["step_id"]: json.loads(row["memo"]) for row in rows}

    def memoize(self, run_id: str, step_id: str, memo: Any) -> bool:
        """Record a finished step; False if it was already recorded."""
        return (
            self._run(
                "INSERT OR IGNORE INTO steps SELECT ?, ?, ?, COUNT(*) FROM steps WHERE run_id = ?",
                run_id,
                step_id,
                _dumps(memo),
                run_id,
            )
            == 1
        )

    def is_memoized(self, run_id: str, step_id: str) -> bool:
        return (
            self._one("SELECT 1 FROM steps WHERE run_id = ? AND step_id = ?", run_id, step_id)
            is not None
        )

    def add_pending(self, run_id: str, step_id: str, race: bool) -> bool:
        """Mark a step as outstanding; False if it already was."""
        return (
            self._run("INSERT OR IGNORE INTO pending VALUES (?, ?, ?)", run_id, step_id, race) == 1
        )

    def remove_pending(self, run_id: str, step_id: str) -> bool | None:
        """Clear an outstanding step; its race flag, or None if it was not outstanding."""
        row = self._one(
            "DELETE FROM pending WHERE run_id = ? AND step_id = ? RETURNING race", run_id, step_id
        )
        return None if row is None else bool(row["race"])

    def has_pending(self, run_id: str) -> bool:
        return self._one("SELECT 1 FROM pending WHERE run_id = ?", run_id) is not None

    # the queue

    def enqueue(
        self,
        kind: QueueKind,
        due_at: int,
        *,
        run_id: str | None = None,
        step_id: str | None = None,
        attempt: int = 0,
        priority: int = 0,
        payload: dict[str, Any] | None = None,
        sort_at: int | None = None,
    ) -> int:
        """Queue an item that may run from `due_at`. Due items run in order of `sort_at` (by
        default `due_at`), moved `priority` seconds earlier."""
        cursor = self._db.execute(
            "INSERT INTO queue (kind, run_id, step_id, attempt, due_at, sort_at, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                run_id,
                step_id,
                attempt,
                due_at,
                (due_at if sort_at is None else sort_at) - priority * 1000,
                None if payload is None else _dumps(payload),
            ),
        )
        return int(cursor.lastrowid or 0)

    def has_queued(self, run_id: str, kind: QueueKind, step_id: str) -> bool:
        return (
            self._one(
                "SELECT 1 FROM queue WHERE run_id = ? AND kind = ? AND step_id = ?",
                run_id,
                kind,
                step_id,
            )
            is not None
        )

    def has_queued_call(self, run_id: str) -> bool:
        return (
            self._one("SELECT 1 FROM queue WHERE run_id = ? AND kind = ?", run_id, QueueKind.CALL)
            is not None
        )

    def dequeue(self, item: QueueItem) -> bool:
        """Remove a queue item; False if it was already gone (cancelled or superseded). The row
        must be the item's own, not only have its id: SQLite gives the id of a deleted last row
        to the next one, so a call that returns after its run was cancelled could find a row
        queued since by another run under the id it was read with."""
        return (
            self._run(
                "DELETE FROM queue WHERE id = ? AND kind = ? AND run_id IS ? AND step_id IS ?"
                " AND attempt = ? AND payload IS ?",
                item.id,
                item.kind,
                item.run_id,
                item.step_id,
                item.attempt,
                None if item.payload is None else _dumps(item.payload),
            )
            == 1
        )

    def dequeue_step(self, run_id: str, kind: QueueKind, step_id: str) -> None:
        self._run(
            "DELETE FROM queue WHERE run_id = ? AND kind = ? AND step_id = ?",
            run_id,
            kind,
            step_id,
        )

    def dequeue_payload(self, kind: QueueKind, payload: dict[str, Any]) -> None:
        self._run("DELETE FROM queue WHERE kind = ? AND payload = ?", kind, _dumps(payload))

    def queued_payloads(self, kind: QueueKind) -> list[dict[str, Any]]:
        rows = self._all("SELECT payload FROM queue WHERE kind = ?", kind)
        return [json.loads(row["payload"]) for row in rows]

    def reschedule(self, kind: QueueKind, payload: dict[str, Any], due_at: int) -> None:
        """Move the item with this payload to `due_at`, creating it if needed."""
        if not self._run(
            "UPDATE queue SET due_at = ?, sort_at = ? WHERE kind = ? AND payload = ?",
            due_at,
            due_at,
            kind,
            _dumps(payload),
        ):
            self.enqueue(kind, due_at, payload=payload)

    def due_items(self, now: int, limit: int, skip: Iterable[int]) -> list[tuple[QueueItem, str]]:
        """Due, unparked queue items in priority order, each with its run's concurrency keys
        (JSON). Items in `skip` (already leased) are left out."""
        rows = self._all(
            "SELECT queue.*, runs.concurrency AS keys FROM queue"
            " LEFT JOIN runs USING (run_id)"
            " WHERE queue.parked IS NULL AND queue.due_at <= ?"
            " AND queue.id NOT IN (SELECT value FROM json_each(?))"
            " ORDER BY queue.sort_at, queue.id LIMIT ?",
            now,
            _dumps(sorted(skip)),
            limit,
        )
        return [(_item_from_row(row), row["keys"] or "[]") for row in rows]

    def park(self, item_id: int, key: str) -> None:
        """Hold a call back until `unpark(key)`: its run holds `key`, which is at its limit."""
        self._run("UPDATE queue SET parked = ? WHERE id = ?", key, item_id)

    def unpark(self, key: str, count: int) -> None:
        """Make the first `count` calls parked on `key`, in priority order, due again."""
        self._run(
            "UPDATE queue SET parked = NULL WHERE id IN (SELECT id FROM queue WHERE parked = ?"
            " ORDER BY sort_at, id LIMIT ?)",
            key,
            count,
        )

    def unpark_all(self) -> None:
        self._run("UPDATE queue SET parked = NULL WHERE parked IS NOT NULL")

    def next_due_after(self, now: int) -> int | None:
        row = self._one("SELECT MIN(due_at) AS due FROM queue WHERE due_at > ?", now)
        return None if row is None or row["due"] is None else int(row["due"])

    def queue_size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0])

    # what /metrics reads at scrape time (engine.metrics)

    def run_counts(self) -> dict[str, int]:
        """Runs by status, in one pass over the status indexes."""
        rows = self._all("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}

    def queued_calls(self, now: int, leased: Iterable[int]) -> dict[str, int]:
        """Queued SDK calls by state: `in_flight` (leased: being made), `ready` (due now, waiting
        for a worker), `delayed` (due later: a retry's backoff, a throttled start) and
        `parked` (held by a full concurrency key)."""
        row = self._one(
            "SELECT COALESCE(SUM(leased), 0) AS in_flight,"
            " COALESCE(SUM(NOT leased AND parked IS NULL AND due_at <= ?), 0) AS ready,"
            " COALESCE(SUM(NOT leased AND parked IS NULL AND due_at > ?), 0) AS delayed,"
            " COALESCE(SUM(NOT leased AND parked IS NOT NULL), 0) AS parked"
            " FROM (SELECT due_at, parked, id IN (SELECT value FROM json_each(?)) AS leased"
            " FROM queue WHERE kind = ?)",
            now,
            now,
            _dumps(sorted(leased)),
            QueueKind.CALL,
        )
        assert row is not None  # an aggregate always answers one row
        return {state: int(row[state]) for state in ("in_flight", "ready", "delayed", "parked")}

    # waits and cancel rules

    def add_wait(
        self,
        run_id: str,
        step_id: str,
        event_name: str,
        expr: str | None,
        now: int,
        expires_at: int,
    ) -> None:
        self._run(
            "INSERT OR IGNORE INTO waits VALUES (?, ?, ?, ?, ?, ?)",
            run_id,
            step_id,
            event_name,
            expr,
            now,
            expires_at,
        )

    def waits_for(self, event_name: str, now: int) -> list[sqlite3.Row]:
        return self._all(
            "SELECT * FROM waits WHERE event_name = ? AND created_at <= ? AND expires_at > ?"
            " ORDER BY created_at",
            event_name,
            now,
            now,
        )

    def remove_wait(self, run_id: str, step_id: str) -> bool:
        return self._run("DELETE FROM waits WHERE run_id = ? AND step_id = ?", run_id, step_id) == 1

    def add_cancel_rule(self, run_id: str, event_name: str, expr: str | None, expires: int) -> None:
        self._run("INSERT INTO cancel_rules VALUES (?, ?, ?, ?)", run_id, event_name, expr, expires)

    def cancel_rules_for(self, event_name: str, now: int) -> list[sqlite3.Row]:
        return self._all(
            "SELECT * FROM cancel_rules WHERE event_name = ? AND expires_at > ?", event_name, now
        )

    # flow control

    def claim_key(self, key: str, now: int, expires_at: int) -> bool:
        """Claim a key until `expires_at`; False if someone holds it already."""
        self._run("DELETE FROM claimed_keys WHERE key = ? AND expires_at <= ?", key, now)
        return self._run("INSERT OR IGNORE INTO claimed_keys VALUES (?, ?)", key, expires_at) == 1

    def count_hits(self, key: str, since: int) -> int:
        self._run("DELETE FROM rate_hits WHERE key = ? AND at <= ?", key, since)
        return int(
            self._db.execute("SELECT COUNT(*) FROM rate_hits WHERE key = ?", (key,)).fetchone()[0]
        )

    def add_hit(self, key: str, now: int) -> None:
        self._run("INSERT INTO rate_hits VALUES (?, ?)", key, now)

    def throttle_tat(self, key: str) -> int | None:
        row = self._one("SELECT tat FROM throttles WHERE key = ?", key)
        return None if row is None else int(row["tat"])

    def set_throttle_tat(self, key: str, tat: int) -> None:
        self._run("INSERT OR REPLACE INTO throttles VALUES (?, ?)", key, tat)

    def debounce(self, fn_slug: str, key: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM debounces WHERE fn_slug = ? AND key = ?", fn_slug, key)

    def save_debounce(self, fn_slug: str, key: str, event_id: str, first_at: int) -> None:
        self._run(
            "INSERT OR REPLACE INTO debounces VALUES (?, ?, ?, ?)", fn_slug, key, event_id, first_at
        )

    def pop_debounce(self, fn_slug: str, key: str) -> str | None:
        row = self._one(
            "DELETE FROM debounces WHERE fn_slug = ? AND key = ? RETURNING event_id", fn_slug, key
        )
        return None if row is None else str(row["event_id"])

    def batch(self, fn_slug: str, key: str) -> tuple[str, list[str]] | None:
        row = self._one("SELECT * FROM batches WHERE fn_slug = ? AND key = ?", fn_slug, key)
        return None if row is None else (row["batch_id"], json.loads(row["events"]))

    def save_batch(self, fn_slug: str, key: str, batch_id: str, event_ids: list[str]) -> None:
        self._run(
            "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?)",
            fn_slug,
            key,
            batch_id,
            _dumps(event_ids),
        )

    def pop_batch(self, fn_slug: str, key: str) -> tuple[str, list[str]] | None:
        found = self.batch(fn_slug, key)
        self._run("DELETE FROM batches WHERE fn_slug = ? AND key = ?", fn_slug, key)
        return found

    def save_cancellation(self, cancellation_id: str, body: dict[str, Any]) -> None:
        self._run("INSERT INTO cancellations VALUES (?, ?)", cancellation_id, _dumps(body))

    # retention: each call is one short transaction over at most `limit` rows. Rows are visited
    # in insertion (rowid) order, which is time order, so a pass stops at the first row too
    # young to go instead of scanning the whole table.

    def prune_runs(self, cutoff: int, after: int, limit: int) -> tuple[int, int | None]:
        """Delete the runs among the next `limit` after position `after` that ended before
        `cutoff`, with their step outputs; never a running run. Returns how many went and the
        position to go on from, or None once no later run can have ended before `cutoff`."""
        with self.transaction():
            rows = self._all(
                "SELECT rowid AS pos, run_id, status, started_at, ended_at FROM runs"
                " WHERE rowid > ? ORDER BY rowid LIMIT ?",
                after,
                limit,
            )
            doomed = [
                (row["run_id"],)
                for row in rows
                if row["status"] != RunStatus.RUNNING
                and row["ended_at"] is not None
                and row["ended_at"] < cutoff
            ]
            for table in ("steps", "run_steps", "step_attempts"):
                self._db.executemany(f"DELETE FROM {table} WHERE run_id = ?", doomed)  # noqa: S608
            self._db.executemany("DELETE FROM runs WHERE run_id = ?", doomed)
        done = len(rows) < limit or rows[-1]["started_at"] >= cutoff
        return len(doomed), None if done else int(rows[-1]["pos"])

    def prune_events(self, cutoff: int, after: int, limit: int) -> tuple[int, int | None]:
        """Delete the events among the next `limit` after position `after` that arrived before
        `cutoff` and that nothing stored refers to: no run (so never the event of a running
        run), no pending debounce or batch. Returns what `prune_runs` returns."""
        with self.transaction():
            rows = self._all(
                "SELECT rowid AS pos, internal_id, received_at, EXISTS (SELECT 1 FROM run_events"
                " JOIN runs USING (run_id) WHERE run_events.event_id = events.internal_id)"
                " AS has_run FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
                after,
                limit,
            )
            held = {
                row[0]
                for row in self._all(
                    "SELECT event_id FROM debounces"
                    " UNION SELECT value FROM batches, json_each(batches.events)"
                )
            }
            doomed = [
                (row["internal_id"],)
                for row in rows
                if row["received_at"] < cutoff
                and not row["has_run"]
                and row["internal_id"] not in held
            ]
            self._db.executemany("DELETE FROM run_events WHERE event_id = ?", doomed)
            self._db.executemany("DELETE FROM events WHERE internal_id = ?", doomed)
        done = len(rows) < limit or rows[-1]["received_at"] >= cutoff
        return len(doomed), None if done else int(rows[-1]["pos"])

    def prune_state(self, now: int, hits_before: int, cancelled_before: str, limit: int) -> int:
        """Delete up to `limit` rows of each kind that no longer decide anything: expired dedup
        and idempotency keys, rate-limit hits before `hits_before`, throttles whose next start is
        past; and bulk cancellations created before `cancelled_before` (RFC 3339). Returns how
        many went."""
        deleted = 0
        with self.transaction():
            for table, condition, value in (
                ("claimed_keys", "expires_at <= ?", now),
                ("rate_hits", "at < ?", hits_before),
                ("throttles", "tat < ?", now),
                ("cancellations", "json_extract(body, '$.created_at') < ?", cancelled_before),
            ):
                deleted += self._run(
                    f"DELETE FROM {table} WHERE rowid IN"  # noqa: S608 - fixed names
                    f" (SELECT rowid FROM {table} WHERE {condition} LIMIT ?)",
                    value,
                    limit,
                )
        return deleted


def _event_from_row(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        internal_id=row["internal_id"],
        id=row["id"],
        name=row["name"],
        data=json.loads(row["data"]),
        user=json.loads(row["user"]),
        ts=row["ts"],
        v=row["v"],
        received_at=row["received_at"],
    )


def _run_from_row(row: sqlite3.Row) -> Run:
    return Run(
        run_id=row["run_id"],
        fn_slug=row["fn_slug"],
        event_id=row["event_id"],
        events=json.loads(row["events"]),
        batch_id=row["batch_id"],
        cron=row["cron"],
        status=RunStatus(row["status"]),
        output=None if row["output"] is None else json.loads(row["output"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        concurrency=[(key, limit) for key, limit in json.loads(row["concurrency"])],
        priority=row["priority"],
        parent=None if row["parent"] is None else json.loads(row["parent"]),
    )


def _item_from_row(row: sqlite3.Row) -> QueueItem:
    return QueueItem(
        id=row["id"],
        kind=QueueKind(row["kind"]),
        run_id=row["run_id"],
        step_id=row["step_id"],
        attempt=row["attempt"],
        due_at=row["due_at"],
        payload=None if row["payload"] is None else json.loads(row["payload"]),
    )
