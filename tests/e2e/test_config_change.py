"""A changed lightfast.yml re-plans the whole tree; an invalid one fails the job and says where."""

from pathlib import Path

from service.models import ConfigStatus, FileAction, FileStatus, IngestionStatus
from tests.e2e.system import page, prose, running_system

LONG = "docs/long.md"
DOCS = {
    LONG: page("Long", ("Everything", prose("long pages", 12))),
    "docs/a.md": page("A"),
    "docs/b.md": page("B"),
}
DRAFTS = {"drafts/idea.md": page("Idea"), "drafts/plan.md": page("Plan")}
SMALL_CHUNKS_WITHOUT_DRAFTS = """\
version: 1
chunk_size: 60
chunk_overlap: 10
exclude:
  - "drafts/**"
"""
MISSPELLED_KEY_ON_LINE_3 = """\
version: 1
store: docs
chunk_sise: 60
"""


def test_new_config_resyncs_the_whole_tree(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write({**DOCS, **DRAFTS})
        system.repo.commit("docs")
        first = system.finished(system.push())
        assert first.status is IngestionStatus.PROCESSED, first.error_message
        assert system.repository().config_status is ConfigStatus.UNCONFIGURED
        long_before = system.indexed()[LONG].chunk_count
        assert long_before == 2  # the intro and one section that fits 400 tokens

        system.repo.write({"lightfast.yml": SMALL_CHUNKS_WITHOUT_DRAFTS})
        system.repo.commit("smaller chunks, no drafts")
        second = system.finished(system.push())

        assert second.status is IngestionStatus.PROCESSED, second.error_message
        run = system.ingestion_run(second)
        assert run["output"]["plan"] == "lightfast.yml changed"
        files = system.files(second.id or 0)
        # Every file is re-planned although only the config changed; unchanged content included.
        assert {path: f.action for path, f in files.items()} == {
            **{path: FileAction.PROCESS for path in DOCS},
            **{path: FileAction.DELETE for path in DRAFTS},
        }
        assert all(f.status is FileStatus.PROCESSED for f in files.values())
        indexed = system.indexed()
        assert sorted(indexed) == sorted(DOCS)
        assert all(system.points(path) == 0 for path in DRAFTS)
        assert indexed[LONG].chunk_count > long_before
        assert files[LONG].chunks == indexed[LONG].chunk_count
        system.assert_index_consistent()
        assert system.repository().config_status is ConfigStatus.CONFIGURED


def test_new_chunking_settings_apply_when_the_push_that_brought_them_was_missed(
    tmp_path: Path,
    database_url: str,
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(DOCS)
        system.repo.commit("docs")
        assert system.finished(system.push()).status is IngestionStatus.PROCESSED
        long_before = system.indexed()[LONG].chunk_count

        system.repo.write({"lightfast.yml": SMALL_CHUNKS_WITHOUT_DRAFTS})
        missed = system.repo.commit("smaller chunks")  # its delivery never arrives
        system.repo.write({"docs/c.md": page("C")})
        system.repo.commit("one more page")
        job = system.finished(system.push(before=missed))

        assert job.status is IngestionStatus.PROCESSED, job.error_message
        assert system.ingestion_run(job)["output"]["plan"].startswith("a push was missed")
        files = system.files(job.id or 0)
        # The payload names only docs/c.md, yet every page is chunked again with the new sizes.
        assert {path: f.action for path, f in files.items()} == {
            path: FileAction.PROCESS for path in [*DOCS, "docs/c.md"]
        }
        assert all(f.status is FileStatus.PROCESSED for f in files.values())
        assert system.indexed()[LONG].chunk_count > long_before
        system.assert_index_consistent()


def test_invalid_config_fails_the_job_until_it_is_fixed(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(DOCS)
        system.repo.commit("docs")
        first = system.finished(system.push())
        assert first.status is IngestionStatus.PROCESSED, first.error_message
        points = system.points_by_path()

        system.repo.write({"lightfast.yml": MISSPELLED_KEY_ON_LINE_3})
        system.repo.commit("a config with a typo")
        broken = system.finished(system.push())

        assert broken.status is IngestionStatus.FAILED
        assert broken.error_message is not None
        assert "lightfast.yml line 3" in broken.error_message
        assert "chunk_sise" in broken.error_message
        repository = system.repository()
        assert repository.config_status is ConfigStatus.ERROR
        assert repository.config_error is not None and "line 3" in repository.config_error
        assert repository.last_ingested_sha == first.after_sha
        assert system.files(broken.id or 0) == {}
        assert system.points_by_path() == points  # the index is left as it was

        system.repo.write({"lightfast.yml": MISSPELLED_KEY_ON_LINE_3.replace("sise", "size")})
        system.repo.commit("fix the typo")
        fixed = system.finished(system.push())

        assert fixed.status is IngestionStatus.PROCESSED, fixed.error_message
        repository = system.repository()
        assert repository.config_status is ConfigStatus.CONFIGURED
        assert repository.config_error is None
        assert repository.last_ingested_sha == fixed.after_sha
        assert sorted(system.files(fixed.id or 0)) == sorted(DOCS)
        assert system.indexed()[LONG].chunk_count > points[LONG]
        system.assert_index_consistent()
