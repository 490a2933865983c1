"""A local git repository as the commands find it: its top folder and its checked-out branch."""

from pathlib import Path

import click

from cli.pushes import GitError, git


def repository_root(path: Path) -> Path:
    """The top folder of the git repository at `path` (the folder itself for a bare one)."""
    try:
        bare = git(path, "rev-parse", "--is-bare-repository").strip() == "true"
        top = path if bare else Path(git(path, "rev-parse", "--show-toplevel").strip())
    except GitError as exc:
        raise click.ClickException(f"{path.resolve()} is not a git repository") from exc
    return top.resolve()


def checked_out_branch(root: Path) -> str:
    try:
        return git(root, "symbolic-ref", "--quiet", "--short", "HEAD").strip()
    except GitError as exc:
        raise click.ClickException(
            f"HEAD of {root} is detached: name the branch to index with --branch"
        ) from exc


def require_branch(root: Path, branch: str) -> None:
    try:
        git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
    except GitError as exc:
        raise click.ClickException(f"{root} has no branch {branch}") from exc
