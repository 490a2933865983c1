"""`repositories.connect` connects a local git repository (or says what is wrong with the path),
and `repositories.list` shows each repository's last job."""

from pathlib import Path
from typing import Any

import pytest
import respx

from service.models import IngestionStatus
from tests.e2e.system import GitRepo
from tests.router.jobs_factory import make_job
from tests.router.service import running_router


def _data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["result"]["data"]


def test_a_local_repository_is_connected_on_its_checked_out_branch(
    tmp_path: Path, database_url: str
) -> None:
    repo = GitRepo(tmp_path / "handbook")
    (repo.path / "guide").mkdir()
    (repo.path / "guide" / "a.md").write_text("# A\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "first")
    with running_router(tmp_path, database_url) as router:
        token = router.token()
        # A folder inside the repository connects the repository itself.
        connected = _data(
            router.mutate(
                "repositories.connect",
                token,
                {"provider": "local", "path": str(repo.path / "guide")},
            )
        )
        again = router.mutate(
            "repositories.connect", token, {"provider": "local", "path": str(repo.path)}
        )
        job_id = make_job(
            router.services.db,
            router.services_repository(connected["repository"]["id"]),
            status=IngestionStatus.FAILED,
        )
        listed = _data(router.query("repositories.list", token))

    repository = connected["repository"]
    assert connected["webhook"] is None
    assert (repository["fullName"], repository["defaultBranch"]) == ("handbook", "main")
    assert repository["localPath"] == str(repo.path.resolve())
    assert repository["configStatus"] == "pending" and repository["lastJob"] is None
    assert again.status_code == 412
    assert "handbook is already connected" in again.json()["error"]["message"]
    [shown] = listed
    assert shown["lastJob"]["id"] == job_id and shown["lastJob"]["status"] == "failed"


def test_a_path_that_cannot_be_connected_says_why(tmp_path: Path, database_url: str) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with running_router(tmp_path, database_url) as router:
        token = router.token()
        answers = {
            "relative": router.mutate(
                "repositories.connect", token, {"provider": "local", "path": "docs"}
            ),
            "missing": router.mutate(
                "repositories.connect", token, {"provider": "local", "path": str(tmp_path / "no")}
            ),
            "plain": router.mutate(
                "repositories.connect", token, {"provider": "local", "path": str(plain)}
            ),
            "provider": router.mutate(
                "repositories.connect", token, {"provider": "gitlab", "path": "x"}
            ),
            "github name": router.mutate(
                "repositories.connect", token, {"provider": "github", "fullName": "not a name"}
            ),
        }

    messages = {key: answer.json()["error"]["message"] for key, answer in answers.items()}
    assert {key: answer.status_code for key, answer in answers.items()} == {
        "relative": 412,
        "missing": 412,
        "plain": 412,
        "provider": 400,
        "github name": 412,
    }
    assert messages["relative"] == "docs is not an absolute path"
    assert messages["missing"] == f"{tmp_path / 'no'} is not a folder on the service's machine"
    assert messages["plain"] == f"{plain} is not a git repository"
    assert "provider" in messages["provider"]
    assert messages["github name"] == "'not a name' is not a GitHub OWNER/NAME"


def test_a_github_repository_is_connected_and_its_webhook_shown_once(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCS_INGEST_URL", "https://docs.example.com")
    api = "https://api.github.test"
    with (
        running_router(
            tmp_path, database_url, GITHUB_API_URL=api, GITHUB_TOKEN="ghp_test"
        ) as router,
        respx.mock(base_url=api, assert_all_called=True) as github,
    ):
        github.get("/repos/octo/docs").respond(
            json={"id": 1296269, "full_name": "Octo/Docs", "default_branch": "trunk"}
        )
        github.get("/repos/octo/docs/commits/trunk").respond(text="a" * 40)
        token = router.token()
        connected = _data(
            router.mutate(
                "repositories.connect", token, {"provider": "github", "fullName": "octo/docs"}
            )
        )
        listed = _data(router.query("repositories.list", token))
        secret = router.services_repository(connected["repository"]["id"]).webhook_secret

    repository = connected["repository"]
    assert (repository["fullName"], repository["defaultBranch"]) == ("Octo/Docs", "trunk")
    assert repository["url"] == "https://github.test/Octo/Docs"
    assert connected["webhook"] == {
        "url": "https://docs.example.com/webhooks/github",
        "secret": secret,
    }
    assert secret not in str(listed)  # shown once: the list never carries it


def test_repositories_are_listed_by_name_whatever_their_case(
    tmp_path: Path, database_url: str
) -> None:
    names = ["zeta", "Beta", "alpha", "Gamma"]
    for name in names:
        repo = GitRepo(tmp_path / name)
        (repo.path / "a.md").write_text("# A\n")
        repo.git("add", "-A")
        repo.git("commit", "-qm", "first")
    with running_router(tmp_path, database_url) as router:
        token = router.token()
        for name in names:
            connect = {"provider": "local", "path": str(tmp_path / name)}
            _data(router.mutate("repositories.connect", token, connect))
        listed = _data(router.query("repositories.list", token))

    assert [repository["fullName"] for repository in listed] == ["alpha", "Beta", "Gamma", "zeta"]


def test_the_api_connects_local_folders_only_where_the_operator_allows(
    tmp_path: Path, database_url: str
) -> None:
    allowed = tmp_path / "allowed"
    handbook = GitRepo(allowed / "handbook")
    private = GitRepo(tmp_path / "private")
    for repo in (handbook, private):
        repo.write({"index.md": "# Index\n"})
        repo.commit("first")
    (allowed / "link").symlink_to(private.path)
    local = {"provider": "local"}
    with running_router(tmp_path, database_url, DOCS_INGEST_LOCAL_ROOTS=str(allowed)) as router:
        token = router.token()
        inside = router.mutate("repositories.connect", token, {**local, "path": str(handbook.path)})
        outside = router.mutate("repositories.connect", token, {**local, "path": str(private.path)})
        linked = router.mutate(
            "repositories.connect", token, {**local, "path": str(allowed / "link")}
        )
    # Only the setting: the test client binds nothing.
    wide_open = "0.0.0.0"  # noqa: S104
    with running_router(tmp_path / "wide", database_url, DOCS_INGEST_HOST=wide_open) as router:
        wide = router.mutate(
            "repositories.connect", router.token(), {**local, "path": str(handbook.path)}
        )

    assert _data(inside)["repository"]["fullName"] == "handbook"
    assert (outside.status_code, linked.status_code, wide.status_code) == (403, 403, 403)
    assert outside.json()["error"]["message"] == (
        f"{private.path} is outside the folders local repositories may be connected from "
        "(DOCS_INGEST_LOCAL_ROOTS)"
    )
    assert linked.json()["error"]["message"].startswith(f"{allowed / 'link'} is outside")
    assert "set DOCS_INGEST_LOCAL_ROOTS" in wide.json()["error"]["message"]
