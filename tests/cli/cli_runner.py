"""Running `docs-ingest` in a test: in process with click's runner, or as a real process.

Settings are read from the environment once per process (`get_settings` is cached), so every
in-process run starts from a clean cache and the environment the test gives it.
"""

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from cli.main import main
from service.settings import get_settings
from tests.e2e.system import System

COMMAND = str(Path(sys.executable).parent / "docs-ingest")


def system_env(system: System) -> dict[str, str]:
    """The environment of a user whose CLI talks to `system`, and finds its database."""
    settings = system.services.settings
    env = {"DOCS_INGEST_URL": system.app_url, "DOCS_INGEST_DATA_DIR": str(settings.data_dir)}
    return env | ({"DATABASE_URL": settings.database_url} if settings.database_url else {})


def run(args: list[str], env: dict[str, str]) -> Result:
    """`docs-ingest ARGS` in this process; DOCS_INGEST_TOKEN and DATABASE_URL are unset unless
    `env` sets them."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            main,
            args,
            env={"DOCS_INGEST_TOKEN": None, "DATABASE_URL": None, **env},
            catch_exceptions=False,
            prog_name="docs-ingest",
        )
    finally:
        get_settings.cache_clear()


def run_process(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`docs-ingest ARGS` as its own process, started in `cwd`."""
    foreign = ("DOCS_INGEST_", "INNGEST_", "DATABASE_URL")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(foreign)}
    return subprocess.run(
        [COMMAND, *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def serve_process(
    tmp_path: Path, port: int, engine_port: int, **env: str
) -> subprocess.Popen[bytes]:
    """`docs-ingest serve` as a process on these ports, its data and log (`serve.log`) in
    `tmp_path`, with no INNGEST_* variable of the caller's: the embedded engine."""
    command = [
        str(Path(sys.executable).parent / "docs-ingest"),
        *("serve", "--port", str(port), "--engine-port", str(engine_port)),
    ]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("INNGEST_")},
        "DOCS_INGEST_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    with (tmp_path / "serve.log").open("w") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=tmp_path
        )


def last_line(output: str) -> str:
    """The last line a command printed: its error, after click's usage lines."""
    return output.strip().splitlines()[-1]
