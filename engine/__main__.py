"""`python -m engine`: the engine on its own, as `docs-ingest engine` (which `serve` runs)."""

import os

from engine import logs
from engine.cli import engine_command

logs.configure(
    os.environ.get("LOG_FORMAT", "text"), os.environ.get("DOCS_INGEST_LOG_LEVEL", "INFO")
)
engine_command(prog_name="docs-ingest engine")
