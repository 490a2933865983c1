"""Deleting files removes their points and index rows; every other file stays as it was."""

from pathlib import Path

from service.models import FileAction, FileStatus, IngestionStatus
from tests.e2e.system import page, prose, running_system

KEPT = {f"docs/kept-{n}.md": page(f"Kept {n}") for n in range(4)}
DELETED = {
    "docs/old-api.md": page("Old API", ("Calls", prose("the old API", 8))),
    "docs/legacy/setup.md": page("Legacy setup"),
}


def test_deleted_files_leave_the_index(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write({**KEPT, **DELETED})
        system.repo.commit("docs")
        first = system.finished(system.push())
        assert first.status is IngestionStatus.PROCESSED, first.error_message
        before = system.indexed()
        assert all(system.points(path) > 0 for path in DELETED)

        system.repo.remove(*DELETED)
        system.repo.commit("remove two pages")
        second = system.finished(system.push())

        assert second.status is IngestionStatus.PROCESSED, second.error_message
        files = system.files(second.id or 0)
        assert sorted(files) == sorted(DELETED)
        assert all(f.action is FileAction.DELETE for f in files.values())
        assert all(f.status is FileStatus.PROCESSED for f in files.values())
        assert (second.files_total, second.files_processed) == (2, 2)

        after = system.indexed()
        assert sorted(after) == sorted(KEPT)
        assert all(system.points(path) == 0 for path in DELETED)
        for path in KEPT:
            assert after[path].updated_at == before[path].updated_at
        system.assert_index_consistent()
        assert system.points() == len(KEPT)
