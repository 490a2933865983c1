"""`docs-ingest push`: a connected local repository's new commits reach the running service as a
signed push, the job is followed to its end, and what was pushed can then be searched."""

import json
import socket
from pathlib import Path

from service.models import IngestionStatus, IngestionTrigger
from tests.cli.cli_runner import run, run_process, system_env
from tests.e2e.system import GitRepo, running_system

DEPLOY = (
    "# Deploying\n\nShip the container behind the reverse proxy.\n\n"
    "## Rollback\n\nA rollback restores the previous image tag within two minutes.\n"
)
ANIMALS = "# Animals\n\nThe handbook also covers llamas, alpacas and their wool.\n"


def test_push_follows_the_job_to_its_end_and_the_pushed_text_is_searchable(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        system.repo.write({"guide/deploy.md": DEPLOY, "animals.md": ANIMALS})
        head = system.repo.commit("docs")

        pushed = run(["push", str(system.repo.path)], env)

        assert pushed.exit_code == 0, pushed.output
        job = system.repository()
        assert job.last_ingested_sha == head
        lines = pushed.output.splitlines()
        assert "job 1: 2/2 files" in lines
        assert lines[-1].startswith(f"job 1 indexed docs at {head[:7]}: 2 processed, 0 skipped")

        found = run(["search", "how do I roll back a release?", "--limit", "2"], env)

        assert found.exit_code == 0, found.output
        header, best, _other = found.output.splitlines()
        assert header.split() == ["score", "repository", "path", "section", "snippet"]
        assert best.split()[1:4] == ["docs", "guide/deploy.md", "Deploying"]
        assert "A rollback restores the previous image tag" in best
        assert "Deploying > Rollback" in best

        again = run(["push", str(system.repo.path)], env)

        assert again.exit_code == 0, again.output
        assert again.output == f"nothing to push: docs is indexed at {head[:7]}, the head of main\n"


def test_push_inside_a_repository_pushes_it_and_then_only_new_commits(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        system.repo.write({"guide/deploy.md": DEPLOY, "animals.md": ANIMALS})
        first = system.repo.commit("docs")

        # A real process, started in a subfolder of the repository, with no PATH.
        started = run_process(["push", "--no-wait"], env, cwd=system.repo.path / "guide")

        assert started.returncode == 0, started.stderr
        assert started.stdout == f"job 1 started for docs at {first[:7]}\n"
        job = system.finished(1)
        assert (job.status, job.trigger, job.after_sha) == (
            IngestionStatus.PROCESSED,
            IngestionTrigger.PUSH,
            first,
        )
        system.repo.write({"animals.md": ANIMALS + "\nGoats are covered too.\n"})
        second = system.repo.commit("goats")

        pushed = run(["push", str(system.repo.path), "--json"], env)

        assert pushed.exit_code == 0, pushed.output
        answer = json.loads(pushed.output)
        assert (answer["status"], answer["before"], answer["after"]) == ("processed", first, second)
        assert (answer["filesTotal"], answer["filesProcessed"]) == (1, 1)
        assert system.files(answer["jobId"]).keys() == {"animals.md"}


def test_push_says_so_when_the_service_is_not_running(tmp_path: Path, database_url: str) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write({"index.md": "# Docs\n"})
    repo.commit("first")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {
        "DOCS_INGEST_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "DOCS_INGEST_URL": url,
    }
    assert run(["repo", "add", str(repo.path)], env).exit_code == 0

    pushed = run(["push", str(repo.path)], env)

    assert pushed.exit_code == 1
    assert pushed.output == (
        f"Error: cannot reach the service at {url}: is `docs-ingest serve` running?\n"
    )


def test_push_of_a_repository_that_is_not_connected_says_how_to_connect_it(
    tmp_path: Path, database_url: str
) -> None:
    env = {"DOCS_INGEST_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}
    connected, other = GitRepo(tmp_path / "docs"), GitRepo(tmp_path / "other")
    for repo in (connected, other):
        repo.write({"index.md": "# Docs\n"})
        repo.commit("first")
    assert run(["repo", "add", str(connected.path)], env).exit_code == 0

    pushed = run(["push", str(other.path)], env)

    assert pushed.exit_code == 1
    root = other.path.resolve()
    assert pushed.output == (
        f"Error: {root} is not connected: connect it with `docs-ingest repo add {root}`\n"
    )


def test_push_without_the_services_database_names_the_settings_to_check(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write({"index.md": "# Docs\n"})
    repo.commit("first")
    missing = tmp_path / "elsewhere"

    pushed = run(["push", str(repo.path)], {"DOCS_INGEST_DATA_DIR": str(missing)})

    assert pushed.exit_code == 1
    assert pushed.output.startswith(f"Error: no database at {missing.resolve()}/docs-ingest.db: ")
    assert "DOCS_INGEST_DATA_DIR" in pushed.output
    assert not missing.exists()  # nothing was created in the wrong place
