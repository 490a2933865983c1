"""Where file contents come from: one `Source` interface over GitHub and a local git repository.

`github.GitHubSource` reads through the GitHub REST API, `local_git.LocalGitSource` through the
`git` CLI on a local repository. Both answer the same questions the same way (the contract tests
in tests/service/sources run against both), so the pipeline never knows which one it talks to.

Errors form one small tree; every third-party failure (HTTP status, transport error, a failed `git`
command) is translated into it at the boundary:

    SourceError                      anything a source could not answer; retriable = False
    ├── SourceNotFound               unknown sha, ref, repository or path
    ├── SourceAuthError              bad or missing credentials
    ├── SourceRateLimited            rate limited; retriable, carries retry_after seconds
    └── SourceUnavailable            the server or the network failed; retriable
"""

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"


class Ancestry(StrEnum):
    """How a commit relates to another, as GitHub's compare endpoint names it."""

    AHEAD = "ahead"  # the other commit is an ancestor of this one
    BEHIND = "behind"  # this commit is an ancestor of the other
    IDENTICAL = "identical"
    DIVERGED = "diverged"  # neither is an ancestor of the other (unrelated histories included)


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path changed between two commits."""

    path: str
    status: FileStatus
    blob_sha: str | None  # None for removed
    previous_path: str | None = None  # for renamed


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One regular file in a commit's tree."""

    path: str
    blob_sha: str
    size: int


class SourceError(Exception):
    """A source could not answer; `retriable` says whether asking again later may help."""

    retriable: bool = False


class SourceNotFound(SourceError):
    """The sha, ref, repository or path does not exist, or these credentials cannot see it."""


class SourceAuthError(SourceError):
    """The credentials are missing, wrong or not allowed to read the repository."""


class SourceRateLimited(SourceError):
    """The source asks to wait `retry_after` seconds before the next request."""

    retriable = True

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceUnavailable(SourceError):
    """The server answered with a 5xx or could not be reached; asking again later may work."""

    retriable = True


class Source(Protocol):
    async def compare(self, base: str, head: str) -> list[FileChange]:
        """Files changed from the merge base of `base` and `head` to `head`, renames detected.

        Paths are reported the way git reports them, whatever the kind of entry.
        """
        ...

    async def ancestry(self, base: str, head: str) -> Ancestry:
        """How `head` relates to `base`: AHEAD when `base` is an ancestor of `head`, BEHIND when
        `head` is an ancestor of `base`."""
        ...

    async def tree(self, sha: str, paths: Collection[str] | None = None) -> list[TreeEntry]:
        """Every regular file at `sha`, recursively, sorted by path; with `paths`, only the ones
        among them (a path with no regular file at `sha`, a directory's included, is left out).

        Symlinks and submodules are left out.
        """
        ...

    async def read_blob(self, blob_sha: str) -> bytes:
        """The bytes of one blob."""
        ...

    async def read_file(self, sha: str, path: str) -> bytes | None:
        """The bytes of the regular file at `path` in `sha`; None when there is no such file."""
        ...

    async def resolve(self, ref: str) -> str:
        """The full commit sha a branch, tag or (short) sha names."""
        ...
