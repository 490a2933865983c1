"""Every setting of the service, from the environment (or a `.env` file), in one place."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    host: str = Field(
        "127.0.0.1", alias="DOCS_INGEST_HOST", description="Interface the service listens on."
    )
    port: int = Field(8000, alias="DOCS_INGEST_PORT", description="Port of the service.")
    engine_port: int = Field(
        8288,
        alias="DOCS_INGEST_ENGINE_PORT",
        description="Port of the embedded engine (`serve` starts it).",
    )
    data_dir: Path = Field(
        Path(".data"),
        alias="DOCS_INGEST_DATA_DIR",
        description="Folder for the SQLite files of the embedded defaults.",
    )
    log_level: str = Field(
        "INFO", alias="DOCS_INGEST_LOG_LEVEL", description="Python logging level."
    )
    inngest_dev: str | None = Field(
        None,
        alias="INNGEST_DEV",
        description="Use an external Inngest dev server: `1` or its "
        "URL. Unset (with the two below) = embedded engine.",
    )
    inngest_base_url: str | None = Field(
        None, alias="INNGEST_BASE_URL", description="Origin of a self-hosted Inngest server."
    )
    inngest_signing_key: str | None = Field(
        None,
        alias="INNGEST_SIGNING_KEY",
        description="Signing key of Inngest Cloud or a "
        "self-hosted server; selects production mode.",
    )
    inngest_event_key: str | None = Field(
        None, alias="INNGEST_EVENT_KEY", description="Event key for sending events to Inngest."
    )

    @property
    def embedded_engine(self) -> bool:
        """True when no external Inngest is configured, so `serve` runs `engine/` itself."""
        return not (self.inngest_dev or self.inngest_base_url or self.inngest_signing_key)

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    @property
    def app_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def engine_db(self) -> Path:
        return self.data_dir / "engine.db"


@lru_cache
def get_settings() -> Settings:
    return Settings()
