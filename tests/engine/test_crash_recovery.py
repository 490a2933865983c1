"""A SIGKILLed engine, restarted on the same database, loses no event, run or finished step.

The engine runs as its own process (`docs-ingest engine`), the SDK app in this process. At the
moment of the kill no SDK call may be under way, or the step it ran would rightly run again: the
protocol is at-least-once for a call whose answer never reached the engine. So a gate in front of
the app holds new calls, and the kill waits until no call is being handled and the engine has
confirmed every step result it was sent (by making its next call for that run). The app listens
on two ports, one per engine process, so that nothing the dead engine sent can reach the SDK.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api

from tests.engine.harness import APP_ID, AppThread, eventually, free_port

STEPS = ("s1", "s2", "s3", "s4")
NAP_STEPS = ("before", "after")
STEP_EVENTS = 24
NAP_EVENTS = 6
LATE_EVENTS = 5
CLOSE_GATE_AFTER_STEPS = 30  # of 24 * 4 + 6 * 2 = 108: the kill comes part-way through

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class CallGate:
    """What the SDK app did, and a gate that holds the engine's calls while it is closed.

    A step result counts as unconfirmed from the moment its body runs until the engine's next
    call for the same run arrives: the engine makes that call only after committing the result.
    """

    def __init__(self, close_after: int) -> None:
        self.effects: Counter[tuple[str, str]] = Counter()
        self._close_after = close_after
        self._lock = threading.Lock()
        self._open = True
        self._dead_ports: set[int] = set()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._handling = 0
        self._unconfirmed: set[str] = set()

    def record_step(self, run_id: str, step: str) -> None:
        with self._lock:
            self.effects[run_id, step] += 1
            self._unconfirmed.add(run_id)
            if self.effects.total() == self._close_after:
                self._open = False

    def quiescent(self) -> bool:
        """Closed, no call being handled, and every step result committed by the engine."""
        with self._lock:
            return not self._open and self._handling == 0 and not self._unconfirmed

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self.effects)

    async def admit(self, port: int, run_id: str) -> bool:
        """Wait while the gate is closed; False if the call came from a dead engine."""
        wake = asyncio.Event()
        with self._lock:
            self._unconfirmed.discard(run_id)
        while True:
            with self._lock:
                if port in self._dead_ports:
                    return False
                if self._open:
                    self._handling += 1
                    return True
                wake.clear()
                self._waiters.append((asyncio.get_running_loop(), wake))
            await wake.wait()

    def done(self) -> None:
        with self._lock:
            self._handling -= 1

    def retire(self, port: int) -> None:
        """The engine calling on `port` is dead: refuse its calls, let everyone else through."""
        with self._lock:
            self._dead_ports.add(port)
            self._open = True
            waiters, self._waiters = self._waiters, []
        for loop, wake in waiters:
            loop.call_soon_threadsafe(wake.set)


class GateMiddleware:
    """Puts SDK calls (POSTs) through the gate; syncs and inspection pass straight on."""

    def __init__(self, app: Callable[..., Awaitable[None]], gate: CallGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if not await self.gate.admit(scope["server"][1], json.loads(body)["ctx"]["run_id"]):
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"sent by an engine that died"})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await self.app(scope, replay, send)
        finally:
            self.gate.done()


class EngineProcess:
    """`docs-ingest engine` as a child process, exactly as a user starts it."""

    def __init__(self, tmp_path: Path, port: int, app_url: str, name: str) -> None:
        config = tmp_path / "inngest.json"
        config.write_text("{}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "DOCS_"))}
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp_path / f"{name}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "docs-ingest"),
                    "engine",
                    *("--config", str(config), "--db", str(tmp_path / "engine.db")),
                    *("--host", "127.0.0.1", "--port", str(port), "-u", app_url),
                    *("--no-discovery", "--no-poll", "--retry-interval", "1"),
                ],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        eventually(self._listening, timeout=15)

    def _listening(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def make_functions(client: inngest.Inngest, gate: CallGate) -> list[inngest.Function[Any]]:
    async def work(run_id: str, step: str, n: int) -> str:
        gate.record_step(run_id, step)
        await asyncio.sleep(0.03)
        return f"{step}:{n}"

    @client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event="crash/steps"))
    async def steps(ctx: inngest.Context) -> list[str]:
        n = ctx.event.data["n"]
        return [await ctx.step.run(name, work, ctx.run_id, name, n) for name in STEPS]

    @client.create_function(fn_id="nap", trigger=inngest.TriggerEvent(event="crash/nap"))
    async def nap(ctx: inngest.Context) -> list[str]:
        n = ctx.event.data["n"]
        before = await ctx.step.run("before", work, ctx.run_id, "before", n)
        await ctx.step.sleep("nap", timedelta(seconds=1))
        after = await ctx.step.run("after", work, ctx.run_id, "after", n)
        return [before, after]

    return [steps, nap]


def send(
    http: httpx.Client, name: str, numbers: range, steps: tuple[str, ...]
) -> dict[str, tuple[int, tuple[str, ...]]]:
    """POST one event per number; once acknowledged, each id with its number and steps."""
    response = http.post("/e/test-key", json=[{"name": name, "data": {"n": n}} for n in numbers])
    assert response.status_code == 200, response.text
    ids: list[str] = response.json()["ids"]
    return {event_id: (n, steps) for event_id, n in zip(ids, numbers, strict=True)}


def runs_of(http: httpx.Client, event_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/v1/events/{event_id}/runs")
    response.raise_for_status()
    runs: list[dict[str, Any]] = response.json()["data"]
    return runs


def test_killed_engine_resumes_every_run_without_losing_or_repeating_steps(
    tmp_path: Path,
) -> None:
    engine_port = free_port()
    engine_url = f"http://127.0.0.1:{engine_port}"
    gate = CallGate(close_after=CLOSE_GATE_AFTER_STEPS)
    client = inngest.Inngest(
        app_id=APP_ID, is_production=False, api_base_url=engine_url, event_api_base_url=engine_url
    )
    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, make_functions(client, gate))
    app.add_middleware(GateMiddleware, gate=gate)
    first_app, second_app = AppThread(app), AppThread(app)
    engine = EngineProcess(tmp_path, engine_port, first_app.url, "engine-1")
    expected: dict[str, tuple[int, tuple[str, ...]]] = {}  # event id -> (n, step names)
    try:
        with httpx.Client(base_url=engine_url, timeout=10) as http:
            eventually(lambda: len(http.get("/dev").json()["functions"]) == 2, timeout=10)
            expected |= send(http, "crash/steps", range(STEP_EVENTS), STEPS)
            expected |= send(http, "crash/nap", range(NAP_EVENTS), NAP_STEPS)
            eventually(gate.quiescent, timeout=10)
            expected |= send(http, "crash/steps", range(100, 100 + LATE_EVENTS), STEPS)
            engine.kill()
            at_kill = gate.snapshot()
            gate.retire(first_app.port)

            engine = EngineProcess(tmp_path, engine_port, second_app.url, "engine-2")
            eventually(
                lambda: all(
                    (runs := runs_of(http, event_id)) and runs[0]["status"] == "Completed"
                    for event_id in expected
                ),
                timeout=15,
            )
            runs = {event_id: runs_of(http, event_id) for event_id in expected}
    finally:
        engine.kill()
        first_app.stop()
        second_app.stop()

    assert all(len(event_runs) == 1 for event_runs in runs.values()), runs
    for event_id, (n, names) in expected.items():
        assert runs[event_id][0]["output"] == [f"{step}:{n}" for step in names]
    run_steps = {runs[event_id][0]["run_id"]: names for event_id, (_, names) in expected.items()}
    effects = gate.snapshot()
    assert set(effects) == {(run_id, step) for run_id, names in run_steps.items() for step in names}
    assert {step: count for step, count in effects.items() if count > 1} == {}, "steps repeated"
    done_at_kill = Counter(run_id for run_id, _ in at_kill)
    assert any(0 < done_at_kill[run_id] < len(names) for run_id, names in run_steps.items())
