"""The processes a benchmark runs and talks to: the fake embedding server and `docs-ingest serve`.

`FakeEmbeddings` runs bench/fake_embeddings.py on a free loopback port and reads its counters;
`Serve` runs `docs-ingest serve` (the app, and the embedded engine in a subprocess of its own)
with exactly the environment it is given, waits until the engine has synced the app's functions,
and reads the app's database as a user's SQL client could; `post` delivers one webhook on a new
connection, cheaply enough that the client does not compete with the service for the cores.
Shared by bench/ingest.py and bench/load.py.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from serve_probe import engine_child
from sqlmodel import Session

from service.db import create_db_engine
from service.embeddings import Embedder, LocalEmbedder, OpenAIEmbedder
from service.settings import Settings

FAKE_API_KEY = "fake"


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
    requests: int  # answered with vectors
    inputs: int
    tokens: int
    refused: int  # answered 429
    too_large: int  # of which: a request of more tokens than the TPM
    peak_in_flight: int
    first_arrival: float | None  # time.time() of the first request
    last_answer: float | None  # time.time() of the last answer
    hashes: list[str]

    @property
    def refused_share(self) -> float:
        return self.refused / max(1, self.requests + self.refused)


@dataclass(frozen=True)
class RateLimits:
    rpm: int  # 0 = none
    tpm: int
    fresh: bool  # budgets start full, not spent
    told: bool  # the service gets them as settings

    def describe(self) -> str:
        pairs = (("RPM", self.rpm), ("TPM", self.tpm))
        limits = ", ".join(f"{name} {value:,}" for name, value in pairs if value)
        start = "full (a fresh account)" if self.fresh else "spent (after a minute at the limit)"
        told = "told to the service" if self.told else "not told: the service reads the headers"
        return f"{limits}; {told}; budgets start {start}"


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
        try:
            wait_until(lambda: self.http.get("/health").is_success, "the fake embeddings server")
        except BaseException:
            self.close()
            raise

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reset(self) -> None:
        """Counters to zero and the rate-limit budgets started again."""
        self.http.post("/stats/reset").raise_for_status()

    def limit(self, limits: RateLimits | None) -> None:
        body = {"rpm": 0, "tpm": 0} if limits is None else vars(limits)
        self.http.post("/limits", json=body).raise_for_status()

    def stats(self) -> EmbedStats:
        body = self.http.get("/stats").json()
        return EmbedStats(
            body["requests"],
            body["inputs"],
            body["tokens"],
            body["refused"],
            body["too_large"],
            body["peak_in_flight"],
            body["first_arrival"],
            body["last_answer"],
            body["hashes"],
        )

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(10)


class Serve:
    """`docs-ingest serve` in a subprocess, and what a benchmark needs to talk to it."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        settings: Settings,
        profile: Path | None = None,
    ) -> None:
        self.workdir = workdir
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
        try:
            wait_until(lambda: self.http.get("/health").is_success, "docs-ingest serve")
            wait_until(
                lambda: any(
                    "docs-file-process" in name
                    for name in httpx.get(f"{self.settings.engine_url}/dev").json()["functions"]
                ),
                "the engine to sync the service's functions",
            )
        except BaseException:  # a service that never came up, or Ctrl-C meanwhile
            process.kill()
            process.wait()
            raise
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

    def engine_cpu(self) -> float:
        """CPU of the embedded engine subprocess (not counted by `cpu` while it runs)."""
        engine = engine_child(self.process.pid)
        return float("nan") if engine is None else cpu_seconds(engine)


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


def model_of(fake: FakeEmbeddings | None) -> Embedder:
    """The embedder `serve` builds from the same settings, for its model, dimension and token
    counter: the fake server's HTTP client is never opened, the local model never loaded."""
    if fake is None:
        return LocalEmbedder()
    return OpenAIEmbedder(httpx.AsyncClient(), api_key=FAKE_API_KEY, base_url=fake.base_url)


# --- webhooks ---------------------------------------------------------------------------------


async def post(app_url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float, bytes]:
    """One POST /webhooks/github on a new connection: (HTTP status, seconds until the whole
    answer was read, the answer's body). A bare HTTP/1.1 exchange on asyncio streams, not httpx:
    50 httpx requests at once cost this client more CPU than the service's answers (p99 ~120 ms
    against a bare Starlette endpoint, ~10 ms this way) on the same two cores."""
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
        content = await reader.readexactly(int(named["content-length"]))
        return int(status_line.split(" ", 2)[1]), time.perf_counter() - start, content
    finally:
        writer.close()
