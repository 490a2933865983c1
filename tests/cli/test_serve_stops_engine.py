"""Stopping `docs-ingest serve` stops its engine too, even an engine that no longer answers."""

import contextlib
import os
import signal
import socket
from pathlib import Path

import httpx

from tests.cli.cli_runner import serve_process
from tests.engine.harness import eventually, free_port


def test_sigterm_to_serve_leaves_no_engine_behind(tmp_path: Path) -> None:
    port, engine_port = free_port(), free_port()
    with serve_process(tmp_path, port, engine_port) as serve:
        engine_pid = None
        try:
            # synced: the engine has registered the service's functions
            eventually(lambda: _functions(f"http://127.0.0.1:{engine_port}/dev"), timeout=30)
            engine_pid = _engine_of(serve.pid)
            # A stopped process acts on no signal but SIGKILL, as an engine whose event loop is
            # stuck acts on no SIGTERM.
            os.kill(engine_pid, signal.SIGSTOP)
            serve.terminate()
            serve.wait(60)
            left_behind = _alive(engine_pid)
        finally:
            if serve.poll() is None:
                serve.kill()
            if engine_pid is not None and _alive(engine_pid):
                os.kill(engine_pid, signal.SIGKILL)

    assert not left_behind
    with socket.socket() as sock:  # a new engine can listen on its port, as serve's would
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", engine_port))
        sock.listen()


def _functions(url: str) -> list[str] | None:
    try:
        functions: list[str] = httpx.get(url, timeout=5).json()["functions"]
    except httpx.HTTPError:
        return None
    return functions


def _engine_of(pid: int) -> int:
    """The pid of the engine process `pid` started (`python -m engine ...`)."""
    children = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _parent_of(entry) == pid
    ]
    engines = [child for child in children if b"\0engine\0" in _command_line(child)]
    assert len(engines) == 1, children
    return engines[0]


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _parent_of(proc: Path) -> int | None:
    with contextlib.suppress(OSError):
        # after the ")" that ends the command name: state, then the parent's pid
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return None


def _alive(pid: int) -> bool:
    """Whether `pid` is a process that has not ended (a zombie has, awaiting its parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
