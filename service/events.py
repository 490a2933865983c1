"""Every event name docs-ingest sends or listens to (DESIGN.md, "Events and functions")."""

GITHUB_PUSH = "github/push"
SYNC_REQUESTED = "docs/sync.requested"
FILE_PROCESS = "docs/file.process"
FILE_DELETE = "docs/file.delete"
FILES_DONE = "docs/ingestion.files-done"
INGESTION_CANCELLED = "docs/ingestion.cancelled"
PING = "docs/ping"
