"""A token acts for one organization: it lists that organization's repositories only, and
another organization's repository answers exactly as one that does not exist."""

from pathlib import Path

from tests.router.service import running_router


def test_every_procedure_sees_only_the_callers_organization(
    tmp_path: Path, database_url: str
) -> None:
    with running_router(tmp_path, database_url) as router:
        router.local_repository("handbook", org="default")
        theirs, _ = router.local_repository("secrets", org="acme")
        token = router.token("default")

        listed = router.query("repositories.list", token)
        other = router.mutate("repositories.sync", token, {"repositoryId": theirs.id})
        missing = router.mutate("repositories.sync", token, {"repositoryId": 999})

    assert listed.status_code == 200
    assert [repo["fullName"] for repo in listed.json()["result"]["data"]] == ["handbook"]
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["message"] == (
        f"organization default has no repository {theirs.id}"
    )
    assert missing.json()["error"]["message"] == "organization default has no repository 999"
