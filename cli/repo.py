"""`docs-ingest repo add|list`: connect repositories to an organization, and see them.

A bootstrap command: it migrates the database and writes to it directly, through the same
settings as `serve`, so it works before the service ever ran.
"""

import asyncio
import shlex
import sys
from pathlib import Path
from typing import Any

import click
from sqlmodel import Session, select

from cli.client import service_url
from cli.database import bootstrapped_database, existing_database, org_slug
from cli.local_repo import utf8_path
from cli.output import echo_json, table
from router.names import WEBHOOK_PATH
from service.db import session_scope
from service.deps import Services
from service.embeddings import Embedder, EmbedderMismatch, check_store_model
from service.models import ConnectedRepository, Organization, Provider, Store
from service.repositories import (
    DEFAULT_ORG,
    GITHUB_NAME,
    RepositoryError,
    connect,
    describe_github,
    local_checkout,
    local_external_id,
)
from service.settings import Settings, get_settings
from service.sources.github import GitHubRepository

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@click.group()
def repo() -> None:
    """Connect repositories (`repo add`) and list them (`repo list`)."""


@repo.command("add")
@click.argument("target", metavar="PATH | OWNER/NAME")
@click.option(
    "--branch",
    help="The branch to index.  [default: a local repository's checked-out branch, or the "
    "GitHub repository's default branch]",
)
@click.option(
    "--installation-id",
    type=click.IntRange(min=1),
    help="GitHub App installation that can read the repository.",
)
@click.option(
    "--name",
    help="Name of a local repository in search results.  [default: its folder's name]",
)
@click.option(
    "--org",
    default=DEFAULT_ORG,
    show_default=True,
    callback=org_slug,
    help="Organization slug (created if missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def add(
    target: str,
    branch: str | None,
    installation_id: int | None,
    name: str | None,
    org: str,
    as_json: bool,
) -> None:
    """Connect a repository so that its pushes are indexed.

    PATH (an existing folder) is a git repository on this machine: index it with
    `docs-ingest push` run inside it. OWNER/NAME is a GitHub repository: the command checks that
    GitHub lets the service read it (GITHUB_TOKEN, or a GitHub App with --installation-id), then
    prints the webhook to add in its settings, with the secret that signs it. The webhook URL is
    DOCS_INGEST_URL + /webhooks/github, so set DOCS_INGEST_URL to the address GitHub can reach.
    """
    if not target:
        raise click.BadParameter(
            "an empty string names no folder and no repository", param_hint="'PATH | OWNER/NAME'"
        )
    settings = get_settings()
    path = Path(target).expanduser()
    if path.is_dir():
        if installation_id is not None:
            raise click.UsageError("--installation-id is for GitHub repositories")
        folder = utf8_path(path.resolve())
        row = asyncio.run(_add_local(settings, folder, branch=branch, name=name, org=org))
        _report_local(row, org, as_json)
    elif GITHUB_NAME.fullmatch(target):
        if name is not None:
            raise click.UsageError("--name is for local repositories; GitHub names its own")
        row = asyncio.run(_add_github(settings, target, branch, installation_id, org))
        _report_github(row, org, service_url(settings), as_json)
    else:
        raise click.ClickException(
            f"{target} is neither a folder on this machine nor a GitHub OWNER/NAME"
        )


@repo.command("list")
@click.option("--org", callback=org_slug, help="Only this organization's repositories.")
@click.option("--json", "as_json", is_flag=True, help="Print the repositories as JSON.")
def list_repositories(org: str | None, as_json: bool) -> None:
    """List the connected repositories: id, where they come from, and their last ingestion.

    Reads the database directly, through the same settings as `serve`, so it works while the
    service is down. The id or the name is what `docs-ingest sync` takes.
    """
    engine = existing_database(get_settings())
    try:
        with Session(engine) as session:
            query = select(ConnectedRepository, Organization).join(
                Organization,
                Organization.id == ConnectedRepository.organization_id,  # type: ignore[arg-type]
            )
            if org is not None:
                query = query.where(Organization.slug == org)
            rows = session.exec(query.order_by(ConnectedRepository.id)).all()  # type: ignore[arg-type]
    finally:
        engine.dispose()
    listed = [_listed(row, organization.slug) for row, organization in rows]
    if as_json:
        echo_json(listed)
        return
    if not listed:
        to = f" --org {org}" if org else ""
        where = f"organization {org} has" if org else "there are"
        click.echo(f"{where} no repositories yet: connect one with `docs-ingest repo add PATH{to}`")
        return
    headers = ["id", "org", "name", "branch", "status", "ingested", "source"]
    cells = [
        [
            str(item["id"]),
            item["organization"],
            item["fullName"],
            item["defaultBranch"],
            item["configStatus"],
            (item["lastIngestedSha"] or "never")[:7],
            item["localPath"] or f"github ({item['externalId']})",
        ]
        for item in listed
    ]
    click.echo(table(headers, cells, fit=sys.stdout.isatty()))


def _listed(row: ConnectedRepository, organization: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "organization": organization,
        "provider": row.provider.value,
        "fullName": row.full_name,
        "externalId": row.external_id,
        "defaultBranch": row.default_branch,
        "localPath": row.local_path,
        "installationId": row.installation_id,
        "configStatus": row.config_status.value,
        "configError": row.config_error,
        "lastIngestedSha": row.last_ingested_sha,
    }


# --- local ---------------------------------------------------------------------------------------


async def _add_local(
    settings: Settings, path: Path, *, branch: str | None, name: str | None, org: str
) -> ConnectedRepository:
    try:
        root, branch = await local_checkout(path, branch)
    except RepositoryError as exc:
        raise click.ClickException(str(exc)) from exc
    services = _bootstrapped_services(settings)
    try:
        with session_scope(services.db) as session:
            return _connected(
                session,
                services.embedder,
                provider=Provider.LOCAL,
                full_name=name or root.name,
                external_id=local_external_id(root),
                default_branch=branch,
                org_slug=org,
                local_path=root,
            )
    finally:
        await services.aclose()


def _report_local(row: ConnectedRepository, org: str, as_json: bool) -> None:
    push = f"docs-ingest push {shlex.quote(row.local_path or '')}"
    if as_json:
        echo_json({**_listed(row, org), "next": push})
        return
    click.echo(
        f"connected {row.full_name} (id {row.id}) at {row.local_path}, branch "
        f"{row.default_branch}, organization {org}"
    )
    click.echo(f"index it: {push}")


# --- GitHub --------------------------------------------------------------------------------------


async def _add_github(
    settings: Settings, full_name: str, branch: str | None, installation_id: int | None, org: str
) -> ConnectedRepository:
    services = _bootstrapped_services(settings)
    try:
        found = await _describe(services, full_name, branch, installation_id)
        with session_scope(services.db) as session:
            return _connected(
                session,
                services.embedder,
                provider=Provider.GITHUB,
                full_name=found.full_name,
                external_id=str(found.id),
                default_branch=branch or found.default_branch,
                org_slug=org,
                installation_id=installation_id,
            )
    finally:
        await services.aclose()


async def _describe(
    services: Services, full_name: str, branch: str | None, installation_id: int | None
) -> GitHubRepository:
    try:
        return await describe_github(services, full_name, branch, installation_id)
    except RepositoryError as exc:
        raise click.ClickException(str(exc)) from exc


def _report_github(row: ConnectedRepository, org: str, url: str, as_json: bool) -> None:
    webhook = url + WEBHOOK_PATH
    if as_json:
        echo_json({**_listed(row, org), "webhookUrl": webhook, "webhookSecret": row.webhook_secret})
        return
    click.echo(
        f"connected {row.full_name} (id {row.id}), branch {row.default_branch}, organization {org}"
    )
    click.echo(f"add a webhook in https://github.com/{row.full_name}/settings/hooks:")
    click.echo(f"  Payload URL:  {webhook}")
    click.echo("  Content type: application/json")
    click.echo(f"  Secret:       {row.webhook_secret}")
    click.echo("  Events:       Just the push event")
    if any(f"//{host}" in url for host in LOOPBACK_HOSTS):
        click.echo(
            f"note: {url} is reachable from this machine only; give GitHub an address it can "
            "reach (a public host or a tunnel), set as DOCS_INGEST_URL"
        )


# --- both ----------------------------------------------------------------------------------------


def _bootstrapped_services(settings: Settings) -> Services:
    """The service's parts, on a migrated database; nothing heavy loads until it is used."""
    bootstrapped_database(settings).dispose()
    try:
        return Services.create(settings)
    except ValueError as exc:  # a setting that cannot work, e.g. the OpenAI embedder with no key
        raise click.ClickException(str(exc)) from exc


def _connected(session: Session, embedder: Embedder, **fields: Any) -> ConnectedRepository:
    """`connect`, refusing a store built with another embedder than the service's."""
    try:
        row = connect(session, embedder=embedder, **fields)
    except RepositoryError as exc:
        raise click.ClickException(str(exc)) from exc
    store = session.get(Store, row.store_id)
    assert store is not None
    try:
        check_store_model(store.embedding_model, store.dimension, embedder)
    except EmbedderMismatch as exc:
        raise click.ClickException(f"store {store.name}: {exc}") from exc
    return row
