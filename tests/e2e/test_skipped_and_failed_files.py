"""Files that cannot be indexed do not fail the job: unreadable text and a path too long for an
index are skipped with their reason, a file whose content cannot be read fails on its own row, and
the job names it."""

import hashlib
from pathlib import Path

from service.models import FileStatus, IngestionStatus
from service.planner import MAX_INDEXED_PATH_BYTES
from tests.e2e.system import page, running_system

GOOD = {f"docs/good-{n}.md": page(f"Good {n}") for n in range(3)}
BINARY = "docs/diagram.md"
LATIN1 = "docs/cafe.md"
BROKEN = "docs/broken.md"


def test_unreadable_files_are_skipped_and_a_broken_one_fails_alone(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(
            {
                **GOOD,
                BINARY: b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
                LATIN1: "# Caf\u00e9\n\nCr\u00e8me br\u00fbl\u00e9e.\n".encode("latin-1"),
                BROKEN: page("Broken", ("Why", "Its blob will be gone.")),
            }
        )
        system.repo.commit("docs")
        system.repo.lose_object(system.repo.blob_of(BROKEN))

        job = system.finished(system.push())

        assert job.status is IngestionStatus.PROCESSED, job.error_message
        assert (job.files_total, job.files_processed) == (6, 3)
        assert (job.files_skipped, job.files_failed) == (2, 1)
        assert job.error_message is not None and BROKEN in job.error_message
        files = system.files(job.id or 0)
        assert files[BINARY].status is FileStatus.SKIPPED
        assert files[BINARY].error == "binary file"
        assert files[LATIN1].status is FileStatus.SKIPPED
        assert files[LATIN1].error == "not UTF-8 text (invalid byte at offset 5)"
        assert files[BROKEN].status is FileStatus.FAILED
        assert system.repo.blob_of(BROKEN) in (files[BROKEN].error or "")
        assert all(files[path].status is FileStatus.PROCESSED for path in GOOD)

        assert sorted(system.indexed()) == sorted(GOOD)
        assert system.points(BINARY) == system.points(LATIN1) == system.points(BROKEN) == 0
        system.assert_index_consistent()
        assert system.points() == len(GOOD)


def test_a_path_too_long_for_an_index_is_skipped_and_the_rest_indexed(
    tmp_path: Path, database_url: str
) -> None:
    # Twelve folders of 240 characters that do not compress (PostgreSQL compresses a key before
    # it checks its size): 2,900 bytes, a path git takes and a database index does not.
    folders = [hashlib.sha256(bytes([n])).hexdigest() * 4 for n in range(12)]
    deep = "/".join(["docs", *(folder[:240] for folder in folders), "deep.md"])
    with running_system(tmp_path, database_url) as system:
        system.repo.write({**GOOD, deep: page("Deep", ("Down", "Far below."))})
        system.repo.commit("docs")

        job = system.finished(system.push())

        assert job.status is IngestionStatus.PROCESSED, job.error_message
        assert (job.files_total, job.files_processed, job.files_skipped) == (4, 3, 1)
        [(shown, row)] = [(p, r) for p, r in system.files(job.id or 0).items() if p not in GOOD]
        assert row.status is FileStatus.SKIPPED
        length = len(deep.encode())
        limit = MAX_INDEXED_PATH_BYTES
        assert row.error == f"its path is {length} bytes; paths over {limit} are not indexed"
        assert shown.startswith(deep[:200]) and f"({length} bytes, sha256 " in shown
        assert sorted(system.indexed()) == sorted(GOOD)
        system.assert_index_consistent()
