"""A local git repository as the commands find it: its top folder."""

from pathlib import Path

import click

from service.repositories import RepositoryError, repository_top


def repository_root(path: Path) -> Path:
    """The top folder of the git repository at `path` (the folder itself for a bare one)."""
    try:
        return repository_top(path.resolve())
    except RepositoryError as exc:
        raise click.ClickException(str(exc)) from exc
