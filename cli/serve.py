"""`docs-ingest serve`: the service and, unless real Inngest is configured, the embedded engine."""

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys

import click
from fastapi import FastAPI

from cli.demo import run_demo
from engine.cli import start_server
from engine.signing import Signer, SigningKeyError
from service.db import migrate
from service.settings import Settings, get_settings
from web.app import INNGEST_PATH, create_app

PR_SET_PDEATHSIG = 1
ENGINE_WORKERS = 100
# How long a thread holding the GIL (database, git and Qdrant Edge work runs in worker threads)
# keeps the event loop waiting: Python's 5 ms held up the file runs' SDK calls; at 1 ms,
# bench/ingest.py's 2,000 files went 1-6 % faster, in each of six interleaved pairs.
GIL_SWITCH_INTERVAL_S = 0.001
# How long a stopping engine may take before it is killed: one whose event loop is stuck never
# acts on SIGTERM, and would go on holding its port and database.
ENGINE_STOP_TIMEOUT_S = 10.0
PORTS = click.IntRange(1, 65535)


@click.command()
@click.option("--port", type=PORTS, help="Port of the service.  [default: 8000, DOCS_INGEST_PORT]")
@click.option(
    "--engine-port",
    type=PORTS,
    help="Port of the embedded engine.  [default: 8288, DOCS_INGEST_ENGINE_PORT]",
)
def serve(port: int | None, engine_port: int | None) -> None:
    """Run the service and, unless real Inngest is configured, the embedded engine.

    The service serves its Inngest functions at /api/inngest. With none of INNGEST_DEV,
    INNGEST_BASE_URL, INNGEST_API_BASE_URL or INNGEST_SIGNING_KEY set (or with
    DOCS_INGEST_ENGINE=embedded), the embedded engine starts on --engine-port, keeps its state in
    DOCS_INGEST_DATA_DIR/engine.db and syncs the service at once.

    Signed mode: DOCS_INGEST_ENGINE=embedded with INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY runs
    the embedded engine signed, as self-hosted `inngest start` runs: it signs its calls, which
    the service checks, and takes events only at the event key and its REST API only with the
    signing key as bearer. The two keys alone name Inngest Cloud, as the Inngest SDK reads them.
    """
    updates = {k: v for k, v in {"port": port, "engine_port": engine_port}.items() if v}
    settings = get_settings().model_copy(update=updates)
    if settings.engine_signed:
        _check_signed_mode(settings)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    migrate(settings.sqlalchemy_url)
    app = create_app(settings)
    # What the imports and the app built lives as long as the process; frozen, it is left out of
    # every later collection, whose full passes would otherwise stall requests ~100 ms each.
    gc.freeze()
    # uvicorn acts on SIGTERM while it serves and, once stopped, raises it again: with Python's
    # default action there, serve would end at once, before it stops the engine below.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    # uvicorn's own lines (an app error's traceback) go through the service's log format.
    server, serving = await start_server(app, settings.host, settings.port, log_config=None)
    log = logging.getLogger("service")
    log.info("service listening on %s (functions at %s)", settings.app_url, INNGEST_PATH)
    if not settings.embedded_engine:
        log.info("using external Inngest; sync %s%s from it", settings.app_url, INNGEST_PATH)
        demo = _start_demo(settings, app)
        try:
            await serving
        finally:
            _stop(demo)
        return
    engine = await _start_engine(settings)
    log.info("engine console at %s (runs, events, functions and apps)", settings.engine_url)
    if settings.engine_signed:
        log.info("the engine runs signed: INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY are its keys")
    log.info(
        'try it: curl -s -X POST %s/e/%s -d \'{"name": "docs/ping", "data": {"message": "hi"}}\'',
        settings.engine_url,
        "$INNGEST_EVENT_KEY" if settings.inngest_event_key else "dev",
    )
    demo = _start_demo(settings, app)
    engine_exit = asyncio.create_task(engine.wait())
    try:
        await asyncio.wait({serving, engine_exit}, return_when=asyncio.FIRST_COMPLETED)
        engine_died = engine_exit.done()
    finally:
        _stop(demo)
        server.should_exit = True
        await _stop_engine(engine, engine_exit)
        await serving
    if engine_died:
        raise click.ClickException(
            f"the embedded engine stopped (exit code {engine.returncode}); see its log above"
        )


async def _stop_engine(engine: asyncio.subprocess.Process, engine_exit: asyncio.Task[int]) -> None:
    """Ask the engine to stop, and kill it if it has not within ENGINE_STOP_TIMEOUT_S."""
    if engine.returncode is None:
        engine.terminate()
    await asyncio.wait({engine_exit}, timeout=ENGINE_STOP_TIMEOUT_S)
    if not engine_exit.done():
        logging.getLogger("service").warning(
            "the engine did not stop within %.0f s; killing it", ENGINE_STOP_TIMEOUT_S
        )
        engine.kill()
    await engine_exit


def _start_demo(settings: Settings, app: FastAPI) -> asyncio.Task[None] | None:
    """Seed the demo beside serving (DOCS_INGEST_DEMO): it waits for the service and engine."""
    if not settings.demo:
        return None
    return asyncio.create_task(run_demo(settings, app.state.services))


def _stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()


async def _start_engine(settings: Settings) -> asyncio.subprocess.Process:
    """The engine in its own process: its work never competes with the service's event loop."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # fmt: off
    command = [
        sys.executable, "-m", "engine",
        "--host", "127.0.0.1", "--port", str(settings.engine_port),
        "--db", str(settings.engine_db.resolve()),
        "--sdk-url", settings.app_url + INNGEST_PATH,
        "--no-discovery", "--no-poll",
        "--queue-workers", str(engine_workers(settings)),
    ]
    # fmt: on
    # Run from the data folder, so no inngest.json of the current directory applies.
    return await asyncio.create_subprocess_exec(
        *command,
        cwd=settings.data_dir,
        env=engine_environment(settings),
        preexec_fn=_die_with_parent,
    )


def engine_environment(settings: Settings) -> dict[str, str]:
    """The engine's environment: the keys go there, not on its command line, which any local
    user can read; it gets exactly the keys the service uses, or none, and logs as the service
    does (LOG_FORMAT, DOCS_INGEST_LOG_LEVEL), however the settings were given."""
    env = {k: v for k, v in os.environ.items() if k not in _KEY_VARIABLES}
    env["LOG_FORMAT"] = settings.log_format
    env["DOCS_INGEST_LOG_LEVEL"] = settings.log_level
    if settings.inngest_signing_key:
        env["INNGEST_SIGNING_KEY"] = settings.inngest_signing_key
    if settings.inngest_event_key:
        env["INNGEST_EVENT_KEY"] = settings.inngest_event_key
    return env


_KEY_VARIABLES = ("INNGEST_SIGNING_KEY", "INNGEST_EVENT_KEY")


def _check_signed_mode(settings: Settings) -> None:
    """Refuse to start a signed engine the service could not use, naming the key at fault."""
    assert settings.inngest_signing_key is not None
    try:
        Signer(settings.inngest_signing_key)
    except SigningKeyError as exc:
        raise click.ClickException(f"INNGEST_SIGNING_KEY: {exc}") from exc
    if not settings.inngest_event_key:
        raise click.ClickException(
            "INNGEST_SIGNING_KEY is set but INNGEST_EVENT_KEY is not: the signed engine takes"
            " events only at an event key (as `inngest start` does); set INNGEST_EVENT_KEY too"
        )


def engine_workers(settings: Settings) -> int:
    """SDK calls the engine makes at once: every file run the service allows, with as many again
    for orchestrators, deletions and failure handlers (the engine's default is 100)."""
    return max(ENGINE_WORKERS, 2 * settings.files_at_once)


def _die_with_parent() -> None:
    """Ask Linux to stop the engine if `serve` dies without stopping it."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
