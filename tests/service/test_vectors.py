"""The VectorStore contract, run on Qdrant Edge and on qdrant-client (its local mode), plus what
only the embedded Edge store promises: its data outlives a close and a kill -9."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge
from qdrant_client import AsyncQdrantClient

from service.embeddings import Vector
from service.settings import Settings
from service.vectors import (
    ChunkRecord,
    CollectionNotFoundError,
    DimensionMismatchError,
    EdgeVectorStore,
    InvalidCollectionNameError,
    VectorStore,
    VectorStoreError,
    create_vector_store,
    point_id,
)
from service.vectors_server import QdrantServerVectorStore

pytestmark = pytest.mark.anyio

DIMENSION = 8
COLLECTION = "store_docs-1"
REPO = "acme/handbook"
OTHER_REPO = "acme/runbooks"
REPO_ROOT = Path(__file__).resolve().parents[2]
# qdrant-client's local mode keeps no payload indexes and says so; the server store makes them.
LOCAL_MODE_INDEX_WARNING = "ignore:Payload indexes have no effect in the local Qdrant:UserWarning"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(
    params=[
        pytest.param("edge", id="edge"),
        pytest.param(
            "server",
            id="qdrant-client-local",
            marks=pytest.mark.filterwarnings(LOCAL_MODE_INDEX_WARNING),
        ),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    made: VectorStore
    if request.param == "edge":
        made = EdgeVectorStore(tmp_path / "qdrant")
    else:
        made = QdrantServerVectorStore(AsyncQdrantClient(location=":memory:"))
    await made.ensure_collection(COLLECTION, DIMENSION)
    yield made
    await made.close()


def random_vectors(seed: int, count: int) -> list[Vector]:
    return list(np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32))


def make_chunks(
    seed: int, count: int, *, sha: str = "blob-1", label: str = ""
) -> list[ChunkRecord]:
    return [
        ChunkRecord(
            chunk_index=index,
            text=f"{label}chunk {index} of seed {seed}",
            heading_path=("Guide", f"Part {index}"),
            title=f"Title {seed}" if seed % 2 else None,
            content_sha=sha,
            vector=vector,
        )
        for index, vector in enumerate(random_vectors(seed, count))
    ]


def top_entries(root: Path) -> list[str]:
    """Everything under `root`, two levels deep, as sorted relative paths."""
    return sorted(str(path.relative_to(root)) for path in [*root.glob("*"), *root.glob("*/*")])


def nudged(vector: Vector, seed: int = 99) -> list[float]:
    noise = np.random.default_rng(seed).normal(scale=0.01, size=DIMENSION)
    return [float(x) for x in np.asarray(vector) + noise]


async def test_search_returns_the_closest_files_chunk_first_with_its_payload(
    store: VectorStore,
) -> None:
    files = {"a.md": make_chunks(1, 3), "docs/b.md": make_chunks(2, 2), "c.mdx": make_chunks(3, 4)}
    for path, chunks in files.items():
        await store.upsert_file(COLLECTION, REPO, path, chunks)
    target = files["docs/b.md"][1]

    hits = await store.search(COLLECTION, nudged(target.vector), limit=4)

    assert len(hits) == 4
    best = hits[0]
    assert (best.repository, best.path, best.chunk_index) == (REPO, "docs/b.md", 1)
    assert best.text == target.text
    assert best.heading_path == ("Guide", "Part 1")
    assert best.title is None
    assert best.score > 0.99
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


async def test_a_title_survives_the_round_trip(store: VectorStore) -> None:
    chunks = make_chunks(5, 1)
    await store.upsert_file(COLLECTION, REPO, "titled.md", chunks)

    [hit] = await store.search(COLLECTION, chunks[0].vector.tolist(), limit=1)

    assert hit.title == "Title 5"


async def test_writing_a_file_again_overwrites_its_points_instead_of_adding(
    store: VectorStore,
) -> None:
    await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 3))
    rewritten = make_chunks(1, 3, sha="blob-2", label="new ")

    await store.upsert_file(COLLECTION, REPO, "a.md", rewritten)

    assert await store.count(COLLECTION) == 3
    hits = await store.search(COLLECTION, rewritten[2].vector.tolist(), limit=3)
    assert {hit.text for hit in hits} == {chunk.text for chunk in rewritten}


async def test_a_shrunk_file_keeps_only_its_new_chunks(store: VectorStore) -> None:
    await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 5))
    await store.upsert_file(COLLECTION, REPO, "b.md", make_chunks(2, 3))
    await store.upsert_file(COLLECTION, OTHER_REPO, "a.md", make_chunks(3, 5))

    await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(4, 2))

    assert await store.count(COLLECTION, repository=REPO, path="a.md") == 2
    assert await store.count(COLLECTION, repository=REPO, path="b.md") == 3
    assert await store.count(COLLECTION, repository=OTHER_REPO, path="a.md") == 5
    hits = await store.search(COLLECTION, make_chunks(1, 5)[4].vector.tolist(), limit=20)
    assert sorted(
        hit.chunk_index for hit in hits if (hit.repository, hit.path) == (REPO, "a.md")
    ) == [0, 1]


async def test_a_file_written_in_parts_keeps_every_part_and_drops_what_is_past_it(
    store: VectorStore,
) -> None:
    await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 9))  # the old version
    chunks = make_chunks(2, 5)

    await store.upsert_file(COLLECTION, REPO, "a.md", chunks[:2], total=5)
    await store.upsert_file(COLLECTION, REPO, "a.md", chunks[2:4], total=5)
    await store.upsert_file(COLLECTION, REPO, "a.md", chunks[4:], total=5)

    assert await store.count(COLLECTION, repository=REPO, path="a.md") == 5
    for chunk in chunks:
        (hit,) = await store.search(COLLECTION, chunk.vector.tolist(), limit=1)
        assert (hit.chunk_index, hit.text) == (chunk.chunk_index, chunk.text)


async def test_writing_a_file_with_no_chunks_removes_it(store: VectorStore) -> None:
    await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 4))
    await store.upsert_file(COLLECTION, REPO, "b.md", make_chunks(2, 1))

    await store.upsert_file(COLLECTION, REPO, "a.md", [])

    assert await store.count(COLLECTION, path="a.md") == 0
    assert await store.count(COLLECTION) == 1


async def test_delete_file_removes_only_that_file(store: VectorStore) -> None:
    await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 4))
    await store.upsert_file(COLLECTION, REPO, "b.md", make_chunks(2, 2))
    await store.upsert_file(COLLECTION, OTHER_REPO, "a.md", make_chunks(3, 3))

    deleted = await store.delete_file(COLLECTION, REPO, "a.md")

    if isinstance(store, EdgeVectorStore):
        assert deleted == 4
    else:
        assert deleted in (4, None)
    assert await store.count(COLLECTION, repository=REPO, path="a.md") == 0
    assert await store.count(COLLECTION, repository=REPO, path="b.md") == 2
    assert await store.count(COLLECTION, repository=OTHER_REPO, path="a.md") == 3
    assert await store.delete_file(COLLECTION, REPO, "a.md") in (0, None)


async def test_repository_filter_limits_search_and_count(store: VectorStore) -> None:
    near = make_chunks(1, 2)
    await store.upsert_file(COLLECTION, REPO, "a.md", near)
    await store.upsert_file(COLLECTION, OTHER_REPO, "far.md", make_chunks(2, 3))

    hits = await store.search(COLLECTION, near[0].vector.tolist(), limit=10, repository=OTHER_REPO)

    assert len(hits) == 3
    assert {hit.repository for hit in hits} == {OTHER_REPO}
    assert await store.count(COLLECTION, repository=REPO) == 2
    assert await store.count(COLLECTION, repository=OTHER_REPO) == 3
    assert await store.count(COLLECTION, repository="acme/unknown") == 0
    assert await store.count(COLLECTION) == 5


async def test_ensure_collection_again_keeps_the_points(store: VectorStore) -> None:
    await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 3))

    await store.ensure_collection(COLLECTION, DIMENSION)

    assert await store.count(COLLECTION) == 3


async def test_another_dimension_for_an_existing_collection_is_refused(store: VectorStore) -> None:
    with pytest.raises(DimensionMismatchError, match=r"dimension 8, not 16") as raised:
        await store.ensure_collection(COLLECTION, 16)

    assert (raised.value.existing, raised.value.requested) == (8, 16)
    assert not raised.value.retriable


async def test_a_vector_of_the_wrong_length_is_a_store_error(store: VectorStore) -> None:
    bad = ChunkRecord(0, "text", (), None, "blob", np.full(DIMENSION + 1, 0.5, np.float32))

    with pytest.raises(VectorStoreError):
        await store.upsert_file(COLLECTION, REPO, "a.md", [bad])


async def test_a_collection_that_was_never_created_is_reported_as_missing(
    store: VectorStore,
) -> None:
    missing = "never_created"
    with pytest.raises(CollectionNotFoundError):
        await store.count(missing)
    with pytest.raises(CollectionNotFoundError):
        await store.search(missing, [1.0] * DIMENSION)
    with pytest.raises(CollectionNotFoundError):
        await store.upsert_file(missing, REPO, "a.md", make_chunks(1, 1))
    with pytest.raises(CollectionNotFoundError):
        await store.delete_file(missing, REPO, "a.md")


@pytest.mark.parametrize(
    "name",
    ["", "../escape", "a/b", "has space", "dot.ted", pytest.param("x" * 129, id="129-chars")],
)
async def test_unsafe_collection_names_are_refused(
    store: VectorStore, name: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidCollectionNameError):
        await store.ensure_collection(name, DIMENSION)
    with pytest.raises(InvalidCollectionNameError):
        await store.count(name)

    assert top_entries(tmp_path) in ([], ["qdrant", f"qdrant/{COLLECTION}"])


def test_point_ids_are_stable_uuid5_strings() -> None:
    first = point_id(COLLECTION, REPO, "docs/a.md", 3)

    assert first == point_id(COLLECTION, REPO, "docs/a.md", 3)
    assert uuid.UUID(first).version == 5
    # Ids stored on disk must keep matching after upgrades, or every retry would duplicate.
    assert first == "8c8ed006-db7b-5bd7-9495-8a4b57be8584"
    variants = {
        point_id("other", REPO, "docs/a.md", 3),
        point_id(COLLECTION, OTHER_REPO, "docs/a.md", 3),
        point_id(COLLECTION, REPO, "docs/b.md", 3),
        point_id(COLLECTION, REPO, "docs/a.md", 4),
    }
    assert len(variants) == 4
    assert first not in variants


async def test_edge_points_outlive_closing_and_reopening(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    chunks = make_chunks(1, 3)
    first = EdgeVectorStore(root)
    await first.ensure_collection(COLLECTION, DIMENSION)
    await first.upsert_file(COLLECTION, REPO, "a.md", chunks)
    await first.close()

    reopened = EdgeVectorStore(root)
    try:
        assert await reopened.count(COLLECTION) == 3
        [hit] = await reopened.search(COLLECTION, chunks[2].vector.tolist(), limit=1)
        assert (hit.path, hit.chunk_index, hit.text) == ("a.md", 2, chunks[2].text)
        with pytest.raises(DimensionMismatchError):
            await reopened.ensure_collection(COLLECTION, DIMENSION * 2)
    finally:
        await reopened.close()


async def test_edge_indexes_repository_and_path(tmp_path: Path) -> None:
    store = EdgeVectorStore(tmp_path / "qdrant")
    await store.ensure_collection(COLLECTION, DIMENSION)
    await store.close()

    shard = qdrant_edge.EdgeShard.load(str(tmp_path / "qdrant" / COLLECTION))
    try:
        schema = shard.info().payload_schema
    finally:
        shard.close()

    assert {name: schema[name].data_type for name in ("repository", "path")} == {
        "repository": qdrant_edge.PayloadSchemaType.Keyword,
        "path": qdrant_edge.PayloadSchemaType.Keyword,
    }


async def test_edge_opens_a_shard_once_under_concurrent_first_use(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    writer = EdgeVectorStore(root)
    await writer.ensure_collection(COLLECTION, DIMENSION)
    await writer.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 2))
    await writer.close()

    store = EdgeVectorStore(root)
    try:
        counts = await asyncio.gather(*(store.count(COLLECTION) for _ in range(8)))
        writes = (
            store.upsert_file(COLLECTION, REPO, f"f{n}.md", make_chunks(n, 3)) for n in range(10)
        )
        await asyncio.gather(*writes)
        assert counts == [2] * 8
        assert await store.count(COLLECTION) == 32
    finally:
        await store.close()


KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from tests.service.test_vectors import COLLECTION, DIMENSION, REPO, make_chunks
    from service.vectors import EdgeVectorStore

    async def main() -> None:
        store = EdgeVectorStore(Path(sys.argv[1]))
        await store.ensure_collection(COLLECTION, DIMENSION)
        await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 5))
        await store.upsert_file(COLLECTION, REPO, "b.md", make_chunks(2, 2))
        await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(3, 3))
        print("done", flush=True)
        sys.stdin.read()

    asyncio.run(main())
    """
)


def write_then_get_killed(root: Path) -> None:
    """Runs KILLED_WRITER on `root` and SIGKILLs it once it says its writes returned."""
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(root)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "done"
        os.kill(writer.pid, signal.SIGKILL)
        assert writer.wait() == -signal.SIGKILL


async def test_edge_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    write_then_get_killed(root)

    store = EdgeVectorStore(root)
    try:
        assert await store.count(COLLECTION, path="a.md") == 3
        assert await store.count(COLLECTION, path="b.md") == 2
        [hit] = await store.search(COLLECTION, make_chunks(3, 3)[2].vector.tolist(), limit=1)
        assert (hit.path, hit.text) == ("a.md", make_chunks(3, 3)[2].text)
    finally:
        await store.close()


async def test_without_a_qdrant_url_vectors_live_under_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QDRANT_URL", raising=False)
    settings = Settings(_env_file=None, DOCS_INGEST_DATA_DIR=tmp_path / "data")
    store = create_vector_store(settings)
    try:
        await store.ensure_collection(COLLECTION, DIMENSION)
        await store.upsert_file(COLLECTION, REPO, "a.md", make_chunks(1, 1))
    finally:
        await store.close()

    assert (tmp_path / "data" / "qdrant" / COLLECTION / "edge_config.json").is_file()


async def test_a_qdrant_url_selects_the_server_store(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, QDRANT_URL="http://127.0.0.1:6333", DOCS_INGEST_DATA_DIR=tmp_path
    )

    store = create_vector_store(settings)
    await store.close()

    assert isinstance(store, QdrantServerVectorStore)
    assert not (tmp_path / "qdrant").exists()


async def test_a_store_that_can_serve_is_ready(store: VectorStore) -> None:
    await store.ready()


async def test_a_qdrant_server_that_does_not_answer_is_not_ready() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AsyncQdrantClient(url=f"http://127.0.0.1:{port}", check_compatibility=False)
    store = QdrantServerVectorStore(client)
    try:
        with pytest.raises(VectorStoreError, match="Qdrant failed"):
            await store.ready()
    finally:
        await store.close()


async def test_edge_is_not_ready_when_its_folder_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data folder should be")
    store = EdgeVectorStore(tmp_path / "data" / "qdrant")

    with pytest.raises(VectorStoreError, match="cannot write"):
        await store.ready()
