"""A real engine and a real SDK app, each on its own loopback port and thread, for one test.

The engine runs on a `FakeClock` that the test advances; its HTTP calls, and the SDK app, run in
real time. Tests talk to both only over HTTP, as a user would.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import uvicorn

from engine.api import create_api
from engine.cli import start_server
from engine.clock import FakeClock
from engine.server import Engine

APP_ID = "test"
TERMINAL = {"Completed", "Failed", "Cancelled"}
#: What the inngest SDK reads from the environment to pick its mode, keys and servers.
SDK_VARIABLES = (
    "INNGEST_DEV",
    "INNGEST_BASE_URL",
    "INNGEST_API_BASE_URL",
    "INNGEST_EVENT_API_BASE_URL",
    "INNGEST_SIGNING_KEY",
    "INNGEST_SIGNING_KEY_FALLBACK",
    "INNGEST_EVENT_KEY",
    "INNGEST_STREAMING",
)


def free_port() -> int:
    """A loopback port free now, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class EngineThread:
    """The engine's API and queue loop on a background thread with its own event loop."""

    def __init__(self, db: Path, clock: FakeClock | None, *, port: int = 0, **options: Any) -> None:
        """`port`: where to listen (0: any free port), e.g. where an engine stopped before."""
        self.clock = clock
        self.engine = Engine(db, clock=clock, poll_interval=None, **options)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = port
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("engine did not start")

    def _main(self) -> None:
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server, serving = await start_server(
            create_api(self.engine), "127.0.0.1", self.port, lifespan="off"
        )
        self.port = server.servers[0].sockets[0].getsockname()[1]
        running = asyncio.create_task(self.engine.run())
        self._ready.set()
        await self._stop.wait()
        server.should_exit = True
        running.cancel()
        await asyncio.gather(running, serving, return_exceptions=True)
        self.engine.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sync(self, url: str) -> list[dict[str, Any]]:
        return asyncio.run_coroutine_threadsafe(self.engine.sync([url]), self.loop).result(30)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)
        if self.thread.is_alive():  # a test must not go on with two engines on one database
            raise RuntimeError("the engine did not stop within 10 s")


class AppThread:
    """A FastAPI app serving Inngest functions through the real SDK."""

    def __init__(self, app: fastapi.FastAPI) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        eventually(lambda: self.server.started, timeout=10)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/inngest"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Harness:
    """What a test sees: send events, read runs, move time."""

    def __init__(self, engine: EngineThread, app: AppThread, client: inngest.Inngest) -> None:
        self.engine = engine
        self.app = app
        self.client = client
        self.http = httpx.Client(base_url=engine.url, timeout=10)

    @property
    def clock(self) -> FakeClock:
        assert self.engine.clock is not None
        return self.engine.clock

    def advance(self, ms: int) -> None:
        self.clock.advance(ms)

    def send(self, name: str, data: dict[str, Any] | None = None, **fields: Any) -> str:
        """Send one event; its internal id."""
        response = self.http.post("/e/test-key", json={"name": name, "data": data or {}, **fields})
        response.raise_for_status()
        ids: list[str] = response.json()["ids"]
        return ids[0]

    def runs(self, event_id: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/v1/events/{event_id}/runs")
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["data"]
        return runs

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/runs/{run_id}")
        response.raise_for_status()
        run: dict[str, Any] = response.json()["data"]
        return run

    def only_run(self, event_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The single run an event started, once it exists."""
        runs = eventually(lambda: self.runs(event_id), timeout)
        assert len(runs) == 1, runs
        return runs[0]

    def finished(self, event_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The single run an event started, once it has ended."""
        run_id = self.only_run(event_id, timeout)["run_id"]
        return self.wait_run(run_id, timeout)

    def wait_run(self, run_id: str, timeout: float = 10.0) -> dict[str, Any]:
        run: dict[str, Any] = eventually(
            lambda: (r := self.run(run_id))["status"] in TERMINAL and r, timeout
        )
        return run

    def runs_of(self, function_slug: str) -> list[dict[str, Any]]:
        """Runs of one function, found through the events that started them."""
        events = self.http.get("/v1/events", params={"limit": 51}).json()["data"]
        found = []
        for event in events:
            for run in self.runs(event["internal_id"]):
                if run["function_id"] == function_uuid(function_slug):
                    found.append(run)
        return found


def function_uuid(slug: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"inngest:function:{slug}"))


def slug(fn_id: str) -> str:
    return f"{APP_ID}-{fn_id}"


@contextmanager
def harness(
    tmp_path: Path,
    make_functions: Callable[[inngest.Inngest], list[inngest.Function[Any]]],
    *,
    fake_clock: bool = True,
    streaming: inngest.Streaming | None = None,
    **engine_options: Any,
) -> Iterator[Harness]:
    engine = EngineThread(
        tmp_path / "engine.db", FakeClock() if fake_clock else None, **engine_options
    )
    client = inngest.Inngest(
        app_id=APP_ID,
        is_production=False,
        api_base_url=engine.url,
        event_api_base_url=engine.url,
    )
    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, make_functions(client), streaming=streaming)
    app_thread = AppThread(app)
    try:
        results = engine.sync(app_thread.url)
        assert results[0]["ok"], results
        h = Harness(engine, app_thread, client)
        with h.http:
            yield h
    finally:
        app_thread.stop()
        engine.stop()
