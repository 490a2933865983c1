"""The planner: when a push payload can be trusted, and what each path of a job becomes."""

import hashlib
from collections.abc import Mapping
from typing import Any

import pytest

from service.config import CONFIG_FILE, RepoConfig
from service.models import FileAction
from service.planner import (
    MAX_INDEXED_PATH_BYTES,
    PAYLOAD_COMMIT_LIMIT,
    SHORTENED_PATH_BYTES,
    ZERO_SHA,
    PlannedFile,
    Push,
    changed_paths,
    chunking_changed,
    full_diff_reason,
    plan,
)
from service.sources import TreeEntry


def sha(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


BEFORE, AFTER, OLDER = sha("before"), sha("after"), sha("older")


def commit(
    added: tuple[str, ...] = (), modified: tuple[str, ...] = (), removed: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {"added": list(added), "modified": list(modified), "removed": list(removed)}


def push(**changes: Any) -> Push:
    fields: dict[str, Any] = {
        "before": BEFORE,
        "after": AFTER,
        "commits": [commit(modified=("docs/guide.md",))],
    }
    return Push(**{**fields, **changes})


def entry(path: str, content: str = "", size: int | None = None) -> TreeEntry:
    text = content or f"# {path}\n"
    return TreeEntry(path, sha(text), len(text) if size is None else size)


def process(item: TreeEntry) -> PlannedFile:
    return PlannedFile(item.path, FileAction.PROCESS, item.blob_sha, item.size)


def delete(path: str) -> PlannedFile:
    return PlannedFile(path, FileAction.DELETE)


def skipped(item: TreeEntry, reason: str) -> PlannedFile:
    return PlannedFile(item.path, FileAction.PROCESS, item.blob_sha, item.size, reason)


def indexed(*entries: TreeEntry) -> Mapping[str, str]:
    return {item.path: item.blob_sha for item in entries}


# --- full_diff_reason ---------------------------------------------------------------------------


MANY = [commit(modified=(f"docs/{n}.md",)) for n in range(PAYLOAD_COMMIT_LIMIT)]

REASONS = [
    pytest.param(push(before=None), "manual sync", id="manual-sync"),
    pytest.param(push(created=True), "new branch", id="created"),
    pytest.param(push(before=ZERO_SHA), "new branch", id="zero-before-sha"),
    pytest.param(push(forced=True), "force push", id="forced"),
    pytest.param(push(truncated=True), "truncated commit list", id="truncated"),
    pytest.param(push(commits=MANY), "truncated commit list", id="commit-limit"),
    pytest.param(push(before=OLDER), f"missed (last ingested {BEFORE[:12]})", id="missed-push"),
    pytest.param(
        push(commits=[commit(), commit(modified=(CONFIG_FILE, "docs/a.md"))]),
        f"{CONFIG_FILE} changed",
        id="config-modified",
    ),
    pytest.param(push(commits=[commit(added=(CONFIG_FILE,))]), "changed", id="config-added"),
    pytest.param(push(commits=[commit(removed=(CONFIG_FILE,))]), "changed", id="config-removed"),
]


@pytest.mark.parametrize(("pushed", "reason"), REASONS)
def test_an_untrusted_payload_says_why(pushed: Push, reason: str) -> None:
    found = full_diff_reason(pushed, last_ingested_sha=BEFORE)

    assert found is not None and reason in found


def test_a_payload_that_follows_the_last_ingestion_is_trusted() -> None:
    assert full_diff_reason(push(), last_ingested_sha=BEFORE) is None
    one_short = push(commits=MANY[:-1])
    assert full_diff_reason(one_short, last_ingested_sha=BEFORE) is None


def test_a_repository_never_ingested_gets_a_full_diff() -> None:
    # Files that predate the push were never indexed: the push's own paths are not enough.
    reason = full_diff_reason(push(), last_ingested_sha=None)

    assert reason is not None and "never ingested" in reason


DEFAULTS = RepoConfig()
SMALLER = RepoConfig(chunk_size=100, chunk_overlap=10)


@pytest.mark.parametrize(
    ("pushed", "indexed_with", "config", "changed"),
    [
        pytest.param(push(), DEFAULTS.chunking, DEFAULTS, False, id="same-settings"),
        pytest.param(push(), DEFAULTS.chunking, SMALLER, True, id="new-settings"),
        # A force push whose payload lists no config change still brings the new settings.
        pytest.param(push(forced=True, commits=[]), DEFAULTS.chunking, SMALLER, True, id="forced"),
        # Only the globs changed: the stored chunks are still good.
        pytest.param(
            push(commits=[commit(modified=(CONFIG_FILE,))]),
            DEFAULTS.chunking,
            RepoConfig(exclude=("drafts/**",)),
            False,
            id="globs-only",
        ),
        # Nothing recorded yet: the payload is all there is to go by.
        pytest.param(push(commits=[commit(added=(CONFIG_FILE,))]), None, SMALLER, True, id="new"),
        pytest.param(push(), None, SMALLER, False, id="unrecorded"),
    ],
)
def test_new_chunking_settings_make_every_chunk_stale(
    pushed: Push, indexed_with: str | None, config: RepoConfig, changed: bool
) -> None:
    assert chunking_changed(pushed, indexed_with, config) is changed


def test_changed_paths_joins_every_commit() -> None:
    pushed = push(
        commits=[
            commit(added=("a.md",), modified=("b.md",)),
            commit(removed=("a.md", "c.md"), modified=("b.md",)),
        ]
    )

    assert changed_paths(pushed) == {"a.md", "b.md", "c.md"}


def test_changed_paths_leaves_out_paths_no_tree_can_hold() -> None:
    # An event sent straight to Inngest is not checked as the webhook checks a payload.
    bad = ("", "/etc/passwd", "docs/../x.md", "docs/.git/config", "a\0b.md", "x" * 5000)
    pushed = push(commits=[commit(added=("docs/ok.md", *bad))])

    assert changed_paths(pushed) == {"docs/ok.md"}


# --- plan ---------------------------------------------------------------------------------------


GUIDE = entry("docs/guide.md", "# Guide v2\n")
GUIDE_V1 = entry("docs/guide.md", "# Guide v1\n")
INTRO = entry("docs/intro.md")
README = entry("README.md")
SCRIPT = entry("scripts/build.sh")
CONFIG = entry(CONFIG_FILE, "store: docs\n")
TREE = [CONFIG, README, GUIDE, INTRO, SCRIPT]
DOCS = [README, GUIDE, INTRO]


def test_the_full_tree_processes_new_and_changed_files_and_deletes_removed_ones() -> None:
    planned = plan(
        TREE,
        {**indexed(GUIDE_V1, INTRO), "docs/gone.md": sha("gone")},
        RepoConfig(),
        candidates=None,
    )

    assert planned == [process(README), delete("docs/gone.md"), process(GUIDE)]


def test_candidates_narrow_the_plan_to_the_payload_paths() -> None:
    planned = plan(
        TREE,
        indexed(GUIDE_V1, INTRO, README),
        RepoConfig(),
        candidates={"docs/guide.md", "docs/gone.md"},
    )

    # README.md and docs/intro.md are in the tree but not in the push; docs/gone.md was never
    # indexed, so there is nothing to delete.
    assert planned == [process(GUIDE)]


def test_unchanged_files_are_recorded_only_when_the_payload_named_them() -> None:
    from_payload = plan(TREE, indexed(INTRO), RepoConfig(), candidates={INTRO.path})
    from_tree = plan(TREE, indexed(*DOCS), RepoConfig(), candidates=None)

    assert from_payload == [skipped(INTRO, "unchanged")]
    assert from_tree == []


def test_removed_and_newly_excluded_paths_are_deleted() -> None:
    config = RepoConfig(exclude=("docs/intro.md",))
    was_indexed = {**indexed(INTRO), "docs/removed.md": sha("removed")}

    full = plan(TREE, was_indexed, config, candidates=None)
    narrowed = plan(TREE, was_indexed, config, candidates={INTRO.path, "docs/removed.md"})

    expected = [delete("docs/intro.md"), delete("docs/removed.md")]
    assert [item for item in full if item.action is FileAction.DELETE] == expected
    assert narrowed == expected


def test_payload_files_outside_the_globs_are_skipped_with_the_reason() -> None:
    planned = plan(TREE, {}, RepoConfig(), candidates={SCRIPT.path, GUIDE.path})

    assert planned == [
        process(GUIDE),
        skipped(SCRIPT, "outside the include globs (**/*.md, **/*.mdx)"),
    ]


def test_an_oversize_new_file_is_skipped_with_both_sizes() -> None:
    big = entry("docs/big.md", size=2_000)

    planned = plan([big], {}, RepoConfig(max_file_size=1_000), candidates=None)

    assert [item.path for item in planned] == ["docs/big.md"]
    reason = planned[0].skip_reason
    assert reason is not None and "2000 bytes" in reason and "1000" in reason


def test_an_oversize_file_that_was_indexed_is_deleted() -> None:
    big = entry("docs/big.md", size=2_000)
    config = RepoConfig(max_file_size=1_000)

    assert plan([big], {big.path: sha("old")}, config, candidates=None) == [delete(big.path)]
    assert plan([big], {big.path: sha("old")}, config, candidates={big.path}) == [delete(big.path)]


def test_a_path_too_long_to_index_is_skipped_under_a_shortened_unique_name() -> None:
    # Two paths that differ only after the cut, and a multi-byte character across it.
    stem = "docs/" + "é" * (SHORTENED_PATH_BYTES // 2)
    long_paths = [entry(f"{stem}{'x' * 300}/{name}.md") for name in ("a", "b")]

    planned = plan([*long_paths, GUIDE], {}, RepoConfig(), candidates=None)

    assert planned[0] == process(GUIDE)
    shortened = [item.path for item in planned[1:]]
    assert len(set(shortened)) == 2
    for item, original in zip(planned[1:], long_paths, strict=True):
        length = len(original.path.encode())
        assert (item.blob_sha, item.skip_reason) == (
            original.blob_sha,
            f"its path is {length} bytes; paths over {MAX_INDEXED_PATH_BYTES} are not indexed",
        )
        assert len(item.path.encode()) < MAX_INDEXED_PATH_BYTES
        assert item.path.startswith(stem[:100]) and f"({length} bytes, sha256 " in item.path


def test_a_path_too_long_to_index_that_was_indexed_is_deleted() -> None:
    deep = entry("docs/" + "d" * MAX_INDEXED_PATH_BYTES + ".md")

    assert plan([deep], {deep.path: deep.blob_sha}, RepoConfig(), candidates=None) == [
        delete(deep.path)
    ]


def test_force_processes_unchanged_files_again() -> None:
    planned = plan(TREE, indexed(*DOCS), RepoConfig(), candidates=None, force=True)

    assert planned == [process(README), process(GUIDE), process(INTRO)]


def test_the_config_file_itself_is_never_planned() -> None:
    everything = RepoConfig(include=("**",))

    full = plan(TREE, {}, everything, candidates=None, force=True)
    narrowed = plan(TREE, {}, everything, candidates={CONFIG_FILE, SCRIPT.path})

    assert CONFIG_FILE not in {item.path for item in full + narrowed}
    assert narrowed == [process(SCRIPT)]


def test_the_plan_is_sorted_by_path() -> None:
    tree = [entry(f"docs/{name}.md") for name in ("zeta", "alpha", "Mid", "beta/x", "beta")]

    planned = plan(reversed(tree), {"docs/aaa.md": sha("x")}, RepoConfig(), candidates=None)

    paths = [item.path for item in planned]
    assert paths == sorted(paths)
    assert len(paths) == len(tree) + 1
