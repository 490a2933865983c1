"""How fast a push of a docs repository gets indexed, end to end, against a plain script.

Makes a real git repository of --files markdown pages (1-4 KB, headings, lists, code fences; a
few chunks each) and starts bench/fake_embeddings.py: an OpenAI-compatible embeddings server in
its own process that takes --latency-ms per request (overlapping, like OpenAI) and counts what it
is asked. Then, in one run:

1. initial push, side by side, same files, chunker, token counter, embedding batches, file
   concurrency and fake server:
   (a) full path: `docs-ingest serve` in a subprocess (embedded engine, SQLite, Qdrant Edge,
       DOCS_INGEST_EMBEDDER=openai against the fake server, DOCS_INGEST_FILE_CONCURRENCY =
       --concurrency), the repository connected through `service.repositories.connect` before
       `serve` starts, one signed push webhook; timed from the POST until the job row is terminal;
   (b) plain: this process, no engine, no database: `git ls-tree`, then per file `git cat-file`,
       `chunk_markdown`, one `OpenAIEmbedder.embed` call of the file's chunks, `upsert_file` into
       a fresh Qdrant Edge folder; at most --concurrency files at once. That is the pipeline's
       batching (one embeddings request per file), so full / plain is the cost of the engine, the
       database and the steps. The plain script's tokenizer is loaded before it is timed; `serve`
       loads its own during the job (~0.5 s);
   (c) reference, not part of the ratio: the plain script with cross-file batches of
       --batch-size chunks per request (0 skips it): what batching across files would give.
2. --single-pushes one-file pushes into the indexed repository: inputs the fake server was asked
   to embed (target: exactly the changed file's chunks) and webhook POST -> job row terminal
   (target < 1 s).
3. webhook ack latency: --ack-rounds rounds of N signed deliveries sent at once (N from
   --deliveries, repeatable), each round on new connections, of two kinds: pushes to another
   branch (acked 202 without a job) and real pushes to the ingested branch (before = after = the
   indexed head: a job row and an engine event each; the jobs are then drained and must embed
   nothing). Target p99 < 50 ms, measured by this client: bare HTTP/1.1 on asyncio streams, so
   that its own cost stays small beside the service's on the same cores. A round in which
   deliveries get no answer within 10 s ends its kind; a service that then stays unresponsive is
   killed and restarted on the same data, so the run still finishes.

The initial push runs --rounds times (fresh data folder and `serve` each time); the table shows
the median run. Run with `.venv/bin/python bench/ingest.py` (2,000 files: about six minutes;
--files scales it down). Not a test: nothing imports it.
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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fake_embeddings import text_hash
from sqlalchemy import func
from sqlmodel import Session, col, select

from cli.pushes import push_payload
from service.chunking import ChunkedDocument
from service.config import RepoConfig
from service.db import create_db_engine, migrate, session_scope
from service.embeddings import Embedder, OpenAIEmbedder
from service.indexing import chunk_records, chunk_text
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
from service.settings import Settings
from service.sources.local_git import LocalGitSource
from service.vectors import EdgeVectorStore
from web.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_of

BRANCH = "main"
OTHER_BRANCH = "bench-other"
REPO_NAME = "bench-docs"
COLLECTION = "bench"
FAKE_API_KEY = "fake"
TERMINAL = {
    IngestionStatus.PROCESSED,
    IngestionStatus.SKIPPED,
    IngestionStatus.FAILED,
    IngestionStatus.CANCELLED,
}
TARGET_RATIO = 1.3
TARGET_ONE_FILE_S = 1.0
TARGET_ACK_P99_MS = 50.0
JOB_POLL_S = 0.01
ACK_TIMEOUT_S = 10.0
ACK_WARM_UP = 5  # deliveries: opens the app's code paths and pools before timing
RECOVERY_TIMEOUT_S = 45.0
DRAIN_TIMEOUT_S = 600.0
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


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (its git calls); Linux only."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            value = check()
            if value:
                return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # a clean stop: Qdrant Edge flushes, --profile is written
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class EmbedStats:
    requests: int
    inputs: int
    peak_in_flight: int
    first_arrival: float | None  # time.time() of the first request
    last_answer: float | None  # time.time() of the last answer
    hashes: list[str]


class FakeEmbeddings:
    """bench/fake_embeddings.py in a subprocess on a free loopback port."""

    def __init__(self, latency_ms: float, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = Path(__file__).with_name("fake_embeddings.py")
        command = [sys.executable, str(script), "--port", str(self.port)]
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [*command, "--latency-ms", str(latency_ms)], stdout=out, stderr=subprocess.STDOUT
            )
        self.http = httpx.Client(base_url=self.url, timeout=30)
        wait_until(lambda: self.http.get("/health").is_success, "the fake embeddings server")

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reset(self) -> None:
        self.http.post("/stats/reset").raise_for_status()

    def stats(self) -> EmbedStats:
        body = self.http.get("/stats").json()
        return EmbedStats(
            body["requests"],
            body["inputs"],
            body["peak_in_flight"],
            body["first_arrival"],
            body["last_answer"],
            body["hashes"],
        )

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(10)


class Service:
    """`docs-ingest serve` in a subprocess, and what the benchmark needs to talk to it."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        settings: Settings,
        repository: "Connected",
        profile: Path | None,
    ) -> None:
        self.workdir = workdir
        self.repository = repository
        self.env = env
        self.settings = settings
        self.profile = profile
        self.http = httpx.Client(base_url=settings.app_url, timeout=60)
        # The benchmark reads the service's rows itself, as a user's SQL client could.
        self.db = create_db_engine(settings.sqlalchemy_url)
        self.starts = 0
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        command = [str(Path(sys.executable).parent / "docs-ingest"), "serve"]
        if self.profile is not None:
            command = [
                sys.executable,
                "-c",
                "import cProfile, sys; from cli.main import main; sys.argv = sys.argv[1:];"
                f" cProfile.run('main()', {str(self.profile)!r})",
                *command,
            ]
        self.starts += 1
        with (self.workdir / f"serve-{self.starts}.log").open("w") as log:
            process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env={**clean_environment(), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: self.http.get("/health").is_success, "docs-ingest serve")
        wait_until(
            lambda: any(
                "docs-file-process" in name
                for name in httpx.get(f"{self.settings.engine_url}/dev").json()["functions"]
            ),
            "the engine to sync the service's functions",
        )
        return process

    def restart(self) -> None:
        """Kill (a wedged service may ignore SIGINT) and start again on the same data."""
        self.process.kill()
        self.process.wait()
        self.process = self._start()

    def stop(self) -> None:
        self.http.close()
        self.db.dispose()
        stop(self.process)

    def session(self) -> Session:
        return Session(self.db)

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)


@dataclass(frozen=True)
class Connected:
    id: int
    external_id: str
    webhook_secret: str


def service_env(data_dir: Path, fake: FakeEmbeddings, concurrency: int) -> dict[str, str]:
    return {
        "DOCS_INGEST_DATA_DIR": str(data_dir),
        "DOCS_INGEST_PORT": str(free_port()),
        "DOCS_INGEST_ENGINE_PORT": str(free_port()),
        "DOCS_INGEST_EMBEDDER": "openai",
        "OPENAI_API_KEY": FAKE_API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "DOCS_INGEST_FILE_CONCURRENCY": str(concurrency),
    }


# Settings the environment could set that would point the service away from the embedded
# defaults this benchmark measures.
FOREIGN_SETTINGS = ("DATABASE_URL", "QDRANT_URL", "OPENAI_EMBEDDING_MODEL")


def clean_environment() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCS_INGEST_", "INNGEST_", "OPENAI_"))
        and key not in FOREIGN_SETTINGS
    }


def connect_repository(settings: Settings, repo: Path, fake: FakeEmbeddings) -> Connected:
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
                embedder=fake_embedder(fake),
                local_path=repo,
            )
    finally:
        db.dispose()
    assert row.id is not None
    return Connected(row.id, row.external_id, row.webhook_secret)


@contextlib.contextmanager
def running_service(
    workdir: Path, repo: Path, fake: FakeEmbeddings, concurrency: int, profile: Path | None
) -> Iterator[Service]:
    env = service_env(workdir / "data", fake, concurrency)
    # No .env file: the benchmark's settings are exactly `env`, here and in `serve`.
    values: dict[str, Any] = {"_env_file": None, **env}
    settings = Settings(**values)
    connected = connect_repository(settings, repo, fake)
    service = Service(workdir, env, settings, connected, profile)
    try:
        yield service
    finally:
        service.stop()


def fake_embedder(fake: FakeEmbeddings) -> Embedder:
    """The embedder `serve` builds from the same settings; only its model and dimension are used
    before an event loop exists, so its HTTP client is never opened."""
    return OpenAIEmbedder(httpx.AsyncClient(), api_key=FAKE_API_KEY, base_url=fake.base_url)


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
    deadline = time.monotonic() + timeout
    while (job := job_row(service, job_id)).status not in TERMINAL:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} not finished after {timeout:.0f} s")
        if service.process.poll() is not None:
            raise SystemExit(f"docs-ingest serve exited ({service.process.returncode})")
        time.sleep(JOB_POLL_S)
    if job.status in (IngestionStatus.FAILED, IngestionStatus.CANCELLED):
        raise SystemExit(f"job {job_id} {job.status}: {job.error_message}")


def last_ingested_sha(service: Service) -> str | None:
    with service.session() as session:
        row = session.get(ConnectedRepository, service.repository.id)
        assert row is not None
        return row.last_ingested_sha


def push_now(service: Service, repo: Path, branch: str = BRANCH) -> tuple[int, float]:
    """Deliver a push of `branch` from the last ingested sha to HEAD; (job id, seconds to done)."""
    payload = push_payload(
        repo,
        branch=branch,
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
    wait_for_job(service, job_id)
    return job_id, time.perf_counter() - start


@dataclass
class Run:
    label: str
    seconds: float
    files: int
    chunks: int
    embed: EmbedStats
    cpu: float
    timeline: dict[str, float] = field(default_factory=dict)  # moment -> seconds after start


def embedding_timeline(embed: EmbedStats, started_at: float) -> dict[str, float]:
    """When the fake server saw the first request and sent the last answer, after `started_at`."""
    if embed.first_arrival is None or embed.last_answer is None:
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


def full_ingest(service: Service, repo: Path, fake: FakeEmbeddings, label: str) -> Run:
    fake.reset()
    cpu = service.cpu()
    sent_at = time.time()
    job_id, seconds = push_now(service, repo)
    files, chunks, moments = job_timeline(service, job_id, sent_at)
    embed = fake.stats()
    timeline = {**moments, **embedding_timeline(embed, sent_at), DONE: seconds}
    return Run(label, seconds, files, chunks, embed, service.cpu() - cpu, timeline)


# --- the plain script ---------------------------------------------------------------------------


def chunked(text: str, embedder: Embedder) -> ChunkedDocument:
    """The file's chunks with the default lightfast.yml, as the pipeline makes them."""
    config = RepoConfig()
    return chunk_text(text, embedder, config.chunk_size, config.chunk_overlap)


def texts_of(document: ChunkedDocument) -> list[str]:
    return [chunk.text for chunk in document.chunks]


async def plain_ingest(
    repo: Path, store_dir: Path, fake: FakeEmbeddings, concurrency: int, batch_size: int
) -> Run:
    """Read, chunk, embed and upsert every file in this process; batch_size 0 = per file."""
    fake.reset()
    cpu = own_cpu_seconds()
    async with httpx.AsyncClient(timeout=60) as http:
        embedder = OpenAIEmbedder(http, api_key=FAKE_API_KEY, base_url=fake.base_url)
        vectors = EdgeVectorStore(store_dir)
        source = LocalGitSource(repo)
        started_at, start = time.time(), time.perf_counter()
        tree = await source.tree(await source.resolve(BRANCH))
        files = [
            (item.path, item.blob_sha or "")
            for item in plan(tree, {}, RepoConfig(), candidates=None)
            if item.action is FileAction.PROCESS and item.skip_reason is None
        ]
        await vectors.ensure_collection(COLLECTION, embedder.dimension)
        slots = asyncio.Semaphore(concurrency)

        async def one_file(path: str, blob_sha: str) -> int:
            async with slots:
                document = chunked((await source.read_blob(blob_sha)).decode(), embedder)
                embedded = await embedder.embed(texts_of(document))
                await vectors.upsert_file(
                    COLLECTION, REPO_NAME, path, chunk_records(document, blob_sha, embedded)
                )
                return len(document.chunks)

        async def read_file(blob_sha: str) -> ChunkedDocument:
            async with slots:
                return chunked((await source.read_blob(blob_sha)).decode(), embedder)

        async def embed_batch(batch: list[str]) -> list[list[float]]:
            async with slots:
                return await embedder.embed(batch)

        if batch_size == 0:
            chunks = sum(await asyncio.gather(*(one_file(*file) for file in files)))
        else:
            documents = await asyncio.gather(*(read_file(sha) for _, sha in files))
            flat = [text for document in documents for text in texts_of(document)]
            batches = [flat[i : i + batch_size] for i in range(0, len(flat), batch_size)]
            embedded = [v for vs in await asyncio.gather(*map(embed_batch, batches)) for v in vs]
            offset = 0
            for (path, blob_sha), document in zip(files, documents, strict=True):
                end = offset + len(document.chunks)
                file_records = chunk_records(document, blob_sha, embedded[offset:end])
                await vectors.upsert_file(COLLECTION, REPO_NAME, path, file_records)
                offset = end
            chunks = len(flat)
        seconds = time.perf_counter() - start
        points = await vectors.count(COLLECTION)
        await vectors.close()
    if points != chunks:
        raise SystemExit(f"plain run stored {points} points for {chunks} chunks")
    label = "plain, 1 request/file" if batch_size == 0 else f"plain, batches of {batch_size}"
    embed = fake.stats()
    timeline = {**embedding_timeline(embed, started_at), DONE: seconds}
    return Run(label, seconds, len(files), chunks, embed, own_cpu_seconds() - cpu, timeline)


# --- one-file pushes ----------------------------------------------------------------------------


@dataclass
class OneFilePush:
    seconds: float
    embed: EmbedStats
    expected_chunks: int
    exact: bool  # the fake server embedded exactly the changed file's chunks, nothing else
    files_processed: int


def one_file_push(
    service: Service, repo: Path, path: str, fake: FakeEmbeddings, embedder: Embedder, n: int
) -> OneFilePush:
    target = repo / path
    text = target.read_text() + f"\n## Update {n}\n\n{paragraph(random.Random(n))}\n"
    target.write_text(text)
    git(repo, "commit", "-q", "-am", f"update {path}")
    expected = Counter(text_hash(chunk) for chunk in texts_of(chunked(text, embedder)))
    fake.reset()
    job_id, seconds = push_now(service, repo)
    stats = fake.stats()
    job = job_row(service, job_id)
    return OneFilePush(
        seconds,
        stats,
        sum(expected.values()),
        Counter(stats.hashes) == expected,
        job.files_processed,
    )


# --- webhook acks -------------------------------------------------------------------------------


@dataclass
class AckRound:
    latencies: list[float]  # seconds, of each delivery answered 202
    failures: Counter[str]  # what the other deliveries got instead


async def post(app_url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    """One POST /webhooks/github on a new connection: (HTTP status, seconds until the whole
    answer was read). A bare HTTP/1.1 exchange on asyncio streams, not httpx: 50 httpx requests
    at once cost this client more CPU than the service's answers (p99 ~120 ms against a bare
    Starlette endpoint, ~10 ms this way) on the same two cores."""
    url = httpx.URL(app_url)
    head = ["POST /webhooks/github HTTP/1.1", f"host: {url.host}:{url.port}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head += [f"content-length: {len(body)}", "connection: close", "", ""]
    request = "\r\n".join(head).encode() + body
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(request)
        answer = await reader.readuntil(b"\r\n\r\n")
        status_line, *fields = answer.decode("latin-1").split("\r\n")
        named = dict(field.lower().split(":", 1) for field in fields if ":" in field)
        await reader.readexactly(int(named["content-length"]))
        return int(status_line.split(" ", 2)[1]), time.perf_counter() - start
    finally:
        writer.close()


async def ack_round(app_url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> AckRound:
    """Post every delivery at once on fresh connections; how long each took to be answered."""
    outcome = AckRound([], Counter())

    async def deliver(body: bytes, headers: dict[str, str]) -> None:
        try:
            status, seconds = await asyncio.wait_for(post(app_url, body, headers), ACK_TIMEOUT_S)
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
    drain_inputs: int = 0


def ack_latency(
    service: Service, repo: Path, fake: FakeEmbeddings, deliveries: Sequence[int], rounds: int
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
            acks.drain_inputs = fake.stats().inputs
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


def utilisation(run: Run, latency_s: float, concurrency: int) -> float:
    """How busy the embedder's `concurrency` slots were: 1.0 = always `concurrency` in flight."""
    return run.embed.requests * latency_s / (concurrency * run.seconds)


def report_ingest(
    plains: list[Run], fulls: list[Run], references: list[Run], args: argparse.Namespace
) -> float:
    latency_s = args.latency_ms / 1000
    plain, full = median_run(plains), median_run(fulls)
    shown = [plain, full, *references[:1]]
    repeated = f" (median of {len(fulls)})" if len(fulls) > 1 else ""
    print(f"\nInitial push of {args.files} files{repeated}, file concurrency {args.concurrency}:")
    rows: list[tuple[str, ...]] = [("", *(run.label for run in shown))]
    rows += [
        ("wall time (s)", *(f"{run.seconds:.2f}" for run in shown)),
        ("files", *(str(run.files) for run in shown)),
        ("chunks", *(str(run.chunks) for run in shown)),
        ("embedding requests", *(str(run.embed.requests) for run in shown)),
        ("embedded inputs", *(str(run.embed.inputs) for run in shown)),
        ("peak requests in flight", *(str(run.embed.peak_in_flight) for run in shown)),
        (
            "embedder slot use",
            *(f"{utilisation(run, latency_s, args.concurrency):.0%}" for run in shown),
        ),
        ("files/s", *(f"{run.files / run.seconds:.1f}" for run in shown)),
        (
            "slot time per file (ms)",
            *(f"{run.seconds * args.concurrency / run.files * 1e3:.0f}" for run in shown),
        ),
        ("CPU s (process + git)", *(f"{run.cpu:.1f}" for run in shown)),
        ("CPU ms per file", *(f"{run.cpu / run.files * 1e3:.1f}" for run in shown)),
    ]
    table(rows)
    floor = plain.embed.requests * latency_s / args.concurrency
    print(
        f"  floor: {plain.embed.requests} requests x {args.latency_ms:.0f} ms"
        f" / {args.concurrency} in flight = {floor:.2f} s"
    )
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


def report_pushes(pushes: list[OneFilePush]) -> tuple[float, bool]:
    print(f"\nOne-file pushes into the indexed repository ({len(pushes)}):")
    rows: list[tuple[str, ...]] = [
        ("push", "webhook -> done (s)", "requests", "inputs", "file's chunks", "exact", "files")
    ]
    for number, push in enumerate(pushes, 1):
        rows.append(
            (
                str(number),
                f"{push.seconds:.3f}",
                str(push.embed.requests),
                str(push.embed.inputs),
                str(push.expected_chunks),
                "yes" if push.exact else "NO",
                str(push.files_processed),
            )
        )
    median = statistics.median(push.seconds for push in pushes)
    rows.append(("median", f"{median:.3f}", "", "", "", "", ""))
    table(rows)
    return median, all(push.exact for push in pushes)


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
            drained = (
                f"{acks.drained_s:.1f} s, {acks.drain_inputs} inputs"
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


def target(goal: str, measured: str, ok: bool) -> None:
    print(f"  {goal:<46} {measured:>16}  {'ok' if ok else 'MISSED'}")


# --- main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--files", type=int, default=2000, help="markdown files in the repository (2000)")
    add("--latency-ms", type=float, default=100.0, help="fake server time per request (100)")
    add(
        "--concurrency",
        type=int,
        default=4,
        help="files at once: DOCS_INGEST_FILE_CONCURRENCY and the plain script's limit (4)",
    )
    add(
        "--batch-size",
        type=int,
        default=64,
        help="chunks per request of the cross-file reference run; 0 skips it (64). The ratio "
        "always compares one request per file, as the pipeline sends",
    )
    add("--rounds", type=int, default=1, help="initial-push rounds, plain and full each (1)")
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
    for name in ("files", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
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


def run(args: argparse.Namespace, workdir: Path) -> None:
    repo = workdir / REPO_NAME
    start = time.perf_counter()
    paths = make_repository(repo, args.files, args.seed)
    size = sum((repo / path).stat().st_size for path in paths) / len(paths) / 1024
    print(f"repository: {len(paths)} files, {size:.1f} KB average, made in", end=" ")
    print(f"{time.perf_counter() - start:.1f} s")
    fake = FakeEmbeddings(args.latency_ms, workdir / "fake-embeddings.log")
    fake_embedder(fake).count_tokens("load the tokenizer before any timing")
    plains: list[Run] = []
    references: list[Run] = []
    fulls: list[Run] = []
    try:
        for number in range(args.rounds):
            round_dir = workdir / f"round-{number + 1}"
            plains.append(
                asyncio.run(plain_ingest(repo, round_dir / "plain", fake, args.concurrency, 0))
            )
            print(f"round {number + 1}: plain {plains[-1].seconds:.2f} s", end="", flush=True)
            if args.batch_size and number == 0:
                batched = plain_ingest(
                    repo, round_dir / "batched", fake, args.concurrency, args.batch_size
                )
                references.append(asyncio.run(batched))
                print(f", cross-file batches {references[-1].seconds:.2f} s", end="", flush=True)
            last = number == args.rounds - 1
            profile = args.profile if last else None
            with running_service(round_dir, repo, fake, args.concurrency, profile) as service:
                fulls.append(full_ingest(service, repo, fake, "full path (serve)"))
                print(f", full path {fulls[-1].seconds:.2f} s", flush=True)
                if last:
                    embedder = fake_embedder(fake)
                    pushes = [
                        one_file_push(
                            service, repo, paths[n * 7919 % len(paths)], fake, embedder, n
                        )
                        for n in range(args.single_pushes)
                    ]
                    deliveries = args.deliveries or [50]
                    acks = (
                        ack_latency(service, repo, fake, deliveries, args.ack_rounds)
                        if args.ack_rounds
                        else []
                    )
        print(f"serve logs: {round_dir}/serve-*.log")
    finally:
        fake.close()

    ratio = report_ingest(plains, fulls, references, args)
    if pushes:
        median_push, exact = report_pushes(pushes)
    if acks:
        p99 = report_acks(acks)
    print("\nTargets")
    target(f"full / plain <= {TARGET_RATIO}", f"{ratio:.2f}", ratio <= TARGET_RATIO)
    if pushes:
        target("one-file push embeds exactly that file's chunks", "yes" if exact else "no", exact)
        goal = f"one-file push, webhook -> done < {TARGET_ONE_FILE_S:.0f} s (median)"
        target(goal, f"{median_push:.3f} s", median_push < TARGET_ONE_FILE_S)
    if acks:
        goal = f"webhook ack p99 < {TARGET_ACK_P99_MS:.0f} ms (worst kind)"
        measured = f"{p99 * 1e3:.1f} ms" if math.isfinite(p99) else "deliveries failed"
        target(goal, measured, p99 * 1e3 < TARGET_ACK_P99_MS)


if __name__ == "__main__":
    main()
