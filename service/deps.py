"""The service's long-lived parts, built once per app from settings, and their FastAPI aliases."""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import httpx
import inngest
from fastapi import Depends, Request
from sqlalchemy import Engine

from service.db import create_db_engine
from service.embeddings import Embedder, create_embedder
from service.inngest_client import create_client
from service.models import ConnectedRepository, Provider
from service.settings import Settings
from service.sources import Source
from service.sources.github import (
    REQUESTS_AT_ONCE,
    AppInstallationAuth,
    GitHubAuth,
    GitHubSource,
    StaticToken,
)
from service.sources.local_git import LocalGitSource
from service.vectors import VectorStore, create_vector_store

HTTP_TIMEOUT_S = 60.0


class ConfigurationError(RuntimeError):
    """A setting needed for what was asked is missing; the message names it."""


@dataclass
class Services:
    settings: Settings
    db: Engine
    inngest: inngest.Inngest
    http: httpx.AsyncClient
    vectors: VectorStore
    embedder: Embedder
    # One auth per installation, so its token is minted once and reused until it expires.
    _installations: dict[int, AppInstallationAuth] = field(default_factory=dict)
    # One source per local path, so the file runs of a repository share its blob reads.
    _local_sources: dict[Path, LocalGitSource] = field(default_factory=dict)
    # The requests out to GitHub at once, of every repository: within GitHub's concurrency limit
    # however many files are in flight.
    _github_requests: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(REQUESTS_AT_ONCE)
    )

    @classmethod
    def create(cls, settings: Settings) -> "Services":
        http = httpx.AsyncClient(timeout=HTTP_TIMEOUT_S)
        return cls(
            settings=settings,
            db=create_db_engine(settings.sqlalchemy_url),
            inngest=create_client(settings),
            http=http,
            vectors=create_vector_store(settings),
            embedder=create_embedder(settings, http),
        )

    async def aclose(self) -> None:
        await self.vectors.close()
        await self.http.aclose()
        self.db.dispose()

    def source_for(self, repository: ConnectedRepository) -> Source:
        """Where this repository's files come from."""
        if repository.provider is Provider.LOCAL:
            if not repository.local_path:
                raise ConfigurationError(f"local repository {repository.full_name} has no path")
            path = Path(repository.local_path)
            source = self._local_sources.get(path)
            if source is None:
                source = self._local_sources[path] = LocalGitSource(path)
            return source
        return GitHubSource(
            self.http,
            repository.full_name,
            self._github_auth(repository),
            api_url=self.settings.github_api_url,
            requests=self._github_requests,
        )

    def _github_auth(self, repository: ConnectedRepository) -> GitHubAuth:
        settings = self.settings
        if (
            settings.github_app_id
            and settings.github_app_private_key
            and repository.installation_id
        ):
            return AppInstallationAuth(
                self.http,
                app_id=settings.github_app_id,
                private_key=settings.github_app_private_key,
                installation_id=repository.installation_id,
                api_url=settings.github_api_url,
            )
        if settings.github_token:
            return StaticToken(settings.github_token)
        raise ConfigurationError(
            f"{repository.full_name}: set GITHUB_TOKEN, or GITHUB_APP_ID and "
            "GITHUB_APP_PRIVATE_KEY for a repository with an installation id"
        )


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
