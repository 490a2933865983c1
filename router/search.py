"""`search.query`: the chunks of the caller's documentation closest in meaning to a question.

The question is embedded with the service's embedder and looked up in every store of the caller's
organization that was built with that embedder's model (or in the one store named), then the
hits of all stores are merged best first. A store whose collection does not exist yet (nothing
ingested) simply has no hits.

A repository is searched in its current store only. The store it moved from (its `lightfast.yml`
names another) keeps its chunks until a job has indexed it into the new one, and a failed clean-up
may leave them longer: found there, they would show every file twice, and deleted files again.
"""

import logging
from pathlib import PurePosixPath
from urllib.parse import quote

from pydantic import Field, StrictInt
from sqlmodel import Session, select

from router.errors import ErrorCode, ProcedureError
from router.job_views import github_web_origin
from router.procedure import Context, ProcedureInput, ProcedureOutput
from service.embeddings import EmbedderMismatch, EmbeddingError, check_store_model
from service.models import ConnectedRepository, Provider, Store
from service.vectors import CollectionNotFoundError, SearchHit, VectorStoreError

log = logging.getLogger("router.search")

DEFAULT_LIMIT = 5
MAX_LIMIT = 50
MAX_QUERY_CHARS = 2_000
# Hits asked of a store at most, when the closest ones are chunks a repository left there.
MAX_FETCH = 1_000


class SearchInput(ProcedureInput):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    limit: StrictInt = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    repository: str | None = None  # a repository's full name: only its chunks
    store: str | None = None  # a store's name: only that store


class Hit(ProcedureOutput):
    score: float
    store: str
    repository: str
    path: str
    chunk_index: int
    heading_path: list[str]
    title: str | None
    text: str
    url: str | None  # the file on GitHub at the commit its index was made from
    local_path: str | None  # the file in a local repository


class SearchResult(ProcedureOutput):
    organization: str
    hits: list[Hit]


async def search_query(context: Context, input: SearchInput) -> SearchResult:
    services = context.services
    stores = await context.in_session(_stores, context.caller.organization_id, input.store)
    if input.store is not None and not stores:
        raise ProcedureError(
            ErrorCode.NOT_FOUND,
            f"organization {context.caller.organization} has no store {input.store!r}",
        )
    usable = []
    for store in stores:
        try:
            check_store_model(store.embedding_model, store.dimension, services.embedder)
        except EmbedderMismatch as exc:
            if input.store is not None:
                raise ProcedureError(ErrorCode.PRECONDITION_FAILED, str(exc)) from exc
            log.info("search skips store %s: %s", store.name, exc)
            continue
        usable.append(store)
    hits: list[Hit] = []
    where = await context.in_session(_repositories, context.caller.organization_id)
    if input.repository is not None and input.repository not in where:
        raise ProcedureError(
            ErrorCode.NOT_FOUND,
            f"organization {context.caller.organization} has no repository {input.repository!r}",
        )
    if usable:
        vector = await _embed(context, input.query)
        for store in usable:
            # Repositories that have moved to another store: their chunks here are left over.
            moved = {name for name, row in where.items() if row.store_id != store.id}
            if input.repository not in moved:
                found = await _search(context, store, vector, input, moved)
                hits += [_hit(store.name, hit) for hit in found]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    hits = hits[: input.limit]
    github = github_web_origin(services.settings.github_api_url)
    for hit in hits:
        _locate(hit, where.get(hit.repository), github)
    return SearchResult(organization=context.caller.organization, hits=hits)


def _repositories(session: Session, organization_id: int) -> dict[str, ConnectedRepository]:
    query = select(ConnectedRepository).where(
        ConnectedRepository.organization_id == organization_id
    )
    return {repository.full_name: repository for repository in session.exec(query)}


def _locate(hit: Hit, repository: ConnectedRepository | None, github: str) -> None:
    if repository is None:
        return
    if repository.provider is Provider.LOCAL and repository.local_path:
        hit.local_path = str(PurePosixPath(repository.local_path) / hit.path)
    elif repository.provider is Provider.GITHUB and repository.last_ingested_sha:
        path = quote(hit.path)
        hit.url = f"{github}/{repository.full_name}/blob/{repository.last_ingested_sha}/{path}"


def _stores(session: Session, organization_id: int, name: str | None) -> list[Store]:
    query = select(Store).where(Store.organization_id == organization_id)
    if name is not None:
        query = query.where(Store.name == name)
    return list(session.exec(query.order_by(Store.name)).all())


async def _embed(context: Context, text: str) -> list[float]:
    try:
        [vector] = await context.services.embedder.embed([text])
    except EmbeddingError as exc:
        raise ProcedureError(
            ErrorCode.BAD_GATEWAY, f"the question could not be embedded: {exc}"
        ) from exc
    return vector.tolist()  # type: ignore[no-any-return]


async def _search(
    context: Context, store: Store, vector: list[float], input: SearchInput, moved: set[str]
) -> list[SearchHit]:
    """The store's closest hits, none of a repository in `moved`: when their left-over chunks
    are among the closest, more are asked for, up to MAX_FETCH."""
    asked = input.limit
    while True:
        try:
            found = await context.services.vectors.search(
                store.collection, vector, limit=asked, repository=input.repository
            )
        except CollectionNotFoundError:
            return []
        except VectorStoreError as exc:
            raise ProcedureError(
                ErrorCode.INTERNAL_SERVER_ERROR, f"store {store.name} could not be searched: {exc}"
            ) from exc
        kept = [hit for hit in found if hit.repository not in moved]
        if len(kept) >= input.limit or len(found) < asked or asked >= MAX_FETCH:
            return kept[: input.limit]
        asked = min(asked * 4, MAX_FETCH)


def _hit(store: str, hit: SearchHit) -> Hit:
    return Hit(
        score=hit.score,
        store=store,
        repository=hit.repository,
        path=hit.path,
        chunk_index=hit.chunk_index,
        heading_path=list(hit.heading_path),
        title=hit.title,
        text=hit.text,
        url=None,
        local_path=None,
    )
