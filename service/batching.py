"""Concurrent calls coalesced into batches: one transaction or one request serves many callers.

A burst of webhook deliveries would otherwise cost one worker-thread hop, one commit and one
HTTP request to the Inngest server each, all on one event loop. A `Batcher` runs one batch at a
time; the calls that arrive while it runs go together as the next. A call to an idle batcher
runs at once, with no timer to wait out, and under load the batches grow with the load.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextvars import Context
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

BatchRunner = Callable[[list[In]], Awaitable[Sequence[Out | Exception]]]
"""Runs a batch: one result per item, in order; an exception in the list fails only its item,
a raised exception fails the whole batch."""


class _Queue(Generic[In, Out]):
    """The calls waiting in one event loop, and the task that drains them."""

    def __init__(self) -> None:
        self.calls: list[tuple[In, asyncio.Future[Out]]] = []
        self.draining: asyncio.Task[None] | None = None


class Batcher(Generic[In, Out]):
    """`max_batch`: the most items one batch takes (a request's size limit); the rest wait for
    the next."""

    def __init__(self, run: BatchRunner[In, Out], max_batch: int | None = None) -> None:
        self._run = run
        self._max_batch = max_batch
        # Futures and tasks belong to one event loop, and one batcher may serve several (an app's
        # and a script's `asyncio.run`, or a loop that stopped mid-batch): a queue for each.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[In, Out]] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[Out] = loop.create_future()
        queue.calls.append((item, future))
        if queue.draining is None:
            # A context of its own: the batch is every caller's work, and its log lines must
            # not carry the first caller's ids.
            queue.draining = asyncio.create_task(self._drain(queue), context=Context())
        return await future

    async def _drain(self, queue: _Queue[In, Out]) -> None:
        batch: list[tuple[In, asyncio.Future[Out]]] = []
        try:
            while queue.calls:
                batch = queue.calls[: self._max_batch]
                queue.calls = queue.calls[len(batch) :]
                try:
                    results = await self._run([item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"{len(results)} results for {len(batch)} items")
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller went away
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:  # cancelled (the app is stopping): no caller is left waiting
            for _, future in batch + queue.calls:
                future.cancel()
            queue.calls = []
            queue.draining = None
