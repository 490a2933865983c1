"""`docs-ingest repo add|list`: connecting a local or GitHub repository writes its row and says
what to do next; connecting one twice, or a folder that is no repository, is one clear error."""

import json
import re
from pathlib import Path

import respx
from sqlmodel import Session, select

from service.db import create_db_engine
from service.models import ConnectedRepository, Provider
from tests.cli.cli_runner import run
from tests.e2e.system import GitRepo

GITHUB_API = "https://api.github.test"
SERVICE_URL = "https://docs.example.com"


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {"DOCS_INGEST_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, **extra}


def _rows(database_url: str) -> list[ConnectedRepository]:
    engine = create_db_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(ConnectedRepository)).all())
    finally:
        engine.dispose()


def test_adding_a_local_repository_connects_its_checked_out_branch_once(
    tmp_path: Path, database_url: str
) -> None:
    repo = GitRepo(tmp_path / "handbook")
    repo.git("checkout", "-q", "-b", "trunk")
    repo.write({"index.md": "# Handbook\n"})
    repo.commit("first")

    added = run(["repo", "add", str(repo.path / ".")], _env(tmp_path, database_url))

    assert added.exit_code == 0, added.output
    [row] = _rows(database_url)
    assert (row.provider, row.full_name, row.default_branch) == (
        Provider.LOCAL,
        "handbook",
        "trunk",
    )
    assert row.local_path == str(repo.path.resolve())
    assert f"(id {row.id})" in added.output
    assert f"docs-ingest push {repo.path.resolve()}" in added.output

    for again_as in (repo.path, repo.path / ".git", repo.path / ".git" / "refs"):
        again = run(["repo", "add", str(again_as)], _env(tmp_path, database_url))

        assert again.exit_code == 1
        assert again.output.strip().splitlines() == [
            f"Error: {repo.path.resolve()} is already connected as handbook (id {row.id})"
        ]
    assert len(_rows(database_url)) == 1


def test_a_folder_that_is_not_a_git_repository_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()

    result = run(["repo", "add", str(folder)], _env(tmp_path, database_url))

    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {folder.resolve()} is not a git repository"


def test_adding_a_github_repository_prints_the_webhook_to_configure(
    tmp_path: Path, database_url: str
) -> None:
    env = _env(
        tmp_path,
        database_url,
        DOCS_INGEST_URL=SERVICE_URL,
        GITHUB_API_URL=GITHUB_API,
        GITHUB_TOKEN="ghp_test",
    )
    with respx.mock(base_url=GITHUB_API, assert_all_called=True) as github:
        github.get("/repos/octo/docs").respond(
            json={"id": 1296269, "full_name": "Octo/Docs", "default_branch": "trunk"}
        )
        github.get("/repos/octo/docs/commits/trunk").respond(text="a" * 40)

        result = run(["repo", "add", "octo/docs", "--org", "acme"], env)
        asked_with = github.calls[0].request.headers["authorization"]

    assert result.exit_code == 0, result.output
    [row] = _rows(database_url)
    assert (row.provider, row.full_name, row.external_id) == (
        Provider.GITHUB,
        "Octo/Docs",
        "1296269",
    )
    assert row.default_branch == "trunk"
    assert f"Payload URL:  {SERVICE_URL}/webhooks/github" in result.output
    assert f"Secret:       {row.webhook_secret}" in result.output
    assert asked_with == "Bearer ghp_test"


def test_a_github_repository_that_github_does_not_know_is_not_connected(
    tmp_path: Path, database_url: str
) -> None:
    env = _env(tmp_path, database_url, GITHUB_API_URL=GITHUB_API, GITHUB_TOKEN="ghp_test")
    with respx.mock(base_url=GITHUB_API) as github:
        github.get("/repos/octo/nope").respond(404, json={"message": "Not Found"})

        result = run(["repo", "add", "octo/nope"], env)

    assert result.exit_code == 1
    assert re.fullmatch(
        r"Error: GitHub has no repository octo/nope \(HTTP 404: Not Found\)\n", result.output
    )
    assert _rows(database_url) == []


def test_a_github_repository_needs_credentials(tmp_path: Path, database_url: str) -> None:
    result = run(["repo", "add", "octo/docs"], _env(tmp_path, database_url, GITHUB_TOKEN=""))

    assert result.exit_code == 1
    assert "set GITHUB_TOKEN" in result.output
    assert _rows(database_url) == []


def test_repo_list_shows_every_connected_repository(tmp_path: Path, database_url: str) -> None:
    for name in ("alpha", "beta"):
        repo = GitRepo(tmp_path / name)
        repo.write({"index.md": f"# {name}\n"})
        repo.commit("first")
        assert run(["repo", "add", str(repo.path)], _env(tmp_path, database_url)).exit_code == 0

    listed = run(["repo", "list"], _env(tmp_path, database_url))

    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split() == ["id", "org", "name", "branch", "status", "ingested", "source"]
    assert [line.split()[:6] for line in lines[1:]] == [
        ["1", "default", "alpha", "main", "pending", "never"],
        ["2", "default", "beta", "main", "pending", "never"],
    ]

    as_json = run(["repo", "list", "--json"], _env(tmp_path, database_url))

    assert [item["fullName"] for item in json.loads(as_json.output)] == ["alpha", "beta"]


def test_the_printed_push_command_can_be_pasted_for_a_folder_with_spaces(
    tmp_path: Path, database_url: str
) -> None:
    repo = GitRepo(tmp_path / "team docs")
    repo.write({"index.md": "# Team\n"})
    repo.commit("first")

    added = run(["repo", "add", str(repo.path)], _env(tmp_path, database_url))

    assert added.exit_code == 0, added.output
    assert f"index it: docs-ingest push '{repo.path.resolve()}'" in added.output
