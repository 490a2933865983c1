"""The `docs-ingest` command: `main` is the group, each subcommand a module loaded when it runs."""
