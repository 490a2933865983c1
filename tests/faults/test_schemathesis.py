"""Schemathesis over the app's own `/openapi.json`, against the app served on loopback.

Every operation the document describes (each procedure, the webhook, the operations endpoints) is
called with inputs generated from its schema, valid and invalid, with a valid token: no answer may
be a 5xx, and every answer must be one the document describes, in the shape it describes. An
engine takes the events the app sends (a sync, a retry, a push), so a 503 would be a real
failure; the organization has a repository and jobs, so some generated ids name real ones.

Left alone, a generated delivery names no connected repository and carries a signature that does
not match, and stops at the first checks. So a push is aimed, as it is sent, at the connected
repository's branch with commit shas of the right form, and about half are signed with the
repository's secret, as GitHub signs: those reach the job's row and its event.

Below, as plain cases, inputs a bounded run rarely generates that once got past the checks.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from engine.clock import FakeClock
from router.names import WEBHOOK_PATH
from router.procedure import ProcedureKind
from router.procedures import PROCEDURES
from service.db import migrate, session_scope
from service.deps import Services
from service.models import ConnectedRepository, FileStatus, IngestionStatus, Provider
from service.repositories import connect, ensure_org, local_external_id
from service.settings import Settings
from service.tokens import issue_token
from tests.e2e.system import GitRepo
from tests.engine.harness import AppThread, EngineThread, free_port
from tests.router.jobs_factory import make_job
from tests.router.service import running_router
from web.app import create_app
from web.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_of

MAX_EXAMPLES = 6  # per operation and phase: the whole run stays within seconds per database
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Served:
    url: str
    token: str
    repository: ConnectedRepository  # connected, with jobs


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[Served]:
    """The app, and a token of its organization, which has a repository with jobs."""
    engine = EngineThread(tmp_path / "engine.db", FakeClock())
    settings = Settings(  # type: ignore[call-arg]
        DOCS_INGEST_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=database_url,
        DOCS_INGEST_ENGINE_PORT=engine.port,
        # Nothing listens there: connecting a GitHub repository fails at once, saying so.
        GITHUB_API_URL=f"http://127.0.0.1:{free_port()}",
        GITHUB_TOKEN="ghp_test",
    )
    migrate(settings.sqlalchemy_url)
    services = Services.create(settings)
    app = AppThread(create_app(settings, services))
    try:
        token, repository = _seed(services, tmp_path)
        yield Served(f"http://127.0.0.1:{app.port}", token, repository)
    finally:
        app.stop()
        engine.stop()


@pytest.fixture
def api(served: Served) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "base-url": served.url,
            "headers": {"Authorization": f"Bearer {served.token}"},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
            # A wrong method is a 405 from the router, or from FastAPI for the other routes;
            # trying the two the document uses, and one it never does, is enough.
            "phases": {
                "coverage": {"unexpected-methods": ["GET", "POST", "DELETE"]},
                "stateful": {"enabled": False},
            },
        }
    )
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=config)


@pytest.fixture
def session(served: Served) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = AimedDeliveries(served.repository)
        yield session


class AimedDeliveries(requests.auth.AuthBase):
    """Aims each webhook delivery whose body is a push at the connected repository, and signs
    those whose delivery id has an odd length; a missing header stays missing."""

    def __init__(self, repository: ConnectedRepository) -> None:
        self.repository = repository

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.path_url != WEBHOOK_PATH:
            return request
        raw = request.body.encode() if isinstance(request.body, str) else request.body or b""
        try:
            push = json.loads(raw)
        except ValueError:
            push = None
        if isinstance(push, dict) and isinstance(push.get("repository"), dict):
            sha = hashlib.sha1(raw, usedforsecurity=False).hexdigest()  # a commit sha's form
            push |= {
                "ref": f"refs/heads/{self.repository.default_branch}",
                "before": sha[::-1],
                "after": sha,
                "repository": push["repository"] | {"id": self.repository.external_id},
            }
            raw = json.dumps(push).encode()
            request.prepare_body(data=raw, files=None)
            if EVENT_HEADER in request.headers:
                request.headers[EVENT_HEADER] = "push"
        delivery = request.headers.get(DELIVERY_HEADER, "")
        if SIGNATURE_HEADER in request.headers and len(delivery) % 2 == 1:
            request.headers[SIGNATURE_HEADER] = signature_of(self.repository.webhook_secret, raw)
        return request


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
def test_no_input_gets_a_server_error_or_an_undescribed_answer(
    case: schemathesis.Case, session: requests.Session
) -> None:
    response = case.call_and_validate(session=session, checks=CHECKS)
    sent = response.request
    print(f"{sent.method} {sent.url} {_shown(sent.body)}")
    print(f"  → {response.status_code} {_shown(response.content)}")


def _shown(body: Any) -> str:
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    return text if len(text) <= 200 else text[:199] + "…"


def _seed(services: Services, tmp_path: Path) -> tuple[str, ConnectedRepository]:
    checkout = GitRepo(tmp_path / "handbook")
    checkout.write({"guide/intro.md": "# Intro\n\nHello.\n"})
    checkout.commit("first")
    with session_scope(services.db) as session:
        token = issue_token(session, ensure_org(session, "acme"), name="schemathesis").token
        repository = connect(
            session,
            provider=Provider.LOCAL,
            full_name="handbook",
            external_id=local_external_id(checkout.path),
            default_branch="main",
            embedder=services.embedder,
            org_slug="acme",
            local_path=checkout.path,
        )
    files = {"guide/intro.md": FileStatus.FAILED, "guide/ok.md": FileStatus.PROCESSED}
    for status in IngestionStatus:
        make_job(services.db, repository, status=status, files=files)
    return token, repository


# Strings PostgreSQL's text cannot hold (NUL) or UTF-8 cannot encode (a lone surrogate, spelt by a
# JSON escape), which git refuses as an argument too, and a path the system refuses to look at:
# each a 4xx naming the problem, on either database.
REFUSED = [
    ("jobs.list", {"text": "a\x00b"}, 400, "text: Value error, must not contain the NUL"),
    ("jobs.cancelMany", {"filter": {"text": "\x00"}}, 400, "filter.text: Value error, must not"),
    ("search.query", {"query": "x", "store": "\x00"}, 400, "store: Value error, must not contain"),
    (
        "search.query",
        '{"query": "x", "store": "\\ud800"}',
        400,
        "store: Value error, must be valid",
    ),
    (
        "repositories.connect",
        {"provider": "local", "path": "/tmp", "branch": "main\x00"},
        400,
        "local.branch: Value error, must not contain the NUL",
    ),
    (
        "repositories.connect",
        {"provider": "local", "path": "/" + "a" * 300},
        412,
        "cannot be read: File name too long",
    ),
]


@pytest.mark.parametrize(("procedure", "input", "status", "message"), REFUSED)
def test_an_input_no_database_or_command_takes_is_refused_saying_why(
    tmp_path: Path, database_url: str, procedure: str, input: Any, status: int, message: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        token = router.token()
        raw = input if isinstance(input, str) else json.dumps(input)
        headers = {"Authorization": f"Bearer {token}"}
        if PROCEDURES[procedure].kind is ProcedureKind.QUERY:
            answer = router.client.get(
                f"/api/trpc/{procedure}", params={"input": raw}, headers=headers
            )
        else:
            answer = router.client.post(f"/api/trpc/{procedure}", content=raw, headers=headers)
    print(f"{procedure} {raw[:80]} → {answer.status_code} {answer.text[:160]}")
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]


def test_a_push_naming_a_repository_id_with_nul_is_refused_saying_why(
    tmp_path: Path, database_url: str
) -> None:
    push = {
        "ref": "refs/heads/main",
        "before": "a" * 40,
        "after": "b" * 40,
        "repository": {"id": "local-\x00", "full_name": "acme/docs"},
    }
    body = json.dumps(push).encode()
    headers = {
        EVENT_HEADER: "push",
        DELIVERY_HEADER: "nul-1",
        SIGNATURE_HEADER: signature_of("not the secret", body),
        "content-type": "application/json",
    }
    with running_router(tmp_path, database_url) as router:
        answer = router.client.post(WEBHOOK_PATH, content=body, headers=headers)
    print(f"POST {WEBHOOK_PATH} {body[:120]!r} → {answer.status_code} {answer.text}")
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "malformed push payload: repository.id: must not contain the NUL character "
        "(\\u0000)"
    }
