"""The engine console shows a real ingestion: the `docs-ingestion` orchestrator, its fan-out and
each file run, in chromium."""

import re
from pathlib import Path

from playwright.sync_api import expect

from service.models import IngestionStatus
from tests.e2e.browser import DESKTOP, SCREENSHOTS, chromium
from tests.e2e.system import running_system

FILES = 3
ORCHESTRATOR = "docs-ingest-docs-ingestion"
FILE_RUN = "docs-ingest-docs-file-process"


def test_the_console_shows_an_ingestion_its_fan_out_and_each_file_run(tmp_path: Path) -> None:
    with running_system(tmp_path) as system, chromium() as browser:
        system.repo.write(
            {f"docs/page-{n}.md": f"# Page {n}\n\nTopic {n}.\n" for n in range(FILES)}
        )
        system.repo.commit("docs")
        job = system.finished(system.push())
        orchestrator = system.ingestion_run(job)["run_id"]
        page = browser.new_page(viewport=DESKTOP, base_url=str(system.engine.base_url))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto("/runs")
        rows = page.locator("tbody tr[data-run-id]")
        expect(rows).to_have_count(FILES + 1)
        expect(rows.filter(has_text="Index a file")).to_have_count(FILES)
        expect(page.locator(f'tr[data-run-id="{orchestrator}"]')).to_contain_text("github/push")

        page.goto(f"/run?runID={orchestrator}")
        steps = page.get_by_role("region", name="Steps")
        for name in ("load-config", "plan", "fan-out-0", "files-done", "finalize"):
            expect(steps.get_by_role("button", name=re.compile(rf"^{name}\b"))).to_be_visible()
        expect(steps).to_contain_text("Send event")
        started = page.get_by_role("region", name="Related runs").get_by_role(
            "link", name=re.compile("^Index a file")
        )
        expect(started).to_have_count(FILES)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "console-docs-ingestion.png", full_page=True)

        started.first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Index a file")
        expect(page.locator(".run-head .status")).to_have_text("Completed")
        # A file indexed in one part is one SDK call and no step; its output is its file row.
        expect(page.get_by_role("region", name="Steps")).to_contain_text("no steps")
        expect(page.get_by_role("region", name="Output")).to_contain_text('"processed"')

    assert job.status is IngestionStatus.PROCESSED, job.error_message
    assert errors == []
