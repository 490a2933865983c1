"""`docs-ingest sync REPO`: ask the running service to re-index a repository in full."""

import contextlib
from pathlib import Path
from typing import Any

import click

from cli.auth import token_for
from cli.client import ServiceClient, service_url
from cli.database import existing_database, org_slug
from cli.local_repo import repository_root, utf8_path
from cli.output import echo_json
from cli.progress import follow
from router.names import ProcedureName
from service.settings import get_settings


@click.command()
@click.argument("repository", metavar="REPO")
@click.option(
    "--org",
    callback=org_slug,
    help="Organization of the CLI's own token, when DOCS_INGEST_TOKEN is unset.  "
    "[default: default]",
)
@click.option("--no-wait", is_flag=True, help="Return once the service has the job.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON, with no progress.")
def sync(repository: str, org: str | None, no_wait: bool, as_json: bool) -> None:
    """Re-index a repository in full: every file at the head of its branch, changed or not.

    REPO is the repository's id, its name (as `docs-ingest repo list` shows them) or the path of
    a local one. The service at DOCS_INGEST_URL starts the job (it reads the branch head itself,
    from GitHub or the local repository); the job is then followed until it ends, as `push` does.
    """
    settings = get_settings()
    with ServiceClient(service_url(settings), credential=token_for(settings, org)) as client:
        repository_id = _repository_id(client, repository)
        started = client.mutate(ProcedureName.REPOSITORIES_SYNC, {"repositoryId": repository_id})
    job_id = int(started["jobId"])
    if no_wait:
        if as_json:
            echo_json(started)
        else:
            click.echo(
                f"job {job_id} started for {started['repository']} at {started['after'][:7]}"
            )
        return
    engine = existing_database(settings)
    try:
        follow(engine, job_id, as_json=as_json)
    finally:
        engine.dispose()


def _repository_id(client: ServiceClient, given: str) -> int:
    """The id of the repository `given` names: an id, a full name or a local path."""
    if given.isascii() and given.isdigit():
        return int(given)
    repositories: list[dict[str, Any]] = client.query(ProcedureName.REPOSITORIES_LIST)
    path = Path(given).expanduser()
    found = []
    if path.is_dir():  # a folder of a connected repository, else perhaps a name
        utf8_path(path.resolve())
        with contextlib.suppress(click.ClickException):
            root = repository_root(path)
            found = [
                r for r in repositories if r["localPath"] and Path(r["localPath"]).resolve() == root
            ]
    if not found:
        found = [r for r in repositories if r["fullName"].lower() == given.lower()]
    if len(found) != 1:
        where = " or at that path" if path.is_dir() else ""
        raise click.ClickException(
            f"the token's organization has no repository named {given}{where}: see "
            "`docs-ingest repo list`"
            if not found
            else f"{given} names {len(found)} repositories: use the id from `docs-ingest repo list`"
        )
    return int(found[0]["id"])
