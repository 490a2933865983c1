"""After a force push the index matches the rewritten branch, whatever the lost commits did."""

from pathlib import Path

import pytest

from service.models import FileAction, FileStatus, IngestionStatus
from tests.e2e.system import page, prose, running_system

# Its point is planning from the new tree; the rows it writes are those of test_delete and
# test_modify, which run on both databases: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_force_push_leaves_exactly_the_new_tree_indexed(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        repo = system.repo
        repo.write({f"docs/{name}.md": page(name.title()) for name in ("a", "b", "c", "d")})
        base = repo.commit("docs")
        assert system.finished(system.push()).status is IngestionStatus.PROCESSED

        repo.write({"docs/a.md": page("A", ("More", prose("a", 8))), "docs/lost.md": page("Lost")})
        abandoned = repo.commit("work that will be thrown away")
        assert system.finished(system.push()).status is IngestionStatus.PROCESSED
        assert system.indexed()["docs/a.md"].chunk_count == 2

        repo.git("reset", "-q", "--hard", base)
        repo.remove("docs/b.md")
        repo.write({"docs/c.md": page("C", ("Changed", "New text.")), "docs/new.md": page("New")})
        repo.commit("the history that wins")
        job = system.finished(system.push(before=abandoned))

        assert job.status is IngestionStatus.PROCESSED, job.error_message
        run = system.ingestion_run(job)
        assert run["output"]["plan"] == "force push"
        files = system.files(job.id or 0)
        assert {path: f.action for path, f in files.items()} == {
            "docs/a.md": FileAction.PROCESS,  # back to the base version
            "docs/b.md": FileAction.DELETE,
            "docs/c.md": FileAction.PROCESS,
            "docs/lost.md": FileAction.DELETE,
            "docs/new.md": FileAction.PROCESS,
        }
        assert all(f.status is FileStatus.PROCESSED for f in files.values())
        tree = {
            path: repo.blob_of(path)
            for path in repo.git("ls-tree", "-r", "--name-only", "HEAD").split()
        }
        indexed = system.indexed()
        assert {path: row.content_sha for path, row in indexed.items()} == tree
        assert indexed["docs/a.md"].chunk_count == 1
        assert system.points("docs/lost.md") == system.points("docs/b.md") == 0
        system.assert_index_consistent()
        assert system.repository().last_ingested_sha == repo.head()
