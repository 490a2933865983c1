"""read_blob and read_file: exact bytes of any file, None for what is not a file at that commit."""

import pytest

from service.sources import Source, SourceNotFound
from tests.service.sources.git_repo import (
    BINARY,
    FIRST_FILES,
    SECOND_FILES,
    SUBMODULE,
    SYMLINK,
    SampleRepo,
    blob_sha,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        "docs/nested/deep/page.md",
        "docs/with space.md",
        "docs/\u00fcn\u00efc\u00f6d\u00e9.md",
        "docs/image.png",
        "docs/added file.md",
    ],
)
async def test_reads_a_file_byte_for_byte(
    source: Source, sample_repo: SampleRepo, path: str
) -> None:
    assert await source.read_file(sample_repo.second, path) == SECOND_FILES[path]


async def test_reads_the_version_at_the_asked_commit(
    source: Source, sample_repo: SampleRepo
) -> None:
    assert (
        await source.read_file(sample_repo.first, "docs/guide.md") == FIRST_FILES["docs/guide.md"]
    )
    assert await source.read_file("main", "docs/guide.md") == SECOND_FILES["docs/guide.md"]


@pytest.mark.parametrize(
    "path",
    [
        "docs/obsolete.md",  # removed by the second commit
        "docs/never-existed.md",
        "docs/nested",  # a directory
        "docs/nested/",
        SYMLINK,
        SUBMODULE,
        "",
    ],
)
async def test_what_is_not_a_regular_file_reads_as_none(
    source: Source, sample_repo: SampleRepo, path: str
) -> None:
    assert await source.read_file(sample_repo.second, path) is None


@pytest.mark.parametrize("path", ["README.md", "docs/never-existed.md", ""])
async def test_a_file_at_an_unknown_commit_is_not_found(source: Source, path: str) -> None:
    with pytest.raises(SourceNotFound):
        await source.read_file("e" * 40, path)


async def test_reads_a_binary_blob_by_sha(source: Source) -> None:
    assert await source.read_blob(blob_sha(BINARY)) == BINARY


async def test_an_unknown_blob_is_not_found(source: Source, sample_repo: SampleRepo) -> None:
    with pytest.raises(SourceNotFound):
        await source.read_blob(blob_sha(b"never committed"))
    with pytest.raises(SourceNotFound):
        await source.read_blob("--help")
