"""The push webhook GitHub would send for a local repository, built with the `git` CLI.

`docs-ingest push` signs and posts it to the service, so a local repository takes exactly the
path a GitHub repository takes.

Paths are read from git as bytes (`-z` listings) and decoded as UTF-8 here: reading git's output
as text would turn a `\\r` in a name into `\\n`, and a name that is not UTF-8 has no JSON form.
"""

import subprocess
from pathlib import Path
from typing import Any

from service.planner import PAYLOAD_COMMIT_LIMIT, ZERO_SHA


class GitError(RuntimeError):
    """A git command failed; the message carries git's own words."""


def git(repo: Path, *args: str) -> str:
    """The output of a git command that prints no paths (shas, refs), as text."""
    return _git_bytes(repo, *args).decode("utf-8", "backslashreplace")


def _git_bytes(repo: Path, *args: str) -> bytes:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "core.quotepath=off", *args],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "backslashreplace").strip()
        raise GitError(f"git {' '.join(args)}: {stderr}")
    return result.stdout


def head_of(repo: Path, branch: str) -> str:
    return git(repo, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}").strip()


def push_payload(
    repo: Path, *, branch: str, before: str | None, after: str, repository_id: str, full_name: str
) -> dict[str, Any]:
    """GitHub's push payload for moving `branch` from `before` (None: a new branch) to `after`.

    A commit that changes a file whose name is not UTF-8 cannot be listed in JSON: it is left out
    while `size` still counts it, so the service, seeing a short list, compares the whole tree
    (as for a push of over PAYLOAD_COMMIT_LIMIT commits) and skips that file with the reason.
    """
    forced = before is not None and not _is_ancestor(repo, before, after)
    if before is not None and not _has_commit(repo, before):
        # Rewritten, then garbage-collected: what `after` adds to it cannot be listed, and a
        # forced push with no commits makes the service compare the whole tree.
        shas = []
    else:
        # As GitHub does, even for a force push: the commits `after` has that `before` has not.
        span = after if before is None else f"{before}..{after}"
        shas = git(repo, "rev-list", "--reverse", span).split()
    listed = [_commit(repo, sha) for sha in shas[-PAYLOAD_COMMIT_LIMIT:]]
    return {
        "ref": f"refs/heads/{branch}",
        "before": before or ZERO_SHA,
        "after": after,
        "created": before is None,
        "deleted": False,
        "forced": forced,
        "repository": {"id": repository_id, "full_name": full_name},
        "commits": [commit for commit in listed if commit is not None],
        "size": len(shas),
    }


def _has_commit(repo: Path, sha: str) -> bool:
    try:
        git(repo, "cat-file", "-e", f"{sha}^{{commit}}")
    except GitError:
        return False
    return True


def _is_ancestor(repo: Path, older: str, newer: str) -> bool:
    try:
        git(repo, "merge-base", "--is-ancestor", older, newer)
    except GitError:
        return False
    return True


def _commit(repo: Path, sha: str) -> dict[str, Any] | None:
    """The paths `sha` adds, modifies and removes; None when one of them is not UTF-8."""
    # GitHub's payload lists a rename as a removal and an addition.
    listing = _git_bytes(repo, "show", "--no-renames", "--name-status", "--format=", "-z", sha)
    fields = [field for field in listing.split(b"\0") if field]
    changes: dict[str, list[str]] = {"added": [], "modified": [], "removed": []}
    for status, path in zip(fields[::2], fields[1::2], strict=False):
        key = {b"A": "added", b"D": "removed"}.get(status[:1], "modified")
        try:
            changes[key].append(path.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    return {"id": sha, **changes}
