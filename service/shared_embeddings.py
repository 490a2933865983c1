"""Embedding calls of the files in flight share requests, within the provider's limits.

Every file run embeds its own chunks (its own status, retries and error), but one request per
file wastes the provider's request and rate budget on tiny requests. `SharedEmbedder` queues the
inputs of every `embed` call and sends them in requests of up to `max_inputs` inputs and
`max_tokens` tokens, at most `concurrency` at a time. An idle embedder sends at once, with no
timer to wait out; under load, the inputs that arrive while requests are out go together in the
next one.

Errors stay with the file they belong to. A request refused for good (a 400, an input too
long) is split in halves and sent again until the inputs at fault are alone, so only their
calls fail, with the provider's message, and their neighbours get their vectors. A 429 or a
server error is sent again after the pause `pacing` sets (service/pacing.py), up to MAX_SENDS
times; then, as any other error, it fails the calls whose inputs were in that request, each of
whose run retries it.
A call cancelled while it waits (its run was cancelled) takes its inputs out of the queue.

For the local model, `concurrency` 1 runs one inference at a time on all cores, however many
files are in flight.
"""

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from service import metrics
from service.embeddings import EmbeddingError, Vector, check_input_tokens
from service.pacing import Pacing

#: Times a request is sent again after a 429 or a server error (paced) before its files fail
#: and retry their own steps.
MAX_SENDS = 5


class RequestEmbedder(Protocol):
    """An embedder that can send one request of many inputs as it is; `last_headers` are the
    headers of the answer it received last (empty for the local model)."""

    model: str
    dimension: int
    max_input_tokens: int
    last_headers: Mapping[str, str]

    def count_tokens(self, text: str) -> int: ...

    async def embed_request(self, texts: list[str]) -> list[Vector]: ...


@dataclass(eq=False)
class _Call:
    """One `embed` call: where its vectors go and the future its caller awaits."""

    future: asyncio.Future[list[Vector]]
    vectors: list[Vector | None]
    missing: int

    def put(self, index: int, vector: Vector) -> None:
        if self.future.done():
            return
        self.vectors[index] = vector
        self.missing -= 1
        if self.missing == 0:
            self.future.set_result([v for v in self.vectors if v is not None])

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass(eq=False)
class _Input:
    call: _Call
    index: int
    text: str
    tokens: int


@dataclass
class SharedEmbedder:
    inner: RequestEmbedder
    max_inputs: int
    max_tokens: int
    concurrency: int
    pacing: Pacing | None = None
    _queue: deque[_Input] = field(default_factory=deque)
    # requests to send before the queue, with the times each was sent: halves of a refused
    # request, and requests to send again after a 429 or a server error
    _retry: deque[tuple[list[_Input], int]] = field(default_factory=deque)
    _in_flight: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if min(self.max_inputs, self.max_tokens, self.concurrency) < 1:
            raise ValueError("max_inputs, max_tokens and concurrency must each be at least 1")
        self.model = self.inner.model
        self.dimension = self.inner.dimension
        self.max_input_tokens = min(self.inner.max_input_tokens, self.max_tokens)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    @property
    def queued(self) -> int:
        """Inputs waiting for a request."""
        return len(self._queue) + sum(len(batch) for batch, _ in self._retry)

    async def embed(
        self, texts: Sequence[str], token_counts: Sequence[int] | None = None
    ) -> list[Vector]:
        if not texts:
            return []
        counts = token_counts
        if counts is None:
            counts = await asyncio.to_thread(lambda: [self.count_tokens(text) for text in texts])
        check_input_tokens(counts, self.model, self.max_input_tokens)
        future: asyncio.Future[list[Vector]] = asyncio.get_running_loop().create_future()
        call = _Call(future, [None] * len(texts), len(texts))
        self._queue.extend(
            _Input(call, i, text, n) for i, (text, n) in enumerate(zip(texts, counts, strict=True))
        )
        self._send_what_fits()
        return await future

    def _send_what_fits(self) -> None:
        allowed = self.pacing.allowed if self.pacing else self.concurrency
        while self._in_flight < allowed and self._waiting():
            self._in_flight += 1
            task = asyncio.create_task(self._slot())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _waiting(self) -> bool:
        """Whether inputs wait for a request (their callers still waiting for them)."""
        while self._queue and self._queue[0].call.future.done():
            self._queue.popleft()
        return bool(self._queue or self._retry)

    async def _slot(self) -> None:
        """One request: wait for the request budget, then take the inputs (those that came in
        meanwhile too, so a paced request grows), wait for their tokens, send."""
        try:
            if self.pacing is not None:
                await asyncio.sleep(self.pacing.wait_request())
            batch, sent = self._retry.popleft() if self._retry else (self._take(), 0)
            batch = [item for item in batch if not item.call.future.done()]
            if batch:
                await self._send(batch, sent)
            elif self.pacing is not None:
                self.pacing.unreserve_request()  # another request took them
        finally:
            self._in_flight -= 1
            self._send_what_fits()

    def _take(self) -> list[_Input]:
        """The next request's inputs: what waits, in order, within the request's limits."""
        self._waiting()  # drops the inputs of callers gone
        batch: list[_Input] = []
        tokens = 0
        while self._queue and len(batch) < self.max_inputs:
            item = self._queue[0]
            if batch and tokens + item.tokens > self.max_tokens:
                break
            batch.append(self._queue.popleft())
            tokens += item.tokens
        return batch

    async def _send(self, batch: list[_Input], sent: int) -> None:
        try:
            if self.pacing is not None:
                await asyncio.sleep(self.pacing.wait_tokens(sum(item.tokens for item in batch)))
                await asyncio.sleep(self.pacing.pause_left())  # a 429 meanwhile
            with metrics.embedding_request(self.model, sum(item.tokens for item in batch)):
                vectors = await self.inner.embed_request([item.text for item in batch])
            headers = self.inner.last_headers  # read at once: no other answer came in between
        except Exception as exc:
            refused = isinstance(exc, EmbeddingError) and not exc.retriable
            if refused and len(batch) > 1:
                half = len(batch) // 2
                self._retry.extend(((batch[:half], sent), (batch[half:], sent)))
            elif (
                isinstance(exc, EmbeddingError)
                and exc.retriable
                and self.pacing
                and sent + 1 < MAX_SENDS
            ):
                self.pacing.refused(exc.retry_after, sent, self.inner.last_headers)
                self._retry.appendleft((batch, sent + 1))
            else:
                for call in {item.call for item in batch}:
                    call.fail(exc)
        else:
            if self.pacing is not None:
                self.pacing.answered(headers)
            for item, vector in zip(batch, vectors, strict=True):
                item.call.put(item.index, vector)
