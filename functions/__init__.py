"""The Inngest functions of docs-ingest."""

from typing import Any

import inngest

from functions.ping import create_ping


def build_functions(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    return [create_ping(client)]
