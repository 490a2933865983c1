"""Every setting of the service, from the environment, in one place.

Nothing here depends on the current directory, so every command, run from anywhere, finds the
same database and vectors as `serve`: the data folder defaults to `.data` in the source checkout
the package runs from, or, for an installed package, `$XDG_DATA_HOME/docs-ingest`.
"""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".data"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "docs-ingest"


URL_VARIABLE = "DOCS_INGEST_URL"
# A wildcard interface, and where this machine reaches a service listening on it.
_LOOPBACK_OF = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104 - not bound to
# File runs at once when DOCS_INGEST_FILE_CONCURRENCY is unset. bench/ingest.py, 2,000 files at
# 100 ms a request on two cores: 10.5 s at 64, 9 s at 128, little faster beyond (more memory).
OPENAI_FILE_CONCURRENCY = 128
LOCAL_FILE_CONCURRENCY = 64


def default_file_concurrency(embedder: str) -> int:
    """File runs at once for `embedder` when DOCS_INGEST_FILE_CONCURRENCY is unset: an OpenAI
    file run waits for the provider most of its time, so more of them keep its requests full;
    the local model embeds one batch at a time, and more runs would only wait longer for it."""
    return OPENAI_FILE_CONCURRENCY if embedder == "openai" else LOCAL_FILE_CONCURRENCY


class Settings(BaseSettings):
    # An empty variable is an unset one, as compose files and .env templates pass them.
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    host: str = Field(
        "127.0.0.1", alias="DOCS_INGEST_HOST", description="Interface the service listens on."
    )
    port: int = Field(8000, alias="DOCS_INGEST_PORT", description="Port of the service.")
    engine: Literal["auto", "embedded", "external"] = Field(
        "auto",
        alias="DOCS_INGEST_ENGINE",
        description="`embedded`: `serve` runs the embedded engine, signed when INNGEST_SIGNING_KEY "
        "is set; `external`: the Inngest the INNGEST_* variables name; `auto`: embedded unless "
        "INNGEST_DEV, INNGEST_BASE_URL, INNGEST_API_BASE_URL or INNGEST_SIGNING_KEY is set.",
    )
    local_roots: str | None = Field(
        None,
        alias="DOCS_INGEST_LOCAL_ROOTS",
        description="Folders, separated by ':', in which `repositories.connect` (the API, the "
        "Repositories tab) may connect a local git repository. Unset: any folder while the "
        "service listens on loopback only, none otherwise. `docs-ingest repo add` is not limited.",
    )
    engine_port: int = Field(
        8288,
        alias="DOCS_INGEST_ENGINE_PORT",
        description="Port of the embedded engine (`serve` starts it).",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        alias="DOCS_INGEST_DATA_DIR",
        description="Folder of the embedded defaults' files (SQLite, Qdrant Edge): `.data` in "
        "the source checkout, else `$XDG_DATA_HOME/docs-ingest`.",
    )
    log_level: str = Field(
        "INFO", alias="DOCS_INGEST_LOG_LEVEL", description="Python logging level."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        alias="LOG_FORMAT",
        description="`text` for people, or `json`: one JSON object a line, with the job, run, "
        "repository and delivery ids.",
    )
    inngest_dev: str | None = Field(
        None,
        alias="INNGEST_DEV",
        description="Use an external Inngest dev server: `1` or its URL (`0`: Inngest Cloud).",
    )
    inngest_base_url: str | None = Field(
        None, alias="INNGEST_BASE_URL", description="Origin of a self-hosted Inngest server."
    )
    inngest_api_base_url: str | None = Field(
        None,
        alias="INNGEST_API_BASE_URL",
        description="Origin of the Inngest API alone; the SDK reads it before INNGEST_BASE_URL.",
    )
    inngest_signing_key: str | None = Field(
        None,
        alias="INNGEST_SIGNING_KEY",
        description="Signing key of Inngest Cloud, a self-hosted server or the embedded engine "
        "(hex): selects production mode, in which the SDK checks request signatures and signs "
        "its answers.",
    )
    inngest_event_key: str | None = Field(
        None,
        alias="INNGEST_EVENT_KEY",
        description="Event key for sending events to Inngest; the embedded engine, given one, "
        "takes events only at it.",
    )

    database_url: str | None = Field(
        None,
        alias="DATABASE_URL",
        description="SQLAlchemy URL of the relational store; unset = "
        "SQLite at DOCS_INGEST_DATA_DIR/docs-ingest.db.",
    )
    qdrant_url: str | None = Field(
        None,
        alias="QDRANT_URL",
        description="Qdrant server URL; unset = embedded Qdrant Edge "
        "under DOCS_INGEST_DATA_DIR/qdrant.",
    )
    qdrant_api_key: str | None = Field(
        None, alias="QDRANT_API_KEY", description="API key of the Qdrant server."
    )
    embedder: Literal["local", "openai"] = Field(
        "local",
        alias="DOCS_INGEST_EMBEDDER",
        description="`local` (all-MiniLM-L6-v2, offline) or `openai`.",
    )
    openai_api_key: str | None = Field(
        None, alias="OPENAI_API_KEY", description="API key for OpenAI embeddings."
    )
    openai_base_url: str | None = Field(
        None, alias="OPENAI_BASE_URL", description="Base URL of an OpenAI-compatible server."
    )
    openai_embedding_model: str = Field(
        "text-embedding-3-small",
        alias="OPENAI_EMBEDDING_MODEL",
        description="OpenAI embedding model.",
    )
    openai_embedding_dimension: int | None = Field(
        None,
        alias="OPENAI_EMBEDDING_DIMENSION",
        description="Vector size: needed for a model of a compatible server that this project "
        "does not know; shortens text-embedding-3 vectors.",
    )
    github_token: str | None = Field(
        None, alias="GITHUB_TOKEN", description="Token for the GitHub REST API (or use an App)."
    )
    github_app_id: str | None = Field(
        None, alias="GITHUB_APP_ID", description="GitHub App id, for installation tokens."
    )
    github_app_private_key: str | None = Field(
        None, alias="GITHUB_APP_PRIVATE_KEY", description="PEM private key of the GitHub App."
    )
    github_api_url: str = Field(
        "https://api.github.com",
        alias="GITHUB_API_URL",
        description="GitHub REST API origin (GitHub Enterprise: its API).",
    )
    file_concurrency: int | None = Field(
        None,
        alias="DOCS_INGEST_FILE_CONCURRENCY",
        ge=1,
        description="File runs processed at once; their embedding inputs share requests. "
        "Unset: 128 with OpenAI, 64 with the local model.",
    )
    embedding_requests: int = Field(
        4,
        alias="DOCS_INGEST_EMBEDDING_REQUESTS",
        ge=1,
        description="Embedding requests in flight at once (OpenAI); the local model runs one "
        "batch at a time on all cores.",
    )
    embedding_rpm: int | None = Field(
        None,
        alias="DOCS_INGEST_EMBEDDING_RPM",
        ge=1,
        description="Embedding requests per minute the OpenAI account allows; unset: learnt "
        "from the x-ratelimit headers of its answers.",
    )
    embedding_tpm: int | None = Field(
        None,
        alias="DOCS_INGEST_EMBEDDING_TPM",
        ge=1,
        description="Embedding tokens per minute the OpenAI account allows; unset: learnt "
        "from the x-ratelimit headers of its answers.",
    )
    embedding_max_inputs: int | None = Field(
        None,
        alias="DOCS_INGEST_EMBEDDING_MAX_INPUTS",
        ge=1,
        description="Inputs per embedding request. Unset: 2,048 for OpenAI (its limit), 32 "
        "for the local model; lower it for a compatible server with a smaller limit.",
    )
    embedding_max_tokens: int | None = Field(
        None,
        alias="DOCS_INGEST_EMBEDDING_MAX_TOKENS",
        ge=1,
        description="Tokens per embedding request. Unset: 300,000 for OpenAI (its limit), "
        "8,128 for the local model.",
    )
    demo: bool = Field(
        False,
        alias="DOCS_INGEST_DEMO",
        description="`serve` seeds the demo (organization `demo`, a repository of this "
        "project's docs, two pushes) once, and prints the Jobs tab link; `make run` sets it.",
    )

    @property
    def files_at_once(self) -> int:
        """DOCS_INGEST_FILE_CONCURRENCY, or the embedder's default."""
        if self.file_concurrency is not None:
            return self.file_concurrency
        return default_file_concurrency(self.embedder)

    @property
    def embedded_engine(self) -> bool:
        """True when `serve` runs `engine/` itself: DOCS_INGEST_ENGINE=embedded, or, left at
        `auto`, when no INNGEST_* variable names an external Inngest (INNGEST_DEV of any value,
        either base URL, or a signing key alone: Inngest Cloud, as the SDK reads it)."""
        if self.engine != "auto":
            return self.engine == "embedded"
        return not (
            self.inngest_dev
            or self.inngest_base_url
            or self.inngest_api_base_url
            or self.inngest_signing_key
        )

    @property
    def engine_signed(self) -> bool:
        """True when `serve` runs the embedded engine signed, with INNGEST_SIGNING_KEY."""
        return self.embedded_engine and bool(self.inngest_signing_key)

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    @property
    def app_url(self) -> str:
        """Where processes on this machine (the embedded engine) reach the service: a wildcard
        interface on loopback, an IPv6 address in brackets."""
        host = _LOOPBACK_OF.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def public_url(self) -> str:
        """Where people, GitHub and the CLI reach the service: DOCS_INGEST_URL, else where it
        listens (a wildcard interface is reached on loopback)."""
        configured = os.environ.get(URL_VARIABLE, "").strip().rstrip("/")
        if configured:
            return configured
        return self.app_url

    @property
    def api_local_roots(self) -> list[Path] | None:
        """The folders the API may connect local repositories in; None: anywhere. A token may
        be held by someone without an account on the service's machine: they may read only
        what the operator opened to them."""
        if self.local_roots is not None:
            return [Path(root).resolve() for root in self.local_roots.split(":") if root.strip()]
        loopback = self.host == "localhost" or self.host == "::1" or self.host.startswith("127.")
        return None if loopback else []

    @property
    def engine_db(self) -> Path:
        return self.data_dir / "engine.db"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'docs-ingest.db'}"

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"


@lru_cache
def get_settings() -> Settings:
    return Settings()
