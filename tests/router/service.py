"""The service app with its router on a fresh database, called in process; no engine runs.

Enough for everything the router answers from the database alone: auth, error shapes, scoping.
Organizations, tokens and repositories are made directly in the database.
"""

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from service.db import migrate, session_scope
from service.deps import Services
from service.models import ConnectedRepository, Provider
from service.repositories import connect, ensure_org, local_external_id
from service.settings import Settings
from service.tokens import issue_token
from tests.e2e.system import GitRepo
from web.app import create_app


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Router:
    def __init__(self, client: TestClient, services: Services, tmp_path: Path) -> None:
        self.client = client
        self.services = services
        self.tmp_path = tmp_path

    def token(self, org: str = "default") -> str:
        with session_scope(self.services.db) as session:
            return issue_token(session, ensure_org(session, org), name="test").token

    def local_repository(
        self, name: str, org: str = "default"
    ) -> tuple[ConnectedRepository, GitRepo]:
        """A connected local repository: its row, and the real (empty) git repository."""
        repo = GitRepo(self.tmp_path / org / name)
        with session_scope(self.services.db) as session:
            row = connect(
                session,
                provider=Provider.LOCAL,
                full_name=name,
                external_id=local_external_id(repo.path),
                default_branch="main",
                embedder=self.services.embedder,
                org_slug=org,
                local_path=repo.path,
            )
        return row, repo

    def services_repository(self, repository_id: int) -> ConnectedRepository:
        with session_scope(self.services.db) as session:
            row = session.get(ConnectedRepository, repository_id)
        assert row is not None
        return row

    def query(self, procedure: str, token: str | None, input: Any = None) -> httpx.Response:
        params = {"input": json.dumps(input)} if input is not None else None
        return self.client.get(f"/api/trpc/{procedure}", params=params, headers=_auth(token))

    def mutate(self, procedure: str, token: str | None, input: Any) -> httpx.Response:
        return self.client.post(f"/api/trpc/{procedure}", json=input, headers=_auth(token))


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@contextmanager
def running_router(
    tmp_path: Path, database_url: str | None = None, **overrides: Any
) -> Iterator[Router]:
    """The app on `database_url` (the `database_url` fixture's; None: the default SQLite file
    in the data folder)."""
    settings = Settings(  # type: ignore[call-arg]
        DOCS_INGEST_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=database_url,
        **{
            # No engine listens there: an event the router sends fails at once.
            "DOCS_INGEST_ENGINE_PORT": unused_port(),
            **overrides,
        },
    )
    migrate(settings.sqlalchemy_url)
    services = Services.create(settings)
    with TestClient(create_app(settings, services)) as client:
        yield Router(client, services, tmp_path)
