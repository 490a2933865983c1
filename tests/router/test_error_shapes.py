"""Router errors have tRPC's shape and the HTTP status it names: an unknown procedure is a 404,
the wrong method a 405, unparsable input a 400 PARSE_ERROR, invalid input a 400 that names each
bad field, and a missing or unknown token a 401 (before the input is even read)."""

from pathlib import Path

import pytest

from tests.router.service import running_router

# Input is refused before any query but the token's, which every other router test runs on both
# databases: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_an_unknown_procedure_is_a_404_in_trpc_shape(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        response = router.query("jobs.nope", router.token())

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": 'no procedure on path "jobs.nope"',
            "code": -32004,
            "data": {"code": "NOT_FOUND", "httpStatus": 404, "path": "jobs.nope"},
        }
    }


def test_a_mutation_called_as_a_query_is_a_405(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        response = router.query("repositories.sync", router.token(), {"repositoryId": 1})

    assert response.status_code == 405
    error = response.json()["error"]
    assert (error["code"], error["data"]["code"]) == (-32005, "METHOD_NOT_SUPPORTED")
    assert error["message"] == "repositories.sync is a mutation: call it with POST, not GET"


def test_input_that_is_not_json_is_a_parse_error(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        response = router.client.get(
            "/api/trpc/search.query",
            params={"input": '{"query": "unterminated'},
            headers={"Authorization": f"Bearer {router.token()}"},
        )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["data"]["code"]) == (-32700, "PARSE_ERROR")
    assert error["message"].startswith("the input parameter is not valid JSON")


def test_invalid_input_is_a_400_that_names_each_bad_field(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        token = router.token()
        too_many = router.query("search.query", token, {"query": "deploy", "limit": 500})
        misspelt = router.mutate("repositories.sync", token, {"repoId": 1})

    assert too_many.status_code == misspelt.status_code == 400
    error = too_many.json()["error"]
    assert (error["code"], error["data"]) == (
        -32600,
        {"code": "BAD_REQUEST", "httpStatus": 400, "path": "search.query"},
    )
    assert error["message"] == "invalid input: limit: Input should be less than or equal to 50"
    assert misspelt.json()["error"]["message"] == (
        "invalid input: repositoryId: Field required; repoId: Extra inputs are not permitted"
    )


def test_a_missing_or_unknown_token_is_a_401_whatever_the_input(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        router.token()
        missing = router.query("search.query", None, {"query": "deploy"})
        unknown = router.query("search.query", "made-up-token", {"limit": "not even valid"})
        basic = router.client.get(
            "/api/trpc/repositories.list", headers={"Authorization": "Basic dXNlcjpwYXNz"}
        )

    for response in (missing, unknown, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        error = response.json()["error"]
        assert (error["code"], error["data"]["code"]) == (-32001, "UNAUTHORIZED")
    assert missing.json()["error"]["message"].startswith("missing token")
    assert unknown.json()["error"]["message"].startswith("invalid or revoked token")
