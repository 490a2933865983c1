"""Every bad input to the jobs procedures is a 4xx whose message names the problem, never a 5xx:
wrong types, out-of-range numbers (ids beyond the 32-bit INTEGER PostgreSQL stores them in),
unknown fields, over-long strings, deeply nested or oversized JSON."""

import json
from pathlib import Path

import pytest

from tests.router.service import running_router

# Input is refused before any query but the token's, which every other router test runs on both
# databases: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TOO_DEEP = "[" * 50_000 + "]" * 50_000

CASES = [
    ("jobs.get", {"id": "seven"}, 400, "id: Input should be a valid integer"),
    ("jobs.get", {"id": True}, 400, "id: Input should be a valid integer"),
    ("jobs.get", {"id": "7"}, 400, "id: Input should be a valid integer"),
    ("jobs.get", {"id": 7.0}, 400, "id: Input should be a valid integer"),
    ("jobs.list", {"limit": True}, 400, "limit: Input should be a valid integer"),
    ("jobs.list", {"repositoryIds": [False]}, 400, "repositoryIds.0: Input should be a valid"),
    ("jobs.get", {"id": 0}, 400, "id: Input should be greater than or equal to 1"),
    ("jobs.get", {"id": 2**31}, 400, "id: Input should be less than or equal to 2147483647"),
    ("jobs.get", {"id": 2**64}, 400, "id: Input should be less than or equal to"),
    ("jobs.get", {"id": 10**400}, 400, "id:"),
    ("jobs.get", {}, 400, "id: Field required"),
    ("jobs.get", {"id": 1, "fileLimit": 501}, 400, "fileLimit: Input should be less than"),
    ("jobs.get", {"id": 1, "fileCursor": str(2**31)}, 400, "fileCursor: Value error, a cursor"),
    ("jobs.list", {"limit": 0}, 400, "limit: Input should be greater than or equal to 1"),
    ("jobs.list", {"limit": 1.5}, 400, "limit: Input should be a valid integer"),
    ("jobs.list", {"status": ["done"]}, 400, "status.0: Input should be 'queued'"),
    ("jobs.list", {"status": "failed"}, 400, "status: Input should be a valid list"),
    ("jobs.list", {"repositoryIds": [2**31]}, 400, "repositoryIds.0: Input should be less"),
    ("jobs.list", {"cursor": "abc"}, 400, "cursor: String should match pattern"),
    ("jobs.list", {"cursor": str(2**40)}, 400, "cursor: String should match pattern"),
    ("jobs.list", {"cursor": str(2**31)}, 400, "cursor: Value error, a cursor is at most"),
    ("jobs.list", {"text": "x" * 201}, 400, "text: String should have at most 200 characters"),
    ("jobs.list", {"colour": "red"}, 400, "colour: Extra inputs are not permitted"),
    ("jobs.list", [1, 2], 400, "input: Input should be a valid dictionary"),
    ("jobs.list", {"k" * 5000: 1}, 400, "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("procedure", "input", "status", "message"), CASES)
def test_a_bad_query_input_is_a_400_naming_the_field(
    tmp_path: Path, database_url: str, procedure: str, input: object, status: int, message: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        response = router.query(procedure, router.token(), input)

    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert len(response.json()["error"]["message"]) < 2000


def test_deeply_nested_json_is_a_parse_error(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        token = router.token()
        headers = {"Authorization": f"Bearer {token}"}
        body = router.client.post("/api/trpc/jobs.retry", content=TOO_DEEP, headers=headers)
        huge = router.client.post("/api/trpc/jobs.retry", content=TOO_DEEP * 3, headers=headers)
        query = router.client.get(
            "/api/trpc/jobs.list", params={"input": "[" * 5000 + "]" * 5000}, headers=headers
        )

    assert body.status_code == 400
    assert body.json()["error"]["message"] == "the body is nested too deeply"
    assert huge.status_code == 413  # over the size limit: not even parsed
    assert huge.json()["error"]["message"] == "the body is over 256 KB"
    assert query.status_code == 400
    assert query.json()["error"]["message"] == "the input parameter is nested too deeply"


def test_many_needs_exactly_one_of_ids_and_filter(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        token = router.token()
        neither = router.mutate("jobs.cancelMany", token, {})
        both = router.mutate("jobs.cancelMany", token, {"ids": [1], "filter": {}})
        too_many = router.mutate("jobs.retryMany", token, {"ids": list(range(1, 102))})

    for response in (neither, both):
        assert response.status_code == 400
        assert "give either `ids` or `filter`" in response.json()["error"]["message"]
    assert too_many.status_code == 400
    assert "ids: List should have at most 100 items" in too_many.json()["error"]["message"]


def test_a_huge_number_in_the_body_is_a_400(tmp_path: Path, database_url: str) -> None:
    with running_router(tmp_path, database_url) as router:
        response = router.client.post(
            "/api/trpc/jobs.cancel",
            content=json.dumps({"id": 1}).replace("1", "9" * 5000),
            headers={"Authorization": f"Bearer {router.token()}"},
        )

    assert response.status_code == 400
    assert response.json()["error"]["data"]["code"] == "PARSE_ERROR"
