"""Input a command cannot use, from its arguments or the environment, is one line that says what is
wrong and a non-zero exit code (2 for an argument or option, 1 otherwise): never a traceback, and
nothing is created or connected."""

import os
from pathlib import Path

import click
import httpx
import pytest

from cli.client import ServiceClient
from cli.sync import _repository_id
from router.search import MAX_LIMIT
from tests.cli.cli_runner import last_line, run, run_process
from tests.e2e.system import GitRepo

NOT_UTF8 = os.fsdecode(b"caf\xe9 docs")
NOT_UTF8_SHOWN = r"caf\xe9 docs is not UTF-8 (bytes shown as \xNN)"


def _data(tmp_path: Path) -> dict[str, str]:
    return {"DOCS_INGEST_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("DOCS_INGEST_PORT", "abc", "Error: DOCS_INGEST_PORT: Input should be a valid integer"),
        ("LOG_FORMAT", "xml", "Error: LOG_FORMAT: Input should be 'text' or 'json'"),
        ("DOCS_INGEST_LOG_LEVEL", "loud", "Error: DOCS_INGEST_LOG_LEVEL: 'loud' is not a logging"),
    ],
)
def test_a_setting_with_a_value_it_cannot_take_is_named(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    result = run_process(["repo", "list"], {**_data(tmp_path), variable: value}, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(said), result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "options", [["--port", "-1"], ["--port", "65536"], ["--engine-port", "0"]], ids=" ".join
)
def test_serve_refuses_a_port_out_of_range(tmp_path: Path, options: list[str]) -> None:
    # DOCS_INGEST_PORT cannot be bound either: nothing ever listens.
    result = run(["serve", *options], {**_data(tmp_path), "DOCS_INGEST_PORT": "-1"})

    assert result.exit_code == 2
    assert last_line(result.output) == (
        f"Error: Invalid value for '{options[0]}': {options[1]} is not in the range 1<=x<=65535."
    )


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_the_engine_refuses_a_port_out_of_range(tmp_path: Path, port: str) -> None:
    result = run(["engine", "--port", port, "--db", str(tmp_path / "engine.db")], _data(tmp_path))

    assert result.exit_code == 2
    assert last_line(result.output) == (
        f"Error: Invalid value for '-p' / '--port': {port} is not in the range 1<=x<=65535."
    )
    assert not (tmp_path / "engine.db").exists()


def test_search_refuses_a_limit_the_service_would_refuse(tmp_path: Path) -> None:
    result = run(["search", "deploy", "--limit", str(MAX_LIMIT + 1)], _data(tmp_path))

    assert result.exit_code == 2
    assert last_line(result.output) == (
        f"Error: Invalid value for '--limit': {MAX_LIMIT + 1} is not in the range "
        f"1<=x<={MAX_LIMIT}."
    )


@pytest.mark.parametrize("url", ["http://[::1", "127.0.0.1:8000", "ftp://docs.example.com"])
def test_a_service_url_that_is_no_http_url_is_named(tmp_path: Path, url: str) -> None:
    env = {**_data(tmp_path), "DOCS_INGEST_URL": url, "DOCS_INGEST_TOKEN": "t" * 43}

    result = run(["search", "deploy"], env)

    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: cannot use {url} as the service's address (set DOCS_INGEST_URL to its http:// "
        "or https:// URL): "
    )


def test_sync_takes_a_name_of_digits_that_are_not_ascii_as_a_name() -> None:
    listed = {"result": {"data": [{"id": 1, "fullName": "docs", "localPath": None}]}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=listed))

    with (
        ServiceClient("http://service.test", transport=transport) as client,
        pytest.raises(click.ClickException) as refused,
    ):
        _repository_id(client, "²")

    assert refused.value.message.startswith("the token's organization has no repository named ²")


def test_a_repository_folder_whose_name_is_not_utf8_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = GitRepo(tmp_path / NOT_UTF8)
    repo.write({"index.md": "# Docs\n"})
    repo.commit("first")
    data = _data(tmp_path)
    added = run(["repo", "add", str(repo.path)], data)
    pushed = run(["push", str(repo.path)], data)
    monkeypatch.chdir(repo.path)
    pushed_inside = run(["push"], data)
    listed = {"result": {"data": []}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=listed))
    with (
        ServiceClient("http://service.test", transport=transport) as client,
        pytest.raises(click.ClickException) as synced,
    ):
        _repository_id(client, str(repo.path))

    for result in (added, pushed, pushed_inside):
        assert result.exit_code == 1
        assert NOT_UTF8_SHOWN in result.output, result.output
    assert NOT_UTF8_SHOWN in synced.value.message
    assert not (tmp_path / "data").exists()


def test_repo_add_of_an_empty_string_connects_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write({"index.md": "# Docs\n"})
    repo.commit("first")
    monkeypatch.chdir(repo.path)

    result = run(["repo", "add", ""], _data(tmp_path))

    assert result.exit_code == 2
    assert last_line(result.output) == (
        "Error: Invalid value for 'PATH | OWNER/NAME': an empty string names no folder and no "
        "repository"
    )
    assert not (tmp_path / "data").exists()


def test_repo_add_refuses_an_installation_id_below_one(tmp_path: Path) -> None:
    result = run(["repo", "add", "acme/handbook", "--installation-id", "-5"], _data(tmp_path))

    assert result.exit_code == 2
    assert last_line(result.output) == (
        "Error: Invalid value for '--installation-id': -5 is not in the range x>=1."
    )


@pytest.mark.parametrize("command", [["token", "list"], ["token", "revoke", "1"]], ids=" ".join)
def test_token_list_and_revoke_create_no_database_in_the_wrong_place(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "elsewhere"

    result = run(command, {"DOCS_INGEST_DATA_DIR": str(missing)})

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no database at {missing.resolve()}/docs-ingest.db: ")
    assert not missing.exists()


def test_repo_list_of_an_organization_without_repositories_names_it(tmp_path: Path) -> None:
    assert run(["token", "create", "--org", "acme"], _data(tmp_path)).exit_code == 0

    result = run(["repo", "list", "--org", "nosuch"], _data(tmp_path))

    assert result.exit_code == 0
    assert result.output == (
        "organization nosuch has no repositories yet: connect one with "
        "`docs-ingest repo add PATH --org nosuch`\n"
    )


def test_a_database_the_command_cannot_open_is_one_line(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are notes\n")
    a_file = tmp_path / "file"
    a_file.write_text("")

    unparsable = run(["repo", "list"], {"DATABASE_URL": "not a url"})
    no_driver = run(["token", "create"], {"DATABASE_URL": "nosuchdb://host/name"})
    not_sqlite = run(["repo", "list"], {"DATABASE_URL": f"sqlite:///{not_a_database}"})
    no_folder = run(["token", "create"], {"DOCS_INGEST_DATA_DIR": str(a_file / "data")})

    assert [r.exit_code for r in (unparsable, no_driver, not_sqlite, no_folder)] == [1] * 4
    assert unparsable.output == (
        "Error: DATABASE_URL: Could not parse SQLAlchemy URL from given URL string\n"
    )
    assert (
        no_driver.output == "Error: DATABASE_URL: Can't load plugin: sqlalchemy.dialects:nosuchdb\n"
    )
    assert not_sqlite.output == "Error: cannot open the database: file is not a database\n"
    assert no_folder.output.startswith("Error: cannot open the database: ")
