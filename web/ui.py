"""The console's page and assets from the `ui` package: `/` is index.html, `/ui/<file>` the rest.

The files are read through importlib.resources, so an installed wheel serves the same console as
a checkout. Every answer says `Cache-Control: no-cache`: the browser revalidates each time, so an
upgrade is seen on the next load without a build step stamping file names.
"""

from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

UI_PACKAGE = "ui"
ASSET_PREFIX = "/ui"
INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # Everything the page loads is its own; nothing it shows is ever run or parsed as markup.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
}


def create_ui_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    # One flat folder, listed once: a request names one of these files or nothing served, so no
    # name from a URL ever reaches the filesystem.
    assets = {
        entry.name: entry
        for entry in files(UI_PACKAGE).iterdir()
        if entry.is_file()
        and not entry.name.startswith(".")
        and _suffix(entry.name) in CONTENT_TYPES
    }

    @router.api_route("/", methods=["GET", "HEAD"])
    async def index() -> Response:
        return _file(assets[INDEX], INDEX)

    @router.api_route(ASSET_PREFIX + "/{name}", methods=["GET", "HEAD"])
    async def asset(name: str) -> Response:
        resource = assets.get(name)
        if resource is None:
            raise HTTPException(status_code=404, detail=f"no asset {name[:100]!r}")
        return _file(resource, name)

    return router


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def _file(resource: Traversable, name: str) -> Response:
    return Response(resource.read_bytes(), media_type=CONTENT_TYPES[_suffix(name)], headers=HEADERS)
