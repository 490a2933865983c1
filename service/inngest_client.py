"""The Inngest client: the embedded engine by default, real Inngest by configuration."""

import logging

import inngest

from service.settings import Settings

APP_ID = "docs-ingest"


def create_client(settings: Settings) -> inngest.Inngest:
    logger = logging.getLogger("functions")
    if settings.embedded_engine:
        # Signed, the app is in cloud mode: the SDK checks the engine's request signatures, signs
        # its answers and sends its key as bearer when it syncs, as with any signed Inngest.
        return inngest.Inngest(
            app_id=APP_ID,
            is_production=settings.engine_signed,
            api_base_url=settings.engine_url,
            event_api_base_url=settings.engine_url,
            signing_key=settings.inngest_signing_key,
            event_key=settings.inngest_event_key,
            logger=logger,
        )
    # INNGEST_DEV / INNGEST_BASE_URL / INNGEST_SIGNING_KEY / INNGEST_EVENT_KEY are read by the
    # SDK itself, with its own precedence rules.
    return inngest.Inngest(app_id=APP_ID, logger=logger)
