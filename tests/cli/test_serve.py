"""`docs-ingest serve` starts the service and the embedded engine; a sent event is visibly run."""

from pathlib import Path

import httpx

from tests.cli.cli_runner import serve_process
from tests.engine.harness import eventually, free_port

HOST = "127.0.0.2"


def test_serve_runs_a_sent_event_and_logs_its_run(tmp_path: Path) -> None:
    port, engine_port = free_port(), free_port()
    # Another loopback address than the default's: the service listens where it is told.
    with serve_process(tmp_path, port, engine_port, DOCS_INGEST_HOST=HOST) as process:
        try:
            engine = httpx.Client(base_url=f"http://127.0.0.1:{engine_port}", timeout=5)
            with engine:
                eventually(lambda: _functions(engine), timeout=30)
                sent = engine.post("/e/dev", json={"name": "docs/ping", "data": {"message": "hi"}})
                event_id = sent.json()["ids"][0]
                run = eventually(lambda: _completed_run(engine, event_id), timeout=15)
            health = httpx.get(f"http://{HOST}:{port}/healthz", timeout=5)
        finally:
            process.terminate()
            process.wait(10)

    assert run["output"]["reply"] == "pong: hi"  # the engine called the app at HOST
    assert health.json() == {"status": "ok"}
    log_text = (tmp_path / "serve.log").read_text()
    assert f"run {run['run_id']} docs-ingest-ping Completed" in log_text
    assert (tmp_path / "data" / "engine.db").is_file()


def _functions(engine: httpx.Client) -> list[str] | None:
    try:
        functions: list[str] = engine.get("/dev").json()["functions"]
    except httpx.HTTPError:
        return None
    return functions


def _completed_run(engine: httpx.Client, event_id: str) -> dict[str, object] | None:
    runs = engine.get(f"/v1/events/{event_id}/runs").json()["data"]
    return runs[0] if runs and runs[0]["status"] == "Completed" else None
