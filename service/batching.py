"""Concurrent calls coalesced into batches: one transaction or one request serves many callers.

A burst of webhook deliveries would otherwise cost one worker-thread hop, one commit and one
HTTP request to the Inngest server each, all on one event loop. A `Batcher` runs one batch at a
time; the calls that arrive while it runs go together as the next. A call to an idle batcher
runs at once, with no timer to wait out, and under load the batches grow with the load.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

BatchRunner = Callable[[list[In]], Awaitable[Sequence[Out | Exception]]]
"""Runs a batch: one result per item, in order; an exception in the list fails only its item,
a raised exception fails the whole batch."""


class Batcher(Generic[In, Out]):
    def __init__(self, run: BatchRunner[In, Out]) -> None:
        self._run = run
        self._queued: list[tuple[In, asyncio.Future[Out]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def __call__(self, item: In) -> Out:
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._queued.append((item, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[In, asyncio.Future[Out]]] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
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
            for _, future in batch + self._queued:
                future.cancel()
            self._queued = []
            self._draining = None
