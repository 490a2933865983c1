"""Time, passed in: the real clock in production, a fake one that tests advance."""

import asyncio
import contextlib
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Milliseconds since the epoch."""

    async def wait(self, until: int | None, wake: asyncio.Event) -> None:
        """Return at `until` (ms), or earlier when `wake` is set."""


async def _wait_event(wake: asyncio.Event, seconds: float | None) -> None:
    # Not `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that arrives as the event
    # is set, and the engine's loop, cancelled at shutdown, would then go on running.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()


class SystemClock:
    def now(self) -> int:
        return time.time_ns() // 1_000_000

    async def wait(self, until: int | None, wake: asyncio.Event) -> None:
        timeout = None if until is None else max(0.0, (until - self.now()) / 1000)
        await _wait_event(wake, timeout)


class FakeClock:
    """A clock that moves only when told to; safe to advance from another thread."""

    def __init__(self, start: int | None = None) -> None:
        self._now = time.time_ns() // 1_000_000 if start is None else start
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def now(self) -> int:
        with self._lock:
            return self._now

    def advance(self, ms: int) -> None:
        with self._lock:
            self._now += ms
            waiters = list(self._waiters)
        for loop, wake in waiters:
            loop.call_soon_threadsafe(wake.set)

    async def wait(self, until: int | None, wake: asyncio.Event) -> None:
        if until is not None and until <= self.now():
            return
        entry = (asyncio.get_running_loop(), wake)
        with self._lock:
            self._waiters.append(entry)
        try:
            await wake.wait()
        finally:
            with self._lock:
                self._waiters.remove(entry)
