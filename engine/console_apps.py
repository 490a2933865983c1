"""The console's Apps page: the SDK apps the engine syncs, added, synced and removed by URL.

An app is known by its URL: one configured with `--sdk-url`, one added here, or one that
registered itself. The engine syncs the configured and added ones (`Engine.sdk_urls`); the URLs
added here are kept in the engine file and synced again after a restart. The last sync the
console made of each URL, and its error, are recorded; an error is shown until a later
registration of the app succeeds.
"""

import hashlib
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import engine.console_params as incoming
from engine.console_params import ConsoleError
from engine.console_views import timestamp
from engine.server import Engine


def app_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def app_routes(engine: Engine) -> list[BaseRoute]:
    history = engine.machine.history
    for url, entry in history.app_syncs().items():
        if entry.kept and url not in engine.sdk_urls:
            engine.sdk_urls.append(url)

    def apps_json() -> list[dict[str, Any]]:
        syncs = history.app_syncs()
        registered = {row["url"]: row for row in engine.store.apps()}
        owners = history.function_apps()
        found = []
        for url in dict.fromkeys([*engine.sdk_urls, *syncs, *registered]):
            row, sync = registered.get(url), syncs.get(url)
            language, _, version = (row["sdk"] if row else "").partition(":")
            synced_at = row["synced_at"] if row else None
            failed_last = sync is not None and (synced_at or 0) <= (sync.synced_at or 0)
            ids = sorted(slug for slug, app in owners.items() if row and app == row["name"])
            found.append(
                {
                    "id": app_id(url),
                    "name": row["name"] if row else None,
                    "url": url,
                    "sdk_language": language or None,
                    "sdk_version": version.removeprefix("v") or None,
                    "framework": (row["framework"] or None) if row else None,
                    "function_count": len(ids),
                    "function_ids": ids,
                    "synced_at": timestamp(synced_at),
                    "error": sync.error if sync and failed_last else None,
                    "kept": url in engine.sdk_urls,
                }
            )
        return found

    def find(wanted: str) -> dict[str, Any]:
        for app in apps_json():
            if app["id"] == wanted:
                return app
        raise ConsoleError(404, f"app {wanted} not found")

    async def list_apps(request: Request) -> Response:
        return JSONResponse({"apps": apps_json()})

    async def add_app(request: Request) -> Response:
        body = await incoming.object_body(request, engine)
        url = incoming.body_string(body, "url", required=True)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ConsoleError(400, f"'url' {url[:80]!r} is not a URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConsoleError(400, f"'url' {url[:80]!r} is not an http or https URL")
        history.keep_app_url(url)
        if url not in engine.sdk_urls:
            engine.sdk_urls.append(url)
        await engine.sync([url])
        return JSONResponse(find(app_id(url)), status_code=201)

    async def sync_all(request: Request) -> Response:
        for url in list(engine.sdk_urls):
            await engine.sync([url])
        return JSONResponse({"apps": apps_json()})

    async def sync_app(request: Request) -> Response:
        app = find(request.path_params["id"])
        await engine.sync([app["url"]])
        return JSONResponse(find(app["id"]))

    async def remove_app(request: Request) -> Response:
        app = find(request.path_params["id"])
        if app["url"] in engine.sdk_urls:
            engine.sdk_urls.remove(app["url"])
        history.forget_app_url(app["url"])
        for row in engine.store.apps():
            if row["url"] == app["url"]:
                engine.machine.forget_app(row["name"])
        engine.notify()
        return JSONResponse({"id": app["id"]})

    return [
        Route("/apps", list_apps, methods=["GET"]),
        Route("/apps", add_app, methods=["POST"]),
        Route("/apps/sync", sync_all, methods=["POST"]),
        Route("/apps/{id}/sync", sync_app, methods=["POST"]),
        Route("/apps/{id}", remove_app, methods=["DELETE"]),
    ]
