"""A local git repository as the commands find it: its top folder."""

import os
from pathlib import Path

import click

from cli.output import printable
from service.repositories import RepositoryError, repository_top


def repository_root(path: Path) -> Path:
    """The top folder of the git repository at `path` (the folder itself for a bare one)."""
    try:
        return repository_top(utf8_path(path.resolve()))
    except RepositoryError as exc:
        raise click.ClickException(str(exc)) from exc


def utf8_path(path: Path) -> Path:
    """`path`, if its name is UTF-8: the database keeps a repository's path as text."""
    try:
        str(path).encode()
    except UnicodeEncodeError as exc:
        shown = printable(os.fsencode(path).decode("utf-8", "backslashreplace"))
        raise click.ClickException(
            f"{shown} is not UTF-8 (bytes shown as \\xNN): rename it to connect the repository"
        ) from exc
    return path
