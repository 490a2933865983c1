"""The FastAPI app factory: the Inngest SDK endpoint, the GitHub webhook, the router, the UI, and
health, readiness and metrics."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache, partial

import inngest.fast_api
from fastapi import FastAPI

from functions import build_functions
from router.endpoint import create_router
from router.inngest_api import create_inngest_api
from router.live import LiveStatus
from router.openapi import WebhookDoc, openapi_document
from router.procedures import PROCEDURES
from service.deps import Services
from service.settings import Settings
from web import webhooks
from web.operations import create_operations_router
from web.ui import create_ui_router
from web.webhooks import PushIntake
from web.webhooks import router as webhook_router

INNGEST_PATH = "/api/inngest"


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    services = services or Services.create(settings)
    inngest_api = create_inngest_api(settings, services.http)
    live = LiveStatus(inngest_api)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await live.aclose()
        await services.aclose()

    # No /docs or /redoc: they load their scripts from a CDN, and pages here must work offline.
    app = FastAPI(title="docs-ingest", lifespan=lifespan, docs_url=None, redoc_url=None)
    webhook = WebhookDoc(
        webhooks.EVENT_HEADER,
        webhooks.DELIVERY_HEADER,
        webhooks.SIGNATURE_HEADER,
        (webhooks.PushPayload, webhooks.PingPayload),
        webhooks.MAX_BODY_BYTES,
    )
    document = partial(openapi_document, PROCEDURES, webhook, title=app.title, version=app.version)
    app.openapi = cache(document)  # type: ignore[method-assign]
    app.state.services = services
    app.state.push_intake = PushIntake(services.db, services.inngest)
    client = services.inngest
    inngest.fast_api.serve(app, client, build_functions(client, services), serve_path=INNGEST_PATH)
    app.include_router(webhook_router)
    app.include_router(create_router(live))
    app.include_router(create_ui_router())
    app.include_router(create_operations_router(services, inngest_api))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
