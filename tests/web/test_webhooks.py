"""POST /webhooks/github: the real app and database (SQLite and PostgreSQL), and a real engine
receiving the events."""

import asyncio
import hashlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from engine.clock import FakeClock
from service.deps import Services
from service.events import GITHUB_PUSH
from service.models import IngestionCommit, IngestionStatus, IngestionTrigger
from service.planner import PAYLOAD_COMMIT_LIMIT, ZERO_SHA
from service.settings import Settings
from tests.engine.harness import EngineThread
from tests.web.repositories import connect_github_repository
from web.app import create_app
from web.webhooks import MAX_BODY_BYTES, signature_of

pytestmark = pytest.mark.anyio

REPO_ID = 1296269
FULL_NAME = "acme/handbook"
BEFORE = hashlib.sha1(b"before", usedforsecurity=False).hexdigest()
AFTER = hashlib.sha1(b"after", usedforsecurity=False).hexdigest()
HEADERS = ("x-github-event", "x-github-delivery", "x-hub-signature-256")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def push_event(**changes: Any) -> dict[str, Any]:
    """A push payload as GitHub sends it, extra fields included."""
    commit = {
        "id": AFTER,
        "message": "Rework the guide",
        "distinct": True,
        "added": ["docs/new.md"],
        "modified": ["docs/guide.md"],
        "removed": ["docs/old.md"],
    }
    payload = {
        "ref": "refs/heads/main",
        "before": BEFORE,
        "after": AFTER,
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{FULL_NAME}/compare/{BEFORE[:12]}...{AFTER[:12]}",
        "commits": [commit],
        "head_commit": commit,
        "repository": {"id": REPO_ID, "full_name": FULL_NAME, "default_branch": "main"},
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada", "id": 1},
    }
    return {**payload, **changes}


@dataclass
class Webhook:
    """Delivers to the app in process the way GitHub does, and reads what it left behind."""

    http: httpx.AsyncClient
    services: Services
    secret: str
    deliveries: set[str] = field(default_factory=set)

    async def deliver(
        self,
        payload: dict[str, Any] | bytes,
        *,
        event: str = "push",
        delivery: str | None = None,
        secret: str | None = None,
        signature: bytes | None = None,
        without: str | None = None,
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        delivery = delivery or new_delivery()
        self.deliveries.add(delivery)
        # Bytes, so that a test can send what a str header could not carry.
        headers = {
            b"content-type": b"application/json",
            b"x-github-event": event.encode(),
            b"x-github-delivery": delivery.encode(),
            b"x-hub-signature-256": signature or signature_of(secret or self.secret, body).encode(),
        }
        headers.pop((without or "").encode(), None)
        return await self.http.post("/webhooks/github", content=body, headers=headers)

    def jobs(self) -> list[IngestionCommit]:
        with Session(self.services.db) as session:
            return list(session.exec(select(IngestionCommit)).all())


def new_delivery() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineThread]:
    # Shared by the module's tests; each one finds its own events by their delivery ids.
    engine = EngineThread(tmp_path_factory.mktemp("engine") / "engine.db", FakeClock())
    yield engine
    engine.stop()


def settings_for(tmp_path: Path, engine_port: int, database_url: str) -> Settings:
    return Settings(
        DOCS_INGEST_DATA_DIR=str(tmp_path / "data"),
        DOCS_INGEST_ENGINE_PORT=engine_port,
        DATABASE_URL=database_url,
    )


@pytest.fixture
def secret(database_url: str) -> str:
    """The connected repository's webhook secret, in a freshly migrated database."""
    return connect_github_repository(database_url, FULL_NAME, REPO_ID)


@asynccontextmanager
async def service(
    tmp_path: Path, engine_port: int, secret: str, database_url: str
) -> AsyncIterator[Webhook]:
    settings = settings_for(tmp_path, engine_port, database_url)
    services = Services.create(settings)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
            yield Webhook(http, services, secret)
    finally:
        await services.aclose()


@pytest.fixture
async def webhook(
    tmp_path: Path, engine: EngineThread, secret: str, database_url: str
) -> AsyncIterator[Webhook]:
    async with service(tmp_path, engine.port, secret, database_url) as hook:
        yield hook


async def pushes_received(engine: EngineThread, deliveries: set[str]) -> list[dict[str, Any]]:
    """The github/push events of these deliveries, as the engine's REST API lists them."""
    async with httpx.AsyncClient(base_url=engine.url) as http:
        response = await http.get("/v1/events", params={"name": GITHUB_PUSH, "limit": 51})
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["data"]
    return [event for event in events if event.get("id") in deliveries]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- a push that starts a job -------------------------------------------------------------------


async def test_a_push_records_a_job_and_sends_its_event(
    webhook: Webhook, engine: EngineThread
) -> None:
    delivery = new_delivery()

    response = await webhook.deliver(push_event(), delivery=delivery)

    assert response.status_code == 202, response.text
    [job] = webhook.jobs()
    assert response.json()["job_id"] == job.id
    assert (job.delivery_id, job.before_sha, job.after_sha) == (delivery, BEFORE, AFTER)
    assert job.trigger is IngestionTrigger.PUSH and job.status is IngestionStatus.QUEUED
    [event] = await pushes_received(engine, webhook.deliveries)
    assert event["id"] == delivery
    assert job.event_id == event["internal_id"]
    assert event["data"] == {
        "ingestion_id": job.id,
        "repository_id": job.repository_id,
        "before": BEFORE,
        "after": AFTER,
        "forced": False,
        "created": False,
        "truncated": False,
        "commits": [
            {"added": ["docs/new.md"], "modified": ["docs/guide.md"], "removed": ["docs/old.md"]}
        ],
    }


def commits(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"{n:040x}", "added": [], "modified": [f"docs/{n}.md"], "removed": []}
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("changes", "flags"),
    [
        pytest.param({"forced": True}, {"forced": True}, id="forced"),
        pytest.param(
            {"created": True, "before": ZERO_SHA},
            {"created": True, "before": ZERO_SHA},
            id="created",
        ),
        pytest.param({"commits": commits(3), "size": 3}, {"truncated": False}, id="all-listed"),
        pytest.param({"commits": commits(3), "size": 25}, {"truncated": True}, id="size-over"),
        pytest.param(
            {"commits": commits(PAYLOAD_COMMIT_LIMIT)}, {"truncated": True}, id="commit-limit"
        ),
    ],
)
async def test_the_event_says_how_far_the_payload_can_be_trusted(
    webhook: Webhook, engine: EngineThread, changes: dict[str, Any], flags: dict[str, Any]
) -> None:
    response = await webhook.deliver(push_event(**changes))

    assert response.status_code == 202, response.text
    [event] = await pushes_received(engine, webhook.deliveries)
    assert {key: event["data"][key] for key in flags} == flags
    assert len(event["data"]["commits"]) == len(changes.get("commits", [None]))


async def test_a_redelivery_answers_with_the_job_it_started(
    webhook: Webhook, engine: EngineThread
) -> None:
    delivery = new_delivery()

    first = await webhook.deliver(push_event(), delivery=delivery)
    again = await webhook.deliver(push_event(), delivery=delivery)

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["job_id"] == first.json()["job_id"]
    assert len(webhook.jobs()) == 1
    assert len(await pushes_received(engine, webhook.deliveries)) == 1


async def test_a_delivery_id_another_repository_used_is_refused_without_its_job(
    webhook: Webhook, engine: EngineThread, database_url: str
) -> None:
    other_secret = connect_github_repository(database_url, "acme/guides", 4242)
    other_push = push_event(
        repository={"id": 4242, "full_name": "acme/guides", "default_branch": "main"}
    )
    delivery = new_delivery()

    first = await webhook.deliver(push_event(), delivery=delivery)
    reused = await webhook.deliver(other_push, delivery=delivery, secret=other_secret)

    assert first.status_code == 202
    assert reused.status_code == 409
    assert reused.json() == {"error": f"x-github-delivery {delivery!r} was used by another push"}
    assert [job.id for job in webhook.jobs()] == [first.json()["job_id"]]
    assert len(await pushes_received(engine, {delivery})) == 1


async def test_a_burst_of_deliveries_gets_one_job_and_one_event_each(
    webhook: Webhook, engine: EngineThread
) -> None:
    deliveries = [new_delivery() for _ in range(20)]

    answers = await asyncio.gather(
        *(webhook.deliver(push_event(), delivery=delivery) for delivery in deliveries)
    )

    assert [answer.status_code for answer in answers] == [202] * len(deliveries)
    jobs = {job.delivery_id: job for job in webhook.jobs()}
    assert [answer.json()["job_id"] for answer in answers] == [jobs[d].id for d in deliveries]
    received = {event["id"]: event for event in await pushes_received(engine, set(deliveries))}
    assert sorted(received) == sorted(deliveries)
    assert all(job.event_id == received[d]["internal_id"] for d, job in jobs.items())


async def test_copies_of_a_delivery_in_one_burst_start_one_job(
    webhook: Webhook, engine: EngineThread
) -> None:
    delivery = new_delivery()

    answers = await asyncio.gather(
        *(webhook.deliver(push_event(), delivery=delivery) for _ in range(3))
    )

    assert {answer.status_code for answer in answers} <= {200, 202}
    [job] = webhook.jobs()
    assert {answer.json()["job_id"] for answer in answers} == {job.id}
    assert len(await pushes_received(engine, {delivery})) == 1


async def test_a_delivery_whose_event_was_not_sent_is_sent_on_redelivery(
    tmp_path: Path, engine: EngineThread, secret: str, database_url: str
) -> None:
    delivery = new_delivery()
    async with service(tmp_path, closed_port(), secret, database_url) as unreachable:
        failed = await unreachable.deliver(push_event(), delivery=delivery)

        assert failed.status_code == 503
        [job] = unreachable.jobs()
        assert failed.json()["job_id"] == job.id
        assert job.event_id is None
    assert await pushes_received(engine, {delivery}) == []

    async with service(tmp_path, engine.port, secret, database_url) as reachable:
        redelivered = await reachable.deliver(push_event(), delivery=delivery)

        assert redelivered.status_code == 202, redelivered.text
        assert redelivered.json()["job_id"] == job.id
        [event] = await pushes_received(engine, {delivery})
        [recorded] = reachable.jobs()
        assert recorded.event_id == event["internal_id"]
        assert event["data"]["ingestion_id"] == job.id


# --- deliveries that start nothing -------------------------------------------------------------
# They write nothing and run only the repository look-up, which the pushes above run on both
# databases: SQLite is enough.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
async def test_a_ping_is_acknowledged(webhook: Webhook, engine: EngineThread) -> None:
    ping = {
        "zen": "Keep it logically awesome.",
        "hook_id": 1,
        "repository": push_event()["repository"],
    }

    response = await webhook.deliver(ping, event="ping")

    assert response.status_code == 200
    assert webhook.jobs() == []
    assert await pushes_received(engine, webhook.deliveries) == []


@SQLITE_ONLY
async def test_a_push_to_another_branch_is_ignored(webhook: Webhook, engine: EngineThread) -> None:
    response = await webhook.deliver(push_event(ref="refs/heads/feature/drafts"))

    assert response.status_code == 202
    assert "refs/heads/feature/drafts" in response.json()["ignored"]
    assert webhook.jobs() == []
    assert await pushes_received(engine, webhook.deliveries) == []


@SQLITE_ONLY
async def test_a_deleted_branch_is_ignored(webhook: Webhook, engine: EngineThread) -> None:
    response = await webhook.deliver(push_event(deleted=True, after=ZERO_SHA, commits=[]))

    assert response.status_code == 202
    assert "deleted" in response.json()["ignored"]
    assert webhook.jobs() == []
    assert await pushes_received(engine, webhook.deliveries) == []


# --- deliveries that are refused ----------------------------------------------------------------


async def test_a_push_to_no_commit_on_a_live_branch_is_refused(webhook: Webhook) -> None:
    response = await webhook.deliver(push_event(after=ZERO_SHA, commits=[]))

    assert response.status_code == 400
    assert response.json() == {
        "error": "malformed push payload: after is all zeros but deleted is false"
    }
    assert webhook.jobs() == []


@SQLITE_ONLY
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="another-secret"),
        pytest.param(b"sha256=" + b"0" * 64, id="wrong-digest"),
        pytest.param(b"sha1=" + b"0" * 40, id="sha1-scheme"),
        pytest.param(b"not a signature", id="garbage"),
        pytest.param("sha256=é".encode("latin-1"), id="non-ascii"),
    ],
)
async def test_a_bad_signature_is_refused(
    webhook: Webhook, engine: EngineThread, signature: bytes | None
) -> None:
    response = await webhook.deliver(push_event(), secret="another secret", signature=signature)

    assert response.status_code == 401
    assert webhook.jobs() == []
    assert await pushes_received(engine, webhook.deliveries) == []


@SQLITE_ONLY
@pytest.mark.parametrize("header", HEADERS)
async def test_a_missing_header_is_named(webhook: Webhook, header: str) -> None:
    response = await webhook.deliver(push_event(), without=header)

    assert response.status_code == 400
    assert header in response.json()["error"].lower()
    assert webhook.jobs() == []


@SQLITE_ONLY
async def test_malformed_json_is_refused(webhook: Webhook) -> None:
    response = await webhook.deliver(b'{"ref": "refs/heads/main", ')

    assert response.status_code == 400
    assert webhook.jobs() == []


@SQLITE_ONLY
async def test_a_push_without_its_after_sha_is_refused_naming_the_field(webhook: Webhook) -> None:
    payload = push_event()
    del payload["after"]

    response = await webhook.deliver(payload)

    assert response.status_code == 400
    assert "after" in response.json()["error"]


@SQLITE_ONLY
async def test_an_unknown_repository_is_answered_as_a_wrong_secret(webhook: Webhook) -> None:
    other = {"id": 42, "full_name": "acme/unknown"}

    unknown = await webhook.deliver(push_event(repository=other))
    wrong_secret = await webhook.deliver(push_event(), secret="another secret")

    assert unknown.status_code == wrong_secret.status_code == 401
    assert unknown.json()["error"] == (
        "signature does not match: acme/unknown is not connected here, or its webhook secret is "
        "another"
    )
    assert wrong_secret.json()["error"] == unknown.json()["error"].replace(
        "acme/unknown", push_event()["repository"]["full_name"]
    )
    assert webhook.jobs() == []


@SQLITE_ONLY
async def test_a_body_over_the_limit_is_refused(webhook: Webhook) -> None:
    response = await webhook.deliver(b" " * (MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    assert webhook.jobs() == []


@SQLITE_ONLY
async def test_a_streamed_body_over_the_limit_is_refused_without_reading_it_all(
    webhook: Webhook,
) -> None:
    chunk, chunks = 1024 * 1024, 40
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(chunks):
            sent += 1
            yield b" " * chunk

    headers = {
        "x-github-event": "push",
        "x-github-delivery": new_delivery(),
        "x-hub-signature-256": "sha256=" + "0" * 64,
    }
    request = webhook.http.build_request(
        "POST", "/webhooks/github", content=body(), headers=headers
    )
    assert "content-length" not in request.headers

    response = await webhook.http.send(request)

    assert response.status_code == 413
    assert sent * chunk <= MAX_BODY_BYTES + chunk  # it stopped at the limit, not at the end
    assert webhook.jobs() == []
