"""The console's SQL: runs listed and counted by filter, a run's step timeline, events with the
runs they started, functions, apps and their syncs.

It shares the engine's connection and transactions (`Store`). Besides reads it writes what the
run machine records for the timeline as runs move on (`began`, `step_seen`, `attempt`,
`step_ended`) and the app URLs the console adds and syncs.

Runs are listed newest first on one of three times: queued (`runs.started_at`), started (the
first SDK call, `runs.began_at`) or ended. SQLite answers `status IN (…) ORDER BY time` only by
sorting every matching run, so the list is read per partition, one (status) or (function, status)
pair, each straight from the index made for it in time order, and the partitions' first pages are
merged here. Counting reads the same indexes. A CEL search (engine/console_search.py) is checked
against the newest SEARCH_WINDOW runs the other filters select (SQLite merges the partitions in
order), so a rare match costs a bounded scan; the page then says where the scan stopped.
"""

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.console_search import Condition
from engine.consts import Opcode, QueueKind, RunStatus
from engine.store import Store, _dumps

SEARCH_WINDOW = 2_000
MAX_FUNCTION_PARTITIONS = 20
# Step outputs larger than this are left out of a run's timeline and read one at a time.
INLINE_OUTPUT_BYTES = 64 * 1024
_RUN_COLUMNS = (
    "run_id, fn_slug, status, started_at, began_at, ended_at, event_id, batch_id, cron, parent,"
    " json_extract(events, '$[0].name') AS event_name"
)


class TimeField(StrEnum):
    """Which of a run's times the list filters and sorts on."""

    QUEUED = "queued"
    STARTED = "started"
    ENDED = "ended"


class Status(StrEnum):
    """A run's status as the Inngest console shows it: QUEUED until its first SDK call."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepKind(StrEnum):
    """What a step of the timeline is (Inngest's `StepOp`, plus sending events)."""

    RUN = "RUN"
    SEND_EVENT = "SEND_EVENT"
    SLEEP = "SLEEP"
    WAIT_FOR_EVENT = "WAIT_FOR_EVENT"
    INVOKE = "INVOKE"
    AI_GATEWAY = "AI_GATEWAY"


_TIME_COLUMN = {
    TimeField.QUEUED: "started_at",
    TimeField.STARTED: "began_at",
    TimeField.ENDED: "ended_at",
}
_STATUS_CLAUSE = {
    Status.QUEUED: ("status = ? AND began_at IS NULL", RunStatus.RUNNING),
    Status.RUNNING: ("status = ? AND began_at IS NOT NULL", RunStatus.RUNNING),
    Status.COMPLETED: ("status = ?", RunStatus.COMPLETED),
    Status.FAILED: ("status = ?", RunStatus.FAILED),
    Status.CANCELLED: ("status = ?", RunStatus.CANCELLED),
}
# Statuses a run can have while it lacks that time.
_WITHOUT_TIME = {
    TimeField.QUEUED: set[Status](),
    TimeField.STARTED: {Status.QUEUED},
    TimeField.ENDED: {Status.QUEUED, Status.RUNNING},
}
_STEP_KINDS: dict[str, StepKind] = {
    Opcode.SLEEP: StepKind.SLEEP,
    Opcode.WAIT_FOR_EVENT: StepKind.WAIT_FOR_EVENT,
    Opcode.INVOKE_FUNCTION: StepKind.INVOKE,
    Opcode.AI_GATEWAY: StepKind.AI_GATEWAY,
}

Cursor = tuple[int, str]


@dataclass(frozen=True, slots=True)
class RunFilter:
    statuses: frozenset[Status] = frozenset()  # empty: every status
    functions: frozenset[str] | None = None  # None: every function
    time_field: TimeField = TimeField.QUEUED
    since: int | None = None  # inclusive
    until: int | None = None  # exclusive
    run_id: str | None = None
    event_id: str | None = None
    search: Condition | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    fn_slug: str
    status: Status
    queued_at: int
    began_at: int | None
    ended_at: int | None
    event_id: str
    event_name: str | None
    batch_id: str | None
    cron: str | None
    parent: dict[str, str] | None

    def time(self, time_field: TimeField) -> int | None:
        return {
            TimeField.QUEUED: self.queued_at,
            TimeField.STARTED: self.began_at,
            TimeField.ENDED: self.ended_at,
        }[time_field]


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: list[RunRecord]
    total: int
    total_exact: bool  # False when a search counted only the newest SEARCH_WINDOW runs
    next_cursor: Cursor | None


@dataclass(frozen=True, slots=True)
class StepRecord:
    step_id: str
    kind: StepKind
    name: str
    group_id: str | None
    queued_at: int
    ended_at: int | None
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    step_id: str
    attempt: int
    queued_at: int
    started_at: int
    ended_at: int
    error: Any


@dataclass(frozen=True, slots=True)
class MemoRecord:
    step_id: str
    memo: Any
    size: int
    inline: bool  # False: too large, `memo` left out
    failed: bool  # `{"error": …}`, the memo of a step that failed


@dataclass(frozen=True, slots=True)
class QueuedCall:
    item_id: int
    kind: QueueKind
    step_id: str | None
    attempt: int
    due_at: int


@dataclass(slots=True)
class RunTimeline:
    run: RunRecord
    output: Any
    events: list[dict[str, Any]]
    event_ids: list[str]
    steps: list[StepRecord] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)
    memos: dict[str, MemoRecord] = field(default_factory=dict)
    queued: list[QueuedCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EventRecord:
    internal_id: str
    id: str
    name: str
    ts: int
    received_at: int


@dataclass(frozen=True, slots=True)
class AppSync:
    url: str
    kept: bool
    synced_at: int | None
    error: str | None


class ConsoleStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # what the run machine records

    def began(self, run_id: str, now: int) -> None:
        """An SDK call of the run starts now: the run's start, if it is the first. Read first,
        because this runs outside any transaction and an UPDATE would commit one every call."""
        row = self.store._one("SELECT began_at FROM runs WHERE run_id = ?", run_id)
        if row is not None and row["began_at"] is None:
            self.store._run("UPDATE runs SET began_at = ? WHERE run_id = ?", now, run_id)

    def step_seen(
        self,
        run_id: str,
        op: dict[str, Any],
        queued_at: int,
        group_id: str | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        """A step the SDK reported, the first time it does."""
        opts = op.get("opts")
        kind = _STEP_KINDS.get(str(op.get("op")), StepKind.RUN)
        if isinstance(opts, dict) and opts.get("type") == "step.sendEvent":
            kind = StepKind.SEND_EVENT
        name = op.get("displayName") or op.get("name") or op.get("id")
        self.store._run(
            "INSERT OR IGNORE INTO run_steps VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            run_id,
            str(op.get("id", "")),
            kind,
            str(name),
            group_id,
            queued_at,
            None if info is None else _dumps(info),
        )

    def attempt(
        self,
        run_id: str,
        step_id: str,
        attempt: int,
        times: tuple[int, int, int],
        error: Any = None,
    ) -> None:
        """One SDK call made for a step (`DISCOVERY_STEP`: for the function itself), with the
        times it was due, began and ended, and its error if it failed."""
        self.store._run(
            "INSERT INTO step_attempts VALUES (?, ?, ?, ?, ?, ?, ?)",
            run_id,
            step_id,
            attempt,
            *times,
            None if error is None else _dumps(error),
        )

    def step_ended(self, run_id: str, step_id: str, now: int) -> None:
        self.store._run(
            "UPDATE run_steps SET ended_at = ? WHERE run_id = ? AND step_id = ?"
            " AND ended_at IS NULL",
            now,
            run_id,
            step_id,
        )

    def event_ids_of(self, run_id: str) -> list[str]:
        rows = self.store._all(
            "SELECT event_id FROM run_events WHERE run_id = ? ORDER BY rowid", run_id
        )
        return [row["event_id"] for row in rows]

    def delete_app(self, name: str) -> None:
        self.store._run("DELETE FROM apps WHERE name = ?", name)

    # runs

    def has_function(self, slug: str) -> bool:
        """Whether `slug` is registered or has runs."""
        return (
            self.store._one(
                "SELECT 1 WHERE EXISTS (SELECT 1 FROM functions WHERE slug = ?)"
                " OR EXISTS (SELECT 1 FROM runs WHERE fn_slug = ?)",
                slug,
                slug,
            )
            is not None
        )

    def list_runs(
        self,
        flt: RunFilter,
        limit: int,
        cursor: Cursor | None,
        counted: tuple[int, bool] | None = None,
    ) -> RunPage:
        """A page of runs after `cursor`. `counted`: the total (and whether it is exact) that a
        search's first page counted, carried by its cursor, so that later pages do not scan the
        search window a second time to count it again."""
        if flt.functions is not None and not flt.functions:
            return RunPage([], 0, True, None)
        if flt.run_id is not None or flt.event_id is not None:
            return self._list_candidates(flt, limit, cursor)
        parts = _partitions(flt)
        if flt.search is not None:
            return self._search(flt, flt.search, parts, limit, cursor, counted)
        column = _TIME_COLUMN[flt.time_field]
        rows: list[RunRecord] = []
        total = 0
        for part in parts:
            where = _where(flt, part, cursor)
            rows += [
                _record(row)
                for row in self.store._all(
                    f"SELECT {_RUN_COLUMNS} FROM runs WHERE {where.sql}"  # noqa: S608
                    f" ORDER BY {column} DESC, run_id DESC LIMIT ?",
                    *where.args,
                    limit + 1,
                )
            ]
            whole = _where(flt, part, None)
            row = self.store._one(
                f"SELECT COUNT(*) FROM runs WHERE {whole.sql}",  # noqa: S608
                *whole.args,
            )
            total += int(row[0]) if row else 0
        key = _sort_key(flt.time_field)
        rows.sort(key=key, reverse=True)
        page = rows[:limit]
        return RunPage(page, total, True, key(page[-1]) if len(rows) > limit else None)

    def _search(
        self,
        flt: RunFilter,
        search: Condition,
        parts: list[Condition],
        limit: int,
        cursor: Cursor | None,
        counted: tuple[int, bool] | None,
    ) -> RunPage:
        """The runs list with a search: the newest SEARCH_WINDOW runs the other filters select
        (all partitions merged in order by SQLite) are checked. When the window is full, the
        runs below it were not looked at: the next cursor goes on from its last run."""
        window = _merged(flt, parts, cursor, "events, output")
        found = self.store._all(
            f"SELECT sort_at, run_id, {search.sql} AS hit FROM ({window.sql})",  # noqa: S608
            *search.args,
            *window.args,
        )
        hits = [(row[0], row[1]) for row in found if row[2] == 1]
        frontier = (found[-1][0], found[-1][1]) if len(found) == SEARCH_WINDOW else None
        if cursor is None:
            total, exact = len(hits), frontier is None
        else:
            total, exact = counted or self._count_matches(flt, search, parts)
        page = hits[:limit]
        records = self.run_records([run_id for _, run_id in page])
        next_cursor = page[-1] if len(hits) > limit else frontier
        return RunPage([records[run_id] for _, run_id in page], total, exact, next_cursor)

    def _count_matches(
        self, flt: RunFilter, search: Condition, parts: list[Condition]
    ) -> tuple[int, bool]:
        """Matches among the newest SEARCH_WINDOW runs, and whether those were all of them."""
        window = _merged(flt, parts, None, "events, output")
        row = self.store._one(
            f"SELECT COUNT(*) AS scanned, SUM({search.sql}) AS matched"  # noqa: S608
            f" FROM ({window.sql})",
            *search.args,
            *window.args,
        )
        if row is None:
            return 0, True
        return int(row["matched"] or 0), int(row["scanned"]) < SEARCH_WINDOW

    def _list_candidates(self, flt: RunFilter, limit: int, cursor: Cursor | None) -> RunPage:
        """A run id or an event id picks a handful of runs; the other filters apply to them."""
        ids = [flt.run_id] if flt.run_id is not None else []
        if flt.event_id is not None:
            found = self.event_runs([flt.event_id]).get(flt.event_id, [])
            ids = [run_id for run_id in found if flt.run_id in (None, run_id)]
        if not ids:
            return RunPage([], 0, True, None)
        parts = _partitions(flt)
        either = Condition(
            "(" + " OR ".join(part.sql for part in parts) + ")",
            tuple(arg for part in parts for arg in part.args),
        )
        marks = ", ".join("?" for _ in ids)
        picked = Condition(f"run_id IN ({marks}) AND {either.sql}", (*ids, *either.args))
        search = flt.search or Condition("1")
        column = _TIME_COLUMN[flt.time_field]
        where = _where(flt, picked, cursor)
        rows = self.store._all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {where.sql}"  # noqa: S608
            f" AND {search.sql} ORDER BY {column} DESC, run_id DESC LIMIT ?",
            *where.args,
            *search.args,
            limit + 1,
        )
        counted = _where(flt, picked, None)
        total = self.store._one(
            f"SELECT COUNT(*) FROM runs WHERE {counted.sql} AND {search.sql}",  # noqa: S608
            *counted.args,
            *search.args,
        )
        page = [_record(row) for row in rows]
        next_cursor = _sort_key(flt.time_field)(page[limit - 1]) if len(page) > limit else None
        return RunPage(page[:limit], int(total[0]) if total else 0, True, next_cursor)

    def run_records(self, run_ids: Sequence[str]) -> dict[str, RunRecord]:
        if not run_ids:
            return {}
        marks = ", ".join("?" for _ in run_ids)
        rows = self.store._all(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id IN ({marks})",  # noqa: S608
            *run_ids,
        )
        return {row["run_id"]: _record(row) for row in rows}

    def event_runs(self, event_ids: Sequence[str]) -> dict[str, list[str]]:
        """The runs each event started (as a trigger or in a batch), oldest first."""
        if not event_ids:
            return {}
        marks = ", ".join("?" for _ in event_ids)
        found: dict[str, list[str]] = {}
        for row in self.store._all(
            f"SELECT event_id, run_id FROM run_events WHERE event_id IN ({marks})"  # noqa: S608
            " ORDER BY run_id",
            *event_ids,
        ):
            found.setdefault(row["event_id"], []).append(row["run_id"])
        return found

    def timeline(self, run_id: str, inline_bytes: int = INLINE_OUTPUT_BYTES) -> RunTimeline | None:
        """Everything the run's details show; step outputs over `inline_bytes` left out."""
        row = self.store._one(
            f"SELECT {_RUN_COLUMNS}, events, output FROM runs WHERE run_id = ?",  # noqa: S608
            run_id,
        )
        if row is None:
            return None
        output = None if row["output"] is None else json.loads(row["output"])
        timeline = RunTimeline(_record(row), output, json.loads(row["events"]), [])
        timeline.event_ids = self.event_ids_of(run_id)
        for step in self.store._all(
            "SELECT * FROM run_steps WHERE run_id = ? ORDER BY rowid", run_id
        ):
            timeline.steps.append(
                StepRecord(
                    step_id=step["step_id"],
                    kind=StepKind(step["kind"]),
                    name=step["name"],
                    group_id=step["group_id"],
                    queued_at=step["queued_at"],
                    ended_at=step["ended_at"],
                    info={} if step["info"] is None else json.loads(step["info"]),
                )
            )
        for attempt in self.store._all(
            "SELECT * FROM step_attempts WHERE run_id = ? ORDER BY rowid", run_id
        ):
            timeline.attempts.append(
                AttemptRecord(
                    step_id=attempt["step_id"],
                    attempt=attempt["attempt"],
                    queued_at=attempt["queued_at"],
                    started_at=attempt["started_at"],
                    ended_at=attempt["ended_at"],
                    error=None if attempt["error"] is None else json.loads(attempt["error"]),
                )
            )
        timeline.memos = self.memos(run_id, inline_bytes)
        timeline.queued = [
            QueuedCall(
                item_id=item["id"],
                kind=QueueKind(item["kind"]),
                step_id=item["step_id"],
                attempt=item["attempt"],
                due_at=item["due_at"],
            )
            for item in self.store._all(
                "SELECT id, kind, step_id, attempt, due_at FROM queue WHERE run_id = ?", run_id
            )
        ]
        return timeline

    def memos(self, run_id: str, inline_bytes: int) -> dict[str, MemoRecord]:
        """Memoized step results in the order they finished; those over `inline_bytes` without
        their value."""
        rows = self.store._all(
            "SELECT step_id, length(CAST(memo AS BLOB)) AS size,"
            " substr(memo, 1, 9) = '{\"error\":' AS failed,"
            " CASE WHEN length(CAST(memo AS BLOB)) <= ? THEN memo END AS memo FROM steps"
            " WHERE run_id = ? ORDER BY position",
            inline_bytes,
            run_id,
        )
        return {
            row["step_id"]: MemoRecord(
                step_id=row["step_id"],
                memo=None if row["memo"] is None else json.loads(row["memo"]),
                size=row["size"],
                inline=row["memo"] is not None,
                failed=bool(row["failed"]),
            )
            for row in rows
        }

    # events

    def list_events(
        self,
        *,
        limit: int,
        before_id: str | None,
        names: Iterable[str],
        since: int | None,
        until: int | None,
        internal: bool,
    ) -> list[EventRecord]:
        clauses, args = ["1 = 1"], list[Any]()
        names = list(names)
        if names:
            clauses.append(f"name IN ({', '.join('?' for _ in names)})")
            args += names
        if not internal:
            clauses.append("substr(name, 1, 8) != 'inngest/'")
        for clause, value in (
            ("internal_id < ?", before_id),
            ("received_at >= ?", since),
            ("received_at < ?", until),
        ):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        rows = self.store._all(
            "SELECT internal_id, id, name, ts, received_at FROM events"  # noqa: S608
            f" WHERE {' AND '.join(clauses)} ORDER BY internal_id DESC LIMIT ?",
            *args,
            limit,
        )
        return [
            EventRecord(row["internal_id"], row["id"], row["name"], row["ts"], row["received_at"])
            for row in rows
        ]

    def known_events(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(event_ids)
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        rows = self.store._all(
            f"SELECT internal_id FROM events WHERE internal_id IN ({marks})",  # noqa: S608
            *ids,
        )
        return {row["internal_id"] for row in rows}

    # functions and apps

    def function_apps(self) -> dict[str, str]:
        return {
            row["slug"]: row["app"] for row in self.store._all("SELECT slug, app FROM functions")
        }

    def cron_fires(self) -> dict[tuple[str, str], int]:
        """When each (function, cron) trigger fires next, as queued."""
        return {
            (payload["fn"], payload["cron"]): int(row["due_at"])
            for row in self.store._all(
                "SELECT due_at, payload FROM queue WHERE kind = ?", QueueKind.CRON
            )
            for payload in [json.loads(row["payload"])]
        }

    def app_syncs(self) -> dict[str, AppSync]:
        return {
            row["url"]: AppSync(row["url"], bool(row["kept"]), row["synced_at"], row["error"])
            for row in self.store._all("SELECT * FROM app_syncs")
        }

    def keep_app_url(self, url: str) -> None:
        self.store._run(
            "INSERT INTO app_syncs (url, kept) VALUES (?, 1)"
            " ON CONFLICT (url) DO UPDATE SET kept = 1",
            url,
        )

    def record_sync(self, url: str, now: int, error: str | None) -> None:
        self.store._run(
            "INSERT INTO app_syncs VALUES (?, 0, ?, ?) ON CONFLICT (url) DO UPDATE SET"
            " synced_at = excluded.synced_at, error = excluded.error",
            url,
            now,
            error,
        )

    def forget_app_url(self, url: str) -> None:
        self.store._run("DELETE FROM app_syncs WHERE url = ?", url)


def _partitions(flt: RunFilter) -> list[Condition]:
    """One condition per status, or per (function, status) pair: each reads one index in
    order. Past MAX_FUNCTION_PARTITIONS functions, a status partition filters them instead."""
    statuses = [
        status
        for status in Status
        if (not flt.statuses or status in flt.statuses)
        and status not in _WITHOUT_TIME[flt.time_field]
    ]
    slugs = sorted(flt.functions or ())
    parts = []
    for status in statuses:
        clause, value = _STATUS_CLAUSE[status]
        if flt.functions is None:
            parts.append(Condition(clause, (value,)))
        elif len(slugs) > MAX_FUNCTION_PARTITIONS:
            marks = ", ".join("?" for _ in slugs)
            parts.append(Condition(f"{clause} AND fn_slug IN ({marks})", (value, *slugs)))
        else:
            parts += [Condition(f"fn_slug = ? AND {clause}", (slug, value)) for slug in slugs]
    return parts


def _merged(
    flt: RunFilter, parts: list[Condition], cursor: Cursor | None, columns: str
) -> Condition:
    """`sort_at, run_id, <columns>` of the first SEARCH_WINDOW runs of all partitions in order:
    SQLite merges the partitions' index scans (`MERGE (UNION ALL)`), without sorting, and stops
    at the limit."""
    column = _TIME_COLUMN[flt.time_field]
    arms, args = [], list[Any]()
    for part in parts:
        where = _where(flt, part, cursor)
        select = f"SELECT {column} AS sort_at, run_id, {columns} FROM runs"  # noqa: S608
        arms.append(f"{select} WHERE {where.sql}")
        args += where.args
    sql = " UNION ALL ".join(arms) + " ORDER BY sort_at DESC, run_id DESC LIMIT ?"
    return Condition(sql, (*args, SEARCH_WINDOW))


def _where(flt: RunFilter, part: Condition, cursor: Cursor | None) -> Condition:
    column = _TIME_COLUMN[flt.time_field]
    clauses, args = [part.sql, f"{column} IS NOT NULL"], list(part.args)
    if flt.since is not None:
        clauses.append(f"{column} >= ?")
        args.append(flt.since)
    if flt.until is not None:
        clauses.append(f"{column} < ?")
        args.append(flt.until)
    if cursor is not None:
        clauses.append(f"({column}, run_id) < (?, ?)")
        args += cursor
    return Condition(" AND ".join(clauses), tuple(args))


def _sort_key(time_field: TimeField) -> Any:
    def key(run: RunRecord) -> Cursor:
        return (run.time(time_field) or 0, run.run_id)

    return key


def _record(row: sqlite3.Row) -> RunRecord:
    status = RunStatus(row["status"])
    if status is RunStatus.RUNNING:
        shown = Status.QUEUED if row["began_at"] is None else Status.RUNNING
    else:
        shown = Status[status.name]
    return RunRecord(
        run_id=row["run_id"],
        fn_slug=row["fn_slug"],
        status=shown,
        queued_at=row["started_at"],
        began_at=row["began_at"],
        ended_at=row["ended_at"],
        event_id=row["event_id"],
        event_name=row["event_name"],
        batch_id=row["batch_id"],
        cron=row["cron"],
        parent=None if row["parent"] is None else json.loads(row["parent"]),
    )
