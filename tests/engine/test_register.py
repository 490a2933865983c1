"""Registering functions: a valid sync is stored, an option this engine lacks is refused by name.

An app must never run with flow control silently missing, so `singleton`, `timeouts`, unknown
keys and invalid expressions are answered 400 `{"error": ...}` (protocol reference §2.4).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest

from engine.clock import FakeClock
from tests.engine.harness import APP_ID, AppThread, EngineThread

APP_URL = "http://127.0.0.1:9/api/inngest"


def register_payload(**options: Any) -> dict[str, Any]:
    """A register request as inngest 0.5.19 sends it, for one function with `options`."""
    function = {
        "id": "reg-hello",
        "name": "hello",
        "triggers": [{"event": "app/hello"}],
        "steps": {
            "step": {
                "id": "step",
                "name": "step",
                "runtime": {"type": "http", "url": f"{APP_URL}?fnId=reg-hello&stepId=step"},
            }
        },
        **options,
    }
    return {
        "appname": "reg",
        "url": APP_URL,
        "framework": "fast_api",
        "sdk": "py:v0.5.19",
        "v": "0.1",
        "deploy_type": "ping",
        "capabilities": {"connect": "v1", "in_band_sync": "v1", "trust_probe": "v1"},
        "functions": [function],
    }


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineThread]:
    thread = EngineThread(tmp_path / "engine.db", FakeClock())
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def http(engine: EngineThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=engine.url, timeout=10) as client:
        yield client


def registered(http: httpx.Client) -> list[str]:
    functions: list[str] = http.get("/dev").json()["functions"]
    return functions


def test_registering_reports_whether_anything_changed(http: httpx.Client) -> None:
    first = http.post("/fn/register", json=register_payload())
    same = http.post("/fn/register", json=register_payload())
    changed = http.post("/fn/register", json=register_payload(triggers=[{"event": "app/other"}]))

    assert (first.status_code, first.json()) == (200, {"ok": True, "modified": True})
    assert (same.status_code, same.json()) == (200, {"ok": True, "modified": False})
    assert (changed.status_code, changed.json()) == (200, {"ok": True, "modified": True})
    assert registered(http) == ["reg-hello"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"singleton": {"key": "event.data.user", "mode": "skip"}}, "singleton"),
        ({"timeouts": {"start": "5m", "finish": "1h"}}, "timeouts"),
        ({"frobnicate": {"level": 11}}, "frobnicate"),
        ({"triggers": [{"event": "app/hello", "expression": "event.data.x >"}]}, "event.data.x >"),
    ],
    ids=["singleton", "timeouts", "unknown-key", "invalid-expression"],
)
def test_a_function_the_engine_cannot_honour_is_refused_by_name(
    http: httpx.Client, options: dict[str, Any], named: str
) -> None:
    response = http.post("/fn/register", json=register_payload(**options))

    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert named in response.json()["error"]
    assert registered(http) == []


def test_an_sdk_app_with_a_singleton_function_fails_to_sync(engine: EngineThread) -> None:
    client = inngest.Inngest(
        app_id=APP_ID, is_production=False, api_base_url=engine.url, event_api_base_url=engine.url
    )

    @client.create_function(
        fn_id="lonely",
        singleton=inngest.Singleton(mode="skip"),
        trigger=inngest.TriggerEvent(event="app/lonely"),
    )
    async def lonely(ctx: inngest.Context) -> None:
        return None

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [lonely])
    app_thread = AppThread(app)
    try:
        results = engine.sync(app_thread.url)
    finally:
        app_thread.stop()

    assert len(results) == 1
    assert results[0]["ok"] is False
    assert "singleton" in results[0]["response"]["error"]
