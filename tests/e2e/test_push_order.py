"""Two pushes to one repository in quick succession: the second job plans only once the first has
ended, so it reads the index the first left, and the newer version of a file both change is the
one indexed, whichever file run would have finished last."""

from pathlib import Path

from service.models import IngestionStatus
from tests.e2e.system import page, prose, running_system

PAGES = 30
GUIDE = "docs/guide.md"


def pages(version: int) -> dict[str, str]:
    return {
        f"docs/page-{n}.md": page(f"Page {n}", ("Body", prose(f"version {version}", 4)))
        for n in range(PAGES)
    } | {GUIDE: page("Guide", ("Body", prose(f"guide version {version}", 4)))}


def test_a_push_arriving_while_the_last_job_runs_waits_for_it_to_end(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        system.repo.write(pages(1))
        base = system.repo.commit("docs")
        assert system.finished(system.push()).status is IngestionStatus.PROCESSED
        system.repo.write(pages(2))
        middle = system.repo.commit("every page")
        system.repo.write({GUIDE: pages(3)[GUIDE]})
        head = system.repo.commit("the guide again")

        job_ids = [
            int(system.deliver(system.payload(before=before, after=after)).json()["job_id"])
            for before, after in ((base, middle), (middle, head))
        ]
        earlier, later = (system.finished(job_id, timeout=120) for job_id in job_ids)

        assert earlier.status is later.status is IngestionStatus.PROCESSED
        assert earlier.processed_at is not None and later.planned_at is not None
        assert later.planned_at >= earlier.processed_at
        assert list(system.files(job_ids[1])) == [GUIDE]
        assert system.indexed()[GUIDE].content_sha == system.repo.blob_of(GUIDE, head)
        assert system.repository().last_ingested_sha == head
        system.assert_index_consistent()
