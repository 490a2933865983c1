"""`docs-ingest push [PATH]`: index what a local repository gained since its last ingestion.

It takes the road a GitHub push takes: the push payload GitHub would send for the commits since
the repository's last ingested sha, signed with the repository's webhook secret and posted to the
service's webhook. Then it follows the job until it ends.
"""

import json
import shlex
import uuid
from pathlib import Path

import click
from sqlmodel import Session

from cli.client import ServiceClient, ServiceError, service_url
from cli.database import existing_database
from cli.local_repo import repository_root
from cli.output import echo_json
from cli.progress import follow
from cli.pushes import GitError, head_of, push_payload
from router.names import WEBHOOK_PATH
from service.models import ConnectedRepository
from service.repositories import find_local
from service.settings import get_settings
from web.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_of,
)

PUSH_EVENT = "push"


@click.command()
@click.argument(
    "path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=".",
    required=False,
)
@click.option("--no-wait", is_flag=True, help="Return once the service has the job.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON, with no progress.")
def push(path: Path, no_wait: bool, as_json: bool) -> None:
    """Index the commits of a connected local repository since its last ingestion.

    PATH (default: the current folder) is a local repository connected with `repo add`. Its
    indexed branch is pushed to the service at DOCS_INGEST_URL as GitHub would push it, and
    the job is followed until it ends: files done / total, then a summary. Exits 1 when the job
    fails or any file fails.
    """
    settings = get_settings()
    root = repository_root(path)
    engine = existing_database(settings)
    try:
        with Session(engine) as session:
            repository = find_local(session, root)
        if repository is None:
            raise click.ClickException(
                f"{root} is not connected: connect it with "
                f"`docs-ingest repo add {shlex.quote(str(root))}`"
            )
        try:
            after = head_of(root, repository.default_branch)
        except GitError as exc:
            raise click.ClickException(
                f"branch {repository.default_branch} of {root} has no commits to push"
            ) from exc
        if after == repository.last_ingested_sha:
            _nothing_to_push(repository, as_json)
            return
        try:
            job_id = deliver(service_url(settings), root, repository, after)
        except GitError as exc:
            raise click.ClickException(f"cannot read the history of {root}: {exc}") from exc
        if no_wait:
            _queued(job_id, repository, after, as_json)
            return
        follow(engine, job_id, as_json=as_json)
    finally:
        engine.dispose()


def deliver(url: str, root: Path, repository: ConnectedRepository, after: str) -> int:
    """Post the signed push of `repository`'s branch from its last ingested sha to `after` to
    the service at `url`, as GitHub would; the id of the job the service started for it."""
    payload = push_payload(
        root,
        branch=repository.default_branch,
        before=repository.last_ingested_sha,
        after=after,
        repository_id=repository.external_id,
        full_name=repository.full_name,
    )
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        EVENT_HEADER: PUSH_EVENT,
        DELIVERY_HEADER: str(uuid.uuid4()),
        SIGNATURE_HEADER: signature_of(repository.webhook_secret, body),
    }
    with ServiceClient(url) as client:
        response = client.post(WEBHOOK_PATH, content=body, headers=headers)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    job_id = answer.get("job_id") if isinstance(answer, dict) else None
    if response.is_success and isinstance(job_id, int):
        return job_id
    reason = answer.get("error") if isinstance(answer, dict) else None
    message = f"the service refused the push (HTTP {response.status_code}): {reason or 'no reason'}"
    if response.status_code == 401:
        message += (
            "; is the service using the same database as this command "
            "(DOCS_INGEST_DATA_DIR / DATABASE_URL)?"
        )
    raise ServiceError(message, http_status=response.status_code)


def _nothing_to_push(repository: ConnectedRepository, as_json: bool) -> None:
    sha = repository.last_ingested_sha or ""
    if as_json:
        echo_json({"jobId": None, "repository": repository.full_name, "after": sha})
        return
    click.echo(
        f"nothing to push: {repository.full_name} is indexed at {sha[:7]}, the head of "
        f"{repository.default_branch}"
    )


def _queued(job_id: int, repository: ConnectedRepository, after: str, as_json: bool) -> None:
    if as_json:
        echo_json({"jobId": job_id, "repository": repository.full_name, "after": after})
        return
    click.echo(f"job {job_id} started for {repository.full_name} at {after[:7]}")
