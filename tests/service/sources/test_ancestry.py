"""ancestry: how one commit relates to another, which decides whether a late push is overtaken.

The local source asks git; the GitHub source reads `status` from the compare endpoint, here
answered in the shapes GitHub sends (its documented example, and the 404 it answers for two
commits without a common ancestor).
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from service.sources import Ancestry, SourceError, SourceNotFound
from service.sources.github import GitHubSource
from service.sources.local_git import LocalGitSource
from tests.service.sources.fake_github import API_URL, REPOSITORY, github_source
from tests.service.sources.git_repo import SampleRepo, commit, git, init

pytestmark = pytest.mark.anyio

BASE = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
HEAD = "0328041d1152db8ae77652d1618a02e57f745f17"
COMPARE_URL = f"{API_URL}/repos/{REPOSITORY}/compare/{BASE}...{HEAD}"
NO_COMMON_ANCESTOR = {
    "message": f"No common ancestor between {BASE} and {HEAD}.",
    "documentation_url": "https://docs.github.com/rest/commits/commits#compare-two-commits",
    "status": "404",
}


# --- local git ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "head", "expected"),
    [
        ("first", "second", Ancestry.AHEAD),
        ("second", "first", Ancestry.BEHIND),
        ("second", "second", Ancestry.IDENTICAL),
        ("side", "second", Ancestry.DIVERGED),
        ("second", "side", Ancestry.DIVERGED),
    ],
)
async def test_git_tells_how_two_commits_relate(
    sample_repo: SampleRepo, base: str, head: str, expected: Ancestry
) -> None:
    source = LocalGitSource(sample_repo.path)
    assert await source.ancestry(getattr(sample_repo, base), getattr(sample_repo, head)) == expected


async def test_git_accepts_branch_and_tag_names(sample_repo: SampleRepo) -> None:
    source = LocalGitSource(sample_repo.path)
    assert await source.ancestry("v1", "main") is Ancestry.AHEAD
    assert await source.ancestry("main", "v1") is Ancestry.BEHIND


async def test_git_counts_unrelated_histories_as_diverged(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    init(repo)
    (repo / "README.md").write_text("the first history\n")
    first = commit(repo, "first")
    git(repo, "switch", "--quiet", "--orphan", "rewritten")
    (repo / "README.md").write_text("another history, sharing no commit\n")
    rewritten = commit(repo, "rewritten")

    assert await LocalGitSource(repo).ancestry(first, rewritten) is Ancestry.DIVERGED


async def test_git_does_not_know_an_unknown_commit(sample_repo: SampleRepo) -> None:
    source = LocalGitSource(sample_repo.path)
    with pytest.raises(SourceNotFound):
        await source.ancestry("d" * 40, sample_repo.second)
    with pytest.raises(SourceNotFound):
        await source.ancestry(sample_repo.second, "no-such-branch")


# --- GitHub ---------------------------------------------------------------------------------


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
async def github(router: respx.Router) -> AsyncIterator[GitHubSource]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as http:
        yield github_source(http)


def commit_json(sha: str, message: str) -> dict[str, Any]:
    person = {
        "name": "Monalisa Octocat",
        "email": "support@github.com",
        "date": "2011-04-14T16:00:49Z",
    }
    user = {"login": "octocat", "id": 1, "type": "User", "site_admin": False}
    return {
        "url": f"https://api.github.com/repos/{REPOSITORY}/commits/{sha}",
        "sha": sha,
        "node_id": "MDY6Q29tbWl0NmRjYjA5YjViNTc4NzVmMzM0ZjYxYWViZWQ2OTVlMmU0MTkzZGI1ZQ==",
        "html_url": f"https://github.com/{REPOSITORY}/commit/{sha}",
        "comments_url": f"https://api.github.com/repos/{REPOSITORY}/commits/{sha}/comments",
        "commit": {
            "url": f"https://api.github.com/repos/{REPOSITORY}/git/commits/{sha}",
            "author": person,
            "committer": person,
            "message": message,
            "tree": {
                "url": f"https://api.github.com/repos/{REPOSITORY}/tree/{sha}",
                "sha": sha,
            },
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None},
        },
        "author": user,
        "committer": user,
        "parents": [
            {"url": "https://api.github.com/repos/octocat/Hello-World/commits/", "sha": BASE}
        ],
    }


def comparison(status: str) -> dict[str, Any]:
    """The compare endpoint's answer, in the shape of GitHub's documented example."""
    ahead = {"ahead": 1, "behind": 0, "identical": 0, "diverged": 1}[status]
    behind = {"ahead": 0, "behind": 2, "identical": 0, "diverged": 2}[status]
    base_url = f"https://github.com/{REPOSITORY}/compare"
    return {
        "url": f"https://api.github.com/repos/{REPOSITORY}/compare/{BASE}...{HEAD}",
        "html_url": f"{base_url}/{BASE}...{HEAD}",
        "permalink_url": f"{base_url}/octo:{BASE}...octo:{HEAD}",
        "diff_url": f"{base_url}/{BASE}...{HEAD}.diff",
        "patch_url": f"{base_url}/{BASE}...{HEAD}.patch",
        "base_commit": commit_json(BASE, "Fix all the bugs"),
        "merge_base_commit": commit_json(BASE, "Fix all the bugs"),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [commit_json(HEAD, "Add a page")][:ahead],
        "files": [
            {
                "sha": "bbcd538c8e72b8c175046e27cc8f907076331401",
                "filename": "docs/page.md",
                "status": "added",
                "additions": 103,
                "deletions": 21,
                "changes": 124,
                "blob_url": f"https://github.com/{REPOSITORY}/blob/{HEAD}/docs/page.md",
                "raw_url": f"https://github.com/{REPOSITORY}/raw/{HEAD}/docs/page.md",
                "contents_url": f"https://api.github.com/repos/{REPOSITORY}/contents/docs/page.md",
                "patch": "@@ -132,7 +132,7 @@ module Test @@ -1000,7 +1000,7 @@ module Test",
            }
        ][:ahead],
    }


def commit_route(router: respx.Router, sha: str, *, exists: bool = True) -> None:
    url = f"{API_URL}/repos/{REPOSITORY}/commits/{sha}"
    if exists:
        router.get(url).respond(200, text=sha)
    else:
        router.get(url).respond(422, json={"message": f"No commit found for SHA: {sha}"})


@pytest.mark.parametrize("status", list(Ancestry))
async def test_github_reads_the_status_of_the_comparison(
    router: respx.Router, github: GitHubSource, status: Ancestry
) -> None:
    compare = router.get(COMPARE_URL).respond(200, json=comparison(status.value))

    assert await github.ancestry(BASE, HEAD) is status
    [call] = compare.calls
    assert call.request.url.params["per_page"] == "1"  # the commits are not read


async def test_github_unrelated_histories_are_diverged(
    router: respx.Router, github: GitHubSource
) -> None:
    router.get(COMPARE_URL).respond(404, json=NO_COMMON_ANCESTOR)
    commit_route(router, BASE)
    commit_route(router, HEAD)

    assert await github.ancestry(BASE, HEAD) is Ancestry.DIVERGED


async def test_github_does_not_know_an_unknown_commit(
    router: respx.Router, github: GitHubSource
) -> None:
    router.get(COMPARE_URL).respond(404, json={"message": "Not Found", "status": "404"})
    commit_route(router, BASE, exists=False)
    commit_route(router, HEAD)

    with pytest.raises(SourceNotFound, match=BASE):
        await github.ancestry(BASE, HEAD)


async def test_github_an_unknown_status_is_an_error(
    router: respx.Router, github: GitHubSource
) -> None:
    router.get(COMPARE_URL).respond(200, json={**comparison("ahead"), "status": "sideways"})

    with pytest.raises(SourceError, match="sideways"):
        await github.ancestry(BASE, HEAD)
