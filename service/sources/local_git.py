"""A `Source` over a repository on this machine, through the `git` CLI.

Every question is one or a few `git` processes started without a shell. Outputs are read in their
`-z` form, so paths with spaces, quotes, line ends or non-ASCII letters come back byte for byte.
Paths are decoded as UTF-8 whatever the locale, a byte that is not UTF-8 kept as a surrogate escape
(U+DC80 to U+DCFF) that turns back into that byte when the path is given to git: such a name still
reads back, and the planner, which makes paths into rows, skips it (no JSON or database text can
hold it).

Blobs read at the same time share one `git cat-file --batch` process: starting a process per
file was a tenth of the service's CPU while sixteen files were indexed at once.
"""

import asyncio
import os
import re
import subprocess
from collections.abc import Collection, Sequence
from pathlib import Path

from service.batching import Batcher
from service.sources import (
    Ancestry,
    FileChange,
    FileStatus,
    SourceError,
    SourceNotFound,
    TreeEntry,
)

_REGULAR_FILE_MODES = frozenset({"100644", "100755"})
_MAX_PATHSPECS = 500
_BLOB = "blob"
_DIFF_STATUSES = {
    "A": FileStatus.ADDED,
    "C": FileStatus.ADDED,  # GitHub reports copies as `copied`, which sources treat as added
    "M": FileStatus.MODIFIED,
    "T": FileStatus.MODIFIED,
    "D": FileStatus.REMOVED,
    "R": FileStatus.RENAMED,
}
_TWO_PATH_STATUSES = frozenset({"R", "C"})
_OBJECT_NAME = re.compile(r"[0-9a-fA-F]{4,64}")
# Set by git hooks and some shells; any of them would point git at another repository than ours.
_REDIRECTING_VARIABLES = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
    }
)


class _GitFailed(Exception):
    def __init__(self, stderr: str, returncode: int | None = None) -> None:
        super().__init__(stderr)
        self.stderr = stderr
        self.returncode = returncode


class LocalGitSource:
    """Reads commits, trees and blobs of the git repository at `path`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING_VARIABLES}
        self._read_blobs_together: Batcher[str, bytes] = Batcher(self._read_blobs)

    def __repr__(self) -> str:
        return f"LocalGitSource({str(self._path)!r})"

    async def compare(self, base: str, head: str) -> list[FileChange]:
        base_sha = await self._object(base, "commit")
        head_sha = await self._object(head, "commit")
        try:
            # Three dots: from the merge base, as GitHub's compare endpoint does.
            raw = await self._git(
                "diff", "--raw", "-z", "-M", "--no-abbrev", f"{base_sha}...{head_sha}"
            )
        except _GitFailed as exc:
            raise SourceNotFound(
                f"cannot compare {base}...{head} in {self._path}: {exc.stderr}"
            ) from exc
        return sorted(_parse_raw_diff(raw), key=lambda change: change.path)

    async def ancestry(self, base: str, head: str) -> Ancestry:
        base_sha = await self._object(base, "commit")
        head_sha = await self._object(head, "commit")
        if base_sha == head_sha:
            return Ancestry.IDENTICAL
        if await self._is_ancestor(base_sha, head_sha):
            return Ancestry.AHEAD
        if await self._is_ancestor(head_sha, base_sha):
            return Ancestry.BEHIND
        return Ancestry.DIVERGED

    async def _is_ancestor(self, older: str, newer: str) -> bool:
        try:
            await self._git("merge-base", "--is-ancestor", older, newer)
        except _GitFailed as exc:
            if exc.returncode == 1:  # git's "no"; any other status is a failure
                return False
            raise SourceError(f"git merge-base failed in {self._path}: {exc.stderr}") from exc
        return True

    async def tree(self, sha: str, paths: Collection[str] | None = None) -> list[TreeEntry]:
        tree_sha = await self._object(sha, "tree")
        wanted = None if paths is None else frozenset(paths)
        if wanted is not None and not wanted:
            return []
        # A long list of paths is cheaper filtered here than passed as pathspecs.
        pathspecs: list[str | bytes] = []
        if wanted is not None and len(wanted) <= _MAX_PATHSPECS:
            pathspecs = ["--", *map(_path_arg, wanted)]
        listing = await self._git_or_error(
            "ls-tree", "-r", "-l", "-z", "--full-tree", tree_sha, *pathspecs
        )
        entries = [
            TreeEntry(path=path, blob_sha=object_sha, size=_blob_size(size))
            for mode, kind, object_sha, size, path in _parse_ls_tree(listing)
            if kind == _BLOB and mode in _REGULAR_FILE_MODES and (wanted is None or path in wanted)
        ]
        return sorted(entries, key=lambda entry: entry.path)

    async def read_blob(self, blob_sha: str) -> bytes:
        if not _OBJECT_NAME.fullmatch(blob_sha):
            raise SourceNotFound(f"{blob_sha!r} is not a blob sha")
        try:
            return await self._read_blobs_together(blob_sha)
        except _GitFailed as exc:
            await self._ensure_repository()
            raise SourceNotFound(f"blob {blob_sha} not found in {self._path}") from exc

    async def _read_blobs(self, blob_shas: list[str]) -> Sequence[bytes | Exception]:
        # `^{blob}` asks what `git cat-file blob SHA` does: a tag is peeled to its blob, and a
        # tree or a commit reads as missing.
        names = "".join(f"{sha}^{{{_BLOB}}}\n" for sha in blob_shas)
        out = await self._git("cat-file", "--batch", stdin=names.encode("ascii"))
        return _parse_batch(out, len(blob_shas))

    async def read_file(self, sha: str, path: str) -> bytes | None:
        commit = await self._object(sha, "commit")
        if not path:
            return None
        listing = await self._git_or_error(
            "ls-tree", "-l", "-z", "--full-tree", commit, "--", _path_arg(path)
        )
        for mode, kind, object_sha, _size, entry_path in _parse_ls_tree(listing):
            # ls-tree also lists what is inside a directory given as "dir/": only an exact match
            # names the file.
            if entry_path == path and kind == _BLOB and mode in _REGULAR_FILE_MODES:
                return await self._git_or_error("cat-file", _BLOB, object_sha)
        return None

    async def resolve(self, ref: str) -> str:
        return await self._object(ref, "commit")

    async def _object(self, name: str, kind: str) -> str:
        """The full sha of the `kind` (commit or tree) that `name` names."""
        try:
            out = await self._git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{{kind}}}"
            )
        except _GitFailed as exc:
            await self._ensure_repository()
            raise SourceNotFound(f"no {kind} {name!r} in {self._path}") from exc
        return out.decode("ascii").strip()

    async def _ensure_repository(self) -> None:
        """Raise SourceNotFound when the path itself is the problem, not the object asked for."""
        if not self._path.is_dir():
            raise SourceNotFound(f"{self._path} does not exist or is not a directory")
        try:
            await self._git("rev-parse", "--git-dir")
        except _GitFailed as exc:
            raise SourceNotFound(f"{self._path} is not a git repository: {exc.stderr}") from exc

    async def _git_or_error(self, command: str, *args: str | bytes) -> bytes:
        try:
            return await self._git(command, *args)
        except _GitFailed as exc:
            raise SourceError(f"git {command} failed in {self._path}: {exc.stderr}") from exc

    async def _git(self, *args: str | bytes, stdin: bytes | None = None) -> bytes:
        # In a worker thread, not with asyncio's subprocess support: that forks on the event
        # loop and starts a watcher thread per child, which stalls every request in a busy app.
        command = ["git", "-C", str(self._path), "-c", "core.quotepath=off", "--literal-pathspecs"]
        try:
            done = await asyncio.to_thread(
                subprocess.run,
                [*command, *args],
                input=stdin,
                stdin=subprocess.DEVNULL if stdin is None else None,
                capture_output=True,
                env=self._env,
                check=False,
            )
        except OSError as exc:
            raise SourceError(f"cannot run git: {exc}") from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise _GitFailed(message or f"exit status {done.returncode}", done.returncode)
        return done.stdout


def _parse_batch(out: bytes, count: int) -> list[bytes | Exception]:
    """The `count` answers of `git cat-file --batch`, in the order asked.

    Each is `<sha> <type> <size>\\n<content>\\n`, or `<name> missing\\n` (also `ambiguous`)
    for a name that is no blob; that one is a `_GitFailed` for its caller only.
    """
    results: list[bytes | Exception] = []
    position = 0
    for _ in range(count):
        end = out.index(b"\n", position)
        header = out[position:end].decode("ascii", "replace")
        fields = header.split(" ")
        if len(fields) == 3:
            size = int(fields[2])
            results.append(out[end + 1 : end + 1 + size])
            end += 1 + size  # the content's own line end follows it
        else:
            results.append(_GitFailed(header))
        position = end + 1
    return results


def _parse_ls_tree(listing: bytes) -> list[tuple[str, str, str, str, str]]:
    """(mode, type, sha, size, path) of each `git ls-tree -l -z` record."""
    records = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, object_sha, size = meta.decode("ascii").split()
        records.append((mode, kind, object_sha, size, _path_text(path)))
    return records


def _path_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _path_arg(path: str) -> bytes:
    """`path` as git has it (see `_path_text`), not in the locale's encoding."""
    return path.encode("utf-8", "surrogateescape")


def _blob_size(field: str) -> int:
    """The size column of `ls-tree -l`; git prints `BAD` when the blob is missing from the store.

    Such an entry is still part of the tree: it is listed (size 0), and reading its blob fails
    with a `SourceNotFound` that names it, so only that file fails, not the whole listing.
    """
    return int(field) if field.isdigit() else 0


def _parse_raw_diff(raw: bytes) -> list[FileChange]:
    """Changes of `git diff --raw -z`: `:modes shas STATUS\\0path\\0` (two paths for R and C)."""
    fields = iter(raw.split(b"\0"))
    changes = []
    for header in fields:
        if not header:
            continue
        _old_mode, _new_mode, _old_sha, new_sha, status = header.decode("ascii")[1:].split()
        letter = status[0]
        first = _path_text(next(fields))
        second = _path_text(next(fields)) if letter in _TWO_PATH_STATUSES else None
        kind = _DIFF_STATUSES.get(letter)
        if kind is None:
            continue
        if kind is FileStatus.REMOVED:
            changes.append(FileChange(path=first, status=kind, blob_sha=None))
        elif kind is FileStatus.RENAMED and second is not None:
            changes.append(FileChange(second, kind, blob_sha=new_sha, previous_path=first))
        else:
            # A copy keeps its source; the new path is the second one.
            changes.append(FileChange(second or first, kind, blob_sha=new_sha))
    return changes
