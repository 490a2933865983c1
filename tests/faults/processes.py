"""The engine and the app as the separate processes a deployment runs, for the crash cases.

`docs-ingest engine` keeps its state in its own SQLite file; `docs-ingest serve` with
INNGEST_DEV set to the engine's URL runs the app alone, as a replica does. Either can be
SIGKILLed and started again on the same state and port: the engine knows the app by its URL, so
the app must come back where it was.
"""

import os
import signal
import subprocess
from pathlib import Path

import httpx

from tests.cli.cli_runner import COMMAND
from tests.engine.harness import eventually

FOREIGN_VARIABLES = ("DOCS_INGEST_", "INNGEST_", "DATABASE_URL", "QDRANT_", "OPENAI_", "GITHUB_")
START_TIMEOUT_S = 90  # the app imports the whole service: slow on a busy machine


def clean_environment() -> dict[str, str]:
    """This process's environment without a setting of the service, the engine or the SDK."""
    return {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_VARIABLES)}


class Process:
    """`docs-ingest ARGS` as a child process, logging to folder/NAME-<start number>.log."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], folder: Path, url: str
    ) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.folder = folder
        self.url = url
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        """Start the process and return once it serves."""
        assert self._process is None, f"{self.name} is already running"
        self.starts += 1
        with self.log.open("w") as log:
            self._process = subprocess.Popen(
                [COMMAND, *self.args],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            eventually(self._healthy, timeout=START_TIMEOUT_S, interval=0.05)
        except AssertionError as exc:
            raise AssertionError(f"{self.name} did not start: {self.log.read_text()}") from exc

    def _healthy(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(30)
            self._process = None

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it (SIGKILL if it does not end)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(30)
        self._process = None


def engine_process(folder: Path, port: int, app_url: str, queue_workers: int) -> Process:
    """`docs-ingest engine` with its state in folder/engine.db, as `serve` would run it
    (default retry backoff), syncing the app at `app_url` when it starts."""
    config = folder / "inngest.json"
    config.write_text("{}")  # no inngest.json of a parent folder applies
    # fmt: off
    args = [
        "engine",
        "--config", str(config),
        "--db", str(folder / "engine.db"),
        "--host", "127.0.0.1", "--port", str(port),
        "--sdk-url", f"{app_url}/api/inngest",
        "--no-discovery", "--no-poll",
        "--queue-workers", str(queue_workers),
    ]
    # fmt: on
    return Process("engine", args, clean_environment(), folder, f"http://127.0.0.1:{port}")


def app_process(folder: Path, port: int, engine_url: str, database_url: str) -> Process:
    """`docs-ingest serve` running the app alone (INNGEST_DEV names the engine), with its
    database at `database_url` and its Qdrant Edge shards under folder/data/qdrant."""
    env = clean_environment() | {
        "DATABASE_URL": database_url,
        "DOCS_INGEST_DATA_DIR": str(folder / "data"),
        "DOCS_INGEST_PORT": str(port),
        "INNGEST_DEV": engine_url,
    }
    return Process("app", ["serve"], env, folder, f"http://127.0.0.1:{port}")
