"""tree: every regular file at a commit, from both sources alike; no symlinks, no submodules."""

import pytest

from service.sources import Source, SourceNotFound, TreeEntry
from tests.service.sources.git_repo import (
    FIRST_FILES,
    SECOND_FILES,
    SUBMODULE,
    SYMLINK,
    SampleRepo,
    blob_sha,
)

pytestmark = pytest.mark.anyio


def entries(files: dict[str, bytes]) -> list[TreeEntry]:
    return [
        TreeEntry(path=path, blob_sha=blob_sha(content), size=len(content))
        for path, content in sorted(files.items())
    ]


async def test_lists_every_regular_file_sorted_by_path(
    source: Source, sample_repo: SampleRepo
) -> None:
    assert await source.tree(sample_repo.first) == entries(FIRST_FILES)
    assert await source.tree(sample_repo.second) == entries(SECOND_FILES)


async def test_leaves_out_symlinks_and_submodules(source: Source, sample_repo: SampleRepo) -> None:
    paths = {entry.path for entry in await source.tree(sample_repo.first)}
    assert SYMLINK not in paths
    assert SUBMODULE not in paths
    assert "scripts/build.sh" in paths  # executable files are regular files


async def test_accepts_a_branch_name(source: Source) -> None:
    assert await source.tree("main") == entries(SECOND_FILES)


async def test_an_unknown_commit_is_not_found(source: Source) -> None:
    with pytest.raises(SourceNotFound):
        await source.tree("f" * 40)


async def test_lists_only_the_paths_asked_for(source: Source, sample_repo: SampleRepo) -> None:
    asked = {
        "docs/guide.md",
        "docs/with space.md",
        "docs/\u00fcn\u00efc\u00f6d\u00e9.md",
        "docs/never-existed.md",  # left out
        "docs/nested",  # a directory: left out, and so is what is in it
        SYMLINK,
    }
    wanted = {path: SECOND_FILES[path] for path in asked if path in SECOND_FILES}
    assert len(wanted) == 3

    assert await source.tree(sample_repo.second, asked) == entries(wanted)
    assert await source.tree(sample_repo.second, set()) == []


async def test_an_unknown_commit_is_not_found_whatever_the_paths(source: Source) -> None:
    with pytest.raises(SourceNotFound):
        await source.tree("f" * 40, set())
