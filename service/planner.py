"""What one ingestion does to each file: process it, delete its chunks, or skip it with a reason.

The tree at the pushed sha is the truth. A push payload only narrows which paths to look at, and
only when it can be trusted; otherwise (a truncated commit list, a force push, a new branch, a
missed push or no ingestion yet, a changed config file, a manual sync) every path in the tree and
in the index is compared by blob sha.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.config import CONFIG_FILE, RepoConfig
from service.models import FileAction
from service.sources import TreeEntry

ZERO_SHA = "0" * 40
# GitHub lists at most this many commits in a push payload; a longer push is truncated.
PAYLOAD_COMMIT_LIMIT = 20
# PATH_MAX: git cannot check out a longer path, so no push GitHub sends names one.
MAX_PATH_BYTES = 4096
# The longest path a file's rows can be keyed on: a PostgreSQL index entry holds at most 2,704
# bytes. A longer path is skipped, and its row named by the path shortened to SHORTENED_PATH_BYTES.
# So is a name that is not UTF-8, which no JSON or database text holds: its row shows it escaped.
MAX_INDEXED_PATH_BYTES = 2000
SHORTENED_PATH_BYTES = 1800
_SHOWN_PATH_CHARS = 100


@dataclass(frozen=True, slots=True)
class PlannedFile:
    path: str
    action: FileAction
    blob_sha: str | None = None
    size: int | None = None
    skip_reason: str | None = None  # set: recorded as skipped, never sent to a file run


@dataclass(frozen=True, slots=True)
class Push:
    """The parts of a push that decide how far its payload can be trusted."""

    before: str | None
    after: str
    forced: bool = False
    created: bool = False
    commits: Sequence[Mapping[str, Any]] = ()
    truncated: bool = False


def path_problem(path: str) -> str | None:
    """Why `path` cannot name a file in a git repository, or None when it can.

    Git stores names relative to the root, segment by segment, NUL-terminated, and refuses `.`,
    `..`, empty and `.git` segments; a push payload naming such a path was not made by git, and
    is refused before its paths reach git. Other control characters are valid in a name.
    """
    shown = repr(path if len(path) <= _SHOWN_PATH_CHARS else path[:_SHOWN_PATH_CHARS] + "...")
    if not path:
        why = "it is empty"
    elif "\0" in path:
        why = "it contains a NUL character"
    elif path.startswith("/"):
        why = "it is absolute (paths are relative to the repository's root)"
    elif len(_path_bytes(path)) > MAX_PATH_BYTES:
        why = f"it is over {MAX_PATH_BYTES} bytes"
    else:
        bad = next(
            (s for s in path.split("/") if s in ("", ".", "..") or s.lower() == ".git"), None
        )
        if bad is None:
            return None
        why = f"it has a {bad!r} segment" if bad else "it has an empty segment"
    return f"{shown} cannot be a path in a repository: {why}"


def changed_paths(push: Push) -> set[str]:
    """Every path the payload's commits add, modify or remove that can name a file: no tree
    holds another, and one (a NUL in it, say) must not reach git."""
    return {
        path
        for commit in push.commits
        for key in ("added", "modified", "removed")
        for path in commit.get(key) or ()
        if path_problem(path) is None
    }


def full_diff_reason(push: Push, last_ingested_sha: str | None) -> str | None:
    """Why the payload cannot be trusted, or None when it can."""
    if push.before is None:
        return "manual sync"
    if push.created or push.before == ZERO_SHA:
        return "new branch"
    if push.forced:
        return "force push"
    if push.truncated or len(push.commits) >= PAYLOAD_COMMIT_LIMIT:
        return "truncated commit list"
    if last_ingested_sha is None:
        # Files that predate this push were never indexed; its own paths are not enough.
        return "the repository was never ingested"
    if push.before != last_ingested_sha:
        return f"a push was missed (last ingested {last_ingested_sha[:12]})"
    if CONFIG_FILE in changed_paths(push):
        return f"{CONFIG_FILE} changed"
    return None


def chunking_changed(push: Push, indexed_with: str | None, config: RepoConfig) -> bool:
    """Whether the config's chunking settings differ from the ones the index was made with, which
    makes every stored chunk stale, unchanged content or not. Before the first finished ingestion
    records them (`indexed_with` None), a change of the config file in the payload counts."""
    if indexed_with is None:
        return CONFIG_FILE in changed_paths(push)
    return indexed_with != config.chunking


def plan(
    tree: Iterable[TreeEntry],
    indexed: Mapping[str, str],
    config: RepoConfig,
    *,
    candidates: set[str] | None,
    force: bool = False,
) -> list[PlannedFile]:
    """Plan every path in `candidates` (None: the whole tree and index), sorted by path.

    `indexed` maps the paths already in the store to their blob shas. `force` re-processes files
    whose content is unchanged (the chunking settings may have changed).
    """
    entries = {entry.path: entry for entry in tree if entry.path != CONFIG_FILE}
    paths = set(entries) | set(indexed) if candidates is None else candidates - {CONFIG_FILE}
    # The rows of a job are keyed by path: a shown name must not be one the job already has.
    taken = set(paths)
    planned = []
    for path in sorted(paths):
        entry = entries.get(path)
        was_indexed = path in indexed
        if entry is None or not config.includes(path):
            if was_indexed:
                planned.append(PlannedFile(path, FileAction.DELETE))
            elif entry is not None and candidates is not None:
                # Named, since with no lightfast.yml they are the defaults, written nowhere.
                reason = f"outside the include globs ({', '.join(config.include)})"
                planned.append(_skipped(entry, reason, taken))
            continue
        unfit = _unfit_path(path)
        if unfit is not None:
            if was_indexed:  # where the database could hold it: its old chunks must go
                planned.append(PlannedFile(path, FileAction.DELETE))
            else:
                planned.append(_skipped(entry, unfit, taken))
            continue
        if entry.size > config.max_file_size:
            if was_indexed:  # its old chunks must not outlive it
                planned.append(PlannedFile(path, FileAction.DELETE))
            else:
                reason = f"{entry.size} bytes, over max_file_size ({config.max_file_size})"
                planned.append(_skipped(entry, reason, taken))
            continue
        if not force and indexed.get(path) == entry.blob_sha:
            if candidates is not None:
                planned.append(_skipped(entry, "unchanged", taken))
            continue
        planned.append(PlannedFile(path, FileAction.PROCESS, entry.blob_sha, entry.size))
    return planned


def _skipped(entry: TreeEntry, reason: str, taken: set[str]) -> PlannedFile:
    path = entry.path
    if _unfit_path(path) is not None:
        path = _unused(_shown_path(path), taken)
    return PlannedFile(path, FileAction.PROCESS, entry.blob_sha, entry.size, reason)


def _unfit_path(path: str) -> str | None:
    """Why a file's rows cannot be keyed on `path`, or None when they can."""
    if not _is_utf8(path):
        return f"its name is not UTF-8 (bytes that are not shown as \\xNN): {_shown_path(path)}"
    length = len(_path_bytes(path))
    if length > MAX_INDEXED_PATH_BYTES:
        return f"its path is {length} bytes; paths over {MAX_INDEXED_PATH_BYTES} are not indexed"
    return None


def _is_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path_bytes(path: str) -> bytes:
    """`path` as git stores it: a source gives each byte of a name that is not UTF-8 as a
    surrogate escape."""
    return path.encode("utf-8", "surrogateescape")


def _shown_path(path: str) -> str:
    """`path` as a row can hold it: each byte that is not UTF-8 written as `\\xNN`, and, when that
    is over MAX_INDEXED_PATH_BYTES, cut to SHORTENED_PATH_BYTES, with the path's length and a
    digest that keep it unique."""
    raw = _path_bytes(path)
    text = raw.decode("utf-8", "backslashreplace")
    encoded = text.encode()
    if len(encoded) <= MAX_INDEXED_PATH_BYTES:
        return text
    head = encoded[:SHORTENED_PATH_BYTES].decode("utf-8", "ignore")
    return f"{head}... ({len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:16]})"


def _unused(name: str, taken: set[str]) -> str:
    """`name`, numbered when a path of the job already has it (a hostile repository can name a
    file after another's shown name), and now taken."""
    unused, number = name, 1
    while unused in taken:
        number += 1
        unused = f"{name} ({number})"
    taken.add(unused)
    return unused
