"""Names git takes and text does not: line ends and tabs come back from a local repository byte
for byte, and a name that is not UTF-8 is read back, then planned as a skipped row whose path and
reason are printable text, which the job's JSON and database can hold."""

import json
import os
from pathlib import Path

import pytest

from service.config import RepoConfig
from service.models import FileAction
from service.planner import plan
from service.sources import FileStatus
from service.sources.local_git import LocalGitSource
from tests.service.sources.git_repo import commit, init, write

pytestmark = pytest.mark.anyio

LATIN1 = os.fsdecode(b"docs/caf\xe9.md")
CONTROL = ("docs/cr\rname.md", "docs/two\nlines.md", "docs/a\ttab.md")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "odd"
    init(path)
    return path


async def test_names_with_line_ends_tabs_and_latin1_bytes_read_back_as_committed(
    repo: Path,
) -> None:
    write(repo, {"docs/plain.md": b"# Plain\n"})
    base = commit(repo, "base")
    contents = {name: f"# {name!r}\n".encode() for name in (*CONTROL, LATIN1)}
    write(repo, contents)
    head = commit(repo, "odd names")
    source = LocalGitSource(repo)

    listed = {entry.path for entry in await source.tree(head)}
    narrowed = await source.tree(head, [LATIN1, "docs/cr\rname.md"])
    changes = await source.compare(base, head)

    assert listed == {"docs/plain.md", *contents}
    assert [entry.path for entry in narrowed] == sorted([LATIN1, "docs/cr\rname.md"])
    assert {(change.path, change.status) for change in changes} == {
        (name, FileStatus.ADDED) for name in contents
    }
    for name, content in contents.items():
        assert await source.read_file(head, name) == content


async def test_a_name_that_is_not_utf8_is_planned_as_a_printable_skipped_row(repo: Path) -> None:
    write(repo, {LATIN1: b"# Cafe\n", "docs/guide.md": b"# Guide\n"})
    head = commit(repo, "latin-1")
    tree = await LocalGitSource(repo).tree(head)

    planned = plan(tree, {}, RepoConfig(), candidates=None)

    assert [(item.path, item.action, item.skip_reason) for item in planned] == [
        (
            r"docs/caf\xe9.md",
            FileAction.PROCESS,
            r"its name is not UTF-8 (bytes that are not shown as \xNN): docs/caf\xe9.md",
        ),
        ("docs/guide.md", FileAction.PROCESS, None),
    ]
    # What the plan step hands the engine, and the rows the job records: strict UTF-8 text.
    json.dumps([item.path for item in planned], ensure_ascii=False).encode("utf-8")


async def test_a_shown_name_another_file_already_has_is_numbered(repo: Path) -> None:
    # A file named, with a real backslash, as the latin-1 one is shown: rows are keyed by path.
    write(repo, {LATIN1: b"# Latin-1\n", r"docs/caf\xe9.md": b"# Backslash\n"})
    head = commit(repo, "look-alikes")
    tree = await LocalGitSource(repo).tree(head)

    planned = plan(tree, {}, RepoConfig(), candidates=None)

    assert sorted((item.path, item.skip_reason is None) for item in planned) == [
        (r"docs/caf\xe9.md", True),
        (r"docs/caf\xe9.md (2)", False),
    ]
