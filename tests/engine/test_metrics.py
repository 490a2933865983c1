"""The engine's operations surface: Prometheus metrics at `/metrics` and its JSON log lines.

The metrics come from a real engine serving a real SDK app; the logs from the engine's own
process (`python -m engine`, as `serve` starts it) running signed, whose stderr must hold one JSON
object a line, the run id of a run it finished, and none of its keys.
"""

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest
from inngest._internal.transforms import hash_signing_key as sdk_hash_signing_key
from prometheus_client.parser import text_string_to_metric_families

from engine import logs
from engine.clock import FakeClock
from tests.engine.harness import (
    SDK_VARIABLES,
    AppThread,
    EngineThread,
    eventually,
    free_port,
    harness,
    slug,
)
from tests.engine.timing import advance_until

RETRY_INTERVAL_S = 1
KEY_HEX = "7c3a" * 16
SIGNING_KEY = f"signkey-test-{KEY_HEX}"
EVENT_KEY = "evtkey-" + "9d" * 16
KEY_FORMS = (SIGNING_KEY, KEY_HEX, sdk_hash_signing_key(SIGNING_KEY), EVENT_KEY)


def samples(http: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample `/metrics` serves now, by name and sorted labels."""
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_retried_run_shows_as_completed_with_one_retry_and_its_calls_timed(
    tmp_path: Path,
) -> None:
    attempts: list[int] = []

    def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
        @client.create_function(fn_id="flaky", trigger=inngest.TriggerEvent(event="app/flaky"))
        async def flaky(ctx: inngest.Context) -> str:
            async def call_upstream() -> str:
                attempts.append(ctx.attempt)
                if len(attempts) == 1:
                    raise ConnectionError("upstream down")
                return "ok"

            return await ctx.step.run("call-upstream", call_upstream)

        return [flaky]

    function = slug("flaky")
    with harness(tmp_path, make, retry_interval=RETRY_INTERVAL_S) as h:
        run_id = h.only_run(h.send("app/flaky"))["run_id"]
        # The failed step's retry waits in the queue for engine time to reach it.
        delayed = eventually(
            lambda: value(samples(h.http), "docs_ingest_engine_queued_calls", state="delayed")
        )
        advance_until(h, RETRY_INTERVAL_S * 1000, lambda: len(attempts) == 2)
        assert h.wait_run(run_id)["status"] == "Completed"
        found = samples(h.http)

    assert delayed == 1
    assert value(found, "docs_ingest_engine_runs", status="Completed") == 1
    assert value(found, "docs_ingest_engine_runs", status="Running") == 0
    assert value(found, "docs_ingest_engine_retries_total", function=function) == 1
    assert value(found, "docs_ingest_engine_call_errors_total", function=function, kind="step") == 1
    # The failing attempt, the retry that ran the step, and the call that returned the result.
    calls = value(found, "docs_ingest_engine_step_duration_seconds_count", function=function)
    assert calls == 3
    assert value(found, "docs_ingest_engine_step_duration_seconds_sum", function=function) > 0
    for state in ("in_flight", "ready", "delayed", "parked"):
        assert value(found, "docs_ingest_engine_queued_calls", state=state) == 0


def test_a_call_waiting_for_a_worker_counts_as_ready(tmp_path: Path) -> None:
    gate = threading.Event()

    def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
        @client.create_function(fn_id="gated", trigger=inngest.TriggerEvent(event="app/gated"))
        async def gated(ctx: inngest.Context) -> str:
            await asyncio.to_thread(gate.wait, 10)
            return "done"

        return [gated]

    try:
        with harness(tmp_path, make, workers=1) as h:
            first, second = (h.only_run(h.send("app/gated"))["run_id"] for _ in range(2))
            waiting = eventually(
                lambda: (
                    (found := samples(h.http))
                    and value(found, "docs_ingest_engine_queued_calls", state="ready") == 1
                    and found
                )
            )
            gate.set()
            assert h.wait_run(first)["status"] == h.wait_run(second)["status"] == "Completed"
            after = samples(h.http)
    finally:
        gate.set()

    assert value(waiting, "docs_ingest_engine_queued_calls", state="in_flight") == 1
    assert value(waiting, "docs_ingest_engine_runs", status="Running") == 2
    assert value(after, "docs_ingest_engine_queued_calls", state="ready") == 0
    assert value(after, "docs_ingest_engine_runs", status="Completed") == 2


def test_metrics_stay_open_on_a_signed_engine(tmp_path: Path) -> None:
    engine = EngineThread(
        tmp_path / "engine.db", FakeClock(), signing_key=SIGNING_KEY, event_keys=[EVENT_KEY]
    )
    try:
        with httpx.Client(base_url=engine.url, timeout=10) as http:
            found = samples(http)
            refused = http.get("/v1/events")
    finally:
        engine.stop()

    assert value(found, "docs_ingest_engine_runs", status="Running") == 0
    assert refused.status_code == 401  # the REST API still takes the signing key


def test_json_lines_carry_context_and_never_a_key() -> None:
    logs.hide(SIGNING_KEY, [EVENT_KEY])
    stream = io.StringIO()
    logger = logging.getLogger("engine.test_metrics")
    logger.propagate = False
    logger.addHandler(logs.handler("json", stream))
    try:
        logger.warning(
            "keys %s %s %s %s", *KEY_FORMS, extra={"run_id": "01RUN", "function": "app-fn"}
        )
    finally:
        logger.handlers.clear()
        logger.propagate = True

    line = json.loads(stream.getvalue())
    assert line["run_id"] == "01RUN"
    assert line["function"] == "app-fn"
    assert line["level"] == "WARNING"
    assert line["message"] == "keys " + " ".join([logs.REDACTED] * 4)


@pytest.fixture
def cloud_app(cloud_mode: None) -> Iterator[tuple[AppThread, int]]:
    """A real SDK app in cloud mode with the engine's keys, and the port its engine will use."""
    port = free_port()
    client = inngest.Inngest(
        app_id="test",
        api_base_url=f"http://127.0.0.1:{port}",
        event_api_base_url=f"http://127.0.0.1:{port}",
        signing_key=SIGNING_KEY,
        event_key=EVENT_KEY,
        logger=logging.getLogger("test.app"),
    )

    @client.create_function(fn_id="greet", trigger=inngest.TriggerEvent(event="app/greet"))
    async def greet(ctx: inngest.Context) -> str:
        async def name() -> str:
            return str(ctx.event.data["name"])

        return "hello " + await ctx.step.run("name", name)

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [greet])
    thread = AppThread(app)
    try:
        yield thread, port
    finally:
        thread.stop()


def test_the_signed_engine_process_logs_json_with_run_ids_and_no_key(
    tmp_path: Path, cloud_app: tuple[AppThread, int]
) -> None:
    app, port = cloud_app
    env = {k: v for k, v in os.environ.items() if k not in SDK_VARIABLES}
    env.update(LOG_FORMAT="json", INNGEST_SIGNING_KEY=SIGNING_KEY, INNGEST_EVENT_KEY=EVENT_KEY)
    # fmt: off
    command = [
        sys.executable, "-m", "engine", "--port", str(port), "--db", str(tmp_path / "engine.db"),
        "--sdk-url", app.url, "--no-discovery", "--no-poll",
    ]
    # fmt: on
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        bearer = {"authorization": f"Bearer {sdk_hash_signing_key(SIGNING_KEY)}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=bearer, timeout=10) as http:
            eventually(lambda: _functions(http) == ["test-greet"], timeout=30)
            assert http.post("/e/not-the-key", json={"name": "app/greet"}).status_code == 401
            sent = http.post(f"/e/{EVENT_KEY}", json={"name": "app/greet", "data": {"name": "x"}})
            event_id = sent.json()["ids"][0]
            run = eventually(lambda: _ended_run(http, event_id), timeout=30)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)

    assert run["status"] == "Completed", run
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    finished = [line for line in lines if line.get("run_id") == run["run_id"]]
    assert finished and finished[0]["function"] == "test-greet"
    assert finished[0]["event"] == "app/greet"
    for key in KEY_FORMS:
        assert key not in stderr


def _functions(http: httpx.Client) -> list[str] | None:
    try:
        functions: list[str] = http.get("/dev").json()["functions"]
    except httpx.TransportError:
        return None
    return functions


def _ended_run(http: httpx.Client, event_id: str) -> dict[str, Any] | None:
    runs = http.get(f"/v1/events/{event_id}/runs").json()["data"]
    if runs and runs[0]["status"] != "Running":
        run: dict[str, Any] = runs[0]
        return run
    return None
