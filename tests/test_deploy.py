"""deploy/compose.yaml gives the app replicas only settings the service reads, and together they
select the production parts: PostgreSQL, the Qdrant server and signed self-hosted Inngest, which
reaches every replica through the proxy's one URL.

Docker cannot run here; what each of these settings does is exercised by the tests of its part
(the PostgreSQL leg, tests/service/test_vectors.py, tests/router/test_inngest_api.py, the signed
mode tests, tests/faults/test_redelivery_storm.py with two replicas on one database).
"""

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.db import database_url
from service.inngest_client import create_client
from service.settings import URL_VARIABLE, Settings
from service.vectors import create_vector_store
from service.vectors_server import QdrantServerVectorStore
from web.app import INNGEST_PATH

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "INNGEST_SIGNING_KEY": "9c" * 32,
    "INNGEST_EVENT_KEY": "event-secret",
}
VARIABLE = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


def services() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return dict(compose["services"])


def interpolated(value: str, given: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, with `given` as the .env."""

    def one(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        if given.get(name):
            return given[name]
        if kind == ":?":
            raise AssertionError(f"compose refuses to start without {name}: {default}")
        return default or ""

    return VARIABLE.sub(one, value)


def environment(service: str, given: dict[str, str]) -> dict[str, str]:
    return {
        name: interpolated(str(value), given)
        for name, value in services()[service]["environment"].items()
    }


def test_every_variable_the_replicas_get_is_a_setting_of_the_service() -> None:
    settings = {field.alias for field in Settings.model_fields.values()} | {URL_VARIABLE}
    given = set(services()["app"]["environment"])

    assert given - settings == set()


def test_the_required_variables_are_the_ones_env_example_lists() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    required = {m.group(1) for m in VARIABLE.finditer(text) if m.group(2) == ":?"}
    listed = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert required == set(SECRETS)
    assert {m.group(1) for m in VARIABLE.finditer(text)} <= listed


def test_the_replicas_run_on_postgresql_the_qdrant_server_and_signed_inngest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [*Settings.model_fields, *(f.alias for f in Settings.model_fields.values())]:
        monkeypatch.delenv(str(name), raising=False)
    for name, value in environment("app", SECRETS).items():
        monkeypatch.setenv(name, value)

    settings = Settings()
    store = create_vector_store(settings)
    asyncio.run(store.close())
    client = create_client(settings)

    assert not settings.embedded_engine
    assert database_url(settings.sqlalchemy_url).get_backend_name() == "postgresql"
    assert isinstance(store, QdrantServerVectorStore)
    assert client.is_production
    assert client._api_origin == client._event_api_origin == "http://inngest:8288"
    assert settings.host == "0.0.0.0"  # noqa: S104 - what the replicas listen on
    assert settings.embedding_rpm is None  # passed through empty: learnt from the headers


def test_inngest_shares_the_keys_and_database_server_and_calls_the_proxy() -> None:
    app, inngest = environment("app", SECRETS), environment("inngest", SECRETS)
    port = app["DOCS_INGEST_PORT"]
    caddyfile = (DEPLOY / "Caddyfile").read_text()

    assert {k: inngest[k] for k in ("INNGEST_SIGNING_KEY", "INNGEST_EVENT_KEY")} == {
        k: app[k] for k in ("INNGEST_SIGNING_KEY", "INNGEST_EVENT_KEY")
    }
    command = services()["inngest"]["command"]
    assert command[command.index("--sdk-url") + 1] == f"http://proxy:{port}{INNGEST_PATH}"
    assert f"\n:{port} {{" in caddyfile
    assert f"dynamic a app {port}" in caddyfile
    assert "@postgres:5432/inngest?" in inngest["INNGEST_POSTGRES_URI"]
    assert "CREATE DATABASE inngest" in (DEPLOY / "postgres-init.sql").read_text()
