"""A renamed file moves in the index: the old path's points go, the new path's come."""

from pathlib import Path

import pytest

from service.models import FileAction, FileStatus, IngestionStatus
from tests.e2e.system import page, prose, running_system

# A rename is a deletion and an addition, whose rows test_delete and test_modify write on both
# databases: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OLD = "docs/getting-started.md"
NEW = "docs/guides/quickstart.md"
OTHERS = {f"docs/page-{n}.md": page(f"Page {n}") for n in range(3)}


def test_renamed_file_moves_to_its_new_path(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        content = page("Getting started", ("Install", prose("installing", 8)), ("Run", "Run it."))
        system.repo.write({**OTHERS, OLD: content})
        system.repo.commit("docs")
        first = system.finished(system.push())
        assert first.status is IngestionStatus.PROCESSED, first.error_message
        chunks = system.indexed()[OLD].chunk_count
        total = system.points()
        assert chunks == 3 and system.points(OLD) == chunks

        (system.repo.path / NEW).parent.mkdir(parents=True)
        system.repo.git("mv", OLD, NEW)
        system.repo.commit("move the quickstart")
        second = system.finished(system.push())

        assert second.status is IngestionStatus.PROCESSED, second.error_message
        files = system.files(second.id or 0)
        assert {path: f.action for path, f in files.items()} == {
            OLD: FileAction.DELETE,
            NEW: FileAction.PROCESS,
        }
        assert all(f.status is FileStatus.PROCESSED for f in files.values())

        indexed = system.indexed()
        assert sorted(indexed) == sorted([*OTHERS, NEW])
        assert system.points(OLD) == 0
        assert system.points(NEW) == indexed[NEW].chunk_count == chunks
        assert indexed[NEW].content_sha == system.repo.blob_of(NEW)
        assert system.points() == total
        system.assert_index_consistent()
