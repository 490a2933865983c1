"""Builds real git repositories for the source tests, and knows what each commit holds."""

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Isolated from the machine's git configuration so that the repository is the same everywhere.
GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Ada Docs",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Docs",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}

BINARY = bytes(range(256)) * 8  # NUL bytes and invalid UTF-8
RENAMED_BODY = b"".join(b"Line %d of a page that moves to another folder.\n" % i for i in range(40))

FIRST_FILES: dict[str, bytes] = {
    "README.md": b"# Sample docs\n\nStart here.\n",
    "docs/guide.md": b"# Guide\n\nInstall, then run.\n",
    "docs/nested/deep/page.md": b"# Deep page\n\nThree folders down.\n",
    "docs/with space.md": b"# Spaces\n\nA name with a space.\n",
    "docs/\u00fcn\u00efc\u00f6d\u00e9.md": "# Unicode\n\nCaf\u00e9 na\u00efve.\n".encode(),
    "docs/image.png": BINARY,
    "docs/old-name.md": RENAMED_BODY,
    "docs/obsolete.md": b"# Obsolete\n\nGoing away.\n",
    "scripts/build.sh": b"#!/bin/sh\necho build\n",
}
EXECUTABLE = "scripts/build.sh"
SYMLINK = "docs/link.md"  # -> guide.md
SUBMODULE = "vendor/lib"

SECOND_FILES: dict[str, bytes] = {
    **{k: v for k, v in FIRST_FILES.items() if k not in {"docs/old-name.md", "docs/obsolete.md"}},
    "docs/guide.md": b"# Guide\n\nInstall, configure, then run.\n",
    "docs/\u00fcn\u00efc\u00f6d\u00e9.md": "# Unicode\n\nCaf\u00e9 na\u00efve, encore.\n".encode(),
    "docs/renamed/new-name.md": RENAMED_BODY + b"One more line after the move.\n",
    "docs/added file.md": b"# Added\n\nNew in the second commit.\n",
}


def blob_sha(content: bytes) -> str:
    """The sha git gives a blob with these bytes, computed without git."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=GIT_ENV, input=input, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def write(repo: Path, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def init(repo: Path) -> None:
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class SampleRepo:
    """main: first -> second; tag v1 (annotated) on first; branch side: first -> side."""

    path: Path
    first: str
    second: str
    side: str


def build_sample_repo(repo: Path) -> SampleRepo:
    init(repo)
    write(repo, FIRST_FILES)
    (repo / EXECUTABLE).chmod(0o755)
    (repo / SYMLINK).symlink_to("guide.md")
    git(repo, "add", "--all")
    # A gitlink without .gitmodules is all a submodule is inside a tree.
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'ab' * 20},{SUBMODULE}")
    first = commit(repo, "first")
    git(repo, "tag", "--annotate", "v1", "-m", "version 1")

    (repo / "docs/renamed").mkdir()
    git(repo, "mv", "docs/old-name.md", "docs/renamed/new-name.md")
    git(repo, "rm", "--quiet", "docs/obsolete.md")
    write(repo, {k: v for k, v in SECOND_FILES.items() if FIRST_FILES.get(k) != v})
    second = commit(repo, "second")

    git(repo, "switch", "--quiet", "--create", "side", first)
    (repo / "README.md").write_bytes(b"# Sample docs\n\nChanged on a side branch.\n")
    side = commit(repo, "side")
    git(repo, "switch", "--quiet", "main")
    return SampleRepo(path=repo, first=first, second=second, side=side)
