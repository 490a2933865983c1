"""The subcommands of `docs-ingest`, one module each; `service.cli` loads only the one that runs."""
