"""`/openapi.json` describes the app's public HTTP API: valid OpenAPI 3.1, every procedure as the
path a client calls, the webhook and the operations endpoints, and no route left undescribed."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from router.endpoint import METHODS
from router.names import INPUT_PARAMETER, TRPC_PATH, WEBHOOK_PATH
from router.procedure import ProcedureKind
from router.procedures import PROCEDURES
from tests.router.service import running_router
from web.app import INNGEST_PATH
from web.ui import ASSET_PREFIX
from web.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER

# Served, but not the HTTP API: the SDK's endpoint (Inngest's alone, signed), the one route behind
# every procedure, the console's pages, and the document itself.
NOT_DESCRIBED = {
    INNGEST_PATH,
    TRPC_PATH + "/{path}",
    "/",
    ASSET_PREFIX + "/{name}",
    "/openapi.json",
}
OUTPUTS = {
    "jobs.list": "JobList",
    "jobs.get": "JobDetails",
    "jobs.retry": "JobAnswer",
    "jobs.cancel": "JobAnswer",
    "jobs.retryMany": "ManyAnswer",
    "jobs.cancelMany": "ManyAnswer",
    "repositories.connect": "Connected",
    "repositories.sync": "SyncStarted",
    "search.query": "SearchResult",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Any]]:
    """The document as `/openapi.json` serves it, and the app."""
    with running_router(tmp_path_factory.mktemp("openapi")) as router:
        response = router.client.get("/openapi.json")
        assert response.status_code == 200
        yield response.json(), router.client.app


@pytest.fixture(scope="module")
def document(served: tuple[dict[str, Any], Any]) -> dict[str, Any]:
    return served[0]


def test_the_document_is_valid_openapi_with_valid_json_schemas(document: dict[str, Any]) -> None:
    schemathesis.openapi.from_dict(document).validate()
    assert document["openapi"].startswith("3.1")
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
    dangling = {ref for ref in _refs(document) if not _resolves(document, ref)}
    assert dangling == set()


def test_every_procedure_is_a_path_called_as_the_router_answers(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name, procedure in PROCEDURES.items():
        print(f"{name}: {procedure.kind.value}")
        path = document["paths"][f"{TRPC_PATH}/{name}"]
        assert list(path) == [METHODS[procedure.kind].lower()]
        operation = path[METHODS[procedure.kind].lower()]
        assert operation["security"] == [{"bearer": []}]
        if procedure.kind is ProcedureKind.QUERY:
            [parameter] = operation["parameters"]
            assert (parameter["name"], parameter["in"]) == (INPUT_PARAMETER, "query")
            carried = parameter["content"]["application/json"]["schema"]
        else:
            assert "parameters" not in operation
            carried = operation["requestBody"]["content"]["application/json"]["schema"]
        assert carried == {"$ref": f"#/components/schemas/{procedure.input.__name__}"}
        assert {"400", "401", "404", "413", "default"} <= set(operation["responses"])
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        data = answer["properties"]["result"]["properties"]["data"]
        expected = OUTPUTS.get(name)
        if expected is None:  # repositories.list: a list of them
            assert data == {"type": "array", "items": {"$ref": "#/components/schemas/Repository"}}
        else:
            assert data == {"$ref": f"#/components/schemas/{expected}"}
    assert set(OUTPUTS) | {"repositories.list"} == set(PROCEDURES)
    assert schemas["ListInput"]["properties"]["repositoryIds"]  # by alias, as on the wire
    assert schemas["GetInput"]["required"] == ["id"]
    assert schemas["ConnectInput"]["discriminator"]["propertyName"] == "provider"


def test_inputs_that_may_be_left_out_are_not_required(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/api/trpc/jobs.list"]["get"]["parameters"][0]["required"] is False
    assert paths["/api/trpc/repositories.list"]["get"]["parameters"][0]["required"] is False
    assert paths["/api/trpc/jobs.get"]["get"]["parameters"][0]["required"] is True
    assert paths["/api/trpc/jobs.cancelMany"]["post"]["requestBody"]["required"] is True


def test_an_error_is_described_as_the_router_sends_it(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ProcedureError"]["properties"]["error"]
    assert error["required"] == ["message", "code", "data"]
    assert error["properties"]["data"]["required"] == ["code", "httpStatus", "path"]
    assert "NOT_FOUND" in error["properties"]["data"]["properties"]["code"]["enum"]


def test_the_webhook_takes_githubs_headers_and_payloads(document: dict[str, Any]) -> None:
    operation = document["paths"][WEBHOOK_PATH]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {EVENT_HEADER, DELIVERY_HEADER, SIGNATURE_HEADER}
    assert operation["security"] == []
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/PushPayload"} in body["anyOf"]
    assert {"200", "202", "400", "401", "413", "415", "503"} == set(operation["responses"])


def test_every_route_is_described_or_deliberately_left_out(
    served: tuple[dict[str, Any], Any],
) -> None:
    document, app = served
    served_paths = {route.path for route in _routes(app.routes) if isinstance(route, APIRoute)}
    procedures = {f"{TRPC_PATH}/{name}" for name in PROCEDURES}
    print("served:", sorted(served_paths))
    assert set(document["paths"]) == (served_paths - NOT_DESCRIBED) | procedures
    assert {"/healthz", "/readyz", "/metrics", WEBHOOK_PATH} <= set(document["paths"])


def test_the_docs_pages_are_off_since_they_need_a_cdn(tmp_path: Path) -> None:
    with running_router(tmp_path) as router:
        assert router.client.get("/docs").status_code == 404
        assert router.client.get("/redoc").status_code == 404


def _routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, through included routers (FastAPI keeps those whole since 0.13x)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolves(document: dict[str, Any], ref: str) -> bool:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
