"""`docs-ingest push`, `sync` and `search` on a repository with names a hostile or careless
committer can give files: bytes that are not UTF-8, line ends and tabs. Such a name never blocks
the repository, and a force push whose old head was garbage-collected is still pushed."""

import json
import os
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from cli.pushes import push_payload
from service.events import GITHUB_PUSH, SYNC_REQUESTED
from service.models import FileStatus, IngestionCommit, IngestionStatus, IngestionTrigger
from tests.cli.cli_runner import run, system_env
from tests.e2e.system import GitRepo, System, page, running_system

GOOD = {
    f"docs/good-{n}.md": page(f"Good {n}", ("Body", f"Page {n} of the handbook.")) for n in range(2)
}
# Latin-1 bytes, as an old tool or another operating system would write the name.
LATIN1_NAME = os.fsdecode(b"docs/caf\xe9.md")
LATIN1_SHOWN = r"docs/caf\xe9.md"
LATIN1_REASON = r"its name is not UTF-8 (bytes that are not shown as \xNN): docs/caf\xe9.md"


def payload(repo: GitRepo, before: str, after: str) -> dict[str, Any]:
    return push_payload(
        repo.path, branch="main", before=before, after=after, repository_id="1", full_name="docs"
    )


def failed_calls(system: System, job: IngestionCommit) -> int:
    """The calls of the job's `docs-ingestion` run that failed (each one a retry)."""
    [event] = [
        event
        for name in (GITHUB_PUSH, SYNC_REQUESTED)
        for event in system.events(name)
        if event["id"] == job.delivery_id
    ]
    [started] = system.runs(event)
    detail = system.engine.get(f"/api/console/runs/{started['run_id']}")
    answer: dict[str, Any] = detail.raise_for_status().json()
    attempts = answer["attempts"] + [a for step in answer["steps"] for a in step["attempts"]]
    return sum(1 for attempt in attempts if attempt["error"] is not None)


def test_the_payload_names_a_carriage_return_as_git_has_it_and_leaves_out_a_latin1_commit(
    tmp_path: Path,
) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write(GOOD)
    base = repo.commit("docs")
    repo.write({"docs/cr\rname.md": "# CR\n"})
    odd = repo.commit("carriage return")
    repo.write({LATIN1_NAME: "# Cafe\n"})
    latin1 = repo.commit("latin-1")

    pushed = payload(repo, base, latin1)

    # The service sees one commit listed of two, and compares the whole tree.
    assert (pushed["size"], [c["id"] for c in pushed["commits"]]) == (2, [odd])
    assert pushed["commits"][0]["added"] == ["docs/cr\rname.md"]
    json.dumps(pushed, ensure_ascii=False).encode("utf-8")


def test_the_payload_of_a_force_push_whose_old_head_is_gone_is_forced_with_no_commits(
    tmp_path: Path,
) -> None:
    repo = GitRepo(tmp_path / "docs")
    repo.write(GOOD)
    repo.commit("docs")
    repo.write({"docs/dropped.md": "# Dropped\n"})
    dropped = repo.commit("to be rewritten")
    repo.git("reset", "--quiet", "--hard", "HEAD~1")
    rewritten = repo.commit("rewritten")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "--quiet", "--prune=now")

    pushed = payload(repo, dropped, rewritten)

    assert (pushed["forced"], pushed["commits"], pushed["size"]) == (True, [], 0)


def test_push_skips_a_name_that_is_not_utf8_naming_it_and_indexes_the_rest(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        system.repo.write({**GOOD, LATIN1_NAME: page("Cafe", ("Menu", "Coffee and cake."))})
        head = system.repo.commit("docs")

        pushed = run(["push", str(system.repo.path)], env)

        assert pushed.exit_code == 0, pushed.output
        assert pushed.output.splitlines()[-1].startswith(
            f"job 1 indexed docs at {head[:7]}: 2 processed, 1 skipped, 0 failed"
        )
        job = system.job(1)
        files = system.files(1)
        assert files.keys() == {*GOOD, LATIN1_SHOWN}
        assert files[LATIN1_SHOWN].status is FileStatus.SKIPPED
        assert files[LATIN1_SHOWN].error == LATIN1_REASON
        assert sorted(system.indexed()) == sorted(GOOD)
        assert failed_calls(system, job) == 0

        # A later commit that adds another such name cannot be listed in the payload: the
        # service compares the whole tree and names both.
        second_name = os.fsdecode(b"docs/na\xefve.md")
        system.repo.write({second_name: "# Naive\n", "docs/good-0.md": page("Good 0, revised")})
        system.repo.commit("more")

        again = run(["push", str(system.repo.path), "--json"], env)

        assert again.exit_code == 0, again.output
        files = system.files(2)
        assert {path: row.status for path, row in files.items()} == {
            "docs/good-0.md": FileStatus.PROCESSED,
            LATIN1_SHOWN: FileStatus.SKIPPED,
            r"docs/na\xefve.md": FileStatus.SKIPPED,
        }
        assert files[r"docs/na\xefve.md"].error == (
            r"its name is not UTF-8 (bytes that are not shown as \xNN): docs/na\xefve.md"
        )
        assert failed_calls(system, system.job(2)) == 0


def test_sync_of_a_repository_with_a_name_that_is_not_utf8_ends_at_once(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write({**GOOD, LATIN1_NAME: "# Cafe\n"})
        head = system.repo.commit("docs")

        synced = run(["sync", "docs"], system_env(system))

        assert synced.exit_code == 0, synced.output
        assert synced.output.splitlines()[-1].startswith(
            f"job 1 indexed docs at {head[:7]}: 2 processed, 1 skipped, 0 failed"
        )
        with Session(system.services.db) as session:
            job = session.exec(select(IngestionCommit)).one()
        assert (job.trigger, job.status) == (IngestionTrigger.MANUAL, IngestionStatus.PROCESSED)
        assert system.files(1)[LATIN1_SHOWN].error == LATIN1_REASON
        assert sorted(system.indexed()) == sorted(GOOD)
        assert failed_calls(system, job) == 0


def test_push_indexes_a_name_with_a_carriage_return_as_git_has_it(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        system.repo.write(GOOD)
        system.repo.commit("docs")
        assert run(["push", str(system.repo.path)], env).exit_code == 0
        odd = "docs/cr\rname.md"
        system.repo.write({odd: page("Carriage", ("Return", "A name from an old Mac."))})
        head = system.repo.commit("odd name")

        pushed = run(["push", str(system.repo.path)], env)

        assert pushed.exit_code == 0, pushed.output
        assert pushed.output.splitlines()[-1].startswith(
            f"job 2 indexed docs at {head[:7]}: 1 processed, 0 skipped, 0 failed"
        )
        assert system.files(2).keys() == {odd}
        assert sorted(system.indexed()) == sorted([*GOOD, odd])
        assert system.points(odd) > 0


def test_push_after_a_force_push_whose_old_head_was_collected_compares_the_whole_tree(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        system.repo.write(GOOD)
        system.repo.commit("docs")
        system.repo.write({"docs/dropped.md": page("Dropped")})
        system.repo.commit("to be rewritten")
        assert run(["push", str(system.repo.path)], env).exit_code == 0
        assert "docs/dropped.md" in system.indexed()
        system.repo.git("reset", "--quiet", "--hard", "HEAD~1")
        system.repo.write({"docs/kept.md": page("Kept")})
        head = system.repo.commit("rewritten")
        system.repo.git("reflog", "expire", "--expire=now", "--all")
        system.repo.git("gc", "--quiet", "--prune=now")

        pushed = run(["push", str(system.repo.path), "--json"], env)

        assert pushed.exit_code == 0, pushed.output
        answer = json.loads(pushed.output)
        assert (answer["status"], answer["after"], answer["filesProcessed"]) == (
            "processed",
            head,
            2,
        )
        job = system.job(answer["jobId"])
        assert {path: row.action.value for path, row in system.files(answer["jobId"]).items()} == {
            "docs/dropped.md": "delete",
            "docs/kept.md": "process",
        }
        assert system.ingestion_run(job)["output"]["plan"] == "force push"
        assert sorted(system.indexed()) == sorted([*GOOD, "docs/kept.md"])


def test_search_shows_line_ends_and_tabs_in_a_path_escaped(
    tmp_path: Path, database_url: str
) -> None:
    odd = "docs/two\nlines\tand a tab.md"
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        system.repo.write({odd: "# Llamas\n\nLlama wool is shorn once a year, in spring.\n"})
        system.repo.commit("docs")
        assert run(["push", str(system.repo.path)], env).exit_code == 0

        found = run(["search", "when are llamas shorn?", "--limit", "1"], env)

        assert found.exit_code == 0, found.output
        header, row = found.output.splitlines()
        assert header.split() == ["score", "repository", "path", "section", "snippet"]
        assert r"docs/two\nlines\tand a tab.md" in row
        assert row.endswith("Llama wool is shorn once a year, in spring.")
