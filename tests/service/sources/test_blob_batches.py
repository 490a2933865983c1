"""LocalGitSource.read_blob: concurrent reads share one `git cat-file --batch`, and each caller
still gets exactly its own bytes or its own error."""

import asyncio
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.sources import SourceNotFound
from service.sources.local_git import LocalGitSource
from tests.service.sources.git_repo import BINARY, blob_sha, commit, git, init, write

PAGES = {f"docs/page-{i:02}.md": b"# Page %d\n\nBody of page %d.\n" % (i, i) for i in range(36)}
EMPTY = b""
LARGE = b"".join(b"Line %07d of a very large page.\n" % i for i in range(64_000))  # ~2 MB
OTHER_FILES = {"empty.md": EMPTY, "image.png": BINARY, "large.md": LARGE}


@dataclass(frozen=True)
class BlobRepo:
    path: Path
    commit: str
    tree: str
    tag: str  # an annotated tag of the blob of docs/page-00.md


@pytest.fixture(scope="module")
def blob_repo(tmp_path_factory: pytest.TempPathFactory) -> BlobRepo:
    repo = tmp_path_factory.mktemp("blobs") / "repo"
    init(repo)
    write(repo, {**PAGES, **OTHER_FILES})
    head = commit(repo, "pages")
    git(repo, "tag", "--annotate", "page-blob", "-m", "a blob", blob_sha(PAGES["docs/page-00.md"]))
    return BlobRepo(
        path=repo,
        commit=head,
        tree=git(repo, "rev-parse", "HEAD^{tree}"),
        tag=git(repo, "rev-parse", "page-blob"),
    )


def reads(repo: BlobRepo) -> list[tuple[str, bytes | None]]:
    """Fifty (sha, expected bytes) pairs, None where the read must fail: every kind interleaved."""
    page_shas = [(blob_sha(content), content) for content in PAGES.values()]
    odd: list[tuple[str, bytes | None]] = [
        (blob_sha(EMPTY), EMPTY),
        (blob_sha(BINARY), BINARY),
        (blob_sha(LARGE), LARGE),
        (blob_sha(b"never committed"), None),
        (repo.tree, None),
        (repo.commit, None),
        (repo.tag, PAGES["docs/page-00.md"]),  # as `git cat-file blob TAG` gives
        (blob_sha(PAGES["docs/page-07.md"])[:12], PAGES["docs/page-07.md"]),
        (blob_sha(LARGE), LARGE),
        (blob_sha(b"also never committed"), None),
        page_shas[3],
        (blob_sha(EMPTY), EMPTY),
        (repo.tree, None),
        (blob_sha(BINARY), BINARY),
    ]
    mixed = [pair for page, other in zip(page_shas, odd, strict=False) for pair in (page, other)]
    return mixed + page_shas[len(odd) :]


@pytest.mark.anyio
async def test_each_concurrent_read_gets_its_own_blob_or_its_own_error(
    blob_repo: BlobRepo,
) -> None:
    cases = reads(blob_repo)
    assert len(cases) == 50
    source = LocalGitSource(blob_repo.path)
    results = await asyncio.gather(
        *(source.read_blob(sha) for sha, _ in cases), return_exceptions=True
    )
    for (sha, expected), result in zip(cases, results, strict=True):
        if expected is None:
            assert isinstance(result, SourceNotFound), sha
            assert str(result) == f"blob {sha} not found in {blob_repo.path}"
        else:
            assert result == expected, sha


@pytest.mark.anyio
async def test_concurrent_reads_share_one_git_process(
    blob_repo: BlobRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = count_git_runs(monkeypatch, "cat-file")
    cases = reads(blob_repo)
    source = LocalGitSource(blob_repo.path)
    await asyncio.gather(*(source.read_blob(sha) for sha, _ in cases), return_exceptions=True)
    # Calls that arrive together make one batch; at most the first ran on its own before them.
    assert 1 <= len(started) <= 2
    assert sum(names.count(b"\n") for names in started) == len(cases)


@pytest.mark.anyio
async def test_concurrent_reads_in_a_folder_that_is_not_a_repository_name_the_folder(
    tmp_path: Path,
) -> None:
    source = LocalGitSource(tmp_path)
    results = await asyncio.gather(
        *(source.read_blob(blob_sha(content)) for content in list(PAGES.values())[:5]),
        return_exceptions=True,
    )
    for result in results:
        assert isinstance(result, SourceNotFound)
        assert f"{tmp_path} is not a git repository" in str(result)


def test_a_read_left_pending_on_one_event_loop_does_not_hold_up_another(
    blob_repo: BlobRepo,
) -> None:
    source = LocalGitSource(blob_repo.path)
    first_page, second_page = list(PAGES.values())[:2]
    first = asyncio.new_event_loop()
    try:
        pending = first.create_task(source.read_blob(blob_sha(first_page)))
        first.run_until_complete(asyncio.sleep(0))  # its batch has begun; the loop now stops
        # The timeout only turns a hang into a failure.
        other = asyncio.wait_for(source.read_blob(blob_sha(second_page)), 60)
        assert asyncio.run(other) == second_page
        assert first.run_until_complete(pending) == first_page
    finally:
        first.close()


def count_git_runs(monkeypatch: pytest.MonkeyPatch, command: str) -> list[bytes]:
    """The stdin of every `git <command>` started from now on (the processes still run)."""
    started: list[bytes] = []
    real_run: Callable[..., Any] = subprocess.run

    def run(args: list[str], *rest: Any, **options: Any) -> Any:
        if command in args:
            started.append(options.get("input") or b"")
        return real_run(args, *rest, **options)

    monkeypatch.setattr(subprocess, "run", run)
    return started
