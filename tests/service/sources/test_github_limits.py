"""Where GitHub answers only in part, GitHubSource still answers like the local repository does."""

from pathlib import Path

import pytest

from service.sources import FileStatus, SourceAuthError
from service.sources.local_git import LocalGitSource
from tests.service.sources.fake_github import FakeGitHub, github_source
from tests.service.sources.git_repo import BINARY, SampleRepo, commit, init, write

pytestmark = pytest.mark.anyio


async def test_a_truncated_tree_is_walked_one_directory_at_a_time(
    sample_repo: SampleRepo, local: LocalGitSource
) -> None:
    fake = FakeGitHub(sample_repo.path, tree_entry_limit=3)
    async with fake.client() as http:
        tree = await github_source(http).tree(sample_repo.second)
    assert tree == await local.tree(sample_repo.second)
    assert fake.trees.call_count > 1


async def test_a_file_too_large_for_the_contents_api_is_read_as_a_blob(
    sample_repo: SampleRepo,
) -> None:
    fake = FakeGitHub(sample_repo.path, contents_size_limit=len(BINARY) - 1)
    async with fake.client() as http:
        content = await github_source(http).read_file(sample_repo.second, "docs/image.png")
    assert content == BINARY
    assert fake.blobs.call_count == 1


async def test_files_listed_over_several_pages_are_all_reported(
    sample_repo: SampleRepo, local: LocalGitSource
) -> None:
    fake = FakeGitHub(sample_repo.path, compare_files_per_page=2)
    async with fake.client() as http:
        changes = await github_source(http).compare(sample_repo.first, sample_repo.second)
    assert changes == await local.compare(sample_repo.first, sample_repo.second)
    assert fake.compare.call_count == 3  # five files, two a page


async def test_a_comparison_past_githubs_300_file_cap_is_complete(tmp_path: Path) -> None:
    repo = tmp_path / "many"
    init(repo)
    write(repo, {"keep.md": b"keep\n", "edit.md": b"before\n", "drop.md": b"drop\n"})
    base = commit(repo, "base")
    (repo / "drop.md").unlink()
    write(repo, {"edit.md": b"after\n"})
    write(repo, {f"pages/page-{i:03}.md": b"page %d\n" % i for i in range(310)})
    head = commit(repo, "many pages")

    fake = FakeGitHub(repo)
    async with fake.client() as http:
        changes = await github_source(http).compare(base, head)

    assert changes == await LocalGitSource(repo).compare(base, head)
    assert len(changes) == 312
    statuses = {change.path: change.status for change in changes}
    assert statuses["drop.md"] is FileStatus.REMOVED
    assert statuses["edit.md"] is FileStatus.MODIFIED
    assert statuses["pages/page-309.md"] is FileStatus.ADDED


async def test_a_wrong_token_is_an_auth_error(sample_repo: SampleRepo) -> None:
    async with FakeGitHub(sample_repo.path).client() as http:
        with pytest.raises(SourceAuthError) as caught:
            await github_source(http, token="ghp_revoked").tree(sample_repo.second)
    assert "ghp_revoked" not in str(caught.value)
