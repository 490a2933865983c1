"""`docs-ingest sync REPO` asks the running service for a full re-index: every file at the branch
head is processed again, unchanged or not, and the job is followed to its end."""

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from service.events import SYNC_REQUESTED
from service.models import IngestionCommit, IngestionStatus, IngestionTrigger
from tests.cli.cli_runner import run, system_env
from tests.e2e.system import running_system

PAGES = {f"docs/page-{n}.md": f"# Page {n}\n\nThis page explains topic {n}.\n" for n in range(3)}


def test_sync_reindexes_every_file_of_the_repository(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder of the current directory that shares the repository's name does not hide it.
    (tmp_path / "cwd" / "docs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "cwd")
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        system.repo.write(PAGES)
        head = system.repo.commit("docs")
        first = system.finished(system.push())
        assert first.files_processed == len(PAGES)

        synced = run(["sync", "docs"], env)

        assert synced.exit_code == 0, synced.output
        with Session(system.services.db) as session:
            job = session.exec(
                select(IngestionCommit).where(IngestionCommit.trigger == IngestionTrigger.MANUAL)
            ).one()
        assert job.status is IngestionStatus.PROCESSED
        assert (job.before_sha, job.after_sha) == (None, head)
        assert job.delivery_id.startswith("manual-")
        [event] = [e for e in system.events(SYNC_REQUESTED) if e["id"] == job.delivery_id]
        assert job.event_id == event["internal_id"]
        assert (job.files_processed, job.files_skipped) == (len(PAGES), 0)
        assert synced.output.splitlines()[-1].startswith(
            f"job {job.id} indexed docs at {head[:7]}: 3 processed, 0 skipped, 0 failed"
        )

        by_path = run(["sync", str(system.repo.path / "docs"), "--no-wait", "--json"], env)

        assert by_path.exit_code == 0, by_path.output
        started = json.loads(by_path.output)
        assert (started["repository"], started["after"], started["status"]) == (
            "docs",
            head,
            "queued",
        )
        assert system.finished(started["jobId"]).files_processed == len(PAGES)


def test_sync_of_an_unknown_repository_is_one_clear_error(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        by_name = run(["sync", "nosuch"], system_env(system))
        by_id = run(["sync", "99"], system_env(system))

    assert by_name.exit_code == by_id.exit_code == 1
    assert by_name.output == (
        "Error: the token's organization has no repository named nosuch: "
        "see `docs-ingest repo list`\n"
    )
    assert by_id.output == "Error: organization default has no repository 99\n"
