"""An organization slug is 1 to 63 lowercase letters, digits and hyphens, starting with a letter or
digit: `token create` and `repo add` refuse any other `--org` as a usage error (exit code 2, the
rule, no traceback) and create nothing; a slug by the rule works."""

from pathlib import Path

from sqlmodel import Session, select

from service.db import create_db_engine
from service.models import Organization
from tests.cli.cli_runner import last_line, run, run_process
from tests.e2e.system import GitRepo

RULE = "1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit"
REFUSED = {
    "": "''",
    "../../Bad Slug!": "'../../Bad Slug!'",
    "Acme": "'Acme'",
    "-acme": "'-acme'",
    "a" * 64: repr("a" * 64),
    "x" * 5000: "a slug of 5000 characters",
}


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"DOCS_INGEST_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}


def _organizations(database_url: str) -> list[str]:
    engine = create_db_engine(database_url)
    try:
        with Session(engine) as session:
            return sorted(session.exec(select(Organization.slug)).all())
    finally:
        engine.dispose()


def test_a_slug_off_the_rule_is_a_usage_error_and_creates_nothing(
    tmp_path: Path, database_url: str
) -> None:
    repo = GitRepo(tmp_path / "handbook")
    repo.write({"index.md": "# Handbook\n"})
    repo.commit("first")
    env = _env(tmp_path, database_url)

    commands = {
        "token create": ["token", "create", "--org"],
        "repo add": ["repo", "add", str(repo.path), "--org"],
    }
    answers = {
        (command, slug): run([*args, slug], env)
        for command, args in commands.items()
        for slug in REFUSED
    }
    accepted = [
        run(["token", "create", "--org", "acme"], env),
        run(["token", "create", "--org", "9-lives"], env),
        run(["repo", "add", str(repo.path), "--org", "b" * 63], env),
    ]

    assert {key: answer.exit_code for key, answer in answers.items()} == dict.fromkeys(answers, 2)
    assert {key: last_line(answer.output) for key, answer in answers.items()} == {
        (command, slug): f"Error: Invalid value for '--org': {shown} is not an organization "
        f"slug: use {RULE}"
        for command in commands
        for slug, shown in REFUSED.items()
    }
    assert [answer.exit_code for answer in accepted] == [0, 0, 0], [a.output for a in accepted]
    assert _organizations(database_url) == ["9-lives", "acme", "b" * 63]


def test_the_command_says_so_without_a_traceback(tmp_path: Path) -> None:
    """As its own process, the way a person runs it."""
    result = run_process(
        ["token", "create", "--org", "../../Bad Slug!"],
        {"DOCS_INGEST_DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: docs-ingest token create [OPTIONS]\n")
    assert last_line(result.stderr) == (
        f"Error: Invalid value for '--org': '../../Bad Slug!' is not an organization slug: "
        f"use {RULE}"
    )
    assert "Traceback" not in result.stderr


def test_search_sync_and_repo_list_refuse_an_org_off_the_rule(tmp_path: Path) -> None:
    env = {"DOCS_INGEST_DATA_DIR": str(tmp_path / "data")}
    commands = [["search", "deploy"], ["sync", "docs"], ["repo", "list"]]

    answers = [run([*command, "--org", "Bad Org"], env) for command in commands]

    assert [answer.exit_code for answer in answers] == [2, 2, 2]
    assert {last_line(answer.output) for answer in answers} == {
        f"Error: Invalid value for '--org': 'Bad Org' is not an organization slug: use {RULE}"
    }
