"""The Inngest REST v1 client: its paths, auth, error tree and time parsing against a fake API, the
base URL it picks as the SDK would, and the real engine's answers."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import inngest
import pytest
import respx
from inngest._internal.transforms import hash_signing_key as sdk_hash_signing_key

from router.inngest_api import (
    InngestApi,
    InngestApiError,
    NotFound,
    RunInfo,
    Unavailable,
    create_inngest_api,
    parse_time,
)
from service.settings import Settings
from tests.engine.harness import harness

pytestmark = pytest.mark.anyio

BASE = "http://inngest.test:8288"
KEY_HEX = "9f2c" * 16
SIGNING_KEY = f"signkey-prod-{KEY_HEX}"
RUN_ID = "01JRUN0000000000000000000A"
EVENT_ID = "01JEVENT000000000000000000"
INNGEST_VARS = (
    "DOCS_INGEST_ENGINE",
    "INNGEST_DEV",
    "INNGEST_BASE_URL",
    "INNGEST_API_BASE_URL",
    "INNGEST_EVENT_API_BASE_URL",
    "INNGEST_SIGNING_KEY",
    "INNGEST_SIGNING_KEY_FALLBACK",
    "INNGEST_EVENT_KEY",
)


def run_json(run_id: str = RUN_ID, **fields: Any) -> dict[str, Any]:
    """A run as the REST API writes it; `output` is left out unless given, as Inngest does."""
    body = {
        "run_id": run_id,
        "run_started_at": "2026-11-30T02:03:04.123Z",
        "function_id": "4f1c3b8e-0000-4000-8000-000000000000",
        "function_version": 1,
        "environment_id": "00000000-0000-0000-0000-000000000000",
        "event_id": EVENT_ID,
        "status": "Running",
        "ended_at": None,
    }
    return body | fields


def envelope(data: Any) -> dict[str, Any]:
    return {"data": data, "metadata": {"fetched_at": "2026-11-30T02:03:05Z", "cached_until": None}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
async def http(router: respx.Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient) -> InngestApi:
    return InngestApi(http, BASE, signing_key=SIGNING_KEY, timeout=5)


@pytest.fixture
def no_inngest_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in INNGEST_VARS:
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


async def test_the_runs_of_an_event_come_oldest_first_with_their_times(
    router: respx.Router, api: InngestApi
) -> None:
    later = run_json("01JRUN0000000000000000000B", run_started_at="2026-11-30T02:03:09.5Z")
    ended = run_json(
        status="Completed",
        ended_at="2026-11-30T02:03:06.987654321Z",  # Go writes nanoseconds
        output={"files": 3},
    )
    route = router.get(f"{BASE}/v1/events/{EVENT_ID}/runs").respond(
        200, json=envelope([later, ended])
    )

    runs = await api.event_runs(EVENT_ID)

    assert route.call_count == 1
    assert runs == [
        RunInfo(
            run_id=RUN_ID,
            event_id=EVENT_ID,
            status="Completed",
            started_at=datetime(2026, 11, 30, 2, 3, 4, 123000, tzinfo=UTC),
            ended_at=datetime(2026, 11, 30, 2, 3, 6, 987654, tzinfo=UTC),
            output={"files": 3},
        ),
        RunInfo(
            run_id="01JRUN0000000000000000000B",
            event_id=EVENT_ID,
            status="Running",
            started_at=datetime(2026, 11, 30, 2, 3, 9, 500000, tzinfo=UTC),
            ended_at=None,
            output=None,
        ),
    ]
    assert runs[0].finished and not runs[1].finished


async def test_an_event_with_no_runs_yet_has_an_empty_list(
    router: respx.Router, api: InngestApi
) -> None:
    router.get(f"{BASE}/v1/events/{EVENT_ID}/runs").respond(200, json=envelope([]))
    assert await api.event_runs(EVENT_ID) == []


async def test_one_run_by_its_id(router: respx.Router, api: InngestApi) -> None:
    failed = run_json(status="Failed", ended_at="2026-11-30T02:04:00Z", output={"error": "boom"})
    router.get(f"{BASE}/v1/runs/{RUN_ID}").respond(200, json=envelope(failed))

    run = await api.run(RUN_ID)

    assert (run.run_id, run.status, run.output) == (RUN_ID, "Failed", {"error": "boom"})
    assert run.ended_at == datetime(2026, 11, 30, 2, 4, tzinfo=UTC)


async def test_cancel_deletes_the_run_and_accepts_an_empty_body(
    router: respx.Router, api: InngestApi
) -> None:
    route = router.delete(f"{BASE}/v1/runs/{RUN_ID}").respond(200, content=b"")
    assert await api.cancel_run(RUN_ID) is None
    assert route.call_count == 1


async def test_the_signing_key_goes_as_the_sdks_bearer_hash(
    router: respx.Router, api: InngestApi
) -> None:
    route = router.get(f"{BASE}/v1/runs/{RUN_ID}").respond(200, json=envelope(run_json()))
    await api.run(RUN_ID)

    sent = route.calls.last.request.headers["authorization"]
    assert sent == f"Bearer {hashlib.sha256(bytes.fromhex(KEY_HEX)).hexdigest()}"
    assert sent == f"Bearer {sdk_hash_signing_key(SIGNING_KEY)}"
    assert KEY_HEX not in sent


async def test_without_a_signing_key_no_authorization_is_sent(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    route = router.get(f"{BASE}/v1/runs/{RUN_ID}").respond(200, json=envelope(run_json()))
    await InngestApi(http, BASE).run(RUN_ID)
    assert "authorization" not in route.calls.last.request.headers


async def test_a_signing_key_that_is_not_hex_is_refused_without_echoing_it(
    http: httpx.AsyncClient,
) -> None:
    with pytest.raises(ValueError, match="hex") as caught:
        InngestApi(http, BASE, signing_key="signkey-prod-not-hex-secret")
    assert "secret" not in str(caught.value)


async def test_an_error_sent_with_http_200_is_recognised(
    router: respx.Router, api: InngestApi
) -> None:
    body = {"error": "Invalid run ID: x", "data": None, "status": 400}
    router.get(f"{BASE}/v1/runs/x").respond(200, json=body)

    with pytest.raises(InngestApiError) as caught:
        await api.run("x")

    assert type(caught.value) is InngestApiError
    assert caught.value.status == 400
    assert not caught.value.retriable
    assert "Invalid run ID: x" in str(caught.value)


@pytest.mark.parametrize("http_status", [200, 404])
async def test_an_unknown_run_is_not_found(
    router: respx.Router, api: InngestApi, http_status: int
) -> None:
    body = {"error": f"run {RUN_ID} not found", "data": None, "status": 404}
    router.get(f"{BASE}/v1/runs/{RUN_ID}").respond(http_status, json=body)

    with pytest.raises(NotFound) as caught:
        await api.run(RUN_ID)
    assert caught.value.status == 404


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_server_failures_are_unavailable_and_retriable(
    router: respx.Router, api: InngestApi, status: int
) -> None:
    router.get(f"{BASE}/v1/events/{EVENT_ID}/runs").respond(status, text="upstream trouble")

    with pytest.raises(Unavailable) as caught:
        await api.event_runs(EVENT_ID)
    assert caught.value.retriable
    assert caught.value.status == status


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
async def test_transport_failures_are_unavailable(
    router: respx.Router, api: InngestApi, failure: Exception
) -> None:
    router.get(f"{BASE}/v1/runs/{RUN_ID}").mock(side_effect=failure)

    with pytest.raises(Unavailable) as caught:
        await api.run(RUN_ID)
    assert caught.value.retriable
    assert isinstance(caught.value.__cause__, httpx.TransportError)


async def test_a_refused_key_is_an_error_not_worth_retrying(
    router: respx.Router, api: InngestApi
) -> None:
    router.get(f"{BASE}/v1/runs/{RUN_ID}").respond(
        401, json={"error": "Unauthorized", "status": 401, "data": None}
    )
    with pytest.raises(InngestApiError) as caught:
        await api.run(RUN_ID)
    assert (type(caught.value), caught.value.status, caught.value.retriable) == (
        InngestApiError,
        401,
        False,
    )
    assert KEY_HEX not in str(caught.value)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>a proxy page</html>"),
        httpx.Response(200, json={"data": {"status": "Running"}}),  # no run_id
        httpx.Response(200, json=envelope(run_json(run_started_at="yesterday"))),
    ],
)
async def test_an_unexpected_answer_is_an_error(
    router: respx.Router, api: InngestApi, response: httpx.Response
) -> None:
    router.get(f"{BASE}/v1/runs/{RUN_ID}").mock(return_value=response)
    with pytest.raises(InngestApiError, match=r"unexpected|malformed"):
        await api.run(RUN_ID)


async def test_a_base_url_path_is_ignored_as_the_sdk_does(
    router: respx.Router, http: httpx.AsyncClient
) -> None:
    route = router.get(f"{BASE}/v1/runs/{RUN_ID}").respond(200, json=envelope(run_json()))
    await InngestApi(http, f"{BASE}/some/prefix/").run(RUN_ID)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T02:03:04.123Z", datetime(2026, 11, 30, 2, 3, 4, 123000, tzinfo=UTC)),
        ("2026-11-30T02:03:04.123456789Z", datetime(2026, 11, 30, 2, 3, 4, 123456, tzinfo=UTC)),
        ("2026-11-30T04:03:04.5+02:00", datetime(2026, 11, 30, 2, 3, 4, 500000, tzinfo=UTC)),
        ("2026-11-30T02:03:04Z", datetime(2026, 11, 30, 2, 3, 4, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time: not set
        (None, None),
        ("", None),
    ],
)
def test_times_of_every_precision_are_read_in_utc(
    text: str | None, expected: datetime | None
) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed is None or parsed.utcoffset() is not None


# --- which Inngest, and the link to a run in its UI ---------------------------------------------


@pytest.mark.parametrize(
    ("env", "origin"),
    [
        ({"INNGEST_DEV": "1"}, "http://127.0.0.1:8288"),
        ({"INNGEST_DEV": "true"}, "http://127.0.0.1:8288"),
        ({"INNGEST_DEV": "http://127.0.0.1:9999"}, "http://127.0.0.1:9999"),
        ({"INNGEST_DEV": "localhost:9999"}, "http://localhost:9999"),
        # The SDK's URL check strips scheme characters from both ends: "localhos" is no URL.
        ({"INNGEST_DEV": "http://localhost"}, "http://127.0.0.1:8288"),
        (
            {"INNGEST_DEV": "1", "INNGEST_BASE_URL": "http://inngest.lan:8288"},
            "http://inngest.lan:8288",
        ),
        (
            {"INNGEST_BASE_URL": "https://inngest.example.com", "INNGEST_SIGNING_KEY": SIGNING_KEY},
            "https://inngest.example.com",
        ),
        ({"INNGEST_BASE_URL": "inngest.example.com"}, "https://inngest.example.com"),
        (
            {
                "INNGEST_API_BASE_URL": "http://api.inngest.lan:8288",
                "INNGEST_BASE_URL": "http://inngest.lan:8288",
                "INNGEST_SIGNING_KEY": SIGNING_KEY,
            },
            "http://api.inngest.lan:8288",
        ),
        # The keys alone name Inngest Cloud, as the SDK reads them.
        ({"INNGEST_SIGNING_KEY": SIGNING_KEY}, "https://api.inngest.com"),
        ({"INNGEST_DEV": "0", "INNGEST_SIGNING_KEY": SIGNING_KEY}, "https://api.inngest.com"),
    ],
)
async def test_the_factory_picks_the_api_the_sdk_talks_to(
    no_inngest_env: pytest.MonkeyPatch, http: httpx.AsyncClient, env: dict[str, str], origin: str
) -> None:
    for name, value in env.items():
        no_inngest_env.setenv(name, value)

    api = create_inngest_api(Settings(), http)

    assert api.origin == origin
    sdk = inngest.Inngest(app_id="docs-ingest")
    assert sdk._api_origin.rstrip("/") == origin


async def test_the_embedded_engine_is_the_api_when_no_inngest_is_configured(
    no_inngest_env: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    no_inngest_env.setenv("DOCS_INGEST_ENGINE_PORT", "18999")
    api = create_inngest_api(Settings(), http)
    assert api.origin == "http://127.0.0.1:18999"
    assert api.run_url(RUN_ID) == f"http://127.0.0.1:18999/run?runID={RUN_ID}"
    no_inngest_env.setenv("INNGEST_SIGNING_KEY", SIGNING_KEY)
    no_inngest_env.setenv("DOCS_INGEST_ENGINE", "embedded")  # the engine, signed
    assert create_inngest_api(Settings(), http).origin == "http://127.0.0.1:18999"


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"INNGEST_DEV": "1"}, f"http://127.0.0.1:8288/run?runID={RUN_ID}"),
        (
            {"INNGEST_BASE_URL": "https://inngest.example.com", "INNGEST_SIGNING_KEY": SIGNING_KEY},
            f"https://inngest.example.com/run?runID={RUN_ID}",
        ),
        (
            {"INNGEST_DEV": "0", "INNGEST_SIGNING_KEY": SIGNING_KEY},
            f"https://app.inngest.com/env/production/runs/{RUN_ID}",
        ),
    ],
)
async def test_a_run_links_to_the_ui_of_the_inngest_in_use(
    no_inngest_env: pytest.MonkeyPatch, http: httpx.AsyncClient, env: dict[str, str], url: str
) -> None:
    for name, value in env.items():
        no_inngest_env.setenv(name, value)
    assert create_inngest_api(Settings(), http).run_url(RUN_ID) == url


# --- the real engine ------------------------------------------------------------------------------


def napper(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="napper", trigger=inngest.TriggerEvent(event="test/nap"))
    async def nap(ctx: inngest.Context) -> str:
        await ctx.step.sleep("nap", timedelta(hours=1))  # the engine's clock is fake: no waking
        return "rested"

    return [nap]


async def until(check: Any) -> Any:
    """Poll `check` until it returns something truthy; fail after about ten seconds."""
    for _ in range(500):
        if value := await check():
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met within 10 s")


async def test_the_client_reads_the_real_engines_answers(tmp_path: Path) -> None:
    with harness(tmp_path, napper) as h:
        async with httpx.AsyncClient() as http:
            api = InngestApi(http, h.engine.url, timeout=10)
            event_id = h.send("test/nap")
            [run] = await until(lambda: api.event_runs(event_id))

            assert (run.event_id, run.status, run.ended_at, run.output) == (
                event_id,
                "Running",
                None,
                None,
            )
            assert run.started_at is not None and run.started_at.tzinfo is not None
            assert await api.run(run.run_id) == run

            await api.cancel_run(run.run_id)
            ended = await until(lambda: finished(api, run.run_id))
            assert ended.status == "Cancelled" and ended.ended_at is not None

            with pytest.raises(InngestApiError) as again:
                await api.cancel_run(run.run_id)
            assert again.value.status == 400 and not again.value.retriable

            nobody_listens = h.send("test/nobody-listens")
            assert await api.event_runs(nobody_listens) == []
            with pytest.raises(NotFound):
                await api.run("01JNOSUCHRUN00000000000000")
            with pytest.raises(NotFound):
                await api.event_runs("01JNOSUCHEVENT000000000000")


async def finished(api: InngestApi, run_id: str) -> RunInfo | None:
    run = await api.run(run_id)
    return run if run.finished else None
