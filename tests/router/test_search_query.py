"""`search.query` finds the pushed passage closest to a question, with where it comes from, and
only in the caller's organization and the repository asked for."""

import json
from pathlib import Path

import httpx
import pytest

from service.db import session_scope
from service.repositories import ensure_org
from service.tokens import issue_token
from tests.e2e.system import System, running_system

# Its point is the vector search; its rows are any push's, which the end-to-end tests write on
# both databases: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

DEPLOY = (
    "# Deploying\n\nShip the container behind the reverse proxy.\n\n"
    "## Rollback\n\nA rollback restores the previous image tag within two minutes.\n"
)
ANIMALS = "# Animals\n\nThe handbook also covers llamas, alpacas and their wool.\n"


def _token(system: System, org: str) -> str:
    with session_scope(system.services.db) as session:
        return issue_token(session, ensure_org(session, org), name="test").token


def _search(system: System, token: str, **input: object) -> httpx.Response:
    return system.http.get(
        "/api/trpc/search.query",
        params={"input": json.dumps(input)},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_search_returns_the_closest_passage_of_the_callers_documents(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write({"guide/deploy.md": DEPLOY, "animals.md": ANIMALS})
        system.repo.commit("docs")
        system.finished(system.push())
        ours, theirs = _token(system, "default"), _token(system, "acme")

        found = _search(system, ours, query="what do llamas grow?", limit=1)
        elsewhere = _search(system, ours, query="llamas", repository="another-repo")
        foreign = _search(system, theirs, query="llamas")
        ours_from_them = _search(system, theirs, query="llamas", repository="docs")

    assert found.status_code == 200, found.text
    data = found.json()["result"]["data"]
    assert data["organization"] == "default"
    [hit] = data["hits"]
    assert 0 < hit["score"] <= 1
    assert {k: v for k, v in hit.items() if k != "score"} == {
        "store": "docs",
        "repository": "docs",
        "path": "animals.md",
        "chunkIndex": 0,
        "headingPath": ["Animals"],
        "title": "Animals",
        "text": ANIMALS.strip(),
        "url": None,
        "localPath": str(system.repo.path / "animals.md"),
    }
    assert foreign.json()["result"]["data"] == {"organization": "acme", "hits": []}
    # A repository the organization does not have is named, as one of another organization is.
    assert (elsewhere.status_code, ours_from_them.status_code) == (404, 404)
    assert elsewhere.json()["error"]["message"] == (
        "organization default has no repository 'another-repo'"
    )
    assert ours_from_them.json()["error"]["message"] == "organization acme has no repository 'docs'"
