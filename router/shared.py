"""Answers of the polled queries, shared by the callers of one organization for a moment.

Every open Jobs tab asks `jobs.list` (and `jobs.get` of an open job) every 3 s with the same input,
so callers of one organization asking the same thing share one answer:

- younger than `ttl`, it is served as it is (callers arriving while it is computed await it);
- up to `max_age`, it is served at once while one new computation starts for the next callers,
  so under many tabs nobody waits for a computation;
- older, the caller waits for a new one (a lone tab polling every 3 s always gets a fresh answer).

A mutation by the organization drops its answers, so whoever cancelled or retried sees the change
at once; other replicas of the service see it within `max_age`.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("router.shared")

TTL_S = 1.0
MAX_AGE_S = 2.0
MAX_ENTRIES = 1024

Key = tuple[int, Hashable]  # (organization id, what was asked)


@dataclass(slots=True)
class _Entry:
    answer: "asyncio.Task[Any]"
    started_at: float  # what the answer says is as of then
    refresh: "asyncio.Task[None] | None" = None

    def usable(self) -> bool:
        return not self.answer.done() or self.answer.exception() is None


class SharedAnswers:
    def __init__(
        self,
        ttl: float = TTL_S,
        max_age: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max_age = max_age
        self._clock = clock
        self._entries: dict[Key, _Entry] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(
        self, organization_id: int, asked: Hashable, compute: Callable[[], Awaitable[Any]]
    ) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a task of another (closed) loop cannot be awaited here
            self._loop, self._entries = loop, {}
        key, now = (organization_id, asked), self._clock()
        entry = self._entries.get(key)
        age = None if entry is None or not entry.usable() else now - entry.started_at
        if entry is None or age is None or age >= self._max_age:
            entry = self._start(key, compute, now)
        elif age >= self._ttl and entry.answer.done() and entry.refresh is None:
            entry.refresh = asyncio.ensure_future(self._refresh(key, entry, compute))
        try:
            # Shielded: one caller going away does not cancel the answer the others await.
            return await asyncio.shield(entry.answer)
        except Exception:
            if self._entries.get(key) is entry:
                del self._entries[key]  # an error is not shared beyond the callers waiting for it
            raise

    def forget(self, organization_id: int) -> None:
        """Drop the organization's answers: something of it has changed."""
        self._entries = {k: e for k, e in self._entries.items() if k[0] != organization_id}

    def _start(self, key: Key, compute: Callable[[], Awaitable[Any]], now: float) -> _Entry:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {
                k: e for k, e in self._entries.items() if now - e.started_at < self._max_age
            }
        entry = _Entry(asyncio.ensure_future(compute()), now)
        self._entries[key] = entry
        return entry

    async def _refresh(
        self, key: Key, stale: _Entry, compute: Callable[[], Awaitable[Any]]
    ) -> None:
        fresh = _Entry(asyncio.ensure_future(compute()), self._clock())
        try:
            await fresh.answer
        except Exception as exc:  # the next caller past max_age computes again, and sees it
            log.info("a shared answer could not be refreshed: %s", exc)
        else:
            if self._entries.get(key) is stale:  # not forgotten meanwhile
                self._entries[key] = fresh
        finally:
            stale.refresh = None
