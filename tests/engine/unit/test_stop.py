"""One engine at a time on a database: its queue loop stops when cancelled (as `serve` and
`docs-ingest engine` stop it), and a second engine on the same database is refused."""

import asyncio
import threading
from pathlib import Path

import pytest

from engine.consts import QueueKind
from engine.server import Engine, EngineInUse


def test_the_queue_loop_stops_when_cancelled_as_work_wakes_it(tmp_path: Path) -> None:
    """A finishing call wakes the loop as shutdown cancels it: the loop must still end, or it
    would go on taking work beside the engine that replaces it on the same database."""

    async def main() -> bool:
        engine = Engine(tmp_path / "engine.db", poll_interval=None)
        # A timer due in an hour: the idle loop waits for it, or for a wake.
        engine.store.enqueue(QueueKind.WAKE, engine.clock.now() + 3_600_000, run_id="r")
        try:
            running = asyncio.create_task(engine.run())
            await asyncio.sleep(0.2)
            engine.notify()
            running.cancel()
            await asyncio.wait([running], timeout=5)
            return running.cancelled()
        finally:
            engine.close()

    assert asyncio.run(main())


def test_a_second_engine_on_the_same_database_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    first = Engine(tmp_path / "engine.db")
    with pytest.raises(EngineInUse, match=r"another engine is running on .*engine\.db"):
        Engine(tmp_path / "engine.db", lock_wait_s=0.3)
    threading.Timer(0.3, first.close).start()  # as an engine being restarted lets go
    Engine(tmp_path / "engine.db", lock_wait_s=5).close()
