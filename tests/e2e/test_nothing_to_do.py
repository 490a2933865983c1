"""A push that changes no indexed content ends `skipped`, touches nothing, and moves the
repository's ingested sha forward."""

from pathlib import Path

from service.models import FileStatus, IngestionStatus
from tests.e2e.system import page, running_system

DOCS = {f"docs/page-{n}.md": page(f"Page {n}") for n in range(4)}
EDITED = "docs/page-0.md"


def test_pushes_without_docs_changes_are_skipped(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write({**DOCS, "src/app.py": "print('v1')\n"})
        system.repo.commit("docs")
        first = system.finished(system.push())
        assert first.status is IngestionStatus.PROCESSED, first.error_message
        before = system.indexed()

        same_again = system.finished(system.push())  # no new commit
        assert same_again.status is IngestionStatus.SKIPPED, same_again.error_message
        assert same_again.files_total == 0 and system.files(same_again.id or 0) == {}

        system.repo.write({"src/app.py": "print('v2')\n"})
        system.repo.commit("code only")
        code_only = system.finished(system.push())
        assert code_only.status is IngestionStatus.SKIPPED, code_only.error_message
        [row] = system.files(code_only.id or 0).values()
        assert (row.path, row.status) == ("src/app.py", FileStatus.SKIPPED)
        assert row.error == "outside the include globs (**/*.md, **/*.mdx)"

        original = (system.repo.path / EDITED).read_text()
        system.repo.write({EDITED: original + "\nA typo.\n"})
        system.repo.commit("edit")
        system.repo.write({EDITED: original})
        system.repo.commit("revert the edit")
        reverted = system.finished(system.push())
        assert reverted.status is IngestionStatus.SKIPPED, reverted.error_message
        [row] = system.files(reverted.id or 0).values()
        assert (row.path, row.status, row.error) == (EDITED, FileStatus.SKIPPED, "unchanged")

        assert system.indexed() == before  # same rows, same update times
        system.assert_index_consistent()
        assert system.points() == len(DOCS)
        assert system.repository().last_ingested_sha == system.repo.head()
