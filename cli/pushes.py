"""The push webhook GitHub would send for a local repository, built with the `git` CLI.

`docs-ingest push` signs and posts it to the service, so a local repository takes exactly the
path a GitHub repository takes.
"""

import subprocess
from pathlib import Path
from typing import Any

from service.planner import PAYLOAD_COMMIT_LIMIT, ZERO_SHA


class GitError(RuntimeError):
    """A git command failed; the message carries git's own words."""


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "core.quotepath=off", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def head_of(repo: Path, branch: str) -> str:
    return git(repo, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}").strip()


def push_payload(
    repo: Path, *, branch: str, before: str | None, after: str, repository_id: str, full_name: str
) -> dict[str, Any]:
    """GitHub's push payload for moving `branch` from `before` (None: a new branch) to `after`."""
    forced = before is not None and not _is_ancestor(repo, before, after)
    # As GitHub does, even for a force push: the commits `after` has that `before` has not.
    span = after if before is None else f"{before}..{after}"
    shas = git(repo, "rev-list", "--reverse", span).split()
    commits = [_commit(repo, sha) for sha in shas[-PAYLOAD_COMMIT_LIMIT:]]
    return {
        "ref": f"refs/heads/{branch}",
        "before": before or ZERO_SHA,
        "after": after,
        "created": before is None,
        "deleted": False,
        "forced": forced,
        "repository": {"id": repository_id, "full_name": full_name},
        "commits": commits,
        "size": len(shas),
    }


def _is_ancestor(repo: Path, older: str, newer: str) -> bool:
    try:
        git(repo, "merge-base", "--is-ancestor", older, newer)
    except GitError:
        return False
    return True


def _commit(repo: Path, sha: str) -> dict[str, Any]:
    # GitHub's payload lists a rename as a removal and an addition.
    listing = git(repo, "show", "--no-renames", "--name-status", "--format=", "-z", sha)
    fields = [field for field in listing.split("\0") if field]
    changes: dict[str, list[str]] = {"added": [], "modified": [], "removed": []}
    for status, path in zip(fields[::2], fields[1::2], strict=False):
        key = {"A": "added", "D": "removed"}.get(status[0], "modified")
        changes[key].append(path)
    return {"id": sha, **changes}
