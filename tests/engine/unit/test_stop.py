"""One engine at a time on a database: its queue loop stops when cancelled (as `serve` and
`docs-ingest engine` stop it), and a second engine on the same database is refused."""

import asyncio
import threading
from pathlib import Path

import pytest

from engine.clock import SystemClock
from engine.server import Engine, EngineInUse


def test_the_queue_loops_wait_ends_cancelled_when_cancelled_as_work_wakes_it() -> None:
    """A finishing call wakes the loop as shutdown cancels it: the loop's wait must still end
    cancelled, or the loop would go on taking work beside the engine that replaces it on the
    same database."""

    async def main() -> bool:
        wake = asyncio.Event()
        # Due in an hour: the loop waits for that, or for a wake.
        waiting = asyncio.create_task(SystemClock().wait(SystemClock().now() + 3_600_000, wake))
        await asyncio.sleep(0)  # let it start waiting
        wake.set()
        waiting.cancel()
        await asyncio.wait([waiting])
        return waiting.cancelled()

    assert asyncio.run(main())


def test_a_second_engine_on_the_same_database_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    first = Engine(tmp_path / "engine.db")
    with pytest.raises(EngineInUse, match=r"another engine is running on .*engine\.db"):
        Engine(tmp_path / "engine.db", lock_wait_s=0.3)
    threading.Timer(0.3, first.close).start()  # as an engine being restarted lets go
    Engine(tmp_path / "engine.db", lock_wait_s=5).close()
