"""push_payload: the payload GitHub would send for a push to a local repository, from git itself."""

from pathlib import Path
from typing import Any

import pytest

from cli.pushes import GitError, head_of, push_payload
from service.planner import PAYLOAD_COMMIT_LIMIT, ZERO_SHA
from tests.service.sources.git_repo import commit, git, init, write

REPOSITORY = {"id": "local-0123456789abcdef", "full_name": "handbook"}


def payload(repo: Path, before: str | None, after: str) -> dict[str, Any]:
    return push_payload(
        repo,
        branch="main",
        before=before,
        after=after,
        repository_id=REPOSITORY["id"],
        full_name=REPOSITORY["full_name"],
    )


def changes(
    sha: str,
    added: tuple[str, ...] = (),
    modified: tuple[str, ...] = (),
    removed: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {"id": sha, "added": list(added), "modified": list(modified), "removed": list(removed)}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "handbook"
    init(path)
    return path


def test_a_first_push_creates_the_branch_with_every_commit(repo: Path) -> None:
    write(repo, {"README.md": b"# Handbook\n"})
    first = commit(repo, "first")
    write(repo, {"docs/guide.md": b"# Guide\n"})
    second = commit(repo, "second")

    pushed = payload(repo, None, second)

    assert pushed == {
        "ref": "refs/heads/main",
        "before": ZERO_SHA,
        "after": second,
        "created": True,
        "deleted": False,
        "forced": False,
        "repository": REPOSITORY,
        "commits": [
            changes(first, added=("README.md",)),
            changes(second, added=("docs/guide.md",)),
        ],
        "size": 2,
    }


def test_a_push_lists_each_new_commit_and_a_rename_as_removed_and_added(repo: Path) -> None:
    write(repo, {"docs/guide.md": b"# Guide\n", "docs/old.md": b"# Old\n" * 40})
    base = commit(repo, "base")
    write(repo, {"docs/guide.md": b"# Guide, revised\n", "docs/\u00e9t\u00e9 notes.md": b"# Ete\n"})
    edited = commit(repo, "edit")
    (repo / "docs/archive").mkdir()
    git(repo, "mv", "docs/old.md", "docs/archive/old.md")
    git(repo, "rm", "--quiet", "docs/guide.md")
    moved = commit(repo, "move")

    pushed = payload(repo, base, moved)

    assert pushed["before"] == base and pushed["after"] == moved
    assert (pushed["created"], pushed["forced"], pushed["size"]) == (False, False, 2)
    assert pushed["commits"] == [
        changes(edited, added=("docs/\u00e9t\u00e9 notes.md",), modified=("docs/guide.md",)),
        changes(moved, added=("docs/archive/old.md",), removed=("docs/guide.md", "docs/old.md")),
    ]


def test_a_force_push_is_flagged_and_lists_only_the_new_history(repo: Path) -> None:
    write(repo, {"docs/a.md": b"# A\n"})
    base = commit(repo, "base")
    write(repo, {"docs/b.md": b"# B\n"})
    dropped = commit(repo, "dropped")
    git(repo, "reset", "--quiet", "--hard", base)
    write(repo, {"docs/c.md": b"# C\n"})
    rewritten = commit(repo, "rewritten")

    pushed = payload(repo, dropped, rewritten)

    assert pushed["forced"] is True and pushed["created"] is False
    assert pushed["before"] == dropped
    listed = [c["id"] for c in pushed["commits"]]
    assert listed[-1] == rewritten
    assert dropped not in listed


def test_a_long_push_lists_the_newest_commits_and_counts_them_all(repo: Path) -> None:
    write(repo, {"README.md": b"# Handbook\n"})
    base = commit(repo, "base")
    shas = []
    for n in range(PAYLOAD_COMMIT_LIMIT + 5):
        write(repo, {f"docs/page-{n:02d}.md": b"# Page %d\n" % n})
        shas.append(commit(repo, f"page {n}"))

    pushed = payload(repo, base, head_of(repo, "main"))

    assert pushed["size"] == PAYLOAD_COMMIT_LIMIT + 5
    listed = pushed["commits"]
    assert len(listed) == PAYLOAD_COMMIT_LIMIT
    assert [c["id"] for c in listed] == shas[-PAYLOAD_COMMIT_LIMIT:]
    assert listed[-1]["added"] == [f"docs/page-{PAYLOAD_COMMIT_LIMIT + 4:02d}.md"]


def test_an_unknown_branch_is_a_git_error(repo: Path) -> None:
    write(repo, {"README.md": b"# Handbook\n"})
    commit(repo, "first")

    with pytest.raises(GitError, match="rev-parse"):
        head_of(repo, "no-such-branch")
