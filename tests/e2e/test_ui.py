"""The console in a real browser against the whole system: engine, service, git repositories.

One system serves the module. The `docs` repository (one file at a time, so a job runs for a few
seconds) is pushed once; `handbook` has an invalid lightfast.yml, so its jobs fail. Screenshots
land in tests/artifacts/screenshots/ (git-ignored).
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect
from sqlmodel import col, select

from service import jobs
from service.db import session_scope
from service.models import (
    ConnectedRepository,
    FileStatus,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    Provider,
    utc_now,
)
from service.repositories import connect, ensure_org, local_external_id
from service.tokens import issue_token
from tests.e2e.browser import DESKTOP, JOBS_LIST, PHONE, Console, RouterClient, chromium
from tests.e2e.system import BRANCH, GitRepo, System, page, prose, running_system
from tests.router.jobs_factory import make_job

LONG_PATH = "reference/operations/deploying-without-downtime/rolling-restarts-and-health-checks.md"
DOCS = {
    **{
        f"guides/guide-{n:02d}.md": page(
            f"Guide {n}", *[(f"Part {p}", prose(f"guide {n} part {p}", 12)) for p in range(3)]
        )
        for n in range(39)
    },
    LONG_PATH: page(
        "Rolling restarts",
        ("Zero downtime", "Deploy one replica at a time; the load balancer drains each first."),
        ("Markup stays text", "Never paste <img src=x onerror=alert(1)> into the console."),
    ),
}
INVALID_CONFIG = "version: 1\nchunk_sise: 60\n"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("ui"), DOCS_INGEST_FILE_CONCURRENCY=1) as running:
        yield running


@pytest.fixture(scope="module")
def router(system: System) -> RouterClient:
    return RouterClient(system)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def console(browser: Browser, router: RouterClient) -> Iterator[Console]:
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    opened = Console(context.new_page(), router)
    yield opened
    context.close()
    assert opened.errors == []


@pytest.fixture(scope="module")
def docs_job(system: System) -> int:
    """The first push of `docs`: its job id, at once (the job may still be running)."""
    system.repo.write(DOCS)
    system.repo.commit("docs")
    return system.push()


@pytest.fixture(scope="module")
def handbook(system: System) -> int:
    """A second repository whose lightfast.yml is invalid: its id."""
    repo = GitRepo(system.repo.path.parent / "handbook")
    repo.write({"lightfast.yml": INVALID_CONFIG, "intro.md": page("Intro")})
    repo.commit("handbook")
    with session_scope(system.services.db) as session:
        row = connect(
            session,
            provider=Provider.LOCAL,
            full_name="handbook",
            external_id=local_external_id(repo.path),
            default_branch=BRANCH,
            embedder=system.services.embedder,
            local_path=repo.path,
        )
        assert row.id is not None
        return row.id


@pytest.fixture(scope="module")
def failed_job(system: System, router: RouterClient, handbook: int) -> int:
    """A job of `handbook`, failed on its lightfast.yml."""
    job_id = int(router.mutate("repositories.sync", {"repositoryId": handbook})["jobId"])
    assert system.finished(job_id).status is IngestionStatus.FAILED
    return job_id


def wait_for_docs_ingested(console: Console, docs_job: int) -> None:
    """Once the first push of `docs` is done, a new job of `docs` starts at once."""
    console.system.finished(docs_job, timeout=120)


def start_sync(console: Console) -> int:
    repository = console.system.repository_id
    return int(console.router.mutate("repositories.sync", {"repositoryId": repository})["jobId"])


def stop(console: Console, job_id: int) -> None:
    console.router.mutate("jobs.cancel", {"id": job_id})
    assert console.system.finished(job_id).status is IngestionStatus.CANCELLED


def test_the_page_and_its_assets_are_served_uncached_beside_the_api(system: System) -> None:
    page = system.http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/ui/app.js">' in page.text
    assert system.http.head("/").status_code == 200  # what uptime checks send
    for asset, kind in [("app.js", "text/javascript"), ("app.css", "text/css")]:
        served = system.http.get(f"/ui/{asset}")
        assert served.status_code == 200
        assert served.headers["content-type"].startswith(kind)
    too_long = "/ui/" + "a" * 300 + ".js"  # longer than a file name may be
    for missing in ["/ui/nothing.js", "/ui/__init__.py", "/ui/..%2Fweb%2Fui.py", "/ui/", too_long]:
        assert system.http.get(missing).status_code == 404, missing
    assert system.http.get("/health").json() == {"status": "ok"}
    assert system.http.get("/api/trpc/jobs.list").status_code == 401


def test_a_running_job_advances_to_done_without_a_reload(console: Console, docs_job: int) -> None:
    console.open("tab=jobs")
    console.page.evaluate("window.sameDocument = true")
    card = console.card(docs_job)
    running = console.page.locator(".job-section", has_text="Running Jobs").locator(
        f'[data-job-id="{docs_job}"]'
    )
    expect(running).to_have_attribute("data-status", "running", timeout=WAIT_MS)
    progress = card.locator('[role="progressbar"]')  # still read once hidden, when done
    expect(progress).to_have_attribute("aria-valuenow", re.compile(r"^[1-9]"), timeout=WAIT_MS)
    seen = int(progress.get_attribute("aria-valuenow") or 0)
    assert seen < len(DOCS)
    expect(card).to_contain_text(f"{seen} / {len(DOCS)} files processed")
    console.screenshots("jobs-running")

    expect(progress).not_to_have_attribute("aria-valuenow", str(seen), timeout=WAIT_MS)
    completed = console.page.locator(".job-section", has_text="Completed Jobs").locator(
        f'[data-job-id="{docs_job}"]'
    )
    expect(completed).to_have_attribute("data-status", "processed", timeout=WAIT_MS)
    expect(completed).to_contain_text(f"{len(DOCS)} files")
    assert console.page.evaluate("window.sameDocument") is True
    expect(console.tab("Jobs").locator(".badge")).to_be_hidden()
    console.screenshots("jobs-finished")

    completed.get_by_role("button", name="View Details").click()
    expect(console.page.get_by_role("heading", name=f"Job #{docs_job}")).to_be_visible()
    expect(console.page.locator("table.files tbody tr")).to_have_count(len(DOCS))
    expect(console.page.locator(".phase-done")).to_have_count(5)
    console.screenshots("details")


def test_search_finds_a_file(console: Console, docs_job: int) -> None:
    wait_for_docs_ingested(console, docs_job)
    console.open("tab=jobs")
    prompt = console.page.get_by_role("searchbox", name="What are you looking for?")
    prompt.fill("rolling restarts with zero downtime")
    prompt.press("Enter")

    expect(console.tab("Search")).to_have_attribute("aria-selected", "true")
    best = console.page.locator(".hit").first
    expect(best.locator(".hit-path")).to_have_text(LONG_PATH)
    expect(best.locator(".hit-headings")).to_contain_text("Rolling restarts")
    expect(best.locator("mark").first).to_be_visible()
    assert "q=rolling" in console.page.url
    console.screenshots("search")

    # A snippet's markup is shown as text, never parsed.
    prompt.fill("paste img onerror into the console")
    prompt.press("Enter")
    expect(console.page.locator(".hit-text", has_text="<img src=x").first).to_be_visible()
    assert console.page.locator(".hits img").count() == 0


def test_sync_now_starts_a_job(console: Console, docs_job: int, handbook: int) -> None:
    wait_for_docs_ingested(console, docs_job)
    console.open("tab=repositories")
    repository = console.page.locator(f'.repo[data-repository-id="{console.system.repository_id}"]')
    expect(repository).to_contain_text("docs")
    newest = console.router.query("jobs.list", {"limit": 1})["jobs"][0]["id"]
    console.screenshots("repositories")

    repository.get_by_role("button", name="Sync now").click()

    expect(console.tab("Jobs")).to_have_attribute("aria-selected", "true")
    card = console.page.locator("article.job", has_text="manual sync").first
    expect(card).to_be_visible()
    job_id = int(card.get_attribute("data-job-id") or 0)
    assert job_id > newest
    assert console.system.job(job_id).repository_id == console.system.repository_id
    stop(console, job_id)


def test_cancel_ends_a_running_job_cancelled(console: Console, docs_job: int) -> None:
    wait_for_docs_ingested(console, docs_job)
    job_id = start_sync(console)
    console.open("tab=jobs")
    card = console.card(job_id)
    expect(card).to_have_attribute("data-status", "running", timeout=WAIT_MS)

    cancels: list[str] = []
    console.page.on("request", lambda r: cancels.append(r.url) if "jobs.cancel" in r.url else None)
    card.get_by_role("button", name="Cancel").click()
    dialog = console.page.get_by_role("dialog", name=f"Cancel job #{job_id}?")
    dialog.get_by_role("button", name="Keep running").click()
    expect(dialog).to_be_hidden()
    expect(card.get_by_role("button", name="Cancel")).to_be_focused()
    assert cancels == []

    console.page.keyboard.press("Enter")
    console.screenshots("cancel-confirm")
    dialog.get_by_role("button", name="Cancel job").click()

    expect(card).to_have_attribute("data-status", "cancelled", timeout=WAIT_MS)
    expect(card).to_be_focused()  # its Cancel button went away; focus stayed on the job
    expect(card.get_by_role("button", name="Retry")).to_be_visible()
    assert console.system.finished(job_id).status is IngestionStatus.CANCELLED


def test_polling_stops_while_the_page_is_hidden(console: Console, docs_job: int) -> None:
    wait_for_docs_ingested(console, docs_job)
    job_id = start_sync(console)
    console.page.clock.install()
    polls: list[str] = []
    console.page.on("request", lambda r: polls.append(r.url) if JOBS_LIST in r.url else None)
    console.open("tab=jobs")
    expect(console.card(job_id)).to_be_visible()
    with console.page.expect_request(lambda r: JOBS_LIST in r.url):
        console.page.clock.run_for(4_000)  # visible: the 3 s poll runs

    console.set_visibility("hidden")
    console.page.wait_for_load_state("networkidle")
    before = len(polls)
    console.page.clock.run_for(60_000)
    console.page.wait_for_load_state("networkidle")
    assert len(polls) == before

    with console.page.expect_request(lambda r: JOBS_LIST in r.url):
        console.set_visibility("visible")
    stop(console, job_id)


def test_a_failed_job_shows_its_error_and_retry_starts_a_new_job(
    console: Console, failed_job: int
) -> None:
    error = console.system.job(failed_job).error_message
    assert error and "lightfast.yml" in error
    console.open("tab=jobs")
    card = console.card(failed_job)
    expect(card).to_have_attribute("data-status", "failed")
    expect(card.locator(".job-error")).to_have_text(f"Error: {error}")

    card.get_by_role("button", name="Retry").click()

    retried = console.page.locator("article.job", has_text=f"retry of #{failed_job}")
    expect(retried).to_be_visible()
    retry_id = int(retried.get_attribute("data-job-id") or 0)
    assert console.system.job(retry_id).retry_of == failed_job
    assert console.system.finished(retry_id).status is IngestionStatus.FAILED
    expect(retried).to_have_attribute("data-status", "failed", timeout=WAIT_MS)

    retried.get_by_role("button", name="View Details").click()
    expect(console.page.locator(".details-sub a.retry-of")).to_have_text(f"of job #{failed_job}")
    console.page.locator(".details-sub a.retry-of").click()
    expect(console.page.get_by_role("heading", name=f"Job #{failed_job}")).to_be_visible()
    expect(console.page.locator(".details-error")).to_contain_text(error)
    console.screenshots("details-failed")


def test_selected_jobs_are_retried_at_once_and_each_outcome_shown(
    console: Console, failed_job: int, handbook: int
) -> None:
    console.open(f"tab=jobs&status=failed&repo={handbook}")
    expect(console.card(failed_job)).to_be_visible()
    shown = console.page.locator("article.job").evaluate_all(
        "cards => cards.map(card => Number(card.dataset.jobId))"
    )
    console.page.locator("#select-shown").check()
    expect(console.page.locator("#selection-text")).to_have_text(f"{len(shown)} selected")

    console.page.get_by_role("button", name="Retry selected").click()

    outcomes = console.page.locator("#bulk-outcomes")
    expect(outcomes).to_contain_text(f"Retried {len(shown)} of {len(shown)}")
    expect(outcomes.locator(".outcome-retried")).to_have_count(len(shown))
    retries = console.router.query("jobs.list", {"repositoryIds": [handbook], "limit": 100})
    retried = {job["retryOf"] for job in retries["jobs"] if job["trigger"] == "retry"}
    assert set(shown) <= retried
    for job in retries["jobs"]:
        console.system.finished(job["id"])


def test_a_reload_keeps_tab_filters_and_open_job(
    console: Console, failed_job: int, handbook: int
) -> None:
    console.open("tab=jobs")
    console.page.get_by_role("group", name="Filter jobs by status").get_by_role(
        "button", name=re.compile("^Failed")
    ).click()
    console.page.get_by_label("Repository filter").select_option(str(handbook))
    sha = console.system.job(failed_job).after_sha[:8]
    console.page.get_by_role("searchbox", name=re.compile("Find a job")).fill(sha)
    expect(console.page).to_have_url(re.compile(f"text={sha}"))
    console.card(failed_job).focus()
    console.page.keyboard.press("Enter")
    expect(console.page.get_by_role("heading", name=f"Job #{failed_job}")).to_be_visible()

    console.page.reload()

    expect(console.page.get_by_role("heading", name=f"Job #{failed_job}")).to_be_visible()
    expect(console.tab("Jobs")).to_have_attribute("aria-selected", "true")
    console.page.get_by_role("link", name="All jobs").click()
    expect(console.page.get_by_role("button", name=re.compile("^Failed"))).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(console.page.get_by_label("Repository filter")).to_have_value(str(handbook))
    expect(console.page.get_by_role("searchbox", name=re.compile("Find a job"))).to_have_value(sha)
    expect(console.card(failed_job)).to_be_visible()
    statuses = console.page.locator("article.job").evaluate_all(
        "cards => cards.map(card => card.dataset.status)"
    )
    assert statuses and set(statuses) == {"failed"}


def test_the_connect_form_connects_a_local_repository(console: Console) -> None:
    notes = GitRepo(console.system.repo.path.parent / "notes")
    notes.write({"index.md": page("Notes")})
    notes.commit("notes")
    console.open("tab=jobs")
    console.tab("Jobs").focus()
    console.page.keyboard.press("ArrowRight")
    expect(console.tab("Repositories")).to_be_focused()
    expect(console.tab("Repositories")).to_have_attribute("aria-selected", "true")
    form = console.page.locator("#connect-form")
    form.get_by_label("Path on the server").fill(str(notes.path))
    form.get_by_label("Name").fill("team-notes")
    form.get_by_role("button", name="Connect").click()

    expect(console.page.locator("#connect-result")).to_contain_text("Connected team-notes.")
    connected = console.page.locator(".repo", has_text="team-notes")
    expect(connected).to_contain_text("Not ingested yet")
    expect(connected).to_contain_text(str(notes.path))
    listed = console.router.query("repositories.list")
    assert "team-notes" in {repository["fullName"] for repository in listed}


def test_a_phone_sized_screen_never_scrolls_sideways(
    browser: Browser, router: RouterClient, docs_job: int, failed_job: int
) -> None:
    context = browser.new_context(viewport=PHONE, color_scheme="light", is_mobile=True)
    phone = Console(context.new_page(), router)
    try:
        for view, name in [
            ("tab=jobs", "phone-jobs"),
            (f"job={docs_job}", "phone-details"),
            (f"job={failed_job}", None),
            ("tab=search&q=rolling+restarts+with+zero+downtime", "phone-search"),
            ("tab=repositories", "phone-repositories"),
        ]:
            phone.open(view)
            phone.page.wait_for_load_state("networkidle")
            assert phone.no_horizontal_scroll(), view
            if name:
                phone.screenshots(name)
        assert phone.errors == []
    finally:
        context.close()


def test_a_refused_token_asks_for_another_which_is_kept(
    browser: Browser, router: RouterClient, docs_job: int
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    visitor = Console(context.new_page(), router, token="not-a-token")
    try:
        visitor.open("tab=jobs")
        dialog = visitor.page.get_by_role("dialog", name="Access token")
        expect(dialog).to_be_visible()
        assert "token" not in visitor.page.url
        dialog.get_by_label("Token").fill(router.token)
        dialog.get_by_role("button", name="Save").click()
        expect(visitor.card(docs_job)).to_be_visible()
        assert visitor.page.evaluate("localStorage.getItem('docs-ingest.token')") == router.token
    finally:
        context.close()


def test_a_new_job_shows_up_while_nothing_runs(console: Console, docs_job: int) -> None:
    wait_for_docs_ingested(console, docs_job)
    console.open("tab=jobs")
    expect(console.card(docs_job)).to_be_visible()
    console.page.wait_for_load_state("networkidle")
    job_id = start_sync(console)
    try:
        expect(console.card(job_id)).to_be_visible(timeout=WAIT_MS)
    finally:
        stop(console, job_id)


def test_escape_leaves_details_for_the_card_that_was_opened(
    console: Console, docs_job: int, failed_job: int
) -> None:
    console.open("tab=jobs")
    card = console.card(failed_job)
    card.focus()
    console.page.keyboard.press(" ")
    expect(console.page.get_by_role("heading", name=f"Job #{failed_job}")).to_be_visible()

    console.page.keyboard.press("Escape")

    expect(card).to_be_focused()
    expect(console.page.get_by_role("heading", name=f"Job #{failed_job}")).to_be_hidden()


def test_a_job_that_cannot_be_found_shows_only_that(console: Console) -> None:
    console.open("job=987654")
    details = console.page.locator("#job-details")
    expect(details.get_by_role("alert")).to_have_text("Job #987654 was not found.")
    expect(details.get_by_role("button")).to_have_count(0)
    expect(details.locator("table.files")).to_be_hidden()
    expect(details.get_by_role("link", name="All jobs")).to_be_visible()


def test_a_running_job_opened_after_a_finished_one_has_not_finished(
    console: Console, docs_job: int
) -> None:
    wait_for_docs_ingested(console, docs_job)
    console.open(f"job={docs_job}")
    finished = console.page.locator(".fact", has_text="Finished").locator("dd")
    expect(finished).to_contain_text("ago")
    job_id = start_sync(console)
    try:
        console.page.evaluate(f"location.hash = 'tab=jobs&job={job_id}'")
        expect(console.page.get_by_role("heading", name=f"Job #{job_id}")).to_be_visible()
        expect(finished).to_have_text("not yet")
        console.page.wait_for_timeout(1_500)  # the clock that moves relative times ticks
        expect(finished).to_have_text("not yet")
    finally:
        stop(console, job_id)


def test_files_that_leave_the_filter_leave_the_table(
    console: Console, router: RouterClient, handbook: int
) -> None:
    db = console.system.services.db
    with session_scope(db) as session:
        repository = session.get(ConnectedRepository, handbook)
        assert repository is not None
    paths = [f"page-{n:03d}.md" for n in range(150)]
    job_id = make_job(
        db,
        repository,
        status=IngestionStatus.RUNNING,
        files=dict.fromkeys(paths, FileStatus.PENDING),
    )
    try:
        console.open(f"job={job_id}&files=pending")
        rows = console.page.locator("table.files tbody tr")
        expect(rows).to_have_count(100)

        with session_scope(db) as session:
            for row in session.exec(
                select(IngestionFile).where(
                    IngestionFile.ingestion_id == job_id, col(IngestionFile.path).in_(paths[:120])
                )
            ):
                row.status = FileStatus.PROCESSED
            session.flush()
            jobs.update_counts(session, job_id)

        expect(rows).to_have_count(30, timeout=WAIT_MS)
        assert rows.evaluate_all("rows => rows.map(row => row.dataset.path)") == paths[120:]
        expect(console.page.get_by_role("button", name="Load more files")).to_be_hidden()
    finally:
        with session_scope(db) as session:
            job = session.get(IngestionCommit, job_id)
            assert job is not None
            job.status = IngestionStatus.CANCELLED
            job.processed_at = utc_now()


def test_with_no_job_to_show_the_page_says_why_and_offers_the_way_on(
    browser: Browser, router: RouterClient, docs_job: int
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    with session_scope(router.system.services.db) as session:
        newcomer = issue_token(session, ensure_org(session, "newcomer"), name="ui").token
    try:
        empty = Console(context.new_page(), router, token=newcomer)
        empty.open("tab=jobs")
        nothing = empty.page.locator("#jobs-empty")
        expect(nothing).to_contain_text("No jobs yet.")
        expect(empty.page.locator(".job-section")).to_have_count(2)
        expect(empty.page.locator(".job-section").first).to_be_hidden()
        empty.screenshots("jobs-empty")
        nothing.get_by_role("button", name="Connect a repository").click()
        expect(empty.tab("Repositories")).to_have_attribute("aria-selected", "true")

        filtered = Console(context.new_page(), router)
        filtered.open("tab=jobs&text=no-job-has-this-text")
        expect(filtered.page.locator("#jobs-empty")).to_contain_text("No jobs match these filters.")
        filtered.page.get_by_role("button", name="Clear filters").click()
        expect(filtered.card(docs_job)).to_be_visible()
        expect(filtered.page.get_by_role("searchbox", name=re.compile("Find a job"))).to_have_value(
            ""
        )
    finally:
        context.close()
