"""`docs-ingest engine`: the embedded executor on its own, with the flags of `inngest dev`."""

import asyncio
import contextlib
import gc
import logging
import socket
from functools import partial
from pathlib import Path
from typing import Any

import click
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from engine import config as dev_config
from engine import logs
from engine.api import create_api
from engine.server import Engine, EngineInUse

log = logging.getLogger("engine")
DEFAULT_DB = Path(".data/engine.db")
#: How long a connection may take to send a request's headers (nginx's client_header_timeout
#: is 60 s; every client here sends them at once).
HEADER_TIMEOUT_S = 30.0


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request headers have not all arrived
    `header_timeout` seconds after it opened or after its last response. uvicorn has no such
    limit, and a client sending its headers a byte at a time, or nothing, would hold a
    connection (and a file descriptor) for ever."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self._header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if not busy and not self.pipeline:  # a request whose headers came is never cut off
            self.transport.close()


async def start_server(
    app: Any, host: str, port: int, header_timeout: float = HEADER_TIMEOUT_S, **options: Any
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Start uvicorn on host:port and return once it listens; a clear error if it cannot."""
    # Naming the protocol lets asyncio set TCP_NODELAY on accepted connections; with proto 0 it
    # does not, and every keep-alive response then stalls ~40 ms (Nagle + delayed ACK).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    # uvicorn builds each connection's protocol by calling this with its own arguments.
    protocol: Any = partial(HeaderTimeoutProtocol, header_timeout=header_timeout)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", http=protocol, **options))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.01)
    return server, serving


async def serve_engine(engine: Engine, host: str, port: int) -> None:
    """Serve the engine's API and process its queue until cancelled."""
    server, serving = await start_server(create_api(engine), host, port, lifespan="off")
    log.info("engine listening on http://%s:%d", host, port)
    running = asyncio.create_task(engine.run())
    try:
        await asyncio.wait({serving, running}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await serving
        engine.close()


def build_engine(cfg: dev_config.DevConfig, db: Path) -> Engine:
    return Engine(
        db,
        sdk_urls=cfg.sdk_urls,
        workers=cfg.queue_workers,
        retry_interval=cfg.retry_interval,
        poll_interval=None if cfg.no_poll else cfg.poll_interval,
        discovery=not cfg.no_discovery,
        max_request_size=cfg.max_request_size,
        max_event_size=cfg.max_event_size,
        retention_ms=cfg.retention_ms,
        signing_key=cfg.signing_key,
        event_keys=cfg.event_keys,
    )


@click.command("engine")
@click.option(
    "-u",
    "--sdk-url",
    multiple=True,
    help="App serve URL to sync, e.g. http://127.0.0.1:8000/api/inngest (repeatable).",
)
@click.option(
    "-p", "--port", type=click.IntRange(1, 65535), help="Port to listen on.  [default: 8288]"
)
@click.option("--host", help="Interface to listen on.  [default: 127.0.0.1]")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: inngest.json|yaml|yml here or in a parent folder).",
)
@click.option(
    "--no-discovery",
    is_flag=True,
    flag_value=True,
    default=None,
    help="Do not probe well-known local ports for SDK apps.",
)
@click.option(
    "--no-poll",
    is_flag=True,
    flag_value=True,
    default=None,
    help="Sync apps once at start, not every --poll-interval seconds.",
)
@click.option("--poll-interval", type=int, help="Seconds between app syncs.  [default: 5]")
@click.option(
    "--retry-interval",
    type=int,
    help="Seconds between retries; 0 = exponential backoff.  [default: 0]",
)
@click.option("--queue-workers", type=int, help="SDK calls in flight at once.  [default: 100]")
@click.option(
    "--max-request-size",
    type=int,
    help="Largest request body in bytes; a longer one is refused with 413.  [default: 3145728]",
)
@click.option(
    "--max-event-size",
    type=int,
    help="Largest event in bytes (as compact JSON); a request holding a larger one is refused"
    " with 413.  [default: 262144]",
)
@click.option(
    "--retention",
    help="How long events, finished runs and their steps are kept, e.g. 7d, 24h, 1m;"
    " 0s keeps everything.  [default: 7d]",
)
@click.option(
    "--signing-key",
    help="Run signed, as `inngest start`: sign every call to apps and refuse answers not signed"
    " with this key, and require it (raw or hashed) as bearer on sync and the REST API. Hex,"
    " optionally after a signkey-<env>- prefix; the app's INNGEST_SIGNING_KEY must be the same."
    "  [env: INNGEST_SIGNING_KEY]",
)
@click.option(
    "--event-key",
    multiple=True,
    help="Accept events only at POST /e/<this key> (repeatable; the environment variable takes"
    " a comma-separated list).  [env: INNGEST_EVENT_KEY]",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_DB,
    show_default=True,
    help="SQLite file that holds all engine state; one engine at a time uses it.",
)
def engine_command(config_path: Path | None, db: Path, **flags: Any) -> None:
    """Run the embedded Inngest-compatible engine.

    It serves the Inngest event API (POST /e/{key}), app sync (POST /fn/register) and the REST
    runs API (/v1/...) at the origin root, runs every registered function durably from the
    SQLite file --db, and resumes all runs after a restart. Flags, INNGEST_* environment
    variables and inngest.json are read as `inngest dev` reads them.

    With --signing-key (or INNGEST_SIGNING_KEY) it runs signed, as `inngest start` does, and
    syncs only apps in cloud mode holding the same key; with --event-key (or INNGEST_EVENT_KEY)
    it takes events only at that key. The console at / stays open.
    """
    try:
        cfg = dev_config.load(flags, config_path)
    except dev_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    logs.hide(cfg.signing_key, cfg.event_keys)
    try:
        engine = build_engine(cfg, db)
    except EngineInUse as exc:
        raise click.ClickException(str(exc)) from exc
    gc.freeze()  # the long-lived objects built so far: left out of later collections
    log.info("engine state in %s; apps: %s", db, ", ".join(cfg.sdk_urls) or "none yet")
    if cfg.signing_key:
        log.info("signed: calls to apps are signed, sync and /v1 take the signing key as bearer")
    if cfg.event_keys:
        log.info("events are taken only at /e/<event key> (%d key(s))", len(cfg.event_keys))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_engine(engine, cfg.host, cfg.port))
