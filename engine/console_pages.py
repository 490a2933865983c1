"""The console's pages, served at the engine's root as `inngest dev` serves its UI at :8288.

Every page path (`/`, `/runs`, `/run?runID=`, `/events`, `/functions`, `/apps`) answers the one
index.html; its ES modules pick the page from the address and read /api/console. The files come
from the `engine.console` package through importlib.resources, so an installed wheel serves the
same console as a checkout; `no-cache` makes the browser revalidate, so an upgrade shows on the
next load without a build step stamping file names.
"""

import os
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

PAGE_PATHS = ("/", "/runs", "/run", "/events", "/functions", "/apps")
ASSET_PREFIX = "/console/"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # Everything the pages load is their own; what they show (payloads, outputs, errors) only
    # ever becomes text, never markup or script.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
}


def page_routes() -> list[BaseRoute]:
    # One flat folder, listed once: a request names one of these files or nothing served, so no
    # name from a URL ever reaches the filesystem.
    served = {}
    for entry in files("engine.console").iterdir():
        suffix = os.path.splitext(entry.name)[1]  # "" for a dot file
        if entry.is_file() and suffix in CONTENT_TYPES:
            served[entry.name] = (entry, CONTENT_TYPES[suffix])

    def serve(name: str) -> Response:
        if name not in served:
            return JSONResponse({"error": f"no console file {name[:100]!r}", "status": 404}, 404)
        resource, content_type = served[name]
        return Response(resource.read_bytes(), media_type=content_type, headers=HEADERS)

    async def page(request: Request) -> Response:
        return serve("index.html")

    async def asset(request: Request) -> Response:
        return serve(request.path_params["name"])

    return [
        *(Route(path, page, methods=["GET", "HEAD"]) for path in PAGE_PATHS),
        Route(ASSET_PREFIX + "{name}", asset, methods=["GET", "HEAD"]),
    ]
