"""How fast a push of a docs repository gets indexed, end to end, against a plain script.

The repository is a generated git repository of --files markdown pages (1-4 KB, headings, lists,
code fences; a few chunks each) or, with --repo PATH, a clone of any local repository's HEAD (as
branch `main` of the clone, so the one-file pushes never touch the original): its markdown files,
as the service plans them with its lightfast.yml. bench/make_docs.py PATH makes a large one for
it (2,400 pages in eight languages, three files of 300-420 KB: about 12,300 local-model chunks).
The embedder is, with --embedder openai (the
default), bench/fake_embeddings.py: an OpenAI-compatible server in its own process that takes
--latency-ms per request (overlapping, like OpenAI), counts what it is asked and, when told,
enforces per-minute rate limits as OpenAI does; with --embedder local, the service's local model
(all-MiniLM-L6-v2) and no server. Then:

1. initial push, side by side, same files, chunker, token counter and store:
   (a) plain, the floor: this process, no engine, no database: `git ls-tree`, then `git cat-file`
       and `chunk_markdown` for at most --concurrency files at once. OpenAI: the chunks of all
       files go, as they come, in requests of exactly --batch-size chunks (64), at most
       --requests (4) in flight, and each file is upserted into a fresh Qdrant Edge folder as
       soon as its vectors are back. Local: all chunks, sorted by length, through
       `LocalEmbedder` in batches of --batch-size (32), one at a time, then each file upserted.
       The tokenizer (and the model) load before the timing; `serve` loads its own in the job;
   (b) full path: `docs-ingest serve` in a subprocess (embedded engine, SQLite, Qdrant Edge,
       DOCS_INGEST_EMBEDDER, DOCS_INGEST_FILE_CONCURRENCY = --concurrency (the service's default),
       DOCS_INGEST_EMBEDDING_REQUESTS = --requests), the repository connected through
       `service.repositories.connect` before `serve` starts, one signed push webhook; timed from
       the POST until the job row is terminal. Meanwhile the resident memory (VmRSS) of `serve`
       and of its engine subprocess is sampled every 0.2 s; afterwards the engine's engine.db
       gives the longest single SDK call and the longest step (first attempt's start to end).
   Targets: full <= 1.3x plain (OpenAI at 100 ms a request), <= 1.15x plain (local model);
   `serve` (app + engine) under 500 MB resident at its peak; no step over 60 s (worst run).
   The plain script with one request per file of earlier versions is gone: the service no
   longer sends a request per file, and that column only added a minute to a 2,000-file run.
2. rate-limited run (--rate-limited, or --rpm/--tpm not 0; OpenAI only): a fresh `serve`
   ingests the repository again while the fake server enforces the limits (budgets start spent,
   as after a minute of work, so tokens / TPM is the floor; --fresh-account starts them full)
   and is told them (DOCS_INGEST_EMBEDDING_RPM/TPM) unless --no-tell-limits: then it has only
   the headers. With --rate-limited alone the limits are scaled to the repository so that the
   run takes about a minute: TPM = its tokens (half of them for a fresh account), RPM = TPM /
   1,000 (requests of 1,000 tokens on average, a few files' chunks, just fit; a request per file
   would not); the limits chosen are printed. Printed: tokens embedded, the token floor (tokens /
   TPM), the full path's time and their ratio, requests answered 429 and their share. Targets:
   full <= 1.15x the token floor, fewer than 5 % of requests answered 429.
3. --single-pushes one-file pushes into the indexed repository: inputs the fake server was asked
   to embed (target: exactly the changed file's chunks; not checked on the local model) and
   webhook POST -> job row terminal (target < 1 s).
4. webhook ack latency: --ack-rounds rounds of N signed deliveries sent at once (N from
   --deliveries, repeatable), each round on new connections, of two kinds: pushes to another
   branch (acked 202 without a job) and real pushes to the ingested branch (before = after = the
   indexed head: a job row and an engine event each; the jobs are then drained and must embed
   nothing). Target p99 < 50 ms, measured by this client: bare HTTP/1.1 on asyncio streams, so
   that its own cost stays small beside the service's on the same cores. A round in which
   deliveries get no answer within 10 s ends its kind; a service that then stays unresponsive is
   killed and restarted on the same data, so the run still finishes.

The initial push runs --rounds times (fresh data folder and `serve` each time); the table shows
the median run. Run with `.venv/bin/python bench/ingest.py`: 2,000 files take about a minute and
a half, 2.75 minutes with --rate-limited (2 cores, the service at 52 s for the initial push);
--files scales it down. The local model embeds about 20 chunks/s on 2 cores, in the plain script
and in `serve` alike: --embedder local --files 100 takes about a minute. Not a test. The processes
it runs are bench/processes.py's; bench/load.py borrows its generated pages and its tables.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fake_embeddings import text_hash
from processes import (
    FAKE_API_KEY,
    EmbedStats,
    FakeEmbeddings,
    RateLimits,
    Serve,
    free_port,
    model_of,
    post,
)
from serve_probe import PeakRss, Peaks, StepTimes, step_times
from sqlalchemy import func
from sqlmodel import col, select

from cli.pushes import push_payload
from service.chunking import ChunkedDocument
from service.config import CONFIG_FILE, RepoConfig, parse_repo_config
from service.db import create_db_engine, migrate, session_scope
from service.embeddings import Embedder, LocalEmbedder, OpenAIEmbedder, Vector
from service.indexing import chunk_records, chunk_text, unreadable_reason
from service.models import (
    ConnectedRepository,
    FileAction,
    IngestionCommit,
    IngestionFile,
    IngestionStatus,
    Provider,
)
from service.planner import plan
from service.repositories import connect, local_external_id
from service.settings import (
    LOCAL_FILE_CONCURRENCY,
    OPENAI_FILE_CONCURRENCY,
    Settings,
    default_file_concurrency,
)
from service.sources.local_git import LocalGitSource
from service.vectors import EdgeVectorStore
from web.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_of

BRANCH = "main"
OTHER_BRANCH = "bench-other"
REPO_NAME = "bench-docs"
COLLECTION = "bench"
# Chunks per request (per inference) of the plain script: the floors.
OPENAI_BATCH = 64
LOCAL_BATCH = 32
TERMINAL = {
    IngestionStatus.PROCESSED,
    IngestionStatus.SKIPPED,
    IngestionStatus.FAILED,
    IngestionStatus.CANCELLED,
}
TARGET_RATIO = {"openai": 1.3, "local": 1.15}
TARGET_RATE_LIMITED_RATIO = 1.15
TARGET_429_SHARE = 0.05
TARGET_RSS_MB = 500.0
TARGET_STEP_S = 60.0
TARGET_ONE_FILE_S = 1.0
TARGET_ACK_P99_MS = 50.0
# A rate-limited run scaled to the repository takes about this long at its floor.
RATE_LIMITED_RUN_S = 60.0
# and its RPM asks requests of this many tokens on average: a few files' chunks each.
RATE_LIMITED_TOKENS_PER_REQUEST = 1000
# The job row is polled every 10 ms for its first second (one-file pushes), then every 50 ms: at
# 10 ms the polling took a tenth of a core from the service it measures.
JOB_POLL_FIRST_S = 0.01
JOB_POLL_S = 0.05
ACK_TIMEOUT_S = 10.0
ACK_WARM_UP = 5  # deliveries: opens the app's code paths and pools before timing
RECOVERY_TIMEOUT_S = 45.0
DRAIN_TIMEOUT_S = 600.0
MB = 1024 * 1024
# Moments of an ingestion, in the order they happen.
JOB_RUNNING = "job row running"
FIRST_REQUEST = "1st embedding request"
LAST_ANSWER = "last embedding answer"
FIRST_FILE_ROW = "1st file row finished"
LAST_FILE_ROW = "last file row finished"
DONE = "done (job row processed)"
MOMENTS = (JOB_RUNNING, FIRST_REQUEST, FIRST_FILE_ROW, LAST_ANSWER, LAST_FILE_ROW, DONE)
INGEST_TIMEOUT_S = 1800.0


# --- the docs repository ------------------------------------------------------------------------

# Word lists read better as prose than as list literals.
AREAS = (  # noqa: SIM905
    "getting-started guides reference api cli deploy operations security auth billing "
    "integrations webhooks storage search analytics sdk-python sdk-js migrations faq releases"
).split()
WORDS = (  # noqa: SIM905
    "the a an of to in for with on by from as is are be can will should must may this that each "
    "every request response token cluster node index shard replica query filter vector embedding "
    "document page section heading chunk model service server client config setting option "
    "value default timeout retry limit rate error status header payload event webhook push "
    "branch commit repository file path store collection database migration schema table row "
    "column key secret credential permission role user team organization project workspace "
    "deploy build release version upgrade install run start stop restart scale monitor log "
    "metric alert trace latency throughput memory cpu disk network cache queue worker job step"
).split()
LANGUAGES = ("python", "bash", "yaml", "json")


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def block(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        lines = [f"{rng.choice(WORDS)}_{rng.choice(WORDS)} = {rng.randint(1, 999)}"]
        lines += [f"    {sentence(rng)[:60]}" for _ in range(rng.randint(2, 8))]
        return f"```{rng.choice(LANGUAGES)}\n" + "\n".join(lines) + "\n```"
    if kind < 0.3:
        return "\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(3, 6)))
    return paragraph(rng)


def page(rng: random.Random, title: str) -> str:
    """A markdown page of 1-4 KB: optional front matter, an H1, H2 sections, a few H3s."""
    target = rng.randint(1000, 4000)
    parts = [f"---\ntitle: {title}\n---\n" if rng.random() < 0.5 else "", f"# {title}", block(rng)]
    while sum(len(part) + 2 for part in parts) < target:
        level = "###" if rng.random() < 0.3 else "##"
        parts.append(f"{level} {sentence(rng)[:40].rstrip('.')}")
        parts.extend(block(rng) for _ in range(rng.randint(1, 3)))
    return "\n\n".join(part for part in parts if part) + "\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Bench", "-c", "user.email=b@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def make_repository(path: Path, files: int, seed: int) -> list[str]:
    """A git repository of `files` markdown pages on `main`, committed; their paths."""
    rng = random.Random(seed)
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", BRANCH)
    paths = []
    for number in range(files):
        area = AREAS[number % len(AREAS)]
        relative = f"docs/{area}/{rng.choice(WORDS)}-{number:04d}.md"
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page(rng, f"{area.replace('-', ' ').title()} {number}"))
        paths.append(relative)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "docs")
    return paths


def clone_repository(source: Path, path: Path) -> None:
    """A clone of `source` with its HEAD as `main`: the one-file pushes commit in the clone."""
    sha = git(source, "rev-parse", "HEAD").strip()
    subprocess.run(["git", "clone", "-q", str(source), str(path)], check=True)
    git(path, "switch", "-q", "-C", BRANCH, sha)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


@dataclass(frozen=True)
class Planned:
    config: RepoConfig
    files: list[tuple[str, str]]  # (path, blob sha) of the files to process


async def planned_files(source: LocalGitSource) -> Planned:
    """The files a push of BRANCH's head processes in an empty store, as the service plans them."""
    sha = await source.resolve(BRANCH)
    config = parse_repo_config(await source.read_file(sha, CONFIG_FILE))
    files = [
        (item.path, item.blob_sha or "")
        for item in plan(await source.tree(sha), {}, config, candidates=None)
        if item.action is FileAction.PROCESS and item.skip_reason is None
    ]
    return Planned(config, files)


# --- processes ----------------------------------------------------------------------------------


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class Service(Serve):
    """`serve` with the one repository the benchmark pushes."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        settings: Settings,
        repository: "Connected",
        profile: Path | None,
    ) -> None:
        self.repository = repository
        super().__init__(workdir, env, settings, profile)


@dataclass(frozen=True)
class Connected:
    id: int
    external_id: str
    webhook_secret: str


def service_env(
    data_dir: Path, args: argparse.Namespace, fake: FakeEmbeddings | None, limits: RateLimits | None
) -> dict[str, str]:
    env = {
        "DOCS_INGEST_DATA_DIR": str(data_dir),
        "DOCS_INGEST_PORT": str(free_port()),
        "DOCS_INGEST_ENGINE_PORT": str(free_port()),
        "DOCS_INGEST_FILE_CONCURRENCY": str(args.concurrency),
        "DOCS_INGEST_EMBEDDING_REQUESTS": str(args.requests),
    }
    if fake is None:
        return {**env, "DOCS_INGEST_EMBEDDER": "local"}
    env |= {
        "DOCS_INGEST_EMBEDDER": "openai",
        "OPENAI_API_KEY": FAKE_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
    }
    if limits is not None and limits.told:
        for name, value in (("RPM", limits.rpm), ("TPM", limits.tpm)):
            if value:
                env[f"DOCS_INGEST_EMBEDDING_{name}"] = str(value)
    return env


def connect_repository(settings: Settings, repo: Path, embedder: Embedder) -> Connected:
    """Migrate the fresh database and connect the repository, before `serve` starts."""
    migrate(settings.sqlalchemy_url)
    db = create_db_engine(settings.sqlalchemy_url)
    try:
        with session_scope(db) as session:
            row = connect(
                session,
                provider=Provider.LOCAL,
                full_name=REPO_NAME,
                external_id=local_external_id(repo),
                default_branch=BRANCH,
                embedder=embedder,
                local_path=repo,
            )
    finally:
        db.dispose()
    assert row.id is not None
    return Connected(row.id, row.external_id, row.webhook_secret)


@contextlib.contextmanager
def running_service(
    workdir: Path,
    repo: Path,
    args: argparse.Namespace,
    fake: FakeEmbeddings | None,
    profile: Path | None = None,
    limits: RateLimits | None = None,
) -> Iterator[Service]:
    env = service_env(workdir / "data", args, fake, limits)
    # No .env file: the benchmark's settings are exactly `env`, here and in `serve`.
    values: dict[str, Any] = {"_env_file": None, **env}
    settings = Settings(**values)
    connected = connect_repository(settings, repo, model_of(fake))
    service = Service(workdir, env, settings, connected, profile)
    try:
        yield service
    finally:
        service.stop()


# --- the full path ------------------------------------------------------------------------------


def signed(service: Service, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "content-type": "application/json",
        EVENT_HEADER: "push",
        DELIVERY_HEADER: str(uuid.uuid4()),
        SIGNATURE_HEADER: signature_of(service.repository.webhook_secret, body),
    }


def job_row(service: Service, job_id: int) -> IngestionCommit:
    with service.session() as session:
        job = session.get(IngestionCommit, job_id)
        assert job is not None
        return job


def wait_for_job(service: Service, job_id: int, timeout: float = INGEST_TIMEOUT_S) -> None:
    """Poll the job row until it is terminal; a failed job ends the benchmark."""
    start = time.monotonic()
    deadline = start + timeout
    while (job := job_row(service, job_id)).status not in TERMINAL:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} not finished after {timeout:.0f} s")
        if service.process.poll() is not None:
            raise SystemExit(f"docs-ingest serve exited ({service.process.returncode})")
        time.sleep(JOB_POLL_FIRST_S if time.monotonic() - start < 1.0 else JOB_POLL_S)
    if job.status in (IngestionStatus.FAILED, IngestionStatus.CANCELLED):
        raise SystemExit(f"job {job_id} {job.status}: {job.error_message}")


def last_ingested_sha(service: Service) -> str | None:
    with service.session() as session:
        row = session.get(ConnectedRepository, service.repository.id)
        assert row is not None
        return row.last_ingested_sha


def push_now(service: Service, repo: Path, timeout: float = INGEST_TIMEOUT_S) -> tuple[int, float]:
    """Deliver a push from the last ingested sha to HEAD; (job id, seconds to done)."""
    payload = push_payload(
        repo,
        branch=BRANCH,
        before=last_ingested_sha(service),
        after=head(repo),
        repository_id=service.repository.external_id,
        full_name=REPO_NAME,
    )
    body, headers = signed(service, payload)
    start = time.perf_counter()
    response = service.http.post("/webhooks/github", content=body, headers=headers)
    if response.status_code != 202:
        raise SystemExit(f"webhook answered {response.status_code}: {response.text}")
    job_id = int(response.json()["job_id"])
    wait_for_job(service, job_id, timeout)
    return job_id, time.perf_counter() - start


@dataclass
class Run:
    label: str
    seconds: float
    files: int
    chunks: int
    embed: EmbedStats | None  # None: the local model, no server to count
    cpu: float
    timeline: dict[str, float] = field(default_factory=dict)  # moment -> seconds after start
    tokens: int = 0  # of all chunks, by the embedder's counter (plain script)
    rss: Peaks | None = None  # full path
    steps: StepTimes | None = None  # full path
    engine_cpu: float | None = None  # full path, embedded engine


def embedding_timeline(embed: EmbedStats | None, started_at: float) -> dict[str, float]:
    """When the fake server saw the first request and sent the last answer, after `started_at`."""
    if embed is None or embed.first_arrival is None or embed.last_answer is None:
        return {}
    return {
        FIRST_REQUEST: embed.first_arrival - started_at,
        LAST_ANSWER: embed.last_answer - started_at,
    }


def job_timeline(
    service: Service, job_id: int, sent_at: float
) -> tuple[int, int, dict[str, float]]:
    """(files processed, chunks, moments after `sent_at`) from the job's rows."""
    with service.session() as session:
        job = session.get(IngestionCommit, job_id)
        assert job is not None and job.started_at is not None
        first, last, chunks = session.exec(
            select(
                func.min(IngestionFile.finished_at),
                func.max(IngestionFile.finished_at),
                func.sum(IngestionFile.chunks),
            ).where(IngestionFile.ingestion_id == job_id)
        ).one()
    assert first is not None and last is not None, "no file of the job finished"
    moments = {
        JOB_RUNNING: job.started_at.timestamp() - sent_at,
        FIRST_FILE_ROW: first.timestamp() - sent_at,
        LAST_FILE_ROW: last.timestamp() - sent_at,
    }
    return job.files_processed, int(chunks or 0), moments


def full_ingest(
    service: Service,
    repo: Path,
    fake: FakeEmbeddings | None,
    label: str,
    timeout: float = INGEST_TIMEOUT_S,
) -> Run:
    """The initial push through `serve`, its memory sampled meanwhile, its steps read after."""
    if fake is not None:
        fake.reset()
    cpu, engine_cpu = service.cpu(), service.engine_cpu()
    sent_at = time.time()
    with PeakRss(service.process.pid) as rss:
        job_id, seconds = push_now(service, repo, timeout)
    engine_cpu = service.engine_cpu() - engine_cpu
    steps = step_times(service.settings.engine_db, math.floor(sent_at * 1000))
    files, chunks, moments = job_timeline(service, job_id, sent_at)
    embed = fake.stats() if fake is not None else None
    timeline = {**moments, **embedding_timeline(embed, sent_at), DONE: seconds}
    cpu = service.cpu() - cpu
    return Run(
        label,
        seconds,
        files,
        chunks,
        embed,
        cpu,
        timeline,
        rss=rss.peaks,
        steps=steps,
        engine_cpu=engine_cpu,
    )


# --- the plain script ---------------------------------------------------------------------------


def chunked(text: str, embedder: Embedder, config: RepoConfig) -> ChunkedDocument:
    """The file's chunks, as the pipeline makes them."""
    return chunk_text(text, embedder, config.chunk_size, config.chunk_overlap)


def texts_of(document: ChunkedDocument) -> list[str]:
    return [chunk.text for chunk in document.chunks]


@dataclass
class Plain:
    """What both plain scripts share: the source, a fresh store, the planned files."""

    source: LocalGitSource
    vectors: EdgeVectorStore
    embedder: Embedder
    planned: Planned | None = None

    async def start(self) -> list[tuple[str, str]]:
        self.planned = await planned_files(self.source)
        await self.vectors.ensure_collection(COLLECTION, self.embedder.dimension)
        return self.planned.files

    async def read(self, slots: asyncio.Semaphore, blob_sha: str) -> ChunkedDocument | None:
        """The blob's chunks; None for a file the service skips (binary, not UTF-8, too big)."""
        assert self.planned is not None
        async with slots:
            content = await self.source.read_blob(blob_sha)
            if unreadable_reason(content, self.planned.config.max_file_size) is not None:
                return None
            return chunked(content.decode(), self.embedder, self.planned.config)

    async def upsert(
        self, path: str, blob_sha: str, document: ChunkedDocument, vectors: list[Vector]
    ) -> None:
        records = chunk_records(document, blob_sha, vectors)
        await self.vectors.upsert_file(COLLECTION, REPO_NAME, path, records)


async def plain_openai(
    repo: Path, store_dir: Path, fake: FakeEmbeddings, args: argparse.Namespace
) -> Run:
    """Read, chunk, embed and upsert every file in this process: the chunks of all files go, as
    they come, in requests of exactly args.batch_size, at most args.requests in flight."""
    fake.reset()
    cpu = own_cpu_seconds()
    async with httpx.AsyncClient(timeout=60) as http:
        embedder = OpenAIEmbedder(http, api_key=FAKE_API_KEY, base_url=fake.base_url)
        plain = Plain(LocalGitSource(repo), EdgeVectorStore(store_dir), embedder)
        started_at, start = time.time(), time.perf_counter()
        files = await plain.start()
        reading = asyncio.Semaphore(args.concurrency)
        sending = asyncio.Semaphore(args.requests)
        documents: dict[int, ChunkedDocument] = {}
        vectors: dict[int, dict[int, Vector]] = {}  # file number -> chunk index -> vector
        waiting: list[tuple[int, int, str]] = []  # (file, chunk, text) not yet in a request
        tasks: list[asyncio.Task[None]] = []

        async def send(batch: list[tuple[int, int, str]]) -> None:
            async with sending:
                embedded = await embedder.embed_request([text for *_, text in batch])
            for (number, index, _), vector in zip(batch, embedded, strict=True):
                vectors[number][index] = vector
                document = documents[number]
                if len(vectors[number]) == len(document.chunks):
                    ordered = [vectors[number][i] for i in range(len(document.chunks))]
                    await plain.upsert(*files[number], document, ordered)

        def send_soon(batch: list[tuple[int, int, str]]) -> None:
            tasks.append(asyncio.create_task(send(batch)))

        async def read(number: int, blob_sha: str) -> None:
            document = await plain.read(reading, blob_sha)
            if document is None:
                return
            documents[number], vectors[number] = document, {}
            if not document.chunks:
                await plain.upsert(*files[number], document, [])
            waiting.extend((number, chunk.index, chunk.text) for chunk in document.chunks)
            while len(waiting) >= args.batch_size:
                send_soon(waiting[: args.batch_size])
                del waiting[: args.batch_size]

        await asyncio.gather(*(read(number, sha) for number, (_, sha) in enumerate(files)))
        if waiting:
            send_soon(waiting)
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - start
        chunks = sum(len(document.chunks) for document in documents.values())
        tokens = sum(c.token_count for document in documents.values() for c in document.chunks)
        points = await plain.vectors.count(COLLECTION)
        await plain.vectors.close()
    if points != chunks:
        raise SystemExit(f"plain run stored {points} points for {chunks} chunks")
    embed = fake.stats()
    timeline = {**embedding_timeline(embed, started_at), DONE: seconds}
    label = f"plain, batches of {args.batch_size}"
    cpu = own_cpu_seconds() - cpu
    return Run(label, seconds, len(documents), chunks, embed, cpu, timeline, tokens)


async def plain_local(repo: Path, store_dir: Path, args: argparse.Namespace) -> Run:
    """Read and chunk every file in this process, embed all chunks sorted by length in batches
    of args.batch_size on the local model, one batch at a time, then upsert each file."""
    embedder = LocalEmbedder(batch_size=args.batch_size)
    await embedder.embed_request(["load the model before any timing"])
    cpu = own_cpu_seconds()
    plain = Plain(LocalGitSource(repo), EdgeVectorStore(store_dir), embedder)
    start = time.perf_counter()
    files = await plain.start()
    slots = asyncio.Semaphore(args.concurrency)
    documents = await asyncio.gather(*(plain.read(slots, sha) for _, sha in files))
    chunks = [
        (number, chunk)
        for number, document in enumerate(documents)
        if document is not None
        for chunk in document.chunks
    ]
    chunks.sort(key=lambda item: item[1].token_count)
    vectors: dict[int, dict[int, Vector]] = {
        number: {} for number, document in enumerate(documents) if document is not None
    }
    for first in range(0, len(chunks), args.batch_size):
        batch = chunks[first : first + args.batch_size]
        embedded = await embedder.embed_request([chunk.text for _, chunk in batch])
        for (number, chunk), vector in zip(batch, embedded, strict=True):
            vectors[number][chunk.index] = vector
    for number, by_index in vectors.items():
        document = documents[number]
        assert document is not None
        ordered = [by_index[index] for index in range(len(document.chunks))]
        await plain.upsert(*files[number], document, ordered)
    seconds = time.perf_counter() - start
    points = await plain.vectors.count(COLLECTION)
    await plain.vectors.close()
    if points != len(chunks):
        raise SystemExit(f"plain run stored {points} points for {len(chunks)} chunks")
    label = f"plain, batches of {args.batch_size}"
    tokens = sum(chunk.token_count for _, chunk in chunks)
    cpu = own_cpu_seconds() - cpu
    return Run(label, seconds, len(vectors), len(chunks), None, cpu, {DONE: seconds}, tokens)


# --- one-file pushes ----------------------------------------------------------------------------


@dataclass
class OneFilePush:
    seconds: float
    embed: EmbedStats | None
    expected_chunks: int
    # the fake server embedded exactly the changed file's chunks, nothing else; None: not known
    exact: bool | None
    files_processed: int


def one_file_push(
    service: Service,
    repo: Path,
    path: str,
    fake: FakeEmbeddings | None,
    config: RepoConfig,
    n: int,
) -> OneFilePush:
    target = repo / path
    text = target.read_text() + f"\n## Update {n}\n\n{paragraph(random.Random(n))}\n"
    target.write_text(text)
    git(repo, "commit", "-q", "-am", f"update {path}")
    embedder = model_of(fake)
    expected = Counter(text_hash(chunk) for chunk in texts_of(chunked(text, embedder, config)))
    if fake is not None:
        fake.reset()
    job_id, seconds = push_now(service, repo)
    stats = fake.stats() if fake is not None else None
    job = job_row(service, job_id)
    return OneFilePush(
        seconds,
        stats,
        sum(expected.values()),
        None if stats is None else Counter(stats.hashes) == expected,
        job.files_processed,
    )


# --- webhook acks -------------------------------------------------------------------------------


@dataclass
class AckRound:
    latencies: list[float]  # seconds, of each delivery answered 202
    failures: Counter[str]  # what the other deliveries got instead


async def ack_round(app_url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> AckRound:
    """Post every delivery at once on fresh connections; how long each took to be answered."""
    outcome = AckRound([], Counter())

    async def deliver(body: bytes, headers: dict[str, str]) -> None:
        try:
            status, seconds, _ = await asyncio.wait_for(post(app_url, body, headers), ACK_TIMEOUT_S)
        except TimeoutError:
            outcome.failures[f"no answer in {ACK_TIMEOUT_S:.0f} s"] += 1
            return
        except (OSError, asyncio.IncompleteReadError, KeyError, ValueError) as exc:
            outcome.failures[type(exc).__name__] += 1
            return
        if status == 202:
            outcome.latencies.append(seconds)
        else:
            outcome.failures[f"HTTP {status}"] += 1

    await asyncio.gather(*(deliver(*d) for d in deliveries))
    return outcome


@dataclass
class Acks:
    label: str
    makes_jobs: bool
    samples: list[float] = field(default_factory=list)
    round_p99s: list[float] = field(default_factory=list)
    rounds: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    # after failed deliveries: seconds until the service answered /health again; None = it did
    # not within RECOVERY_TIMEOUT_S and was restarted
    recovered_s: float | None = None
    drained_s: float | None = None
    drain_inputs: int | None = None  # None: the local model, no server to count


def ack_latency(
    service: Service,
    repo: Path,
    fake: FakeEmbeddings | None,
    deliveries: Sequence[int],
    rounds: int,
) -> list[Acks]:
    """Rounds of concurrent deliveries of each kind and count; a round with failures ends its
    kind and count, and a service that stays unresponsive after it is restarted."""
    sha = head(repo)

    def payload(branch: str) -> dict[str, Any]:
        return push_payload(
            repo,
            branch=branch,
            before=sha,
            after=sha,
            repository_id=service.repository.external_id,
            full_name=REPO_NAME,
        )

    app_url = service.settings.app_url
    warm_up = [signed(service, payload(OTHER_BRANCH)) for _ in range(ACK_WARM_UP)]
    asyncio.run(ack_round(app_url, warm_up))
    results = []
    kinds = (("other branch, no job", OTHER_BRANCH), ("ingested branch, job", BRANCH))
    for count, (label, branch) in itertools.product(deliveries, kinds):
        acks = Acks(f"{count} at once: {label}", makes_jobs=branch == BRANCH)
        if fake is not None:
            fake.reset()
        body = payload(branch)
        start = time.perf_counter()
        for _ in range(rounds):
            outcome = asyncio.run(ack_round(app_url, [signed(service, body) for _ in range(count)]))
            acks.rounds += 1
            acks.samples += outcome.latencies
            if outcome.latencies:
                acks.round_p99s.append(percentile(outcome.latencies, 0.99))
            if outcome.failures:
                acks.failures += outcome.failures
                acks.recovered_s = wait_for_recovery(service)
                if acks.recovered_s is None:
                    service.restart()
                break
        if branch == BRANCH:
            acks.drained_s = wait_for_jobs_drained(service, start)
            acks.drain_inputs = fake.stats().inputs if fake is not None else None
        results.append(acks)
    return results


def wait_for_recovery(service: Service) -> float | None:
    start = time.perf_counter()
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if service.http.get("/health", timeout=1.0).is_success:
                return time.perf_counter() - start
        time.sleep(0.5)
    return None


def wait_for_jobs_drained(service: Service, start: float) -> float | None:
    """Seconds from `start` until every job whose event was sent is terminal; None: not then."""

    def open_jobs() -> int:
        with service.session() as session:
            return session.exec(
                select(func.count()).where(
                    col(IngestionCommit.status).not_in(TERMINAL),
                    col(IngestionCommit.event_id).is_not(None),
                )
            ).one()

    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while open_jobs():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    return time.perf_counter() - start


# --- report -------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], fraction: float) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(fraction * 100) - 1]


def median_run(runs: list[Run]) -> Run:
    """The median run (of an even number, the faster of the middle two)."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  " + "  ".join(cells))


def utilisation(run: Run, latency_s: float, requests: int) -> str:
    """How busy the `requests` request slots were: 100 % = always `requests` in flight."""
    if run.embed is None:
        return "-"
    return f"{run.embed.requests * latency_s / (requests * run.seconds):.0%}"


def embed_rows(shown: Sequence[Run], latency_s: float, requests: int) -> list[tuple[str, ...]]:
    def count(run: Run, name: str) -> str:
        return "-" if run.embed is None else f"{getattr(run.embed, name):,}"

    return [
        ("embedding requests", *(count(run, "requests") for run in shown)),
        ("embedded inputs", *(count(run, "inputs") for run in shown)),
        ("embedded tokens", *(count(run, "tokens") for run in shown)),
        ("requests answered 429", *(count(run, "refused") for run in shown)),
        ("peak requests in flight", *(count(run, "peak_in_flight") for run in shown)),
        ("request slot use", *(utilisation(run, latency_s, requests) for run in shown)),
    ]


def serve_rows(shown: Sequence[Run]) -> list[tuple[str, ...]]:
    """Peak memory and the longest call and step of the full-path runs among `shown`."""

    def megabytes(run: Run, name: str) -> str:
        return "-" if run.rss is None else f"{getattr(run.rss, name) / MB:.0f}"

    def seconds(run: Run, name: str) -> str:
        return "-" if run.steps is None else f"{getattr(run.steps, name):.2f}"

    return [
        ("peak RSS, serve app (MB)", *(megabytes(run, "app") for run in shown)),
        ("peak RSS, engine (MB)", *(megabytes(run, "engine") for run in shown)),
        ("peak RSS, app + engine (MB)", *(megabytes(run, "together") for run in shown)),
        ("engine SDK calls", *("-" if r.steps is None else str(r.steps.calls) for r in shown)),
        ("longest SDK call (s)", *(seconds(run, "longest_call_s") for run in shown)),
        ("longest step (s)", *(seconds(run, "longest_step_s") for run in shown)),
    ]


def longest(run: Run) -> None:
    if run.steps is not None:
        steps = run.steps
        print(
            f"  {run.label}, longest SDK call: {steps.longest_call} ({steps.longest_call_s:.2f} s)"
        )
        print(f"  {run.label}, longest step: {steps.longest_step} ({steps.longest_step_s:.2f} s)")


def report_ingest(plains: list[Run], fulls: list[Run], args: argparse.Namespace) -> float:
    latency_s = args.latency_ms / 1000
    plain, full = median_run(plains), median_run(fulls)
    shown = [plain, full]
    repeated = f" (median of {len(fulls)})" if len(fulls) > 1 else ""
    print(
        f"\nInitial push of {full.files} files{repeated}, {args.embedder} embedder, file"
        f" concurrency {args.concurrency}, {args.requests} requests in flight:"
    )
    rows: list[tuple[str, ...]] = [("", *(run.label for run in shown))]
    rows += [
        ("wall time (s)", *(f"{run.seconds:.2f}" for run in shown)),
        ("files", *(str(run.files) for run in shown)),
        ("chunks", *(str(run.chunks) for run in shown)),
    ]
    if args.embedder == "openai":
        rows += embed_rows(shown, latency_s, args.requests)
    rows += [
        ("files/s", *(f"{run.files / run.seconds:.1f}" for run in shown)),
        ("chunks/s", *(f"{run.chunks / run.seconds:.1f}" for run in shown)),
        ("CPU s (process + git)", *(f"{run.cpu:.1f}" for run in shown)),
        ("CPU ms per file", *(f"{run.cpu / run.files * 1e3:.1f}" for run in shown)),
        ("CPU s, engine", *("-" if r.engine_cpu is None else f"{r.engine_cpu:.1f}" for r in shown)),
        *serve_rows(shown),
    ]
    table(rows)
    if plain.embed is not None:
        floor = plain.embed.requests * latency_s / args.requests
        print(
            f"  requests alone: {plain.embed.requests} requests x {args.latency_ms:.0f} ms"
            f" / {args.requests} in flight = {floor:.2f} s"
        )
    longest(full)
    print("\n  Timeline, seconds after the start (webhook POST / the script's first git call):")

    def moment(run: Run, name: str) -> str:
        seconds = run.timeline.get(name)
        return "-" if seconds is None else f"{seconds:.2f}"

    rows = [("", *(run.label for run in shown))]
    table(rows + [(name, *(moment(run, name) for run in shown)) for name in MOMENTS])
    print(
        f"  full / plain = {full.seconds / plain.seconds:.2f};"
        f" full - plain = {full.seconds - plain.seconds:.2f} s"
    )
    if len(fulls) > 1:
        print(
            "  all rounds, plain / full (s): "
            + ", ".join(
                f"{p.seconds:.2f} / {f.seconds:.2f}" for p, f in zip(plains, fulls, strict=True)
            )
        )
    return full.seconds / plain.seconds


def token_floor(tokens: int, limits: RateLimits) -> float:
    """Seconds the account's TPM needs for `tokens` (less the minute a fresh account has)."""
    if not limits.tpm:
        return 0.0
    return max(0, tokens - (limits.tpm if limits.fresh else 0)) * 60 / limits.tpm


def report_rate_limited(run: Run, limits: RateLimits, args: argparse.Namespace) -> float:
    """The rate-limited run's table; full / token floor."""
    assert run.embed is not None
    floor = token_floor(run.embed.tokens, limits)
    ratio = run.seconds / floor if floor else float("nan")
    print(f"\nRate-limited run of {run.files} files: {limits.describe()}")
    fresh = " - TPM, a fresh account's first minute" if limits.fresh else ""
    rows: list[tuple[str, ...]] = [
        ("", run.label),
        ("total tokens (embedded)", f"{run.embed.tokens:,}"),
        (f"token floor: (tokens{fresh}) / TPM (s)", f"{floor:.2f}"),
        ("full path (s)", f"{run.seconds:.2f}"),
        ("full / token floor", f"{ratio:.2f}"),
        ("files", str(run.files)),
        ("chunks", str(run.chunks)),
        *embed_rows([run], args.latency_ms / 1000, args.requests),
        ("429 share of requests", f"{run.embed.refused_share:.1%}"),
        ("429s for a request over the TPM", str(run.embed.too_large)),
        *serve_rows([run]),
    ]
    table(rows)
    if limits.rpm:
        print(f"  requests alone: {run.embed.requests} / {limits.rpm} RPM", end=" ")
        print(f"= {run.embed.requests * 60 / limits.rpm:.1f} s")
    longest(run)
    return ratio


def report_pushes(pushes: list[OneFilePush]) -> tuple[float, bool | None]:
    print(f"\nOne-file pushes into the indexed repository ({len(pushes)}):")
    rows: list[tuple[str, ...]] = [
        ("push", "webhook -> done (s)", "requests", "inputs", "file's chunks", "exact", "files")
    ]
    for number, push in enumerate(pushes, 1):
        rows.append(
            (
                str(number),
                f"{push.seconds:.3f}",
                str(push.embed.requests) if push.embed else "-",
                str(push.embed.inputs) if push.embed else "-",
                str(push.expected_chunks),
                {True: "yes", False: "NO", None: "-"}[push.exact],
                str(push.files_processed),
            )
        )
    median = statistics.median(push.seconds for push in pushes)
    rows.append(("median", f"{median:.3f}", "", "", "", "", ""))
    table(rows)
    known = [push.exact for push in pushes if push.exact is not None]
    return median, all(known) if known else None


def report_acks(results: list[Acks]) -> float:
    print(
        "\nWebhook ack latency (client-side, all deliveries of a round at once, new connections):"
    )
    rows: list[tuple[str, ...]] = [
        ("deliveries", "rounds", "acked", "p50 ms", "p99 ms", "max ms", "round p99 ms", "drained")
    ]
    for acks in results:
        drained = "-"
        if acks.makes_jobs:
            inputs = "" if acks.drain_inputs is None else f", {acks.drain_inputs} inputs"
            drained = (
                f"{acks.drained_s:.1f} s{inputs}"
                if acks.drained_s is not None
                else f"not in {DRAIN_TIMEOUT_S:.0f} s"
            )
        cells = ["-"] * 4
        if acks.samples:
            cells = [
                f"{percentile(acks.samples, 0.5) * 1e3:.1f}",
                f"{percentile(acks.samples, 0.99) * 1e3:.1f}",
                f"{max(acks.samples) * 1e3:.1f}",
                f"{statistics.median(acks.round_p99s) * 1e3:.1f}",
            ]
        acked = f"{len(acks.samples)}/{len(acks.samples) + acks.failures.total()}"
        rows.append((acks.label, str(acks.rounds), acked, *cells, drained))
    table(rows)
    for acks in results:
        if acks.failures:
            failed = ", ".join(f"{count} x {what}" for what, count in acks.failures.items())
            print(f"  {acks.label}: FAILED deliveries: {failed}; later rounds skipped;")
            if acks.recovered_s is not None:
                print(f"    the service answered /health again after {acks.recovered_s:.1f} s")
            else:
                print(
                    f"    the service did not answer /health within {RECOVERY_TIMEOUT_S:.0f} s"
                    " and was restarted (killed)"
                )
    if any(acks.failures or not acks.samples for acks in results):
        return float("inf")
    return max(percentile(acks.samples, 0.99) for acks in results)


def target(goal: str, measured: str, ok: bool | None) -> None:
    verdict = {True: "ok", False: "MISSED", None: "-"}[ok]
    print(f"  {goal:<60} {measured:>20}  {verdict}")


# --- main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--files", type=int, default=2000, help="markdown files to generate (2000)")
    add(
        "--repo",
        type=Path,
        help="a local git repository to measure on instead: its HEAD's markdown files",
    )
    add(
        "--embedder",
        choices=("openai", "local"),
        default="openai",
        help="openai: the fake OpenAI server; local: the local model, no server (openai)",
    )
    add("--latency-ms", type=float, default=100.0, help="fake server time per request (100)")
    add(
        "--concurrency",
        type=int,
        help="files at once: DOCS_INGEST_FILE_CONCURRENCY and the plain script's reads (the"
        f" service's default: {OPENAI_FILE_CONCURRENCY} openai, {LOCAL_FILE_CONCURRENCY} local)",
    )
    add(
        "--requests",
        type=int,
        default=4,
        help="requests in flight: DOCS_INGEST_EMBEDDING_REQUESTS and the plain script's (4)",
    )
    add(
        "--batch-size",
        type=int,
        help=f"chunks per request (per inference) of the plain script ({OPENAI_BATCH};"
        f" local: {LOCAL_BATCH})",
    )
    add("--rounds", type=int, default=1, help="initial-push rounds, plain and full each (1)")
    add(
        "--rate-limited",
        action="store_true",
        help="add the rate-limited run, with limits scaled to a one-minute run unless given",
    )
    add("--rpm", type=int, default=0, help="requests per minute of the rate-limited run (0: off)")
    add("--tpm", type=int, default=0, help="tokens per minute of the rate-limited run (0: off)")
    add(
        "--no-tell-limits",
        action="store_true",
        help="do not set DOCS_INGEST_EMBEDDING_RPM/TPM: the service has the headers alone",
    )
    add(
        "--fresh-account",
        action="store_true",
        help="rate-limit budgets start full (a new account), not spent",
    )
    add("--single-pushes", type=int, default=5, help="one-file pushes; 0 skips them (5)")
    add(
        "--deliveries",
        type=int,
        action="append",
        help="webhook deliveries sent at once; repeatable (50)",
    )
    add("--ack-rounds", type=int, default=3, help="rounds per kind and count; 0 skips acks (3)")
    add("--seed", type=int, default=7, help="seed of the generated docs (7)")
    add("--keep", action="store_true", help="keep the work folder (logs, databases)")
    add("--profile", type=Path, help="run `serve` under cProfile and write its stats here")
    args = parser.parse_args()
    if args.concurrency is None:
        args.concurrency = default_file_concurrency(args.embedder)
    for name in ("files", "concurrency", "requests", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.batch_size is None:
        args.batch_size = OPENAI_BATCH if args.embedder == "openai" else LOCAL_BATCH
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if min(args.rpm, args.tpm) < 0:
        parser.error("--rpm and --tpm must be 0 (off) or more")
    args.rate_limited = args.rate_limited or bool(args.rpm or args.tpm)
    if args.rate_limited and args.embedder == "local":
        parser.error("a rate-limited run needs --embedder openai (the fake server)")
    if args.repo is not None:
        args.repo = args.repo.resolve()
        if not (args.repo / ".git").exists():
            parser.error(f"--repo {args.repo} is not a git repository (no .git)")
    return args


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    try:
        run(args, workdir)
    finally:
        if args.keep:
            print(f"\nwork folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def scaled_limits(plain: Run, args: argparse.Namespace) -> RateLimits:
    """The given limits, or limits that make the repository's run take RATE_LIMITED_RUN_S."""
    rpm, tpm = args.rpm, args.tpm
    if not (rpm or tpm):
        minutes = RATE_LIMITED_RUN_S / 60 + (1 if args.fresh_account else 0)  # a minute at once
        tpm = math.ceil(plain.tokens / minutes / 1000) * 1000
        rpm = math.ceil(tpm / RATE_LIMITED_TOKENS_PER_REQUEST)
    return RateLimits(rpm, tpm, args.fresh_account, not args.no_tell_limits)


def prepare_repository(args: argparse.Namespace, repo: Path) -> list[str]:
    """Make or clone the repository; the paths of the files a push processes."""
    start = time.perf_counter()
    if args.repo is None:
        make_repository(repo, args.files, args.seed)
        origin = "generated"
    else:
        clone_repository(args.repo, repo)
        origin = f"cloned from {args.repo}"
    planned = asyncio.run(planned_files(LocalGitSource(repo)))
    paths = [path for path, _ in planned.files]
    if not paths:
        raise SystemExit(f"no markdown file to index in {args.repo or repo}")
    size = sum((repo / path).stat().st_size for path in paths) / len(paths) / 1024
    print(f"repository {origin}: {len(paths)} files to index, {size:.1f} KB average,", end=" ")
    print(f"ready in {time.perf_counter() - start:.1f} s")
    return paths


def run(args: argparse.Namespace, workdir: Path) -> None:
    repo = workdir / REPO_NAME
    paths = prepare_repository(args, repo)
    config = asyncio.run(planned_files(LocalGitSource(repo))).config
    fake = None
    if args.embedder == "openai":
        fake = FakeEmbeddings(args.latency_ms, workdir / "fake-embeddings.log")
        model_of(fake).count_tokens("load the tokenizer before any timing")
    plains: list[Run] = []
    fulls: list[Run] = []
    pushes: list[OneFilePush] = []
    acks: list[Acks] = []
    limited: tuple[Run, RateLimits] | None = None
    try:
        for number in range(args.rounds):
            round_dir = workdir / f"round-{number + 1}"
            store = round_dir / "plain"
            plain = (
                plain_openai(repo, store, fake, args)
                if fake is not None
                else plain_local(repo, store, args)
            )
            plains.append(asyncio.run(plain))
            print(f"round {number + 1}: plain {plains[-1].seconds:.2f} s", end="", flush=True)
            last = number == args.rounds - 1
            profile = args.profile if last else None
            with running_service(round_dir, repo, args, fake, profile) as service:
                fulls.append(full_ingest(service, repo, fake, "full path (serve)"))
                print(f", full path {fulls[-1].seconds:.2f} s", flush=True)
                if last:
                    pushes = [
                        one_file_push(service, repo, paths[n * 7919 % len(paths)], fake, config, n)
                        for n in range(args.single_pushes)
                    ]
                    deliveries = args.deliveries or [50]
                    if args.ack_rounds:
                        acks = ack_latency(service, repo, fake, deliveries, args.ack_rounds)
        print(f"serve logs: {round_dir}/serve-*.log")
        if args.rate_limited:
            assert fake is not None
            limits = scaled_limits(plains[0], args)
            timeout = 5 * token_floor(plains[0].tokens, limits) + INGEST_TIMEOUT_S / 10
            limited_run = rate_limited_run(
                workdir / "rate-limited", repo, args, fake, limits, timeout
            )
            limited = (limited_run, limits)
    finally:
        if fake is not None:
            fake.close()

    ratio = report_ingest(plains, fulls, args)
    if limited is not None:
        limited_ratio = report_rate_limited(*limited, args)
    if pushes:
        median_push, exact = report_pushes(pushes)
    if acks:
        p99 = report_acks(acks)
    served = fulls + ([limited[0]] if limited is not None else [])
    print("\nTargets")
    goal = TARGET_RATIO[args.embedder]
    target(f"full / plain <= {goal} ({args.embedder})", f"{ratio:.2f}", ratio <= goal)
    peak = max(run.rss.together for run in served if run.rss is not None) / MB
    goal_rss = f"serve peak RSS (app + engine) < {TARGET_RSS_MB:.0f} MB (worst run)"
    target(goal_rss, f"{peak:.0f} MB", peak < TARGET_RSS_MB)
    step = max(run.steps.longest_step_s for run in served if run.steps is not None)
    target(
        f"longest step < {TARGET_STEP_S:.0f} s (worst run)", f"{step:.1f} s", step < TARGET_STEP_S
    )
    if limited is not None:
        embed = limited[0].embed
        assert embed is not None
        goal_text = f"rate-limited full / token floor <= {TARGET_RATE_LIMITED_RATIO}"
        ok = limited_ratio <= TARGET_RATE_LIMITED_RATIO
        target(goal_text, f"{limited_ratio:.2f}", ok)
        share = embed.refused_share
        goal_429 = f"requests answered 429 < {TARGET_429_SHARE:.0%}"
        target(goal_429, f"{share:.1%}", share < TARGET_429_SHARE)
    if pushes:
        measured = {True: "yes", False: "no", None: "not counted (local)"}[exact]
        target("one-file push embeds exactly that file's chunks", measured, exact)
        goal_push = f"one-file push, webhook -> done < {TARGET_ONE_FILE_S:.0f} s (median)"
        target(goal_push, f"{median_push:.3f} s", median_push < TARGET_ONE_FILE_S)
    if acks:
        goal_ack = f"webhook ack p99 < {TARGET_ACK_P99_MS:.0f} ms (worst kind)"
        measured = f"{p99 * 1e3:.1f} ms" if math.isfinite(p99) else "deliveries failed"
        target(goal_ack, measured, p99 * 1e3 < TARGET_ACK_P99_MS)


def rate_limited_run(
    workdir: Path,
    repo: Path,
    args: argparse.Namespace,
    fake: FakeEmbeddings,
    limits: RateLimits,
    timeout: float,
) -> Run:
    """The initial push again, in a fresh `serve`, while the fake server enforces `limits`."""
    print(f"rate-limited run: {limits.describe()}", flush=True)
    fake.limit(limits)
    try:
        with running_service(workdir, repo, args, fake, limits=limits) as service:
            run = full_ingest(service, repo, fake, "full path, rate-limited", timeout)
    finally:
        fake.limit(None)
    print(f"rate-limited run: {run.seconds:.2f} s", flush=True)
    return run


if __name__ == "__main__":
    main()
