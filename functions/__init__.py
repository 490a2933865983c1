"""The Inngest functions of docs-ingest: they orchestrate, the parts in `service/` do the work."""

from typing import Any

import inngest

from functions.cancel import create_cancel
from functions.file_delete import create_file_delete
from functions.file_process import create_file_process
from functions.ingestion import create_ingestion
from functions.log_context import add_log_context
from functions.ping import create_ping
from service.deps import Services


def build_functions(client: inngest.Inngest, services: Services) -> list[inngest.Function[Any]]:
    add_log_context(client)
    return [
        create_ping(client),
        create_ingestion(client, services),
        create_file_process(client, services),
        create_file_delete(client, services),
        create_cancel(client, services),
    ]
