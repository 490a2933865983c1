"""Connecting repositories: the organization, its default store, and the repository row; what a
local checkout or GitHub says about a repository before it is connected."""

import asyncio
import hashlib
import re
import secrets
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlmodel import Session, col, select

from service.db import insert_skipping_existing
from service.models import ConnectedRepository, Organization, Provider, Store

_COLLECTION_UNSAFE = re.compile(r"[^a-z0-9_-]+")
COLLECTION_BASE_CHARS = 110  # a collection name has at most 128, with room for the suffix

if TYPE_CHECKING:  # the embedders load onnxruntime: commands that only need names skip it
    from service.deps import Services
    from service.embeddings import Embedder
    from service.sources.github import GitHubRepository

GITHUB_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+")
# A slug is part of collection names and of the CLI's token file names: safe in both.
ORG_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ORG_SLUG_RULE = "1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit"

DEFAULT_ORG = "default"
DEFAULT_STORE = "docs"

Row = TypeVar("Row", Organization, Store, ConnectedRepository)


class RepositoryError(ValueError):
    """A repository that cannot be connected; the message says why."""


class OrgSlugError(ValueError):
    """An organization slug that breaks `ORG_SLUG`; the message says how."""


def check_org_slug(slug: str) -> str:
    """`slug`, or an `OrgSlugError` when it breaks `ORG_SLUG`."""
    if not ORG_SLUG.fullmatch(slug):
        shown = repr(slug) if len(slug) <= 100 else f"a slug of {len(slug)} characters"
        raise OrgSlugError(f"{shown} is not an organization slug: use {ORG_SLUG_RULE}")
    return slug


def find_org(session: Session, slug: str) -> Organization | None:
    return session.exec(select(Organization).where(Organization.slug == slug)).first()


def ensure_org(session: Session, slug: str) -> Organization:
    """The organization `slug`, created on first use (an `OrgSlugError` for a bad new slug)."""
    org = find_org(session, slug)
    if org is None:
        # None when a concurrent call created it first: then that one is read.
        org = _insert_new(session, Organization(slug=check_org_slug(slug), name=slug))
        org = org or find_org(session, slug)
        assert org is not None
    return org


def ensure_store(session: Session, org: Organization, name: str, embedder: "Embedder") -> Store:
    """The organization's store `name`, created on first use."""
    query = select(Store).where(Store.organization_id == org.id, Store.name == name)
    store = session.exec(query).first()
    if store is None:
        assert org.id is not None
        new = Store(
            organization_id=org.id,
            name=name,
            collection=_new_collection(session, org.slug, name),
            embedding_model=embedder.model,
            dimension=embedder.dimension,
        )
        store = _insert_new(session, new) or session.exec(query).one()
    return store


def _insert_new(session: Session, row: Row) -> Row | None:
    """`row`, written; None when a row with one of its unique keys exists. A concurrent call that
    writes the same key first is waited for (PostgreSQL waits on its transaction, SQLite takes
    writes one at a time), so afterwards its row is visible here, never a unique-key error."""
    model = type(row)
    statement = insert_skipping_existing(session, model).values(row.model_dump(exclude={"id"}))
    new_id = session.execute(statement.returning(col(model.id))).scalar_one_or_none()
    return None if new_id is None else session.get(model, new_id)


def _new_collection(session: Session, slug: str, name: str) -> str:
    """`<org slug>-<store name>`, in the characters a collection name may have; when another
    store has it (organization `a`'s `b-docs` and `a-b`'s `docs`), with a random suffix."""
    collection = _COLLECTION_UNSAFE.sub("-", f"{slug}-{name}".lower())[:COLLECTION_BASE_CHARS]
    while session.exec(select(Store.id).where(Store.collection == collection)).first():
        collection = f"{collection[:COLLECTION_BASE_CHARS]}-{secrets.token_hex(4)}"
    return collection


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
    shown = str(local_path or full_name)
    _refuse_connected(session, org, provider, full_name, external_id, shown)
    store = ensure_store(session, org, DEFAULT_STORE, embedder)
    assert org.id is not None and store.id is not None
    repository = _insert_new(
        session,
        ConnectedRepository(
            organization_id=org.id,
            provider=provider,
            external_id=external_id,
            full_name=full_name,
            default_branch=default_branch,
            local_path=str(local_path) if local_path else None,
            installation_id=installation_id,
            webhook_secret=secrets.token_hex(32),
            store_id=store.id,
        ),
    )
    if repository is None:
        # A concurrent call connected it since the check; its row is visible now, so the
        # answer is the one a later call gets.
        _refuse_connected(session, org, provider, full_name, external_id, shown)
        raise RepositoryError(f"{shown} is already connected")
    return repository


def _refuse_connected(
    session: Session,
    org: Organization,
    provider: Provider,
    full_name: str,
    external_id: str,
    shown: str,
) -> None:
    """A `RepositoryError` when the repository, or another of the same name in the organization,
    is connected already."""
    # Pushes are matched to a connection by the repository's id (a folder's, GitHub's), and
    # checked with that connection's webhook secret: one connection per repository.
    same = session.exec(
        select(ConnectedRepository).where(
            ConnectedRepository.provider == provider,
            ConnectedRepository.external_id == external_id,
        )
    ).first()
    if same is not None:
        # Another organization's repository is not named: its name and id are its own.
        which = "by another organization"
        if same.organization_id == org.id:
            which = f"as {same.full_name} (id {same.id})"
        raise RepositoryError(f"{shown} is already connected {which}")
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


def local_external_id(path: Path) -> str:
    """A stable id for a local repository, standing in for GitHub's numeric repository id."""
    return "local-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def find_local(session: Session, path: Path) -> ConnectedRepository | None:
    return session.exec(
        select(ConnectedRepository).where(
            ConnectedRepository.external_id == local_external_id(path)
        )
    ).first()


def _git(path: Path, *args: str) -> str | None:
    """git's output, or None when it fails."""
    result = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def repository_top(path: Path) -> Path:
    """The top folder of the git repository at `path`, also from inside its `.git` folder (the
    repository's own folder for a bare one)."""
    found = _git(path, "rev-parse", "--is-bare-repository", "--is-inside-git-dir", "--git-dir")
    if found is None:
        raise RepositoryError(f"{path} is not a git repository")
    bare, in_git_dir, git_dir = found.split("\n")
    if bare == "true":
        return (path / git_dir).resolve()
    work_tree = (path / git_dir).parent if in_git_dir == "true" else path
    return Path(_git(work_tree, "rev-parse", "--show-toplevel") or work_tree).resolve()


async def local_checkout(path: Path, branch: str | None) -> tuple[Path, str]:
    """The top folder of the git repository at `path`, and the branch to index (the checked-out
    one unless `branch` is given); a `RepositoryError` saying what is wrong otherwise."""

    def inspect() -> tuple[Path, str]:
        if not path.is_absolute():
            raise RepositoryError(f"{path} is not an absolute path")
        try:
            folder = path.is_dir()
        except OSError as exc:  # a name too long, a folder the service may not read
            raise RepositoryError(f"{path} cannot be read: {exc.strerror}") from exc
        if not folder:
            raise RepositoryError(f"{path} is not a folder on the service's machine")
        top = repository_top(path)
        chosen = branch or _git(top, "symbolic-ref", "--quiet", "--short", "HEAD")
        if not chosen:
            raise RepositoryError(f"HEAD of {top} is detached: name the branch to index")
        if _git(top, "rev-parse", "--verify", "--quiet", f"refs/heads/{chosen}") is None:
            raise RepositoryError(f"{top} has no branch {chosen}")
        return top, chosen

    return await asyncio.to_thread(inspect)


async def describe_github(
    services: "Services", full_name: str, branch: str | None, installation_id: int | None
) -> "GitHubRepository":
    """What GitHub says about the repository, asked with the credentials ingestion will use."""
    from service.deps import ConfigurationError
    from service.sources import SourceError
    from service.sources.github import GitHubSource

    if not GITHUB_NAME.fullmatch(full_name):
        raise RepositoryError(f"{full_name!r} is not a GitHub OWNER/NAME")
    # Never saved: `source_for` reads only the provider, the name and the installation id.
    candidate = ConnectedRepository(
        organization_id=0,
        provider=Provider.GITHUB,
        external_id="",
        full_name=full_name,
        default_branch="",
        installation_id=installation_id,
        webhook_secret="",
        store_id=0,
    )
    try:
        source = services.source_for(candidate)
        assert isinstance(source, GitHubSource)
        found = await source.describe()
        await source.resolve(branch or found.default_branch)
    except ConfigurationError as exc:
        raise RepositoryError(f"cannot read GitHub: {exc}") from exc
    except SourceError as exc:
        raise RepositoryError(str(exc)) from exc
    return found
