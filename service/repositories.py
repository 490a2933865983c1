"""Connecting repositories: the organization, its default store, and the repository row."""

import hashlib
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from service.models import ConnectedRepository, Organization, Provider, Store

if TYPE_CHECKING:  # the embedders load onnxruntime: commands that only need names skip it
    from service.embeddings import Embedder

DEFAULT_ORG = "default"
DEFAULT_STORE = "docs"


class RepositoryError(ValueError):
    """A repository that cannot be connected; the message says why."""


def ensure_org(session: Session, slug: str) -> Organization:
    org = session.exec(select(Organization).where(Organization.slug == slug)).first()
    if org is None:
        org = Organization(slug=slug, name=slug)
        session.add(org)
        session.flush()
    return org


def ensure_store(session: Session, org: Organization, name: str, embedder: "Embedder") -> Store:
    store = session.exec(
        select(Store).where(Store.organization_id == org.id, Store.name == name)
    ).first()
    if store is None:
        assert org.id is not None
        store = Store(
            organization_id=org.id,
            name=name,
            collection=f"{org.slug}-{name}",
            embedding_model=embedder.model,
            dimension=embedder.dimension,
        )
        session.add(store)
        session.flush()
    return store


def connect(
    session: Session,
    *,
    provider: Provider,
    full_name: str,
    external_id: str,
    default_branch: str,
    embedder: "Embedder",
    org_slug: str = DEFAULT_ORG,
    local_path: Path | None = None,
    installation_id: int | None = None,
) -> ConnectedRepository:
    org = ensure_org(session, org_slug)
    existing = session.exec(
        select(ConnectedRepository).where(
            ConnectedRepository.organization_id == org.id,
            ConnectedRepository.provider == provider,
            ConnectedRepository.full_name == full_name,
        )
    ).first()
    if existing is not None:
        where = f" at {existing.local_path}" if existing.local_path else ""
        raise RepositoryError(f"{full_name} is already connected{where} (id {existing.id})")
    store = ensure_store(session, org, DEFAULT_STORE, embedder)
    assert org.id is not None and store.id is not None
    repository = ConnectedRepository(
        organization_id=org.id,
        provider=provider,
        external_id=external_id,
        full_name=full_name,
        default_branch=default_branch,
        local_path=str(local_path) if local_path else None,
        installation_id=installation_id,
        webhook_secret=secrets.token_hex(32),
        store_id=store.id,
    )
    session.add(repository)
    session.flush()
    return repository


def local_external_id(path: Path) -> str:
    """A stable id for a local repository, standing in for GitHub's numeric repository id."""
    return "local-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def find_local(session: Session, path: Path) -> ConnectedRepository | None:
    return session.exec(
        select(ConnectedRepository).where(
            ConnectedRepository.external_id == local_external_id(path)
        )
    ).first()
