"""Builders for unit tests: a run machine on a fresh SQLite file, with functions registered."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.clock import FakeClock
from engine.runs import RunMachine
from engine.scheduler import Scheduler
from engine.store import Store

APP = "unit"
APP_URL = "http://127.0.0.1:9/api/inngest"
START_MS = 1_700_000_000_000


def function_config(fn_id: str, event: str, **options: Any) -> dict[str, Any]:
    """One element of a register request's `functions`, as inngest 0.5.19 sends it."""
    slug = f"{APP}-{fn_id}"
    return {
        "id": slug,
        "name": fn_id,
        "triggers": [{"event": event}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": f"{APP_URL}?fnId={slug}&stepId=step"},
            }
        },
        **options,
    }


class Parts:
    """A store, a fake clock, a run machine and a scheduler that share them."""

    def __init__(self, db: Path, *functions: dict[str, Any]) -> None:
        self.clock = FakeClock(START_MS)
        self.store = Store(db)
        self.machine = RunMachine(self.store, self.clock)
        self.scheduler = Scheduler(self.store)
        if functions:
            self.machine.register(APP, APP_URL, "py:v0.5.19", "fast_api", list(functions))

    def send(self, name: str, data: dict[str, Any] | None = None) -> str:
        """Ingest one event; its internal id."""
        return self.machine.ingest([{"name": name, "data": data or {}}])[0]

    def close(self) -> None:
        self.store.close()


MakeParts = Callable[..., Parts]
