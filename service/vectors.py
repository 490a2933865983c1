"""Where chunk embeddings live: this module and vectors_server.py alone talk to Qdrant.

One `VectorStore` interface, two backends:

* `EdgeVectorStore`, the embedded default: Qdrant Edge (the Qdrant engine in process), one shard
  per collection under `root/<collection>/`. Every update is in the shard's write-ahead log before
  it returns, so an acknowledged write survives a kill -9; the shard is flushed every few thousand
  points and on close so that the log, and the replay on the next start, stay short.
* `QdrantServerVectorStore` (service/vectors_server.py, imported only when `QDRANT_URL` is set):
  a Qdrant server through qdrant-client's `AsyncQdrantClient`.

A collection holds one store's chunks. A point is one chunk of one file; its id is `point_id(...)`,
a uuid5 of (collection, repository, path, chunk index), so writing a file again overwrites its
points instead of adding to them. Its payload is `PayloadField`; `repository` and `path` carry
keyword indexes, and the distance is cosine.

Errors: whatever a backend raises is translated here, once, into this tree:

    VectorStoreError                  the backend failed; a retry may succeed
    ├── InvalidCollectionNameError    not 1-128 of ASCII letters, digits, "-" and "_"
    ├── CollectionNotFoundError       used before `ensure_collection` created it
    └── DimensionMismatchError        the collection exists with another vector dimension
"""

import asyncio
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

import qdrant_edge as edge

from service.batching import Batcher
from service.embeddings import Vector
from service.settings import Settings

T = TypeVar("T")

# Fixed forever: every stored point id derives from it, so changing it would orphan them all.
POINT_ID_NAMESPACE = uuid.UUID("e2b6ce4c-7bcd-52c3-a4b9-c4813afd4969")
COLLECTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Edge never flushes on a timer; without a flush its write-ahead log grows without end and is
# replayed in full on every start.
EDGE_FLUSH_EVERY_POINTS = 2_000
EDGE_CONFIG_FILE = "edge_config.json"


class PayloadField(StrEnum):
    REPOSITORY = "repository"
    PATH = "path"
    CHUNK_INDEX = "chunk_index"
    TEXT = "text"
    HEADING_PATH = "heading_path"
    TITLE = "title"
    CONTENT_SHA = "content_sha"


INDEXED_FIELDS = (PayloadField.REPOSITORY, PayloadField.PATH)


class VectorStoreError(Exception):
    """The vector backend failed or refused an operation; `retriable` says whether to retry."""

    retriable = True


class InvalidCollectionNameError(VectorStoreError):
    retriable = False


class CollectionNotFoundError(VectorStoreError):
    retriable = False

    def __init__(self, collection: str) -> None:
        super().__init__(f"vector collection {collection!r} does not exist")
        self.collection = collection


class DimensionMismatchError(VectorStoreError):
    retriable = False

    def __init__(self, collection: str, existing: int, requested: int) -> None:
        super().__init__(
            f"vector collection {collection!r} holds vectors of dimension {existing}, "
            f"not {requested}"
        )
        self.collection = collection
        self.existing = existing
        self.requested = requested


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    chunk_index: int
    text: str
    heading_path: tuple[str, ...]
    title: str | None
    content_sha: str
    vector: Vector


@dataclass(frozen=True, slots=True)
class SearchHit:
    score: float
    repository: str
    path: str
    chunk_index: int
    text: str
    heading_path: tuple[str, ...]
    title: str | None


def point_id(collection: str, repository: str, path: str, chunk_index: int) -> str:
    """The id of a chunk's point: the same inputs give the same id in every process, forever."""
    key = json.dumps([collection, repository, path, chunk_index], ensure_ascii=False)
    return str(uuid.uuid5(POINT_ID_NAMESPACE, key))


class VectorStore(Protocol):
    async def ensure_collection(self, collection: str, dimension: int) -> None:
        """Create the collection if it is missing; refuse one that has another dimension."""

    async def upsert_file(
        self,
        collection: str,
        repository: str,
        path: str,
        chunks: Sequence[ChunkRecord],
        total: int | None = None,
    ) -> None:
        """Write `chunks` (overwriting by id) and delete the file's points from chunk `total`
        on: `chunks` is the whole file when `total` is None, else a part of a file that has
        `total` chunks."""

    async def delete_file(self, collection: str, repository: str, path: str) -> int | None:
        """Delete the file's points; the number deleted when the backend tells it cheaply."""

    async def delete_repository(self, collection: str, repository: str) -> None:
        """Delete every point of `repository` in the collection, and no other."""

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        *,
        limit: int = 10,
        repository: str | None = None,
    ) -> list[SearchHit]:
        """The `limit` closest chunks, best first, optionally from one repository only."""

    async def count(
        self, collection: str, *, repository: str | None = None, path: str | None = None
    ) -> int:
        """How many points the collection holds, optionally of one repository and/or path."""

    async def ready(self) -> None:
        """Return when the backend can serve, else raise VectorStoreError saying why."""

    async def close(self) -> None:
        """Make every write durable and release the backend."""


def create_vector_store(settings: Settings) -> VectorStore:
    """A Qdrant server when `QDRANT_URL` is set, otherwise Qdrant Edge under the data folder."""
    if settings.qdrant_url:
        # Imported here: qdrant-client and gRPC take ~40 MB resident that Edge never uses.
        from qdrant_client import AsyncQdrantClient

        from service.vectors_server import QdrantServerVectorStore

        # The compatibility check is a blocking request in a thread at construction time.
        client = AsyncQdrantClient(
            url=settings.qdrant_url, api_key=settings.qdrant_api_key, check_compatibility=False
        )
        return QdrantServerVectorStore(client)
    return EdgeVectorStore(settings.qdrant_path)


def check_collection_name(collection: str) -> None:
    if not COLLECTION_NAME.fullmatch(collection):
        raise InvalidCollectionNameError(
            f"invalid vector collection name {collection!r}: use 1-128 of ASCII letters, "
            "digits, '-' and '_'"
        )


def chunk_payload(repository: str, path: str, chunk: ChunkRecord) -> dict[str, Any]:
    return {
        PayloadField.REPOSITORY: repository,
        PayloadField.PATH: path,
        PayloadField.CHUNK_INDEX: chunk.chunk_index,
        PayloadField.TEXT: chunk.text,
        PayloadField.HEADING_PATH: list(chunk.heading_path),
        PayloadField.TITLE: chunk.title,
        PayloadField.CONTENT_SHA: chunk.content_sha,
    }


def search_hit(collection: str, score: float, payload: dict[str, Any] | None) -> SearchHit:
    try:
        if payload is None:
            raise KeyError(PayloadField.REPOSITORY)
        return SearchHit(
            score=float(score),
            repository=str(payload[PayloadField.REPOSITORY]),
            path=str(payload[PayloadField.PATH]),
            chunk_index=int(payload[PayloadField.CHUNK_INDEX]),
            text=str(payload[PayloadField.TEXT]),
            heading_path=tuple(str(part) for part in payload[PayloadField.HEADING_PATH]),
            title=payload[PayloadField.TITLE],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VectorStoreError(
            f"a point in vector collection {collection!r} lacks the chunk payload: {exc!r}"
        ) from exc


@dataclass(slots=True)
class _OpenShard:
    shard: edge.EdgeShard
    dimension: int
    points_since_flush: int = 0


class EdgeVectorStore:
    """Qdrant Edge shards under `root`, opened on first use and kept open until `close`.

    Shard calls run in a worker thread: the event loop also serves HTTP and the engine, and an
    update, a flush or a shard's first load (a log replay) can take milliseconds or more. The calls
    of files written at the same time go to the thread together: one thread each would queue them
    behind one another, and behind every other file's work, in the event loop's few threads.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._shards: dict[str, _OpenShard] = {}
        # Guards `_shards`: two threads must never load the same shard (its files are exclusive).
        self._lock = threading.Lock()
        self._calls: Batcher[tuple[str, Callable[[_OpenShard], Any]], Any] = Batcher(self._call_all)

    async def ensure_collection(self, collection: str, dimension: int) -> None:
        check_collection_name(collection)
        await asyncio.to_thread(self._ensure_collection, collection, dimension)

    async def upsert_file(
        self,
        collection: str,
        repository: str,
        path: str,
        chunks: Sequence[ChunkRecord],
        total: int | None = None,
    ) -> None:
        surplus = _edge_file_filter(
            repository, path, from_chunk=len(chunks) if total is None else total
        )

        def write(opened: _OpenShard) -> None:
            # Made here, one file at a time: the points of every file waiting for the thread
            # would hold their vectors as lists of Python floats, 8 times their size.
            points = [
                edge.Point(
                    point_id(collection, repository, path, chunk.chunk_index),
                    chunk.vector.tolist(),
                    chunk_payload(repository, path, chunk),
                )
                for chunk in chunks
            ]
            if points:
                opened.shard.update(edge.UpdateOperation.upsert_points(points))
            opened.shard.update(edge.UpdateOperation.delete_points_by_filter(surplus))
            self._flush_if_due(opened, len(points))

        await self._run(collection, write)

    async def delete_file(self, collection: str, repository: str, path: str) -> int | None:
        file_filter = _edge_file_filter(repository, path)

        def delete(opened: _OpenShard) -> int:
            deleted = opened.shard.count(edge.CountRequest(exact=True, filter=file_filter))
            opened.shard.update(edge.UpdateOperation.delete_points_by_filter(file_filter))
            return deleted

        return await self._run(collection, delete)

    async def delete_repository(self, collection: str, repository: str) -> None:
        of_repository = _edge_filter(repository=repository)
        assert of_repository is not None  # without a condition the filter would match every point
        await self._run(
            collection,
            lambda opened: opened.shard.update(
                edge.UpdateOperation.delete_points_by_filter(of_repository)
            ),
        )

    async def search(
        self,
        collection: str,
        vector: Sequence[float],
        *,
        limit: int = 10,
        repository: str | None = None,
    ) -> list[SearchHit]:
        request = edge.QueryRequest(
            limit=limit,
            query=edge.Query.Nearest(list(vector)),
            filter=_edge_filter(repository=repository),
            with_payload=True,
        )
        scored = await self._run(collection, lambda opened: opened.shard.query(request))
        return [search_hit(collection, point.score, point.payload) for point in scored]

    async def count(
        self, collection: str, *, repository: str | None = None, path: str | None = None
    ) -> int:
        request = edge.CountRequest(
            exact=True, filter=_edge_filter(repository=repository, path=path)
        )
        return await self._run(collection, lambda opened: opened.shard.count(request))

    async def ready(self) -> None:
        await asyncio.to_thread(self._check_root)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_all)

    async def _run(self, collection: str, operation: Callable[[_OpenShard], T]) -> T:
        check_collection_name(collection)
        result: T = await self._calls((collection, operation))
        return result

    async def _call_all(
        self, calls: list[tuple[str, Callable[[_OpenShard], Any]]]
    ) -> list[Any | Exception]:
        def run(collection: str, operation: Callable[[_OpenShard], Any]) -> Any:
            try:
                return self._call(collection, operation)
            except Exception as exc:
                return exc

        return await asyncio.to_thread(lambda: [run(*call) for call in calls])

    def _call(self, collection: str, operation: Callable[[_OpenShard], T]) -> T:
        opened = self._opened(collection, create_with_dimension=None)
        try:
            return operation(opened)
        except Exception as exc:  # Qdrant Edge raises bare `Exception` for every failure
            raise VectorStoreError(f"Qdrant Edge failed on {collection!r}: {exc}") from exc

    def _ensure_collection(self, collection: str, dimension: int) -> None:
        opened = self._opened(collection, create_with_dimension=dimension)
        if opened.dimension != dimension:
            raise DimensionMismatchError(collection, opened.dimension, dimension)
        try:
            # Also repairs a shard whose creation was interrupted before its indexes were made.
            indexed = set(opened.shard.info().payload_schema)
            for field in INDEXED_FIELDS:
                if field not in indexed:
                    opened.shard.update(
                        edge.UpdateOperation.create_field_index(
                            field, edge.PayloadSchemaType.Keyword
                        )
                    )
        except Exception as exc:
            raise VectorStoreError(f"Qdrant Edge failed on {collection!r}: {exc}") from exc

    def _opened(self, collection: str, *, create_with_dimension: int | None) -> _OpenShard:
        with self._lock:
            opened = self._shards.get(collection)
            if opened is None:
                opened = self._open(collection, create_with_dimension)
                self._shards[collection] = opened
            return opened

    def _open(self, collection: str, create_with_dimension: int | None) -> _OpenShard:
        directory = self._root / collection
        config_file = directory / EDGE_CONFIG_FILE
        try:
            if config_file.exists():
                return _OpenShard(edge.EdgeShard.load(str(directory)), _edge_dimension(config_file))
            if create_with_dimension is None:
                raise CollectionNotFoundError(collection)
            directory.mkdir(parents=True, exist_ok=True)
            config = edge.EdgeConfig(
                vectors=edge.EdgeVectorParams(
                    size=create_with_dimension, distance=edge.Distance.Cosine
                )
            )
            return _OpenShard(edge.EdgeShard.create(str(directory), config), create_with_dimension)
        except VectorStoreError:
            raise
        except Exception as exc:
            raise VectorStoreError(
                f"cannot open Qdrant Edge shard {str(directory)!r}: {exc}"
            ) from exc

    def _check_root(self) -> None:
        """The shards' folder, or the folder it will be made in, can be written."""
        folder = self._root
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise VectorStoreError(f"Qdrant Edge cannot write to {str(folder)!r}")

    def _flush_if_due(self, opened: _OpenShard, written: int) -> None:
        with self._lock:
            opened.points_since_flush += written
            due = opened.points_since_flush >= EDGE_FLUSH_EVERY_POINTS
            if due:
                opened.points_since_flush = 0
        if due:
            opened.shard.flush()

    def _close_all(self) -> None:
        with self._lock:
            shards, self._shards = self._shards, {}
        failures: list[str] = []
        for collection, opened in shards.items():
            try:
                opened.shard.flush()
                opened.shard.close()
            except Exception as exc:
                failures.append(f"{collection!r}: {exc}")
        if failures:
            raise VectorStoreError("cannot close Qdrant Edge shards: " + "; ".join(failures))


def _edge_dimension(config_file: Path) -> int:
    # The shard persists its configuration here; the Python bindings offer no getter for it.
    try:
        config = json.loads(config_file.read_text())
        return int(config["vectors"][""]["size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VectorStoreError(f"unreadable Qdrant Edge config {str(config_file)!r}") from exc


def _edge_filter(*, repository: str | None = None, path: str | None = None) -> edge.Filter | None:
    conditions: list[Any] = [
        edge.FieldCondition(field, match=edge.MatchValue(value))
        for field, value in ((PayloadField.REPOSITORY, repository), (PayloadField.PATH, path))
        if value is not None
    ]
    return edge.Filter(must=conditions) if conditions else None


def _edge_file_filter(repository: str, path: str, *, from_chunk: int = 0) -> edge.Filter:
    return edge.Filter(
        must=[
            edge.FieldCondition(PayloadField.REPOSITORY, match=edge.MatchValue(repository)),
            edge.FieldCondition(PayloadField.PATH, match=edge.MatchValue(path)),
            edge.FieldCondition(
                PayloadField.CHUNK_INDEX, range=edge.RangeFloat(gte=float(from_chunk))
            ),
        ]
    )
