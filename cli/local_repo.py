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
