"""`repositories.connect` of one repository by calls at the same moment: it is connected once, and
every other call gets the answer a later call gets (412, already connected), never a 500 or a
second connection, whether the calls come from one organization or from two. A database that the
race left with a repository connected twice is not upgraded until a person removes one."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlmodel import Session, col, select

from service.db import MigrationRefused, alembic_config, create_db_engine, migrate, session_scope
from service.embeddings import LocalEmbedder
from service.models import ConnectedRepository, Organization, Provider
from service.repositories import connect, ensure_org, ensure_store, local_external_id
from tests.e2e.system import GitRepo
from tests.engine.harness import eventually
from tests.router.service import Router, running_router

ORGS = ("acme", "globex")


def _committed_repository(path: Path) -> GitRepo:
    repo = GitRepo(path)
    (repo.path / "a.md").write_text("# A\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "first")
    return repo


def _connections(router: Router, repo: GitRepo) -> list[tuple[str, str]]:
    """(organization, name) of every connection of `repo`."""
    with Session(router.services.db) as session:
        rows = session.exec(
            select(Organization.slug, ConnectedRepository.full_name)
            .join(Organization)
            .where(ConnectedRepository.external_id == local_external_id(repo.path))
        ).all()
    return [(slug, name) for slug, name in rows]


@pytest.mark.parametrize("second_org", ORGS, ids=["same organization", "another organization"])
def test_a_connect_that_loses_the_race_answers_as_a_later_one(
    tmp_path: Path, database_url: str, second_org: str
) -> None:
    repo = _committed_repository(tmp_path / "handbook")
    connect_it = {"provider": "local", "path": str(repo.path)}
    with running_router(tmp_path, database_url) as router:
        tokens = {org: router.token(org) for org in ORGS}
        for org, token in tokens.items():
            # Each organization's store exists and its token's use is recorded, so that the
            # second call below writes nothing before its repository's row.
            wiki = {"provider": "local", "path": str(_committed_repository(tmp_path / org).path)}
            assert router.mutate("repositories.connect", token, wiki).status_code == 200
        db = router.services.db
        inserting = threading.Event()

        def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.startswith("INSERT INTO connected_repository"):
                inserting.set()

        with ThreadPoolExecutor(1) as pool, session_scope(db) as first:
            # acme's connect, as the router makes it, not yet committed.
            connect(
                first,
                provider=Provider.LOCAL,
                full_name="handbook",
                external_id=local_external_id(repo.path),
                default_branch="main",
                embedder=router.services.embedder,
                org_slug="acme",
                local_path=repo.path.resolve(),
            )
            event.listen(db, "before_cursor_execute", on_statement)
            second = pool.submit(
                router.mutate, "repositories.connect", tokens[second_org], connect_it
            )
            # The second call found no connection and is writing its own: acme's commits now.
            eventually(lambda: second.done() or inserting.is_set())
        event.remove(db, "before_cursor_execute", on_statement)
        answer = second.result(timeout=30)
        later = router.mutate("repositories.connect", tokens[second_org], connect_it)
        connections = _connections(router, repo)

    assert answer.status_code == 412, answer.text
    assert answer.json()["error"] == later.json()["error"]
    assert "is already connected" in answer.json()["error"]["message"]
    assert connections == [("acme", "handbook")]


def test_four_connects_at_once_from_two_organizations_connect_it_once(
    tmp_path: Path, database_url: str
) -> None:
    repo = _committed_repository(tmp_path / "handbook")
    connect_it = {"provider": "local", "path": str(repo.path)}
    with running_router(tmp_path, database_url) as router:
        tokens = [router.token(org) for org in ORGS for _ in range(2)]
        with ThreadPoolExecutor(len(tokens)) as pool:
            answers = list(
                pool.map(
                    lambda token: router.mutate("repositories.connect", token, connect_it), tokens
                )
            )
        connections = _connections(router, repo)

    statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [200, 412, 412, 412], [answer.text for answer in answers]
    won = statuses.index(200)
    winner = ORGS[won // 2]
    assert connections == [(winner, "handbook")]
    row_id = answers[won].json()["result"]["data"]["repository"]["id"]
    told = {
        org: f"{repo.path.resolve()} is already connected "
        + (f"as handbook (id {row_id})" if org == winner else "by another organization")
        for org in ORGS
    }
    assert [answer.json()["error"]["message"] for answer in answers if answer.is_error] == [
        told[ORGS[index // 2]] for index in range(len(answers)) if index != won
    ]


def test_a_database_with_a_repository_connected_twice_is_not_upgraded(database_url: str) -> None:
    engine = create_db_engine(database_url)
    command.upgrade(alembic_config(engine), "0003")  # before one connection per repository
    with session_scope(engine) as session:
        for slug in ORGS:
            org = ensure_org(session, slug)
            store = ensure_store(session, org, "docs", LocalEmbedder())
            assert org.id is not None and store.id is not None
            session.add(
                ConnectedRepository(
                    organization_id=org.id,
                    provider=Provider.GITHUB,
                    external_id="1296269",
                    full_name="octo/docs",
                    default_branch="main",
                    webhook_secret=f"{slug}-secret",
                    store_id=store.id,
                )
            )

    with pytest.raises(MigrationRefused) as refused:
        migrate(database_url)
    with Session(engine) as session:
        first, second = session.exec(
            select(ConnectedRepository.id).order_by(col(ConnectedRepository.id))
        ).all()
    with engine.connect() as connection:
        version = MigrationContext.configure(connection).get_current_revision()

    assert str(refused.value) == (
        "cannot make each repository connected once: some are connected more than once "
        f"(github repository 1296269 as id {first} (octo/docs, organization acme), "
        f"id {second} (octo/docs, organization globex)). Pushes reached only the lowest id of "
        "each. Delete the others from connected_repository, with their jobs (ingestion_commit, "
        "ingestion_file) and indexed files (indexed_file), then start again."
    )
    assert version == "0003"

    with session_scope(engine) as session:
        session.delete(session.get_one(ConnectedRepository, second))
    migrate(database_url)
    with engine.connect() as connection:
        upgraded = MigrationContext.configure(connection).get_current_revision()
    assert upgraded == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    engine.dispose()
