"""Where the router lives and the names of its procedures, as clients write them on the wire.

Kept apart from the procedures themselves so that a client (the CLI) can name a procedure without
importing what it runs.
"""

from enum import StrEnum

TRPC_PATH = "/api/trpc"
INPUT_PARAMETER = "input"


class ProcedureName(StrEnum):
    REPOSITORIES_LIST = "repositories.list"
    REPOSITORIES_SYNC = "repositories.sync"
    SEARCH_QUERY = "search.query"
