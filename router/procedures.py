"""Every procedure of the router, declared as data: its name on the wire → what it runs."""

from collections.abc import Mapping
from typing import Any

from router import jobs, repositories, search
from router.names import ProcedureName
from router.procedure import NoInput, Procedure, mutation, polled_query, query

PROCEDURES: Mapping[str, Procedure[Any]] = {
    ProcedureName.JOBS_LIST: polled_query(jobs.ListInput, jobs.list_jobs),
    ProcedureName.JOBS_GET: polled_query(jobs.GetInput, jobs.get_job),
    ProcedureName.JOBS_RETRY: mutation(jobs.RetryInput, jobs.retry),
    ProcedureName.JOBS_CANCEL: mutation(jobs.CancelInput, jobs.cancel),
    ProcedureName.JOBS_RETRY_MANY: mutation(jobs.RetryManyInput, jobs.retry_many),
    ProcedureName.JOBS_CANCEL_MANY: mutation(jobs.ManyInput, jobs.cancel_many),
    ProcedureName.REPOSITORIES_LIST: query(NoInput, repositories.list_repositories),
    ProcedureName.REPOSITORIES_CONNECT: mutation(repositories.ConnectInput, repositories.connect),
    ProcedureName.REPOSITORIES_SYNC: mutation(repositories.SyncInput, repositories.sync),
    ProcedureName.SEARCH_QUERY: query(search.SearchInput, search.search_query),
}
