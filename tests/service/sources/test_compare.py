"""compare: the files a push changed, with renames, as both sources report them."""

import pytest

from service.sources import FileChange, FileStatus, Source, SourceNotFound
from tests.service.sources.git_repo import SECOND_FILES, SampleRepo, blob_sha

pytestmark = pytest.mark.anyio

UNICODE = "docs/\u00fcn\u00efc\u00f6d\u00e9.md"
FIRST_TO_SECOND = [
    FileChange(
        "docs/added file.md", FileStatus.ADDED, blob_sha(SECOND_FILES["docs/added file.md"])
    ),
    FileChange("docs/guide.md", FileStatus.MODIFIED, blob_sha(SECOND_FILES["docs/guide.md"])),
    FileChange("docs/obsolete.md", FileStatus.REMOVED, None),
    FileChange(
        "docs/renamed/new-name.md",
        FileStatus.RENAMED,
        blob_sha(SECOND_FILES["docs/renamed/new-name.md"]),
        previous_path="docs/old-name.md",
    ),
    FileChange(UNICODE, FileStatus.MODIFIED, blob_sha(SECOND_FILES[UNICODE])),
]


async def test_lists_added_modified_removed_and_renamed_files(
    source: Source, sample_repo: SampleRepo
) -> None:
    assert await source.compare(sample_repo.first, sample_repo.second) == FIRST_TO_SECOND


async def test_accepts_branch_and_tag_names(source: Source) -> None:
    assert await source.compare("v1", "main") == FIRST_TO_SECOND


async def test_counts_from_the_merge_base_so_a_diverged_base_adds_nothing(
    source: Source, sample_repo: SampleRepo
) -> None:
    # side changed README.md after first; comparing from it must not report README.md.
    assert await source.compare(sample_repo.side, sample_repo.second) == FIRST_TO_SECOND


async def test_the_same_commit_changes_nothing(source: Source, sample_repo: SampleRepo) -> None:
    assert await source.compare(sample_repo.second, sample_repo.second) == []


async def test_an_unknown_commit_is_not_found(source: Source, sample_repo: SampleRepo) -> None:
    with pytest.raises(SourceNotFound):
        await source.compare("0" * 40, sample_repo.second)
    with pytest.raises(SourceNotFound):
        await source.compare(sample_repo.first, "no-such-branch")
