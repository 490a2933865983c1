"""`docs-ingest token create` prints a token, once, that the router accepts for its organization
(only its digest is stored, and a wrong token is refused); without DOCS_INGEST_TOKEN the CLI
keeps a token of its own, readable by its owner only."""

import hashlib
import json
import stat
from pathlib import Path

import httpx
from sqlmodel import Session, select

from service.models import ApiToken
from tests.cli.cli_runner import run, system_env
from tests.e2e.system import running_system


def _repositories(system_url: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{system_url}/api/trpc/repositories.list",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_a_created_token_authenticates_for_its_organization_only(
    tmp_path: Path, database_url: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)

        created = run(["token", "create", "--org", "default", "--name", "ci"], env)
        other = run(["token", "create", "--org", "acme", "--json"], env)

        assert created.exit_code == other.exit_code == 0, created.output + other.output
        token = created.stdout.strip()
        assert len(token) >= 43 and "\n" not in token  # 32 random bytes, alone on stdout
        assert "shown once" in created.stderr
        listed = _repositories(system.app_url, token)
        assert listed.status_code == 200
        assert [r["fullName"] for r in listed.json()["result"]["data"]] == ["docs"]
        acme = _repositories(system.app_url, json.loads(other.stdout)["token"])
        assert acme.json() == {"result": {"data": []}}
        with Session(system.services.db) as session:
            row = session.exec(select(ApiToken).where(ApiToken.name == "ci")).one()
        assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert row.last_used_at is not None

        wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
        refused = _repositories(system.app_url, wrong)
        in_cli = run(["search", "anything"], {**env, "DOCS_INGEST_TOKEN": wrong})

    assert refused.status_code == 401
    assert refused.json()["error"]["data"]["code"] == "UNAUTHORIZED"
    assert in_cli.exit_code == 1
    assert in_cli.output.startswith("Error: invalid or revoked token")
    assert in_cli.output.endswith("[token from DOCS_INGEST_TOKEN]\n")


def test_without_a_token_the_cli_keeps_one_of_its_own(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)

        first = run(["search", "anything"], env)
        second = run(["search", "anything else"], env)

        with Session(system.services.db) as session:
            rows = session.exec(select(ApiToken)).all()
    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert first.output == "no passages in organization default match\n"
    kept = system.services.settings.data_dir / "cli-tokens" / "default"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [row.token_sha256 for row in rows] == [
        hashlib.sha256(kept.read_text().strip().encode()).hexdigest()
    ]


def test_a_revoked_token_authenticates_no_more(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        env = system_env(system)
        kept = json.loads(run(["token", "create", "--name", "kept", "--json"], env).stdout)
        leaked = json.loads(run(["token", "create", "--name", "leaked", "--json"], env).stdout)
        before = json.loads(run(["token", "list", "--json"], env).stdout)

        revoked = run(["token", "revoke", str(leaked["tokenId"])], env)
        again = run(["token", "revoke", str(leaked["tokenId"])], env)
        listed = run(["token", "list"], env)
        elsewhere = run(["token", "list", "--org", "nobody"], env)

        refused = _repositories(system.app_url, leaked["token"])
        still = _repositories(system.app_url, kept["token"])

    assert [(t["tokenId"], t["name"]) for t in before][-2:] == [
        (kept["tokenId"], "kept"),
        (leaked["tokenId"], "leaked"),
    ]
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token {leaked['tokenId']} ('leaked')" in revoked.stderr
    assert again.exit_code == 1
    assert again.output == f"Error: organization default has no token {leaked['tokenId']}\n"
    assert "'kept'" in listed.stdout and "'leaked'" not in listed.stdout
    assert elsewhere.exit_code == 1 and "there is no organization nobody" in elsewhere.output
    assert refused.status_code == 401
    assert still.status_code == 200
