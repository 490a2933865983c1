"""Every event name docs-ingest sends or listens to (DESIGN.md, "Events and functions")."""

import inngest

GITHUB_PUSH = "github/push"
SYNC_REQUESTED = "docs/sync.requested"
FILE_PROCESS = "docs/file.process"
FILE_DELETE = "docs/file.delete"
FILES_DONE = "docs/ingestion.files-done"
INGESTION_ENDED = "docs/ingestion.ended"
INGESTION_CANCELLED = "docs/ingestion.cancelled"
PING = "docs/ping"


def ingestion_ended(job_id: int, repository_id: int) -> inngest.Event:
    """A job has ended: it wakes the repository's next job, which waits for it (the orchestrator
    sends it when it finalizes or fails, the jobs router when it cancels)."""
    data = {"ingestion_id": job_id, "repository_id": repository_id}
    return inngest.Event(name=INGESTION_ENDED, id=f"{job_id}:ended", data=data)
