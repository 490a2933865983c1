"""Every procedure of the router, declared as data: its name on the wire → what it runs."""

from collections.abc import Mapping
from typing import Any

from router import repositories, search
from router.names import ProcedureName
from router.procedure import NoInput, Procedure, mutation, query

PROCEDURES: Mapping[str, Procedure[Any]] = {
    ProcedureName.REPOSITORIES_LIST: query(NoInput, repositories.list_repositories),
    ProcedureName.REPOSITORIES_SYNC: mutation(repositories.SyncInput, repositories.sync),
    ProcedureName.SEARCH_QUERY: query(search.SearchInput, search.search_query),
}
