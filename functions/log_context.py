"""Every call of a function logs with its run id, and the job and repository of its event.

An SDK middleware binds them (service/logs.py) before the function's code runs, in the task
that runs it. A failure handler's event (`inngest/function.failed`) carries the event of the run
that failed: the job and repository are read from that one.
"""

from typing import Any

import inngest

from service import logs

FUNCTION_FAILED = "inngest/function.failed"


class LogContext(inngest.Middleware):
    async def transform_input(
        self,
        ctx: inngest.Context | inngest.ContextSync,
        function: inngest.Function[Any],
        steps: inngest.StepMemos,
    ) -> None:
        data: Any = ctx.event.data
        if ctx.event.name == FUNCTION_FAILED:
            original = data.get("event") if isinstance(data, dict) else None
            data = original.get("data") if isinstance(original, dict) else None
        if not isinstance(data, dict):
            data = {}
        job_id = data.get("ingestion_id")
        repository = data.get("repository")
        logs.bind(
            run_id=ctx.run_id,
            job_id=job_id if isinstance(job_id, int) else None,
            repository=repository if isinstance(repository, str) else None,
        )


def add_log_context(client: inngest.Inngest) -> None:
    if LogContext not in client.middleware:
        client.add_middleware(LogContext)
