"""`docs-ingest serve`: the service and, unless real Inngest is configured, the embedded engine."""

import asyncio
import contextlib
import logging

import click

from engine.cli import serve_engine, start_server
from engine.server import Engine
from service.app import INNGEST_PATH, create_app
from service.db import migrate
from service.settings import Settings, get_settings


@click.command()
@click.option("--port", type=int, help="Port of the service.  [default: 8000, DOCS_INGEST_PORT]")
@click.option(
    "--engine-port",
    type=int,
    help="Port of the embedded engine.  [default: 8288, DOCS_INGEST_ENGINE_PORT]",
)
def serve(port: int | None, engine_port: int | None) -> None:
    """Run the service and, unless real Inngest is configured, the embedded engine.

    The service serves its Inngest functions at /api/inngest. With no INNGEST_DEV,
    INNGEST_BASE_URL or INNGEST_SIGNING_KEY set, the embedded engine starts on --engine-port,
    keeps its state in DOCS_INGEST_DATA_DIR/engine.db and syncs the service at once.
    """
    updates = {k: v for k, v in {"port": port, "engine_port": engine_port}.items() if v}
    settings = get_settings().model_copy(update=updates)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    migrate(settings.sqlalchemy_url)
    server, serving = await start_server(create_app(settings), settings.host, settings.port)
    log = logging.getLogger("service")
    log.info("service listening on %s (functions at %s)", settings.app_url, INNGEST_PATH)
    if not settings.embedded_engine:
        log.info("using external Inngest; sync %s%s from it", settings.app_url, INNGEST_PATH)
        await serving
        return
    engine = Engine(
        settings.engine_db, sdk_urls=[settings.app_url + INNGEST_PATH], poll_interval=None
    )
    log.info(
        'try it: curl -s -X POST %s/e/dev -d \'{"name": "docs/ping", "data": {"message": "hi"}}\'',
        settings.engine_url,
    )
    try:
        await serve_engine(engine, "127.0.0.1", settings.engine_port)
    finally:
        server.should_exit = True
        await serving
