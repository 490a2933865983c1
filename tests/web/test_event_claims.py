"""One copy of a delivery sends its job's event: a copy that arrives while the first is still
sending does not send a second one (Inngest would drop it as a duplicate, and the job would keep
the id of an event that started no run); a failed or abandoned send lets a redelivery send."""

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from service.db import create_db_engine, migrate, session_scope
from service.embeddings import LocalEmbedder
from service.models import ConnectedRepository, IngestionCommit, Provider, utc_now
from service.repositories import connect
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


def _setup(tmp_path: Path) -> tuple[Engine, ConnectedRepository]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    db = create_db_engine(url)
    with session_scope(db) as session:
        repository = connect(
            session,
            provider=Provider.GITHUB,
            full_name="acme/handbook",
            external_id="7",
            default_branch="main",
            embedder=LocalEmbedder(),
        )
    return db, repository


def test_only_one_copy_of_a_delivery_sends_its_event(tmp_path: Path) -> None:
    db, repository = _setup(tmp_path)
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
