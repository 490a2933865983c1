"""How fast each VectorStore backend writes files and answers searches, through `service.vectors`.

Writes --files files of --chunks chunks each (random unit vectors of --dimension, a ~1 kB text per
chunk, `upsert_file` one file at a time, as the file runs do), then runs --queries top-10 searches,
half of them filtered by repository, and reports:

* upsert: points per second over all the `upsert_file` calls, and the p50 of one call;
* search: p50 and p95 latency of one `search`, unfiltered and filtered;
* close: the time `close` takes (Edge flushes its shards there).

Backends: Qdrant Edge in a temporary folder, and qdrant-client's local mode (the stand-in the
contract tests use for a Qdrant server; it is a pure-Python experiment backend, not a server).
Run with `.venv/bin/python bench/vectors.py`. Not a test: nothing imports it.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
from qdrant_client import AsyncQdrantClient

from service.vectors import ChunkRecord, EdgeVectorStore, VectorStore
from service.vectors_server import QdrantServerVectorStore

COLLECTION = "bench"
REPOSITORIES = ("acme/handbook", "acme/runbooks")


def make_files(
    files: int, chunks: int, dimension: int, seed: int
) -> list[tuple[str, str, list[ChunkRecord]]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(files * chunks, dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors.astype(np.float32)
    made = []
    for number in range(files):
        records = [
            ChunkRecord(
                chunk_index=index,
                text=f"chunk {index} of file {number} " + "lorem ipsum " * 80,
                heading_path=("Guide", f"Section {index}"),
                title=f"File {number}",
                content_sha=f"{number:040x}",
                vector=vectors[number * chunks + index],
            )
            for index in range(chunks)
        ]
        made.append((REPOSITORIES[number % 2], f"docs/file-{number}.md", records))
    return made


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def measure(name: str, store: VectorStore, args: argparse.Namespace) -> None:
    files = make_files(args.files, args.chunks, args.dimension, seed=1)
    queries = np.random.default_rng(2).normal(size=(args.queries, args.dimension)).tolist()
    await store.ensure_collection(COLLECTION, args.dimension)

    upserts = []
    for repository, path, chunks in files:
        upserts.append(
            await timed(
                lambda r=repository, p=path, c=chunks: store.upsert_file(COLLECTION, r, p, c)
            )
        )
    points = args.files * args.chunks
    plain = [await timed(lambda q=query: store.search(COLLECTION, q)) for query in queries]
    filtered = [
        await timed(lambda q=query: store.search(COLLECTION, q, repository=REPOSITORIES[1]))
        for query in queries
    ]
    assert await store.count(COLLECTION) == points
    closing = await timed(store.close)

    print(
        f"{name:<22} {points / sum(upserts):>10,.0f} {1000 * statistics.median(upserts):>10.2f}"
        f" {1000 * statistics.median(plain):>9.2f} {1000 * percentile(plain, 0.95):>9.2f}"
        f" {1000 * statistics.median(filtered):>9.2f} {1000 * percentile(filtered, 0.95):>9.2f}"
        f" {1000 * closing:>9.1f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=10, help="chunks per file")
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-local-mode", action="store_true", help="only measure Qdrant Edge")
    args = parser.parse_args()

    print(
        f"{args.files} files x {args.chunks} chunks, dimension {args.dimension}; times in ms\n"
        f"{'backend':<22} {'upsert p/s':>10} {'file p50':>10} {'search50':>9} {'search95':>9}"
        f" {'filt. 50':>9} {'filt. 95':>9} {'close':>9}"
    )
    with tempfile.TemporaryDirectory() as folder:
        await measure("qdrant-edge", EdgeVectorStore(Path(folder) / "qdrant"), args)
    if not args.skip_local_mode:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Payload indexes have no effect", UserWarning)
            client = AsyncQdrantClient(location=":memory:")
            await measure("qdrant-client local", QdrantServerVectorStore(client), args)


if __name__ == "__main__":
    asyncio.run(main())
