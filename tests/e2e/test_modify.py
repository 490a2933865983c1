"""A push that changes two files re-indexes those two only: one grows, one shrinks."""

from pathlib import Path

from service.models import FileAction, FileStatus, IngestionStatus
from tests.e2e.system import page, prose, running_system

UNTOUCHED = {f"docs/topic-{n}.md": page(f"Topic {n}") for n in range(4)}
GROWING = "docs/guide.md"
SHRINKING = "docs/reference.md"
SECTIONS = [("Install", "install"), ("Configure", "configure"), ("Deploy", "deploy")]


def sections(count: int) -> list[tuple[str, str]]:
    return [(heading, prose(topic, 8)) for heading, topic in SECTIONS[:count]]


def test_changed_files_are_reindexed_to_their_new_chunk_counts(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(
            {**UNTOUCHED, GROWING: page("Guide"), SHRINKING: page("Reference", *sections(3))}
        )
        system.repo.commit("docs")
        first = system.finished(system.push())
        assert first.status is IngestionStatus.PROCESSED, first.error_message
        before = system.indexed()
        assert before[GROWING].chunk_count == 1
        assert before[SHRINKING].chunk_count == 4  # the intro and three sections

        system.repo.write({GROWING: page("Guide", *sections(3)), SHRINKING: page("Reference")})
        system.repo.commit("grow the guide, trim the reference")
        second = system.finished(system.push())

        assert second.status is IngestionStatus.PROCESSED, second.error_message
        files = system.files(second.id or 0)
        assert sorted(files) == [GROWING, SHRINKING]
        assert all(f.action is FileAction.PROCESS for f in files.values())
        assert all(f.status is FileStatus.PROCESSED for f in files.values())
        assert (second.files_total, second.files_processed, second.files_failed) == (2, 2, 0)

        after = system.indexed()
        assert sorted(after) == sorted([*UNTOUCHED, GROWING, SHRINKING])
        assert after[GROWING].chunk_count == files[GROWING].chunks == 4
        assert after[SHRINKING].chunk_count == files[SHRINKING].chunks == 1
        assert after[GROWING].content_sha == system.repo.blob_of(GROWING)
        assert after[SHRINKING].content_sha == system.repo.blob_of(SHRINKING)
        for path in UNTOUCHED:  # not re-indexed: the same row, not a rewrite of it
            assert after[path].content_sha == before[path].content_sha
            assert after[path].updated_at == before[path].updated_at
        system.assert_index_consistent()
        assert system.points() == len(UNTOUCHED) + 4 + 1
        assert system.repository().last_ingested_sha == second.after_sha
