"""The demo `make run` shows: an organization, a repository of this project's docs, two pushes.

With DOCS_INGEST_DEMO set, `serve` seeds it in the background once the service and the engine
answer, and prints the Jobs tab link with the demo's token:

- the organization `demo` and a token of it, kept as the CLI keeps its own tokens (mode 0600 in
  the data folder), so a later start prints the same link and `docs-ingest search --org demo`
  works with no set-up;
- a local git repository of the pages in `cli/demo_docs`, under the data folder: a first commit
  with the pages, after which the content of one page is removed from the object store (that
  file fails alone, with its error), then a commit that adds a `lightfast.yml` with a wrong type
  on line 3;
- the repository connected, and each commit pushed through the signed webhook as
  `docs-ingest push` pushes it, the second once the first job has ended: one job processed with
  one failed file, and one failed job whose error names the line.

The broken config is left as it is. A retry runs the same commit, so it fails the same way, as it
would in a real repository; the way out is a new commit, and the demo's troubleshooting page
says how. The damaged page is the failure a retry does fix, once its object is restored.

Every step first looks for what an earlier start left, so a second start adds nothing and prints
the link again, and a start stopped half-way finishes the seeding the next time.
"""

import asyncio
import logging
import shutil
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import click
import httpx
from sqlmodel import Session, select

from cli.auth import local_token
from cli.client import service_url
from cli.push import deliver
from cli.pushes import git
from service.config import CONFIG_FILE
from service.db import in_session, session_scope
from service.deps import Services
from service.models import ConnectedRepository, IngestionCommit, IngestionStatus, Provider
from service.repositories import connect, ensure_org, find_local, local_external_id
from service.settings import Settings

log = logging.getLogger("demo")

DEMO_ORG = "demo"
REPOSITORY_NAME = "docs-ingest-docs"
BRANCH = "main"
PAGES_TAG = "demo-pages"
CONFIG_TAG = "demo-invalid-config"
DAMAGED_PAGE = "examples/damaged-page.md"
INVALID_CONFIG = """\
# How docs-ingest indexes this repository: see reference/lightfast-yml.md
store: docs
chunk_size: 400 tokens
chunk_overlap: 50
exclude: ["drafts/**"]
"""
GIT_IDENTITY = (
    "-c",
    "user.name=docs-ingest demo",
    "-c",
    "user.email=demo@docs-ingest.invalid",
    "-c",
    "commit.gpgsign=false",
)
READY_TIMEOUT_S = 120.0
JOB_TIMEOUT_S = 600.0
POLL_S = 0.5
FINISHED = frozenset(
    {
        IngestionStatus.PROCESSED,
        IngestionStatus.SKIPPED,
        IngestionStatus.FAILED,
        IngestionStatus.CANCELLED,
    }
)


class DemoError(RuntimeError):
    """The demo cannot be seeded; the message says why."""


def demo_path(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "demo" / REPOSITORY_NAME


async def run_demo(settings: Settings, services: Services) -> None:
    """Seed the demo once the service and the engine answer; a failure is a warning only."""
    try:
        await wait_until_ready(settings)
        jobs = await seed_demo(settings, services)
    except Exception as exc:  # the demo must never take the service down with it
        log.warning("the demo could not be seeded: %s", exc)
        log.debug("demo failure", exc_info=True)
        return
    log.info("demo ready: jobs %s", ", ".join(str(job) for job in jobs))


async def wait_until_ready(settings: Settings) -> None:
    """Return once the service answers /health and the embedded engine has its functions."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), httpx.AsyncClient(timeout=5) as http:
            while not await _ready(http, settings):  # noqa: ASYNC110 - other processes
                await asyncio.sleep(POLL_S)
    except TimeoutError as exc:
        raise DemoError(
            f"the service or the engine did not answer within {READY_TIMEOUT_S:.0f} s"
        ) from exc


async def _ready(http: httpx.AsyncClient, settings: Settings) -> bool:
    try:
        health = await http.get(service_url(settings) + "/health")
        if not health.is_success:
            return False
        if not settings.embedded_engine:
            return True
        dev = await http.get(settings.engine_url + "/dev")
        return dev.is_success and bool(dev.json().get("functions"))
    except (httpx.HTTPError, ValueError):
        return False


async def seed_demo(settings: Settings, services: Services) -> tuple[int, int]:
    """Seed what is missing of the demo, print its link, wait for its two jobs; their ids."""
    token = await asyncio.to_thread(_demo_token, settings, services)
    path = demo_path(settings)
    repository_id = await asyncio.to_thread(_connected_repository, services, path)
    if not path.is_dir():
        announce(settings, token, path)
        raise DemoError(f"{path} is gone; delete {settings.data_dir} to seed the demo again")
    pages = await asyncio.to_thread(_tagged, path, PAGES_TAG)
    config = await asyncio.to_thread(_tagged, path, CONFIG_TAG)
    first = await _pushed(settings, services, path, repository_id, pages)
    announce(settings, token, path)
    await _finished(services, first)
    second = await _pushed(settings, services, path, repository_id, config)
    await _finished(services, second)
    return first, second


def announce(settings: Settings, token: str, path: Path) -> None:
    """Print the links a person opens; on stdout, as the token is not for the log."""
    lines = [
        "",
        f"  docs-ingest demo: organization {DEMO_ORG}, repository {REPOSITORY_NAME}",
        f"    Jobs tab: {service_url(settings)}/#token={token}",
    ]
    if settings.embedded_engine:
        lines.append(f"    Engine console: {settings.engine_url}  (runs, events, functions, apps)")
    lines += [
        f"    Repository: {path}",
        "    One file of the first job and the whole second job fail on purpose; the demo's",
        "    help/troubleshooting.md says how to fix each. DOCS_INGEST_DEMO=0 skips the demo.",
        "",
    ]
    click.echo("\n".join(lines))


def _demo_token(settings: Settings, services: Services) -> str:
    with session_scope(services.db) as session:
        ensure_org(session, DEMO_ORG)
    return local_token(settings, DEMO_ORG)


def _connected_repository(services: Services, path: Path) -> int:
    """The demo repository's id, building and connecting it when it is not connected yet."""
    with session_scope(services.db) as session:
        found = find_local(session, path)
    if found is None and not path.is_dir():
        _build_repository(path)
    with session_scope(services.db) as session:
        found = find_local(session, path)
        if found is None:
            found = connect(
                session,
                provider=Provider.LOCAL,
                full_name=REPOSITORY_NAME,
                external_id=local_external_id(path),
                default_branch=BRANCH,
                embedder=services.embedder,
                org_slug=DEMO_ORG,
                local_path=path,
            )
        assert found.id is not None
        return found.id


def _build_repository(path: Path) -> None:
    """The demo repository, built aside and moved into place, so it exists whole or not at all."""
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    git(partial, "init", "--quiet", "--initial-branch", BRANCH)
    _copy_pages(files("cli") / "demo_docs", partial)
    _commit(partial, "Documentation of docs-ingest", PAGES_TAG)
    (partial / CONFIG_FILE).write_text(INVALID_CONFIG)
    _commit(partial, f"Add {CONFIG_FILE}", CONFIG_TAG)
    # The page stays in the commits and the working tree; only its content goes missing.
    blob = git(partial, "rev-parse", f"{PAGES_TAG}:{DAMAGED_PAGE}").strip()
    (partial / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    partial.rename(path)


def _copy_pages(source: Traversable, target: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            _copy_pages(entry, target / entry.name)
        elif entry.name.endswith(".md"):
            target.mkdir(parents=True, exist_ok=True)
            (target / entry.name).write_bytes(entry.read_bytes())


def _commit(repo: Path, message: str, tag: str) -> None:
    git(repo, "add", "--all")
    git(repo, *GIT_IDENTITY, "commit", "--quiet", "--message", message)
    git(repo, "tag", tag)


def _tagged(repo: Path, tag: str) -> str:
    return git(repo, "rev-parse", "--verify", f"refs/tags/{tag}^{{commit}}").strip()


async def _pushed(
    settings: Settings, services: Services, path: Path, repository_id: int, after: str
) -> int:
    """The job of the demo commit `after`: the one an earlier start pushed, else a new push."""

    def existing(session: Session) -> tuple[int | None, ConnectedRepository]:
        job = session.exec(
            select(IngestionCommit.id).where(
                IngestionCommit.repository_id == repository_id,
                IngestionCommit.after_sha == after,
            )
        ).first()
        repository = session.get(ConnectedRepository, repository_id)
        assert repository is not None
        return job, repository

    job, repository = await in_session(services.db, existing)
    if job is not None:
        return job
    return await asyncio.to_thread(deliver, service_url(settings), path, repository, after)


async def _finished(services: Services, job_id: int) -> None:
    status = IngestionStatus.QUEUED
    try:
        async with asyncio.timeout(JOB_TIMEOUT_S):
            while True:
                status = await in_session(services.db, _status, job_id)
                if status in FINISHED:
                    return
                await asyncio.sleep(POLL_S)
    except TimeoutError as exc:
        raise DemoError(
            f"job {job_id} is still {status.value} after {JOB_TIMEOUT_S:.0f} s; the demo goes "
            "on at the next start"
        ) from exc


def _status(session: Session, job_id: int) -> IngestionStatus:
    job = session.get(IngestionCommit, job_id)
    if job is None:
        raise DemoError(f"job {job_id} is not in the database")
    return job.status
