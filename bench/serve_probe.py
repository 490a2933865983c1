"""What bench/ingest.py reads of a running `docs-ingest serve` beside timing it.

`PeakRss` samples the resident memory (VmRSS in /proc, Linux only) of `serve` and of its engine
subprocess every SAMPLE_S in a thread, and keeps the peaks: each one's, and of the two together
at the same sample. `step_times` reads the engine's SQLite file (`engine.db` in the data folder;
tables `run_steps` and `step_attempts`, times in ms) for the longest single SDK call and the
longest step, from its first attempt's start to its end, retries and waits included.
"""

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SAMPLE_S = 0.2
ENGINE_MODULE = "engine"  # serve starts it as `python -m engine ...`
RUNS_END_TIMEOUT_S = 10.0


def rss_bytes(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def children(pid: int) -> list[int]:
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


def engine_child(pid: int) -> int | None:
    """The engine subprocess of `serve` (pid), by its command line."""
    for child in children(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-m" in argv and ENGINE_MODULE.encode() in argv:
            return child
    return None


@dataclass
class Peaks:
    app: int = 0  # bytes
    engine: int = 0
    together: int = 0
    samples: int = 0


class PeakRss:
    """Peak resident memory of `serve` and its engine while the `with` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks = Peaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        engine = engine_child(self.pid)
        while True:
            app = rss_bytes(self.pid) or 0
            engine_rss = rss_bytes(engine) if engine is not None else None
            if engine_rss is None:  # not started yet, or restarted
                engine = engine_child(self.pid)
                engine_rss = rss_bytes(engine) if engine is not None else None
            peaks = self.peaks
            peaks.app = max(peaks.app, app)
            peaks.engine = max(peaks.engine, engine_rss or 0)
            peaks.together = max(peaks.together, app + (engine_rss or 0))
            peaks.samples += 1
            if self._stop.wait(SAMPLE_S):
                return


@dataclass(frozen=True)
class StepTimes:
    calls: int  # SDK calls (step attempts) since the start
    longest_call_s: float
    longest_call: str  # function: step
    longest_step_s: float
    longest_step: str


def step_times(engine_db: Path, since_ms: int) -> StepTimes:
    """The longest SDK call and step of the runs that started at or after `since_ms`, once they
    have all ended (the engine records a run's last step just after the job row is final)."""
    connection = sqlite3.connect(f"file:{engine_db}?mode=ro", uri=True, timeout=10)
    with contextlib.closing(connection) as db:
        deadline = time.monotonic() + RUNS_END_TIMEOUT_S
        while (
            time.monotonic() < deadline
            and db.execute(
                "SELECT COUNT(*) FROM runs WHERE started_at >= ? AND ended_at IS NULL", (since_ms,)
            ).fetchone()[0]
        ):
            time.sleep(0.1)
        calls, call_ms, call = db.execute(
            "SELECT COUNT(*), MAX(a.ended_at - a.started_at),"
            " r.fn_slug || ': ' || COALESCE(s.name, a.step_id) FROM step_attempts a"
            " JOIN runs r USING (run_id) LEFT JOIN run_steps s USING (run_id, step_id)"
            " WHERE a.started_at >= ?",
            (since_ms,),
        ).fetchone()
        step = db.execute(
            "SELECT s.ended_at - f.first, r.fn_slug || ': ' || s.name FROM run_steps s"
            " JOIN (SELECT run_id, step_id, MIN(started_at) AS first FROM step_attempts"
            " GROUP BY run_id, step_id) f USING (run_id, step_id) JOIN runs r USING (run_id)"
            " WHERE s.ended_at IS NOT NULL AND f.first >= ? ORDER BY 1 DESC LIMIT 1",
            (since_ms,),
        ).fetchone()
    step_ms, step_name = step if step is not None else (0, "-")
    return StepTimes(calls, (call_ms or 0) / 1000, call or "-", step_ms / 1000, step_name)
