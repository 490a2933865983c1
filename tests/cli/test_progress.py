"""How a followed job looks: on a terminal one line redrawn with a bar, in a log a line per
status and per tenth of the files, and a summary whose exit status says whether it all worked."""

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cli.progress import JobSnapshot, LiveLine, LogLines, summary, watch
from service.models import IngestionStatus

START = datetime(2025, 1, 1, tzinfo=UTC)
QUEUED = JobSnapshot(
    id=7,
    repository="docs",
    status=IngestionStatus.QUEUED,
    trigger="push",
    before=None,
    after="abcdef1234567890",
    total=0,
    processed=0,
    failed=0,
    skipped=0,
    error=None,
    created_at=START,
    started_at=None,
    processed_at=None,
)


def _history(total: int) -> list[JobSnapshot]:
    """Queued, planning, then one file at a time, then processed."""
    running = replace(QUEUED, status=IngestionStatus.RUNNING, started_at=START)
    steps = [QUEUED, running]
    steps += [replace(running, total=total, processed=done) for done in range(total + 1)]
    steps.append(
        replace(
            steps[-1],
            status=IngestionStatus.PROCESSED,
            processed_at=START + timedelta(seconds=2.5),
        )
    )
    return steps


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _follow(steps: list[JobSnapshot], view: LiveLine | LogLines) -> JobSnapshot:
    remaining = iter(steps)
    return watch(lambda: next(remaining), view, sleep=lambda _seconds: None)


def test_a_log_gets_a_line_per_status_and_per_tenth_of_the_files() -> None:
    out = io.StringIO()

    last = _follow(_history(40), LogLines(out))

    assert last.status is IngestionStatus.PROCESSED
    assert out.getvalue().splitlines() == [
        "job 7 docs: queued",
        "job 7 docs: planning",
        "job 7 docs: running",
        *(f"job 7: {4 * step}/40 files" for step in range(11)),
    ]


def test_a_terminal_gets_one_line_redrawn_with_a_bar() -> None:
    out = _Terminal()

    _follow(_history(4), LiveLine(out))

    frames = [frame.rstrip() for frame in out.getvalue().split("\r") if frame.strip()]
    assert frames[0] == "job 7 docs: queued"
    assert "job 7 docs: running [############------------] 2/4 files" in frames
    assert frames[-1] == "\033[K"  # the line is cleared for the summary


@pytest.mark.parametrize(
    ("end", "expected", "ok"),
    [
        (
            {"status": IngestionStatus.PROCESSED, "processed": 3, "skipped": 1},
            "job 7 indexed docs at abcdef1: 3 processed, 1 skipped, 0 failed in 2.5 s",
            True,
        ),
        (
            {"status": IngestionStatus.SKIPPED, "skipped": 2},
            "job 7 found nothing to index in docs at abcdef1 "
            "(0 processed, 2 skipped, 0 failed) in 2.5 s",
            True,
        ),
        (
            {"status": IngestionStatus.PROCESSED, "processed": 3, "failed": 1, "error": "a.md: x"},
            "job 7 indexed docs at abcdef1 with failures: 3 processed, 0 skipped, 1 failed "
            "in 2.5 s; a.md: x",
            False,
        ),
        (
            {"status": IngestionStatus.FAILED, "error": "lightfast.yml line 2: bad glob"},
            "job 7 on docs at abcdef1 failed: lightfast.yml line 2: bad glob",
            False,
        ),
        (
            {"status": IngestionStatus.CANCELLED, "processed": 1},
            "job 7 on docs at abcdef1 was cancelled after 1/4 files",
            False,
        ),
    ],
)
def test_the_summary_says_how_the_job_ended(
    end: dict[str, object], expected: str, ok: bool
) -> None:
    job = replace(
        QUEUED, total=4, started_at=START, processed_at=START + timedelta(seconds=2.5), **end
    )  # type: ignore[arg-type]

    assert summary(job) == expected
    assert job.succeeded is ok
