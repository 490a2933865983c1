"""The FastAPI app factory: the Inngest SDK endpoint and health."""

import inngest.fast_api
from fastapi import FastAPI

from functions import build_functions
from functions.client import create_client
from service.settings import Settings

INNGEST_PATH = "/api/inngest"


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="docs-ingest")
    client = create_client(settings)
    inngest.fast_api.serve(app, client, build_functions(client), serve_path=INNGEST_PATH)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
