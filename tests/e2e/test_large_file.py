"""A file of more chunks than one step embeds is indexed in a step per part, then recorded; a
shorter version later leaves none of the old parts behind."""

from pathlib import Path

import pytest

from service import indexing
from service.models import FileStatus, IngestionStatus
from tests.e2e.system import System, page, prose, running_system

# Its point is a step per part; the rows it writes are any file's, which the other end-to-end
# tests write on both databases: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BIG = "docs/release-notes.md"
SMALL = "docs/intro.md"
PART = 3  # chunks a step embeds, for this test (the service runs in this process)


def notes(releases: int) -> str:
    return page(
        "Release notes", *((f"Release {n}", prose(f"release {n}", 6)) for n in range(releases))
    )


def file_run_steps(system: System, path: str) -> list[str]:
    """The steps of the file's run."""
    engine = system.engine
    runs = engine.get("/api/console/runs", params={"function": "docs-ingest-docs-file-process"})
    for run in runs.json()["runs"]:
        detail = engine.get(f"/api/console/runs/{run['id']}").json()
        if detail["input"]["event"]["data"]["path"] == path:
            return [step["name"] for step in detail["steps"]]
    raise AssertionError(f"no run of {path}")


def test_a_large_file_is_indexed_part_by_part(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexing, "PART_CHUNKS", PART)
    with running_system(tmp_path, database_url) as system:
        system.repo.write({BIG: notes(7), SMALL: page("Intro")})
        system.repo.commit("docs")
        first = system.finished(system.push())
        chunks = system.indexed()[BIG].chunk_count
        steps = file_run_steps(system, BIG)
        small_steps = file_run_steps(system, SMALL)

        system.repo.write({BIG: notes(2)})
        system.repo.commit("trim the release notes")
        second = system.finished(system.push())

        assert first.status is IngestionStatus.PROCESSED, first.error_message
        assert chunks == 8  # the intro and seven releases
        assert steps == ["index-part-0", "index-part-1", "index-part-2", "record"]
        assert small_steps == []  # one SDK call, no step
        assert system.files(first.id or 0)[BIG].status is FileStatus.PROCESSED
        assert system.files(first.id or 0)[BIG].chunks == chunks
        assert second.status is IngestionStatus.PROCESSED, second.error_message
        assert system.indexed()[BIG].chunk_count == 3
        assert system.points(BIG) == 3  # the old parts' points are gone
        system.assert_index_consistent()
