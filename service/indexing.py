"""One file into the index: read it, check it, chunk it, embed it, upsert it.

A file that cannot be indexed for a reason of its own (binary, not UTF-8, too large) is skipped
with that reason; an error of a service it needs (the source, the embedder, Qdrant) is raised,
so the file's run retries it.
"""

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

from pydantic import BaseModel

from service.chunking import ChunkedDocument, chunk_markdown
from service.embeddings import Embedder, Vector
from service.sources import Source
from service.vectors import ChunkRecord, VectorStore

BINARY_SNIFF_BYTES = 8192
LOOP_CHUNK_BYTES = 64 * 1024  # files up to this size are chunked on the event loop
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\n"  # the file a clone without LFS holds
#: Chunks one step embeds and upserts: a few seconds of the local model on two cores, one request
#: at OpenAI.
PART_CHUNKS = 256


class FileTask(BaseModel):
    """The data of a `docs/file.process` or `docs/file.delete` event."""

    ingestion_id: int
    store_id: int
    collection: str
    repository_id: int
    repository: str  # full name, as the vectors' payload records it
    path: str
    blob_sha: str | None = None
    force: bool = False  # re-index even when the store already holds this blob
    chunk_size: int = 400
    chunk_overlap: int = 50
    max_file_size: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Indexed:
    chunks: int  # the whole file's


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: str


def unreadable_reason(content: bytes, max_size: int) -> str | None:
    """Why `content` is not a text file to index, or None when it is."""
    if len(content) > max_size:
        return f"{len(content)} bytes, over max_file_size ({max_size})"
    if content.startswith(LFS_POINTER):
        return "a Git LFS pointer: the file's content is not in the repository"
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text: only UTF-8 is indexed"
    if b"\0" in content[:BINARY_SNIFF_BYTES]:
        return "binary file"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (invalid byte at offset {exc.start})"
    return None


async def read_document(
    task: FileTask, source: Source, embedder: Embedder, vectors: VectorStore
) -> ChunkedDocument | Skipped:
    """The file's chunks, or why it is not indexed (then its chunks, if any, leave the index)."""
    assert task.blob_sha is not None, "a process task always names its blob"
    content = await source.read_blob(task.blob_sha)
    reason = unreadable_reason(content, task.max_file_size)
    if reason is not None:
        await vectors.delete_file(task.collection, task.repository, task.path)
        return Skipped(reason)
    chunk = partial(
        chunk_text, content.decode("utf-8"), embedder, task.chunk_size, task.chunk_overlap
    )
    # A large file takes the chunker long enough to hold up every other request: it goes to a
    # thread. Most files take well under a millisecond, less than the hand-over would cost.
    return chunk() if len(content) <= LOOP_CHUNK_BYTES else await asyncio.to_thread(chunk)


def part_count(document: ChunkedDocument) -> int:
    """The parts, PART_CHUNKS chunks each, the document is indexed in."""
    return max(1, math.ceil(len(document.chunks) / PART_CHUNKS))


async def index_part(
    task: FileTask,
    document: ChunkedDocument,
    embedder: Embedder,
    vectors: VectorStore,
    part: int = 0,
) -> Indexed:
    """Embed and upsert part `part` of the document: its chunks from `part * PART_CHUNKS`.

    A file of thousands of chunks so takes several steps of bounded time, and other files keep
    moving between them. Each SDK call of the file's run reads and chunks it again (the same blob
    and settings give the same chunks) rather than carry the chunks from step to step.
    """
    assert task.blob_sha is not None, "a process task always names its blob"
    first = part * PART_CHUNKS
    chunks = document.chunks[first : first + PART_CHUNKS]
    vectors_of = await embedder.embed(
        [chunk.text for chunk in chunks], [chunk.token_count for chunk in chunks]
    )
    records = chunk_records(replace(document, chunks=chunks), task.blob_sha, vectors_of)
    total = len(document.chunks)
    await vectors.upsert_file(task.collection, task.repository, task.path, records, total=total)
    return Indexed(total)


def chunk_text(
    text: str, embedder: Embedder, chunk_size: int, chunk_overlap: int
) -> ChunkedDocument:
    """`text`'s chunks, sized by `embedder`'s tokens and never over what it takes per input."""
    max_tokens = min(chunk_size, embedder.max_input_tokens)
    return chunk_markdown(
        text,
        count_tokens=embedder.count_tokens,
        max_tokens=max_tokens,
        overlap_tokens=min(chunk_overlap, max_tokens - 1),
    )


def chunk_records(
    document: ChunkedDocument, blob_sha: str, vectors: Sequence[Vector]
) -> list[ChunkRecord]:
    """The points of a file's chunks, one vector each, in order."""
    return [
        ChunkRecord(
            chunk_index=chunk.index,
            text=chunk.text,
            heading_path=chunk.heading_path,
            title=document.title,
            content_sha=blob_sha,
            vector=vector,
        )
        for chunk, vector in zip(document.chunks, vectors, strict=True)
    ]
