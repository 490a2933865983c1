"""The console's pages are served at the engine's root with every file they load; nothing else."""

import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.console_pages import PAGE_PATHS, page_routes

CONSOLE = Path(__file__).parents[2] / "engine" / "console"
IMPORT = re.compile(r"""(?:from|import)\s*\(?\s*['"]\./([\w.-]+)['"]""")
LINKED = re.compile(r"""(?:href|src)="/console/([\w.-]+)\"""")


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(Starlette(routes=page_routes()))


@pytest.mark.parametrize("path", [*PAGE_PATHS, "/run?runID=01ARZ3NDEKTSV4RRFFQ69G5FAV"])
def test_every_page_path_is_the_console_page(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-cache"
    assert '<main id="main"' in response.text


def test_every_file_the_pages_load_is_served(client: TestClient) -> None:
    wanted = set(LINKED.findall((CONSOLE / "index.html").read_text()))
    for script in CONSOLE.glob("*.js"):
        wanted |= set(IMPORT.findall(script.read_text()))

    answers = {name: client.get(f"/console/{name}") for name in wanted}

    assert {name for name, r in answers.items() if r.status_code != 200} == set()
    assert answers["app.js"].headers["content-type"] == "text/javascript; charset=utf-8"
    assert answers["base.css"].headers["content-type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/console/__init__.py",
        "/console/..%2Fapi.py",
        "/console/missing.js",
        "/console/",
        "/console/.hidden.js",
        "/console/" + "a" * 300 + ".js",  # longer than a file name may be
    ],
)
def test_nothing_but_the_console_files_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
