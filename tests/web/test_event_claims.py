"""One copy of a delivery sends its job's event: a copy that arrives while the first is still
sending does not send a second one (Inngest would drop it as a duplicate, and the job would keep
the id of an event that started no run); a failed or abandoned send lets a redelivery send."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from service.db import create_db_engine, migrate, session_scope
from service.embeddings import LocalEmbedder
from service.models import ConnectedRepository, IngestionCommit, Provider, utc_now
from service.repositories import connect
from tests.races import while_open
from web.webhooks import (
    CLAIM_EXPIRES_AFTER,
    PushPayload,
    _record_jobs,
    _release_claims,
)

PUSH = PushPayload.model_validate(
    {
        "ref": "refs/heads/main",
        "before": "b" * 40,
        "after": "a" * 40,
        "repository": {"id": 7, "full_name": "acme/handbook"},
    }
)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    migrate(database_url)
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def repository(db: Engine) -> ConnectedRepository:
    with session_scope(db) as session:
        repository = connect(
            session,
            provider=Provider.GITHUB,
            full_name="acme/handbook",
            external_id="7",
            default_branch="main",
            embedder=LocalEmbedder(),
        )
    return repository


def test_only_one_copy_of_a_delivery_sends_its_event(
    db: Engine, repository: ConnectedRepository
) -> None:
    delivery = (repository, PUSH, "delivery-1")

    def record() -> bool:
        with session_scope(db) as session:
            [job] = _record_jobs(session, [delivery])
        return job.sent

    first = record()
    while_first_sends = record()
    with session_scope(db) as session:
        job_id = session.exec(select(IngestionCommit.id)).one()
        _release_claims(session, [job_id])
    after_a_failed_send = record()
    again_while_sending = record()
    with session_scope(db) as session:
        row = session.get(IngestionCommit, job_id)
        assert row is not None
        row.event_claimed_at = utc_now() - CLAIM_EXPIRES_AFTER - timedelta(seconds=1)
        session.add(row)
    after_the_sender_died = record()

    assert first is False  # it sends
    assert while_first_sends is True
    assert after_a_failed_send is False
    assert again_while_sending is True
    assert after_the_sender_died is False


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_copy_recorded_while_another_inserts_the_job_finds_that_job(
    db: Engine, repository: ConnectedRepository
) -> None:
    """Two app processes record copies of one delivery at once (READ COMMITTED): the second
    waits for the first's insert, then answers as a redelivery, not with an error."""
    delivery = (repository, PUSH, "delivery-1")

    first, second = while_open(
        db,
        lambda session: _record_jobs(session, [delivery]),
        lambda session: _record_jobs(session, [delivery]),
    )

    assert [job.sent for job in first + second] == [False, True]
    assert first[0].id == second[0].id
    with session_scope(db) as session:
        assert len(session.exec(select(IngestionCommit)).all()) == 1
