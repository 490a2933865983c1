"""Which token a command shows the router.

`DOCS_INGEST_TOKEN`, when set, always wins: a token from `docs-ingest token create`, for any
organization, for a service on any machine. Without it, the CLI uses a token of its own for the
organization (`--org`, default "default"), kept in the data folder at `cli-tokens/<org>` (mode
0600) and made on first use, so that on the machine that runs the service `docs-ingest search`
works with no set-up. That widens nothing: whoever can read the data folder can read the whole
database. A kept token that no longer authenticates (a new database) is replaced.
"""

import os
from pathlib import Path
from urllib.parse import quote

import click

from cli.client import Credential
from cli.database import NoDatabase, existing_database
from service.db import session_scope
from service.repositories import DEFAULT_ORG, find_org
from service.settings import Settings
from service.tokens import find_owner, issue_token

TOKEN_VARIABLE = "DOCS_INGEST_TOKEN"  # noqa: S105 - the name of a variable
LOCAL_TOKENS_DIR = "cli-tokens"
LOCAL_TOKEN_NAME = "docs-ingest CLI on this machine"  # noqa: S105 - a label


def token_for(settings: Settings, org: str | None) -> Credential:
    """The token to send: `DOCS_INGEST_TOKEN`, else the CLI's own one for `org`."""
    given = os.environ.get(TOKEN_VARIABLE, "").strip()
    if given:
        if org is not None:
            raise click.UsageError(
                f"--org picks the CLI's own token; {TOKEN_VARIABLE} is set and its token "
                "decides the organization (unset it to use --org)"
            )
        return Credential(given, f"from {TOKEN_VARIABLE}")
    org = org or DEFAULT_ORG
    source = f"kept by the CLI for organization {org}; set {TOKEN_VARIABLE} to use another"
    return Credential(local_token(settings, org), source)


def local_token_file(settings: Settings, org: str) -> Path:
    return settings.data_dir / LOCAL_TOKENS_DIR / quote(org, safe="")


def local_token(settings: Settings, org: str) -> str:
    try:
        engine = existing_database(settings)
    except NoDatabase as exc:
        raise click.ClickException(
            f"set {TOKEN_VARIABLE} to a token of the service (make one with `docs-ingest token "
            f"create` where its database is); {exc.message}"
        ) from exc
    path = local_token_file(settings, org)
    kept = path.read_text().strip() if path.is_file() else None
    try:
        with session_scope(engine) as session:
            organization = find_org(session, org)
            if organization is None:
                raise click.ClickException(
                    f"no organization {org!r} yet: connect a repository to it first "
                    f"(`docs-ingest repo add PATH --org {org}`)"
                )
            owner = find_owner(session, kept) if kept else None
            if owner is not None and owner.organization == org:
                assert kept is not None
                return kept
            issued = issue_token(session, organization, name=LOCAL_TOKEN_NAME)
    finally:
        engine.dispose()
    _write_private(path, issued.token)
    return issued.token


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only, replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # the mode above applies only when the file is new
    with os.fdopen(descriptor, "w") as file:
        file.write(text + "\n")
    os.replace(partial, path)
