"""Signed mode: the engine with a signing key and an event key, as self-hosted `inngest start`.

The app is the real inngest SDK in cloud mode (INNGEST_DEV unset, a signing key given), which
refuses any call not signed with its key and signs its answers. The engine signs its calls,
refuses answers not signed with its key, takes events only at its event key and its REST API
only with its signing key as bearer (raw or hashed); a key that does not match is named.
"""

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest
from click.testing import CliRunner
from inngest._internal.errors import SendEventsError
from inngest._internal.transforms import hash_signing_key as sdk_hash_signing_key

from engine import config as dev_config
from engine.cli import engine_command
from engine.clock import FakeClock
from engine.signing import Signer
from tests.engine.harness import APP_ID, TERMINAL, AppThread, EngineThread, eventually

KEY_HEX = "5e1f" * 16
SIGNING_KEY = f"signkey-test-{KEY_HEX}"
OTHER_KEY = "signkey-test-" + "a0b1" * 16
EVENT_KEY = "evtkey-" + "4f" * 16
Make = Callable[[inngest.Inngest], list[inngest.Function[Any]]]

# No INNGEST_* variable of the machine decides the SDK's mode or keys: each test does.
pytestmark = pytest.mark.usefixtures("cloud_mode")


def greeter(retries: int = 0) -> Make:
    def make(client: inngest.Inngest) -> list[inngest.Function[Any]]:
        @client.create_function(
            fn_id="greet", trigger=inngest.TriggerEvent(event="app/greet"), retries=retries
        )
        async def greet(ctx: inngest.Context) -> str:
            async def name() -> str:
                return str(ctx.event.data["name"])

            who = await ctx.step.run("name", name)
            await ctx.step.send_event("tell", inngest.Event(name="app/greeted", data={"who": who}))
            return f"hello {who}"

        return [greet]

    return make


@contextmanager
def signed_engine(tmp_path: Path, **options: Any) -> Iterator[EngineThread]:
    engine = EngineThread(
        tmp_path / "engine.db",
        FakeClock(),
        signing_key=SIGNING_KEY,
        event_keys=[EVENT_KEY],
        **options,
    )
    try:
        yield engine
    finally:
        engine.stop()


@contextmanager
def cloud_app(
    engine: EngineThread,
    make: Make,
    *,
    signing_key: str = SIGNING_KEY,
    streaming: inngest.Streaming | None = None,
) -> Iterator[AppThread]:
    """A FastAPI app of the real SDK in cloud mode, with `signing_key`."""
    client = inngest.Inngest(
        app_id=APP_ID,
        api_base_url=engine.url,
        event_api_base_url=engine.url,
        signing_key=signing_key,
        event_key=EVENT_KEY,
        logger=logging.getLogger("test.app"),
    )
    assert client.is_production  # INNGEST_DEV is unset: cloud mode
    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, make(client), streaming=streaming)
    thread = AppThread(app)
    try:
        yield thread
    finally:
        thread.stop()


def api(
    engine: EngineThread, bearer: str | None = sdk_hash_signing_key(SIGNING_KEY)
) -> httpx.Client:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.Client(base_url=engine.url, headers=headers, timeout=10)


def send(http: httpx.Client, name: str, data: dict[str, Any], key: str = EVENT_KEY) -> str:
    response = http.post(f"/e/{key}", json={"name": name, "data": data})
    assert response.status_code == 200, response.text
    event_id: str = response.json()["ids"][0]
    return event_id


def ended_run(http: httpx.Client, event_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        runs = http.get(f"/v1/events/{event_id}/runs").json()["data"]
        return runs[0] if runs and runs[0]["status"] in TERMINAL else None

    run: dict[str, Any] = eventually(ended)
    return run


# --- signed calls, checked by the SDK ------------------------------------------------------------


@pytest.mark.parametrize("streaming", [None, inngest.Streaming.FORCE], ids=["plain", "streamed"])
def test_a_signed_engine_runs_a_cloud_mode_app_that_checks_every_call(
    tmp_path: Path, streaming: inngest.Streaming | None
) -> None:
    with (
        signed_engine(tmp_path) as engine,
        cloud_app(engine, greeter(), streaming=streaming) as app,
        api(engine) as http,
    ):
        [synced] = engine.sync(app.url)
        run = ended_run(http, send(http, "app/greet", {"name": "Ada"}))
        greeted = http.get("/v1/events", params={"name": "app/greeted"}).json()["data"]
        unsigned = httpx.post(
            app.url, params={"fnId": f"{APP_ID}-greet", "stepId": "step"}, json={}, timeout=10
        )

    assert synced["ok"], synced
    assert (run["status"], run["output"]) == ("Completed", "hello Ada")
    # The app's own step.send_event reached the engine at the event key.
    assert [event["data"] for event in greeted] == [{"who": "Ada"}]
    # The run was possible only because every call was signed: the SDK refuses one that is not.
    assert (unsigned.status_code, unsigned.json()) == (401, {"message": "Unauthorized"})


# --- answers not signed with the engine's key ----------------------------------------------------


class AnswerTamperer(httpx.AsyncBaseTransport):
    """Passes calls to the app through, then drops or replaces the signature of its answers."""

    def __init__(self, signature: Callable[[bytes], str | None]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.signature = signature
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "POST" or "fnId" not in request.url.params:
            return response
        self.calls += 1
        content = await response.aread()
        headers = {k: v for k, v in response.headers.items() if k != "x-inngest-signature"}
        headers.pop("content-length", None)
        signature = self.signature(content)
        if signature is not None:
            headers["x-inngest-signature"] = signature
        return httpx.Response(response.status_code, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


def greeted_through(tmp_path: Path, tamperer: AnswerTamperer) -> dict[str, Any]:
    """The ended run of one greeting (no retries), its answers passed through `tamperer`."""
    with (
        signed_engine(tmp_path, transport=tamperer) as engine,
        cloud_app(engine, greeter()) as app,
        api(engine) as http,
    ):
        assert engine.sync(app.url)[0]["ok"]
        return ended_run(http, send(http, "app/greet", {"name": "Ada"}))


@pytest.mark.parametrize(
    ("signature", "named"),
    [
        (lambda content: None, "is not signed: a signed engine reads only answers signed"),
        (
            lambda content: Signer(OTHER_KEY).sign_bytes(content),
            "is not signed with the engine's signing key",
        ),
    ],
    ids=["unsigned", "other-key"],
)
def test_an_answer_not_signed_with_the_engines_key_fails_the_run_naming_the_key(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    signature: Callable[[bytes], str | None],
    named: str,
) -> None:
    tamperer = AnswerTamperer(signature)
    run = greeted_through(tmp_path, tamperer)

    assert run["status"] == "Failed"
    assert named in run["output"]["message"]
    assert "INNGEST_SIGNING_KEY" in run["output"]["message"]
    assert tamperer.calls == 1  # retries=0: refused once, not memoized, not retried
    assert any(named in record.getMessage() for record in caplog.records if record.name == "engine")


def test_an_answer_signed_long_before_the_call_is_refused_as_a_replay(tmp_path: Path) -> None:
    """Signed with the right key, but ten minutes before the call was sent: an old answer played
    back, as the Go server refuses past its signatureTimeDeltaMax of five minutes."""
    signer = Signer(SIGNING_KEY)
    tamperer = AnswerTamperer(lambda content: signer.sign_bytes(content, int(time.time()) - 600))
    run = greeted_through(tmp_path, tamperer)

    assert run["status"] == "Failed"
    assert re.fullmatch(
        r"the app's answer \(HTTP 206\) was signed 60[01] s before the call was sent: refused as"
        r" a replay \(is the app's clock right\?\)",
        run["output"]["message"],
    )
    assert tamperer.calls == 1


def test_a_refused_answer_is_retried_like_any_failed_attempt_then_fails(tmp_path: Path) -> None:
    """As the Go executor treats an app's 401 or an answer not from an SDK: one failed attempt."""
    tamperer = AnswerTamperer(lambda content: None)
    with (
        signed_engine(tmp_path, transport=tamperer, retry_interval=1) as engine,
        cloud_app(engine, greeter(retries=2)) as app,
        api(engine) as http,
    ):
        assert engine.sync(app.url)[0]["ok"]
        event_id = send(http, "app/greet", {"name": "Ada"})
        clock = engine.clock
        assert clock is not None

        def ended() -> bool:
            runs = http.get(f"/v1/events/{event_id}/runs").json()["data"]
            if runs and runs[0]["status"] in TERMINAL:
                return True
            clock.advance(1000)
            return False

        eventually(ended)
        run = ended_run(http, event_id)

    assert run["status"] == "Failed"
    assert "is not signed" in run["output"]["message"]
    assert tamperer.calls == 3  # the first attempt and its two retries


# --- a wrong signing key -------------------------------------------------------------------------


def test_an_app_with_another_signing_key_fails_to_sync_naming_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        signed_engine(tmp_path) as engine,
        cloud_app(engine, greeter(), signing_key=OTHER_KEY) as app,
    ):
        [synced] = engine.sync(app.url)
        functions = engine.engine.machine.functions

    wanted = "the app's signing key (its INNGEST_SIGNING_KEY) is not the engine's signing key"
    assert synced["ok"] is False
    assert wanted in synced["response"]["error"]
    assert functions == {}
    logged = [(record.name, record.getMessage()) for record in caplog.records]
    # The engine's log ("sync of ... failed: ...") and the app's log both say which key.
    assert any(name == "engine" and wanted in message for name, message in logged)
    assert any(
        name == "test.app" and message.startswith("registration_failed") and wanted in message
        for name, message in logged
    )
    assert KEY_HEX not in caplog.text and OTHER_KEY not in caplog.text


def test_a_call_to_an_app_with_another_signing_key_fails_the_run_naming_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The app's key changed after it was synced: the SDK refuses the engine's signature."""
    with (
        signed_engine(tmp_path) as engine,
        cloud_app(engine, greeter(), signing_key=OTHER_KEY) as app,
        api(engine) as http,
    ):
        registered = http.post("/fn/register", json=register_payload(app.url))
        run = ended_run(http, send(http, "app/greet", {"name": "Ada"}))

    assert registered.json() == {"ok": True, "modified": True}
    assert run["status"] == "Failed"
    message = run["output"]["message"]
    assert "the app refused the engine's request signature (HTTP 401)" in message
    assert "INNGEST_SIGNING_KEY" in message
    assert any("request signature" in r.getMessage() for r in caplog.records if r.name == "engine")


def test_an_unsigned_engine_names_the_signing_key_a_cloud_mode_app_needs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = EngineThread(tmp_path / "engine.db", FakeClock())
    try:
        with cloud_app(engine, greeter()) as app:
            [synced] = engine.sync(app.url)
    finally:
        engine.stop()

    assert synced["ok"] is False
    [logged] = [r.getMessage() for r in caplog.records if r.name == "engine"]
    assert logged.startswith(f"sync of {app.url} failed: Sync rejected")
    assert "an engine without --signing-key syncs apps in dev mode" in logged


def register_payload(app_url: str) -> dict[str, Any]:
    """A sync of the greeter as inngest 0.5.19 sends it, with no retries."""
    slug = f"{APP_ID}-greet"
    return {
        "appname": APP_ID,
        "url": app_url,
        "framework": "fast_api",
        "sdk": "py:v0.5.19",
        "v": "0.1",
        "functions": [
            {
                "id": slug,
                "name": "greet",
                "triggers": [{"event": "app/greet"}],
                "steps": {
                    "step": {
                        "id": "step",
                        "name": "step",
                        "retries": {"attempts": 0},
                        "runtime": {"type": "http", "url": f"{app_url}?fnId={slug}&stepId=step"},
                    }
                },
            }
        ],
    }


# --- the event key -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/e/not-the-key", "Event key not found: the key in /e/{key} is not one of the engine's"),
        ("/e/NO_EVENT_KEY_SET", "Event key is required"),
        ("/e/", "Event key is required"),
    ],
    ids=["wrong", "sdk-without-key", "none"],
)
def test_an_event_without_the_event_key_is_refused_401_naming_it(
    tmp_path: Path, path: str, named: str
) -> None:
    with signed_engine(tmp_path) as engine, api(engine) as http:
        refused = http.post(path, json={"name": "app/greet", "data": {"name": "Ada"}})
        stored = http.get("/v1/events").json()["data"]

    assert refused.status_code == 401
    assert refused.json()["ids"] == []
    assert refused.json()["error"].startswith(named)
    assert "event key" in refused.json()["error"]
    assert stored == []


def test_an_sdk_with_the_wrong_event_key_cannot_send_and_is_told_which_key(tmp_path: Path) -> None:
    with signed_engine(tmp_path) as engine, api(engine) as http:
        wrong = inngest.Inngest(
            app_id=APP_ID,
            event_api_base_url=engine.url,
            api_base_url=engine.url,
            signing_key=SIGNING_KEY,
            event_key="evtkey-wrong",
        )
        right = inngest.Inngest(
            app_id=APP_ID,
            event_api_base_url=engine.url,
            api_base_url=engine.url,
            signing_key=SIGNING_KEY,
            event_key=EVENT_KEY,
        )
        try:
            with pytest.raises(SendEventsError) as refused:
                wrong.send_sync(inngest.Event(name="app/greet", data={"name": "Ada"}))
            ids = right.send_sync(inngest.Event(name="app/greet", data={"name": "Grace"}))
        finally:  # the SDK's client keeps its connections open; the test's engine is going
            for client in (wrong, right):
                client._http_client._http_client_sync.close()
        stored = http.get("/v1/events").json()["data"]

    assert "Event key not found" in str(refused.value)
    assert "INNGEST_EVENT_KEY" in str(refused.value)
    assert [event["internal_id"] for event in stored] == ids
    assert [event["data"] for event in stored] == [{"name": "Grace"}]


# --- the signing key as bearer -------------------------------------------------------------------

PROTECTED = [
    ("GET", "/v1/events"),
    ("GET", "/v1/events/01JEVENT000000000000000000"),
    ("GET", "/v1/events/01JEVENT000000000000000000/runs"),
    ("GET", "/v1/runs/01JRUN0000000000000000000A"),
    ("DELETE", "/v1/runs/01JRUN0000000000000000000A"),
    ("POST", "/v1/cancellations"),
    ("POST", "/fn/register"),
    ("POST", "/dev/sync"),
]


@pytest.mark.parametrize(
    ("bearer", "named"),
    [
        (None, "takes its signing key (INNGEST_SIGNING_KEY) as 'Authorization: Bearer <key>'"),
        ("0" * 64, "the bearer token is not the engine's signing key"),
        (sdk_hash_signing_key(OTHER_KEY), "the bearer token is not the engine's signing key"),
    ],
    ids=["missing", "wrong", "another-key-hashed"],
)
def test_the_rest_api_and_sync_refuse_a_request_without_the_signing_key(
    tmp_path: Path, bearer: str | None, named: str
) -> None:
    with signed_engine(tmp_path) as engine, api(engine, bearer) as http:
        answers = [http.request(method, path, json={}) for method, path in PROTECTED]

    for (method, path), response in zip(PROTECTED, answers, strict=True):
        assert response.status_code == 401, (method, path, response.text)
        body = response.json()
        assert body["status"] == 401 and body["data"] is None
        assert "Authentication failed" in body["error"]
        assert "signing key" in body["error"]
    assert named in answers[0].json()["error"]


@pytest.mark.parametrize(
    "bearer",
    [SIGNING_KEY, KEY_HEX, sdk_hash_signing_key(SIGNING_KEY), f"signkey-prod-{KEY_HEX}"],
    ids=["raw", "raw-without-prefix", "hashed", "raw-other-prefix"],
)
def test_the_rest_api_takes_the_signing_key_raw_or_hashed(tmp_path: Path, bearer: str) -> None:
    with signed_engine(tmp_path) as engine, api(engine, bearer) as http:
        event_id = send(http, "app/greet", {"name": "Ada"})
        listed = http.get("/v1/events")
        runs = http.get(f"/v1/events/{event_id}/runs")
        lower = http.get("/v1/events", headers={"authorization": f"bearer {bearer}"})

    assert listed.status_code == 200
    assert [event["internal_id"] for event in listed.json()["data"]] == [event_id]
    assert listed.headers["x-inngest-server-kind"] == "cloud"
    assert (runs.status_code, runs.json()["data"]) == (200, [])
    assert lower.status_code == 200


def test_the_console_and_health_stay_open(tmp_path: Path) -> None:
    with signed_engine(tmp_path) as engine, api(engine, None) as http:
        answers = [http.get(path) for path in ("/", "/api/console/runs", "/health", "/dev")]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]


# --- configuration -------------------------------------------------------------------------------


def test_the_engine_reads_its_keys_as_inngest_start_does(tmp_path: Path) -> None:
    config_file = tmp_path / "inngest.json"
    config_file.write_text(json.dumps({"event-key": ["from-file"]}))
    env = {"INNGEST_SIGNING_KEY": SIGNING_KEY, "INNGEST_EVENT_KEY": "first,second"}

    from_env = dev_config.load({}, config_file, env)
    from_flags = dev_config.load(
        {"signing_key": OTHER_KEY, "event_key": ("flag",)}, config_file, env
    )
    from_file = dev_config.load({}, config_file, {})

    assert (from_env.signing_key, from_env.event_keys) == (SIGNING_KEY, ["first", "second"])
    assert (from_flags.signing_key, from_flags.event_keys) == (OTHER_KEY, ["flag"])
    assert (from_file.signing_key, from_file.event_keys) == (None, ["from-file"])
    assert SIGNING_KEY not in repr(from_env)


def test_a_signing_key_that_is_not_hex_is_refused_at_start_naming_it(tmp_path: Path) -> None:
    config_file = tmp_path / "inngest.json"
    config_file.write_text("{}")
    secret = "signkey-prod-not-hex-at-all"

    result = CliRunner().invoke(
        engine_command,
        ["--config", str(config_file), "--db", str(tmp_path / "e.db"), "--signing-key", secret],
    )

    assert result.exit_code != 0
    assert "signing-key (--signing-key or INNGEST_SIGNING_KEY)" in result.output
    assert "hex" in result.output
    assert "not-hex-at-all" not in result.output
