"""The consumer: owns the event loop's workers, the clock, the HTTP clients and app syncs.

`Engine.run()` moves due queue items to workers until stopped; each worker makes one SDK call (or
fires one timer) and hands the outcome to the run machine, which commits it in one transaction.
Beside it run the app syncs and the pruning of history older than the retention period.
Given a signing key, the engine runs signed, as `inngest start` does (engine.signing).
"""

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from engine.bodies import MAX_EVENT_SIZE, MAX_REQUEST_SIZE
from engine.clock import Clock, SystemClock
from engine.consts import (
    SDK_HEADER,
    SERVER_KIND_CLOUD,
    SERVER_KIND_DEV,
    SERVER_KIND_HEADER,
    QueueKind,
)
from engine.executor import Executor
from engine.metrics import EngineMetrics
from engine.outcomes import CallFailed
from engine.retention import DEFAULT_RETENTION_MS, Retention, longest_rate_period
from engine.runs import RunMachine, exponential_backoff, linear_backoff
from engine.scheduler import Scheduler
from engine.signing import SIGNATURE_HEADER, Signer
from engine.store import QueueItem, Store
from engine.transport import EngineTransport

log = logging.getLogger("engine")
_NO_FUNCTION = {"name": "Error", "message": "the function is no longer registered"}

CALL_TIMEOUT_S = 7200.0
CRASH_DELAY_MS = 1000
DISCOVERY_PORTS = (
    80,
    443,
    *range(3000, 3011),
    4321,
    5000,
    5173,
    8000,
    8080,
    8081,
    8888,
    *range(8910, 8916),
    8787,
)
DISCOVERY_PATHS = (
    "/api/inngest",
    "/x/inngest",
    "/.netlify/functions/inngest",
    "/.redwood/functions/inngest",
)


class EngineInUse(Exception):
    """Another engine runs on the same database."""


def _hold(db: Path | str, wait_s: float) -> int | None:
    """Lock `db` for this engine until it closes (or its process dies): two engines on one
    database would both take its queue and run the same steps twice. An engine stopping (a
    restart) has `wait_s` to let go."""
    if str(db) == ":memory:":
        return None
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise EngineInUse(f"another engine is running on {db}; stop it first") from None
            time.sleep(0.1)


class Engine:
    def __init__(
        self,
        db: Path | str,
        *,
        clock: Clock | None = None,
        sdk_urls: Sequence[str] = (),
        workers: int = 100,
        retry_interval: int = 0,
        poll_interval: int | None = 5,
        discovery: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        max_request_size: int = MAX_REQUEST_SIZE,
        max_event_size: int = MAX_EVENT_SIZE,
        retention_ms: int = DEFAULT_RETENTION_MS,
        signing_key: str | None = None,
        event_keys: Sequence[str] = (),
        lock_wait_s: float = 10.0,
    ) -> None:
        self.clock = clock or SystemClock()
        self._lock = _hold(db, lock_wait_s)
        try:
            self.store = Store(db)
        except BaseException:
            self._release()
            raise
        backoff = linear_backoff(retry_interval) if retry_interval > 0 else exponential_backoff
        self.machine = RunMachine(self.store, self.clock, backoff)
        self.scheduler = Scheduler(self.store)
        self.metrics = EngineMetrics(self.store, self.clock.now, lambda: self.scheduler.leased)
        self.sdk_urls = list(sdk_urls)
        self.workers = workers
        self.poll_interval = poll_interval
        self.discovery = discovery
        self.max_request_size = max_request_size
        self.max_event_size = max_event_size
        self.signer = Signer(signing_key) if signing_key else None
        self.event_keys = [key for key in event_keys if key]
        self.server_kind = SERVER_KIND_DEV if self.signer is None else SERVER_KIND_CLOUD
        self.retention = Retention(
            self.store,
            self.clock,
            retention_ms,
            lambda: longest_rate_period(self.machine.functions.values()),
        )
        self._transport = transport
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def notify(self) -> None:
        """New work may be due: wake the loop."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Process the queue until cancelled."""
        self._wake = asyncio.Event()
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(CALL_TIMEOUT_S, connect=10.0),
            transport=self._transport or EngineTransport(keepalive=self.workers),
        ) as http:
            self._http = http
            executor = Executor(http, self.signer)
            background = [asyncio.create_task(self._sync_loop())]
            if self.retention.keep_ms > 0:  # 0: keep all history
                background.append(asyncio.create_task(self.retention.run()))
            try:
                await self._loop(executor)
            finally:
                for task in [*background, *self._tasks]:
                    task.cancel()
                await asyncio.gather(*background, *self._tasks, return_exceptions=True)
                self._http = None

    async def _loop(self, executor: Executor) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            now = self.clock.now()
            for item in self.scheduler.take(now, self.workers - len(self._tasks)):
                task = asyncio.create_task(self._process(executor, item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            due = None if len(self._tasks) >= self.workers else self.store.next_due_after(now)
            await self.clock.wait(due, self._wake)

    async def _process(self, executor: Executor, item: QueueItem) -> None:
        try:
            if item.kind is QueueKind.CALL:
                request = self.machine.call_request(item)
                if request is None:  # the run has ended, or its function is gone
                    self.machine.apply_call(item, CallFailed(_NO_FUNCTION, retriable=False))
                else:
                    started = time.perf_counter()  # real time, whatever the engine's clock
                    outcome = await executor.call(*request, now=self.clock.now())
                    seconds = time.perf_counter() - started
                    function = str(request[1]["ctx"]["fn_id"])
                    self.metrics.call_made(function, item.attempt, seconds, outcome)
                    self.machine.apply_call(item, outcome)
            elif item.kind is QueueKind.AI_REQUEST:
                memo = await executor.ai_request(item.payload or {})
                self.machine.apply_ai_result(item, memo)
            else:
                self.machine.fire(item)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "queue item %s (%s) failed; retrying in %d ms",
                item.id,
                item.kind.value,
                CRASH_DELAY_MS,
                extra={"run_id": item.run_id},
            )
            self.machine.postpone(item, CRASH_DELAY_MS)
        finally:
            self.scheduler.release(item)
            # Free the worker before the wake: the done callback runs after the loop has woken,
            # which with every worker busy would then wait with none free and no wake to come.
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            self.notify()

    # app sync

    async def sync(self, urls: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """PUT each SDK URL so the app registers itself; one result per URL, each recorded
        with its error for the console's Apps page."""
        results = []
        for url in self.sdk_urls if urls is None else urls:
            result = await self._sync_one(url)
            error = None if result["ok"] else _sync_error(result)
            if error:
                log.warning("sync of %s failed: %s", url, error)
            self.machine.history.record_sync(url, self.clock.now(), error)
            results.append(result)
        return results

    async def _sync_one(self, url: str) -> dict[str, Any]:
        http = self._http or httpx.AsyncClient(transport=self._transport)
        payload = {"url": url}
        headers = {SERVER_KIND_HEADER: self.server_kind}
        if self.signer is not None:
            headers[SIGNATURE_HEADER] = self.signer.sign_request(payload)
        try:
            response = await http.put(url, json=payload, headers=headers, timeout=30)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return {"url": url, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            if http is not self._http:
                await http.aclose()
        if response.status_code == 401:  # the app checks signatures and refused the engine's
            error = _UNSIGNED_SYNC if self.signer is None else _WRONG_KEY_SYNC
            return {"url": url, "ok": False, "error": error, "response": body}
        ok = response.status_code == 200 and not (isinstance(body, dict) and body.get("error"))
        return {"url": url, "ok": ok, "response": body}

    async def _sync_loop(self) -> None:
        while True:
            urls = list(self.sdk_urls)
            if self.discovery:
                urls += [u for u in await self._discover() if u not in urls]
            if urls:
                await self.sync(urls)
            if not self.poll_interval:
                return
            await asyncio.sleep(self.poll_interval)

    async def _discover(self) -> list[str]:
        assert self._http is not None
        http = self._http
        # An app in cloud mode answers an unsigned GET 401 without x-inngest-sdk: sign the probe.
        headers = {SIGNATURE_HEADER: self.signer.sign_bytes(b"")} if self.signer else {}

        async def probe(url: str) -> str | None:
            try:
                response = await http.get(url, headers=headers, timeout=1.0)
            except httpx.HTTPError:
                return None
            return url if response.headers.get(SDK_HEADER) else None

        candidates = [
            f"http://127.0.0.1:{port}{path}" for port in DISCOVERY_PORTS for path in DISCOVERY_PATHS
        ]
        found = await asyncio.gather(*(probe(url) for url in candidates))
        return [url for url in found if url]

    def close(self) -> None:
        self.store.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # and with it the lock
            self._lock = None


_UNSIGNED_SYNC = (
    "the app refused the sync as unauthorized (HTTP 401): it requires signed syncs; start the"
    " engine with the app's signing key (--signing-key or INNGEST_SIGNING_KEY)"
)
_WRONG_KEY_SYNC = (
    "the app refused the engine's signature (HTTP 401): the app's signing key (its"
    " INNGEST_SIGNING_KEY) is not the engine's signing key"
)


def _sync_error(result: dict[str, Any]) -> str:
    """What went wrong with a sync: the connection error, or what the app answered."""
    if result.get("error"):
        return str(result["error"])
    response = result.get("response")
    if isinstance(response, dict):
        hint = _KEY_HINTS.get(str(response.get("code")), "")
        for key in ("error", "message"):
            if response.get(key):
                return str(response[key]) + hint
    return f"the app answered {str(response)[:200]}"


# The SDK refuses a sync from the other kind of server: the engine is signed (cloud) exactly when
# it has a signing key, so the fix is a key on one side or the other.
_KEY_HINTS = {
    "server_kind_mismatch": " (a signed engine syncs apps in cloud mode, with INNGEST_SIGNING_KEY"
    " set to its signing key; an engine without --signing-key syncs apps in dev mode)",
}
