"""`docs-ingest search TEXT`: the passages of the indexed documentation closest to a question.

It asks the running service (`search.query`), which owns the vector store: the CLI never opens it.
"""

import re
import sys
from typing import Any

import click

from cli.auth import token_for
from cli.client import ServiceClient, service_url
from cli.database import org_slug
from cli.output import echo_json, printable, table
from router.names import ProcedureName
from service.settings import get_settings

HEADERS = ("score", "repository", "path", "section", "snippet")
HEADING_SEPARATOR = " > "
SNIPPET_CHARS = 200
MAX_LIMIT = 50  # the most `search.query` answers
_HEADING_LINE = re.compile(r"^#{1,6}\s.*$", flags=re.MULTILINE)
_SPACE = re.compile(r"\s+")


@click.command()
@click.argument("text")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=5,
    show_default=True,
    help="Passages to show.",
)
@click.option("--repo", "repository", help="Only this repository (its name in `repo list`).")
@click.option(
    "--org",
    callback=org_slug,
    help="Organization of the CLI's own token, when DOCS_INGEST_TOKEN is unset.  "
    "[default: default]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON, with full texts.")
def search(text: str, limit: int, repository: str | None, org: str | None, as_json: bool) -> None:
    """Search the indexed documentation for the passages closest in meaning to TEXT.

    Asks the service at DOCS_INGEST_URL, with the token in DOCS_INGEST_TOKEN (or, on the
    service's machine, a token the CLI keeps for --org). Prints score, repository, path, the
    section's heading path and the start of each passage, best first.
    """
    settings = get_settings()
    query: dict[str, Any] = {"query": text, "limit": limit}
    if repository is not None:
        query["repository"] = repository
    with ServiceClient(service_url(settings), credential=token_for(settings, org)) as client:
        result = client.query(ProcedureName.SEARCH_QUERY, query)
    if as_json:
        echo_json(result)
        return
    hits = result["hits"]
    if not hits:
        where = f" of {repository}" if repository else ""
        click.echo(f"no passages{where} in organization {result['organization']} match")
        return
    rows = [
        [
            f"{hit['score']:.2f}",
            printable(hit["repository"]),
            printable(hit["path"]),
            printable(HEADING_SEPARATOR.join(hit["headingPath"])) or "-",
            snippet(hit["text"]),
        ]
        for hit in hits
    ]
    click.echo(table(HEADERS, rows, fit=sys.stdout.isatty()))


def snippet(text: str) -> str:
    """The passage on one line, without its headings (the section column shows them)."""
    flat = printable(_SPACE.sub(" ", _HEADING_LINE.sub(" ", text)).strip())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"
