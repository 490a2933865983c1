"""LocalGitSource: clear errors about the folder itself; the caller's git environment is ignored."""

import os
from pathlib import Path

import pytest

from service.sources import SourceNotFound
from service.sources.local_git import LocalGitSource
from tests.service.sources.git_repo import SECOND_FILES, SampleRepo, commit, init

pytestmark = pytest.mark.anyio


async def test_a_folder_that_is_not_a_repository_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match=f"{tmp_path} is not a git repository"):
        await LocalGitSource(tmp_path).resolve("main")


async def test_a_missing_folder_is_named_as_such(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(SourceNotFound, match=f"{missing} does not exist"):
        await LocalGitSource(missing).tree("main")


async def test_a_git_dir_in_the_environment_does_not_redirect_it(
    sample_repo: SampleRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    init(other)
    (other / "README.md").write_text("another repository\n")
    commit(other, "other")
    # As inside a git hook of another repository.
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    source = LocalGitSource(sample_repo.path)
    assert await source.resolve("main") == sample_repo.second
    assert await source.read_file("main", "README.md") == SECOND_FILES["README.md"]


async def test_a_file_name_that_is_not_utf8_round_trips(tmp_path: Path) -> None:
    repo = tmp_path / "latin1"
    init(repo)
    name = os.fsdecode(b"caf\xe9.md")
    (repo / name).write_bytes(b"latin-1 name\n")
    sha = commit(repo, "latin-1")
    source = LocalGitSource(repo)
    [entry] = await source.tree(sha)
    assert entry.path == name
    assert await source.read_file(sha, entry.path) == b"latin-1 name\n"
