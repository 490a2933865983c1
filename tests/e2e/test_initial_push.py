"""A first push of a docs repository indexes every markdown file: one point per chunk."""

from pathlib import Path

from service.models import IngestionStatus
from tests.e2e.system import running_system

FILES = 50


def test_initial_push_indexes_every_markdown_file(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(
            {
                f"docs/page-{n:02d}.md": f"# Page {n}\n\nThis page explains topic number {n}.\n"
                for n in range(FILES)
            }
        )
        system.repo.write({"src/main.py": "print('not docs')\n"})
        system.repo.commit("docs")

        job = system.finished(system.push())

        assert job.status is IngestionStatus.PROCESSED, job.error_message
        assert job.files_processed == FILES and job.files_failed == 0
        indexed = system.indexed()
        assert sorted(indexed) == [f"docs/page-{n:02d}.md" for n in range(FILES)]
        assert system.points() == FILES  # each small page is one chunk
        assert system.repository().last_ingested_sha == job.after_sha
        assert "src/main.py" not in system.files(job.id or 0)  # a full diff skips non-docs quietly
