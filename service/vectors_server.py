"""The `VectorStore` on a Qdrant server, through qdrant-client's `AsyncQdrantClient`.

A module of its own so that qdrant-client and gRPC (~40 MB resident) are imported only when
`QDRANT_URL` is set: `create_vector_store` (service/vectors.py) imports it then, and a service on
the embedded Qdrant Edge never does. Points, payloads and the error tree are service/vectors.py's;
qdrant-client's exceptions are translated into that tree here, once.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from qdrant_client import AsyncQdrantClient, models
from qdrant_client.common.client_exceptions import QdrantException
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

from service.vectors import (
    INDEXED_FIELDS,
    ChunkRecord,
    CollectionNotFoundError,
    DimensionMismatchError,
    PayloadField,
    SearchHit,
    VectorStoreError,
    check_collection_name,
    chunk_payload,
    point_id,
    search_hit,
)


class QdrantServerVectorStore:
    """A Qdrant server (or qdrant-client's local mode, which speaks the same client API).

    Every write waits until the server has applied it, so an acknowledged upsert is searchable.
    """

    def __init__(self, client: AsyncQdrantClient) -> None:
        self._client = client

    async def ensure_collection(self, collection: str, dimension: int) -> None:
        check_collection_name(collection)
        async with _translated(collection):
            if not await self._client.collection_exists(collection):
                await self._create_collection(collection, dimension)
            info = await self._client.get_collection(collection)
            params = info.config.params.vectors
            if not isinstance(params, models.VectorParams):
                raise VectorStoreError(f"vector collection {collection!r} uses named vectors")
            if params.size != dimension:
                raise DimensionMismatchError(collection, params.size, dimension)
            for field in INDEXED_FIELDS:
                if field not in info.payload_schema:
                    await self._client.create_payload_index(
                        collection, field, models.PayloadSchemaType.KEYWORD, wait=True
                    )

    async def upsert_file(
        self,
        collection: str,
        repository: str,
        path: str,
        chunks: Sequence[ChunkRecord],
        total: int | None = None,
    ) -> None:
        check_collection_name(collection)
        points = [
            models.PointStruct(
                id=point_id(collection, repository, path, chunk.chunk_index),
                vector=chunk.vector.tolist(),
                payload=chunk_payload(repository, path, chunk),
            )
            for chunk in chunks
        ]
        surplus = _server_file_filter(
            repository, path, from_chunk=len(chunks) if total is None else total
        )
        async with _translated(collection):
            if points:
                await self._client.upsert(collection, points=points, wait=True)
            await self._client.delete(
                collection, points_selector=models.FilterSelector(filter=surplus), wait=True
            )

    async def delete_file(self, collection: str, repository: str, path: str) -> int | None:
        check_collection_name(collection)
        selector = models.FilterSelector(filter=_server_file_filter(repository, path))
        async with _translated(collection):
            await self._client.delete(collection, points_selector=selector, wait=True)
        return None  # the server does not say how many; counting first costs a round trip

    async def delete_repository(self, collection: str, repository: str) -> None:
        check_collection_name(collection)
        of_repository = _server_filter(repository=repository)
        assert of_repository is not None  # without a condition the filter would match every point
        async with _translated(collection):
            await self._client.delete(
                collection, points_selector=models.FilterSelector(filter=of_repository), wait=True
            )

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        *,
        limit: int = 10,
        repository: str | None = None,
    ) -> list[SearchHit]:
        check_collection_name(collection)
        async with _translated(collection):
            response = await self._client.query_points(
                collection,
                query=list(vector),
                query_filter=_server_filter(repository=repository),
                limit=limit,
                with_payload=True,
            )
        return [search_hit(collection, point.score, point.payload) for point in response.points]

    async def count(
        self, collection: str, *, repository: str | None = None, path: str | None = None
    ) -> int:
        check_collection_name(collection)
        async with _translated(collection):
            result = await self._client.count(
                collection, count_filter=_server_filter(repository=repository, path=path)
            )
        return result.count

    async def ready(self) -> None:
        async with _translated("*"):
            await self._client.get_collections()

    async def close(self) -> None:
        async with _translated("*"):
            await self._client.close()

    async def _create_collection(self, collection: str, dimension: int) -> None:
        vectors = models.VectorParams(size=dimension, distance=models.Distance.COSINE)
        try:
            await self._client.create_collection(collection, vectors_config=vectors)
        except (ApiException, ValueError):
            # Another worker may have created it between the check and the create.
            if not await self._client.collection_exists(collection):
                raise


@asynccontextmanager
async def _translated(collection: str) -> AsyncIterator[None]:
    try:
        yield
    except UnexpectedResponse as exc:
        if exc.status_code == 404:
            raise CollectionNotFoundError(collection) from exc
        raise VectorStoreError(f"Qdrant failed on {collection!r}: {exc}") from exc
    except (ApiException, QdrantException) as exc:
        raise VectorStoreError(f"Qdrant failed on {collection!r}: {exc}") from exc
    except ValueError as exc:
        # qdrant-client's local mode reports every problem as a ValueError.
        if str(exc) == f"Collection {collection} not found":
            raise CollectionNotFoundError(collection) from exc
        raise VectorStoreError(f"Qdrant failed on {collection!r}: {exc}") from exc


def _server_filter(
    *, repository: str | None = None, path: str | None = None
) -> models.Filter | None:
    conditions: list[models.Condition] = [
        models.FieldCondition(key=field, match=models.MatchValue(value=value))
        for field, value in ((PayloadField.REPOSITORY, repository), (PayloadField.PATH, path))
        if value is not None
    ]
    return models.Filter(must=conditions) if conditions else None


def _server_file_filter(repository: str, path: str, *, from_chunk: int = 0) -> models.Filter:
    return models.Filter(
        must=[
            models.FieldCondition(
                key=PayloadField.REPOSITORY, match=models.MatchValue(value=repository)
            ),
            models.FieldCondition(key=PayloadField.PATH, match=models.MatchValue(value=path)),
            models.FieldCondition(key=PayloadField.CHUNK_INDEX, range=models.Range(gte=from_chunk)),
        ]
    )
