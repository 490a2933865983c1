"""Where the router lives and the names of its procedures, as clients write them on the wire.

Kept apart from the procedures themselves so that a client (the CLI) can name a procedure without
importing what it runs.
"""

from enum import StrEnum

TRPC_PATH = "/api/trpc"
INPUT_PARAMETER = "input"
WEBHOOK_PATH = "/webhooks/github"


class ProcedureName(StrEnum):
    JOBS_LIST = "jobs.list"
    JOBS_GET = "jobs.get"
    JOBS_RETRY = "jobs.retry"
    JOBS_CANCEL = "jobs.cancel"
    JOBS_RETRY_MANY = "jobs.retryMany"
    JOBS_CANCEL_MANY = "jobs.cancelMany"
    REPOSITORIES_CONNECT = "repositories.connect"
    REPOSITORIES_LIST = "repositories.list"
    REPOSITORIES_SYNC = "repositories.sync"
    SEARCH_QUERY = "search.query"
