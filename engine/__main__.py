"""`python -m engine`: the engine on its own, as `docs-ingest engine` (which `serve` runs)."""

import logging
import os

from engine.cli import engine_command

logging.basicConfig(
    level=os.environ.get("DOCS_INGEST_LOG_LEVEL", "INFO").upper(),
    format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per SDK call is noise
engine_command(prog_name="docs-ingest engine")
