"""Bad input: one table of what a user sees for every input docs-ingest cannot take.

Each case names an input, the status the user sees (an HTTP status, or the status of the job, file
row or engine run it made) and the text they read, and prints what it tried and what came back.
A refused input changes nothing: every row of the app's database, every point of the index and
every event the engine holds are the same after it as before. An input that can never succeed
fails at once: its run made one failing call to the app, and was not retried.

The webhook, the router and the engine API are reached over HTTP, the files and `lightfast.yml`
through real ingestions: all cases share one whole system per database leg (engine, app, Qdrant
Edge, the local model, a local git repository), as starting one costs seconds; a case that pushes
commits its own files and config first.
"""

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from service.config import CONFIG_FILE
from service.db import session_scope
from service.events import FILE_PROCESS, GITHUB_PUSH
from service.models import IngestionCommit
from service.repositories import ensure_org
from service.tokens import issue_token
from tests.conftest import new_postgres_database
from tests.e2e.system import TERMINAL_RUN, System, page, running_system
from tests.engine.harness import eventually
from tests.faults.snapshots import database_rows, engine_events, index_points
from web.webhooks import MAX_BODY_BYTES, signature_of

DATABASE, INDEX, ENGINE = "database", "index", "engine"
EVERYTHING = frozenset({DATABASE, INDEX, ENGINE})
UNKNOWN_RUN = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
TOKEN = "<the organization's token>"
DOCS: dict[str, str | bytes] = {
    "README.md": page("Readme"),
    "docs/guide.md": page("Guide", ("Install", "Run the installer.")),
    "docs/intro.md": page("Intro"),
}
# The files of one push, each a case of its own below.
BINARY = "docs/diagram.md"
LATIN1 = "docs/cafe.md"
EMPTY = "docs/empty.md"
HUGE = "docs/huge.md"
GONE = "docs/gone.md"
TAB_NAMED = "docs/tab\tnamed.md"
TEN_MB = 10 * 1024 * 1024
FILES: dict[str, str | bytes] = {
    BINARY: b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    LATIN1: "# Caf\u00e9\n\nCr\u00e8me br\u00fbl\u00e9e.\n".encode("latin-1"),
    EMPTY: b"",
    HUGE: b"# Huge\n\n" + b"a" * (TEN_MB - 8),
    GONE: page("Gone", ("Why", "Its blob is lost before its run reads it.")),
    TAB_NAMED: page("Tab"),
}


# --- the system the cases share -----------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The module's database, on each leg (the PostgreSQL leg needs `--postgres URL`)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'docs-ingest.db'}"
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@dataclass(frozen=True)
class Seen:
    """What came back: a status and the text a user reads (an error, or why it was ignored)."""

    status: int | str
    text: str
    failed_calls: int | None = None  # failing calls of the run it started
    points: int | None = None  # the points its file holds in the index afterwards


class Bench:
    def __init__(self, system: System) -> None:
        self.system = system
        self.last_plan = ""  # how the last accepted push was planned
        self.secret = system.repository().webhook_secret
        with session_scope(system.services.db) as session:
            self.token = issue_token(session, ensure_org(session, "default"), name="bad").token

    # snapshots

    def settle(self) -> None:
        """Wait until the engine runs nothing, so only the case under test changes anything."""

        def idle() -> bool:
            params = {"status": "queued,running", "limit": "1"}
            answer = self.system.engine.get("/api/console/runs", params=params)
            return bool(answer.raise_for_status().json()["total_count"] == 0)

        eventually(idle, timeout=30)

    def snapshot(self, parts: frozenset[str]) -> dict[str, Any]:
        system = self.system
        taken: dict[str, Any] = {}
        if DATABASE in parts:
            taken[DATABASE] = database_rows(system.services)
        if INDEX in parts:
            dimension = system.services.embedder.dimension
            taken[INDEX] = index_points(system.services, system.collection(), dimension)
        if ENGINE in parts:
            taken[ENGINE] = engine_events(system.engine)
        return taken

    # the webhook

    def deliver(
        self,
        body: bytes | dict[str, Any],
        *,
        event: str = "push",
        headers: dict[str, str] | None = None,
        without: tuple[str, ...] = (),
    ) -> httpx.Response:
        """A delivery signed with the repository's secret, unless `headers` say otherwise."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {
            "content-type": "application/json",
            "x-github-event": event,
            "x-github-delivery": str(uuid.uuid4()),
            "x-hub-signature-256": signature_of(self.secret, content),
            **(headers or {}),
        }
        for name in without:
            del sent[name]
        return self.system.http.post("/webhooks/github", content=content, headers=sent)

    def push(self, **changes: Any) -> dict[str, Any]:
        """The payload of a push of the branch as it is, with `changes`."""
        return {**self.system.payload(), **changes}

    # ingestions

    def ingest(
        self, files: dict[str, str | bytes], config: str | None = None
    ) -> tuple[IngestionCommit, dict[str, Any]]:
        """Commit `files` with `config` as lightfast.yml (None: no such file), push, and wait for
        the job and its run to end."""
        repo = self.system.repo
        repo.write(files)
        if config is not None:
            repo.write({CONFIG_FILE: config})
        elif (repo.path / CONFIG_FILE).exists():
            repo.remove(CONFIG_FILE)
        repo.commit("a commit of the bad input table")
        return self.ended(self.system.push())

    def ended(self, job_id: int) -> tuple[IngestionCommit, dict[str, Any]]:
        job = self.system.finished(job_id)
        return job, self.system.ingestion_run(job)

    @cached_property
    def files_job(self) -> IngestionCommit:
        """One push of FILES; GONE's blob is lost after it was committed, so the plan lists it
        from the tree and its run finds no content, as when a force push and a garbage
        collection removed it between the plan and the fetch."""
        repo = self.system.repo
        repo.write(FILES)
        if (repo.path / CONFIG_FILE).exists():
            repo.remove(CONFIG_FILE)
        repo.commit("files that cannot all be indexed")
        repo.lose_object(repo.blob_of(GONE))
        job, _run = self.ended(self.system.push())
        repo.remove(GONE)  # later pushes need not fail it again
        repo.commit("the file whose blob was lost goes")
        return job

    def file(self, path: str) -> Seen:
        """What the files job shows of `path`: its row, its run's failing calls (None: the plan
        decided and no run started), and the points it holds."""
        job = self.files_job
        row = self.system.files(job.id or 0)[path]
        events = [
            event
            for event in self.system.events(FILE_PROCESS)
            if event["data"].get("ingestion_id") == job.id and event["data"].get("path") == path
        ]
        runs = [run for event in events for run in self.system.runs(event)]
        calls = sum(self.failed_calls(run["run_id"]) for run in runs) if runs else None
        return Seen(row.status.value, row.error or "", calls, self.system.points(path))

    def failed_calls(self, run_id: str) -> int:
        """The calls of a run that failed, the run's own and its steps'."""
        answer = self.system.engine.get(f"/api/console/runs/{run_id}")
        detail = answer.raise_for_status().json()
        attempts = detail["attempts"] + [a for step in detail["steps"] for a in step["attempts"]]
        return sum(1 for attempt in attempts if attempt["error"] is not None)

    def config_job(self, config: str) -> Seen:
        job, run = self.ingest({}, config)
        return Seen(job.status.value, job.error_message or "", self.failed_calls(run["run_id"]))

    def accepted_push(self, payload: dict[str, Any]) -> Seen:
        """A push the webhook takes: the job's status and error once it has ended."""
        answer = self.deliver(payload)
        assert answer.status_code == 202, answer.text
        job, run = self.ended(answer.json()["job_id"])
        self.last_plan = run["output"]["plan"]
        print(f"  its job planned from: {self.last_plan}")
        return Seen(job.status.value, job.error_message or "", self.failed_calls(run["run_id"]))

    # the engine

    def engine_run(self, name: str, data: dict[str, Any]) -> Seen:
        """Send an event straight to the engine, as anyone holding the event key could: the
        status and error of the run it started, once it has ended."""
        answer = self.system.engine.post("/e/key", json={"name": name, "data": data})
        [event_id] = answer.raise_for_status().json()["ids"]
        runs = f"/v1/events/{event_id}/runs"
        run_id = eventually(lambda: self.system.engine.get(runs).json()["data"])[0]["run_id"]

        def ended() -> dict[str, Any] | None:
            detail: dict[str, Any] = self.system.engine.get(f"/api/console/runs/{run_id}").json()
            return detail if detail["run"]["status"].capitalize() in TERMINAL_RUN else None

        detail = eventually(ended, timeout=30)
        error = (detail["error"] or {}).get("message", "")
        return Seen(detail["run"]["status"], error, self.failed_calls(run_id))


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Bench]:
    with running_system(tmp_path_factory.mktemp("bad-input"), database_url) as system:
        bench = Bench(system)
        job, _run = bench.ingest(DOCS)
        assert job.status.value == "processed", job.error_message
        assert sorted(system.indexed()) == sorted(DOCS)
        system.assert_index_consistent()
        yield bench


# --- how each kind of case reads what came back -------------------------------------------------


def webhook(**delivery: Any) -> Callable[[Bench], Seen]:
    """A delivery of `payload` (a callable of the bench, or bytes) with the other arguments."""
    payload = delivery.pop("payload", None)

    def act(bench: Bench) -> Seen:
        body = payload(bench) if callable(payload) else payload
        answer = bench.deliver(bench.push() if body is None else body, **delivery)
        shown = answer.json()
        return Seen(answer.status_code, shown.get("error") or shown.get("ignored") or "")

    return act


def pushing(**changes: Any) -> Callable[[Bench], dict[str, Any]]:
    return lambda bench: bench.push(**changes)


def commit_naming(*paths: str, key: str = "added") -> Callable[[Bench], dict[str, Any]]:
    """A push whose one commit says it changed `paths`."""
    return lambda bench: bench.push(commits=[{"id": bench.system.repo.head(), key: list(paths)}])


def router(
    method: str,
    procedure: str,
    input: Any = None,
    *,
    auth: str | None = f"Bearer {TOKEN}",
    body: bytes = b"",
) -> Callable[[Bench], Seen]:
    def act(bench: Bench) -> Seen:
        headers = {} if auth is None else {"authorization": auth.replace(TOKEN, bench.token)}
        params = {"input": json.dumps(input)} if method == "GET" and input is not None else None
        content = json.dumps(input).encode() if method == "POST" and input is not None else body
        answer = bench.system.http.request(
            method, f"/api/trpc/{procedure}", params=params, content=content, headers=headers
        )
        return Seen(answer.status_code, answer.json()["error"]["message"])

    return act


def engine_api(method: str, path: str, body: Any = None) -> Callable[[Bench], Seen]:
    def act(bench: Bench) -> Seen:
        content = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body)
        answer = bench.system.engine.request(method, path, content=content)
        return Seen(answer.status_code, answer.json()["error"])

    return act


def config(text: str) -> Callable[[Bench], Seen]:
    return lambda bench: bench.config_job(text)


def file(path: str) -> Callable[[Bench], Seen]:
    return lambda bench: bench.file(path)


def event(name: str, data: dict[str, Any]) -> Callable[[Bench], Seen]:
    return lambda bench: bench.engine_run(name, data)


def accepted_push(payload: Callable[[Bench], dict[str, Any]]) -> Callable[[Bench], Seen]:
    return lambda bench: bench.accepted_push(payload(bench))


@dataclass(frozen=True)
class Case:
    tried: str
    act: Callable[[Bench], Seen]
    status: int | str
    says: str  # what the user reads, or a precise part of it
    exact: bool = False
    unchanged: frozenset[str] = EVERYTHING
    failed_calls: int | None = None  # checked when set
    points: int | None = None  # checked when set
    check: Callable[[Bench], None] | None = None  # anything else the user would notice


def names_the_lost_blob(bench: Bench) -> None:
    job, repo = bench.files_job, bench.system.repo
    error = bench.system.files(job.id or 0)[GONE].error
    assert error == f"blob {repo.blob_of(GONE, job.after_sha)} not found in {repo.path}"


def planned_from(bench: Bench, reason: str) -> None:
    assert bench.last_plan == reason


def only_docs_indexed(system: System) -> None:
    indexed = sorted(system.indexed())
    print(f"  indexed: {indexed}")
    assert indexed and all(path.startswith("docs/") for path in indexed)
    system.assert_index_consistent()


def case(id: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Case(*args, **kwargs), id=id)


SIGNED_ELSEWHERE = {"x-hub-signature-256": signature_of("another secret", b"{}")}
NOT_ON_ANY_BRANCH = "a push naming paths that no repository can hold"
NAMELESS = "cannot be a path in a repository"
ISSUE_OPENED = {"action": "opened", "issue": {"number": 1}, "repository": {"id": 1}}
HANDLED_ONLY = "events are not ingested, only push events"

CASES = [
    # --- the webhook: signatures and headers
    case(
        "a-push-signed-with-another-secret-is-401",
        "a push whose X-Hub-Signature-256 was made with another secret",
        webhook(headers=SIGNED_ELSEWHERE),
        401,
        "is not connected here, or its webhook secret is another",
    ),
    case(
        "a-sha1-signature-is-401",
        "a push signed the old way: X-Hub-Signature-256: sha1=<40 hex digits>",
        webhook(headers={"x-hub-signature-256": "sha1=" + "0" * 40}),
        401,
        "is not connected here, or its webhook secret is another",
    ),
    case(
        "a-body-changed-after-signing-is-401",
        "a push whose signature is of another body",
        webhook(headers={"x-hub-signature-256": signature_of("x", b"the body that was signed")}),
        401,
        "signature does not match",
    ),
    case(
        "an-unsigned-push-is-400-naming-the-header",
        "a push without X-Hub-Signature-256",
        webhook(without=("x-hub-signature-256",)),
        400,
        "missing header(s): x-hub-signature-256",
        exact=True,
    ),
    case(
        "a-delivery-without-event-or-id-is-400-naming-both",
        "a push without X-GitHub-Event and X-GitHub-Delivery",
        webhook(without=("x-github-event", "x-github-delivery")),
        400,
        "missing header(s): x-github-event, x-github-delivery",
        exact=True,
    ),
    case(
        "a-delivery-id-too-long-for-the-unique-index-is-400",
        "a push whose X-GitHub-Delivery is 3,000 random hex digits (GitHub's are 36 characters)",
        webhook(headers={"x-github-delivery": secrets.token_hex(1500)}),
        400,
        "x-github-delivery is over 200 characters",
        exact=True,
    ),
    case(
        "a-form-encoded-webhook-is-415-saying-which-setting-to-change",
        "a push sent as a form (the webhook's content type is application/x-www-form-urlencoded)",
        webhook(
            payload=lambda b: b"payload=" + json.dumps(b.push()).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        415,
        "set its content type to application/json in the repository's webhook settings",
    ),
    # --- the webhook: bodies of every malformed kind and size
    case(
        "a-body-that-is-not-json-is-400",
        "a push whose body is `{not json`",
        webhook(payload=b"{not json"),
        400,
        "malformed push payload: body: Invalid JSON: key must be a string at line 1 column 2",
        exact=True,
    ),
    case(
        "an-empty-body-is-400",
        "a push with an empty body",
        webhook(payload=b""),
        400,
        "malformed push payload: body: Invalid JSON: EOF while parsing a value",
    ),
    case(
        "a-json-array-is-400",
        "a push whose body is the JSON array []",
        webhook(payload=b"[]"),
        400,
        "malformed push payload: body: Input should be an object",
        exact=True,
    ),
    case(
        "a-body-that-is-not-utf8-is-400",
        "a push whose body holds the byte 0xff inside a string",
        webhook(payload=b'{"ref": "refs/heads/\xff"}'),
        400,
        "malformed push payload: body: Invalid JSON: invalid unicode code point",
    ),
    case(
        "json-nested-5000-deep-is-400",
        "a push whose body is 5,000 nested arrays",
        webhook(payload=b"[" * 5000 + b"]" * 5000),
        400,
        "malformed push payload: body: Invalid JSON: recursion limit exceeded",
    ),
    case(
        "a-push-without-its-repository-is-400-naming-the-field",
        "a push payload without `repository`",
        webhook(payload=lambda b: {k: v for k, v in b.push().items() if k != "repository"}),
        400,
        "malformed push payload: repository: Field required",
        exact=True,
    ),
    case(
        "an-after-sha-of-the-wrong-type-is-400-naming-the-field",
        "a push whose `after` is the number 5",
        webhook(payload=pushing(after=5)),
        400,
        "malformed push payload: after: Input should be a valid string",
        exact=True,
    ),
    case(
        "an-after-that-is-no-commit-sha-is-400",
        "a push whose `after` is `main~1` (a revision, not a sha)",
        webhook(payload=pushing(after="main~1")),
        400,
        "malformed push payload: after: must be a commit sha of 40 or 64 lowercase hex digits "
        "(got 'main~1')",
        exact=True,
    ),
    case(
        "commits-that-are-not-a-list-are-400",
        "a push whose `commits` is a string",
        webhook(payload=pushing(commits="all of them")),
        400,
        "malformed push payload: commits: Input should be a valid array",
        exact=True,
    ),
    case(
        "a-body-over-25-mb-is-413",
        "a push of 25 MB and one byte",
        webhook(payload=b" " * (MAX_BODY_BYTES + 1)),
        413,
        "payload over 25 MB",
        exact=True,
    ),
    case(
        "a-push-of-a-repository-not-connected-is-401-as-a-wrong-secret",
        "a push from GitHub repository acme/unknown, which is not connected",
        webhook(payload=pushing(repository={"id": 42, "full_name": "acme/unknown"})),
        401,
        "signature does not match: acme/unknown is not connected here, or its webhook secret is "
        "another",
        exact=True,
    ),
    # --- the webhook: events that are not pushes, and pushes that start nothing
    case(
        "an-issues-event-is-202-ignored-so-github-shows-no-failure",
        "an `issues` event (a hook that sends everything)",
        webhook(event="issues", payload=json.dumps(ISSUE_OPENED).encode()),
        202,
        f"issues {HANDLED_ONLY}",
        exact=True,
    ),
    case(
        "a-pull-request-event-is-202-ignored",
        "a `pull_request` event",
        webhook(event="pull_request", payload=b'{"action": "opened", "number": 7}'),
        202,
        f"pull_request {HANDLED_ONLY}",
        exact=True,
    ),
    case(
        "an-installation-event-without-repository-is-202-ignored-not-400",
        "an `installation` event (GitHub App; its payload has no `repository`)",
        webhook(event="installation", payload=b'{"action": "created", "installation": {"id": 1}}'),
        202,
        f"installation {HANDLED_ONLY}",
        exact=True,
    ),
    case(
        "a-release-event-is-202-ignored",
        "a `release` event",
        webhook(event="release", payload=b'{"action": "published"}'),
        202,
        f"release {HANDLED_ONLY}",
        exact=True,
    ),
    case(
        "a-ping-is-200-and-starts-nothing",
        "the `ping` GitHub sends when the webhook is created",
        webhook(event="ping", payload=lambda b: {"zen": "Design for failure.", **b.push()}),
        200,
        "",
        exact=True,
    ),
    case(
        "a-ping-of-an-organization-hook-is-400-as-no-repository-secret-can-check-it",
        "a `ping` without `repository` (an organization's or an App's webhook)",
        webhook(event="ping", payload=b'{"zen": "Design for failure.", "hook_id": 1}'),
        400,
        "payload has no repository",
        exact=True,
    ),
    case(
        "a-push-of-a-tag-is-202-ignored",
        "a push of the tag refs/tags/v1.0",
        webhook(payload=pushing(ref="refs/tags/v1.0")),
        202,
        "push to refs/tags/v1.0, not the ingested branch refs/heads/main",
        exact=True,
    ),
    # --- the webhook: paths that cannot exist in a repository
    case(
        "a-push-naming-a-dotdot-path-is-400-naming-it",
        f"{NOT_ON_ANY_BRANCH}: added ../../etc/passwd",
        webhook(payload=commit_naming("docs/ok.md", "../../etc/passwd")),
        400,
        "malformed push payload: commits.0.added.1: '../../etc/passwd' cannot be a path in a "
        "repository: it has a '..' segment",
        exact=True,
    ),
    case(
        "a-push-naming-an-absolute-path-is-400-naming-it",
        f"{NOT_ON_ANY_BRANCH}: modified /etc/passwd",
        webhook(payload=commit_naming("/etc/passwd", key="modified")),
        400,
        "commits.0.modified.0: '/etc/passwd' cannot be a path in a repository: it is absolute",
    ),
    case(
        "a-push-naming-a-path-with-a-nul-is-400",
        f"{NOT_ON_ANY_BRANCH}: removed docs/a<NUL>.md",
        webhook(payload=commit_naming("docs/a\0.md", key="removed")),
        400,
        "commits.0.removed.0: 'docs/a\\x00.md' cannot be a path in a repository: "
        "it contains a NUL character",
    ),
    case(
        "a-push-naming-a-path-inside-dot-git-is-400",
        f"{NOT_ON_ANY_BRANCH}: modified .git/config",
        webhook(payload=commit_naming(".git/config", key="modified")),
        400,
        f"'.git/config' {NAMELESS}: it has a '.git' segment",
    ),
    case(
        "a-push-naming-a-path-with-an-empty-segment-is-400",
        f"{NOT_ON_ANY_BRANCH}: added docs//guide.md",
        webhook(payload=commit_naming("docs//guide.md")),
        400,
        f"'docs//guide.md' {NAMELESS}: it has an empty segment",
    ),
    case(
        "a-push-naming-a-path-over-4096-bytes-is-400",
        f"{NOT_ON_ANY_BRANCH}: added a path of 5,000 bytes",
        webhook(payload=commit_naming("d/" * 2500)),
        400,
        f"{NAMELESS}: it is over 4096 bytes",
    ),
    case(
        "a-backslash-is-part-of-a-name-so-the-push-is-taken-and-reads-nothing-outside",
        "a push naming docs\\..\\..\\secret.md (git allows a backslash in a name)",
        accepted_push(commit_naming("docs\\..\\..\\secret.md")),
        "skipped",
        "",
        exact=True,
        unchanged=frozenset({INDEX}),
        failed_calls=0,
        check=lambda bench: planned_from(bench, "changed files from the push payload"),
    ),
    case(
        "a-push-naming-2-mb-of-paths-is-planned-from-the-tree-not-refused-by-inngest",
        "a push naming 500 possible paths of 4,096 bytes each: 2 MB, over Inngest's 256 KiB event",
        accepted_push(commit_naming(*(f"{n:04}/" + "p" * 4091 for n in range(500)))),
        "skipped",
        "",
        exact=True,
        unchanged=frozenset({INDEX}),
        failed_calls=0,
        check=lambda bench: planned_from(bench, "truncated commit list"),
    ),
    # --- the router
    case(
        "a-procedure-call-without-a-token-is-401",
        "jobs.list without an Authorization header",
        router("GET", "jobs.list", auth=None),
        401,
        "missing token: send `Authorization: Bearer <token>`",
    ),
    case(
        "a-procedure-call-with-an-unknown-token-is-401",
        "jobs.list with a token nobody issued",
        router("GET", "jobs.list", auth="Bearer not-a-token"),
        401,
        "invalid or revoked token (create one with `docs-ingest token create --org SLUG`)",
        exact=True,
    ),
    case(
        "a-basic-authorization-is-401",
        "jobs.list with `Authorization: Basic <token>`",
        router("GET", "jobs.list", auth=f"Basic {TOKEN}"),
        401,
        "the Authorization header must be `Bearer <token>`",
        exact=True,
    ),
    case(
        "an-unknown-procedure-is-404",
        "jobs.delete, which does not exist",
        router("POST", "jobs.delete", {"id": 1}),
        404,
        'no procedure on path "jobs.delete"',
        exact=True,
    ),
    case(
        "a-mutation-called-with-get-is-405",
        "jobs.retry called with GET",
        router("GET", "jobs.retry", {"id": 1}),
        405,
        "jobs.retry is a mutation: call it with POST, not GET",
        exact=True,
    ),
    case(
        "an-id-of-the-wrong-type-is-400-naming-the-field",
        'jobs.get {"id": "seven"}',
        router("GET", "jobs.get", {"id": "seven"}),
        400,
        "invalid input: id: Input should be a valid integer",
        exact=True,
    ),
    case(
        "an-id-beyond-32-bits-is-400",
        'jobs.cancel {"id": 2147483648}',
        router("POST", "jobs.cancel", {"id": 2**31}),
        400,
        "invalid input: id: Input should be less than or equal to 2147483647",
        exact=True,
    ),
    case(
        "retrying-a-job-that-does-not-exist-is-404",
        'jobs.retry {"id": 2147483647}',
        router("POST", "jobs.retry", {"id": 2**31 - 1}),
        404,
        "organization default has no job #2147483647",
        exact=True,
    ),
    case(
        "a-mutation-body-that-is-not-json-is-400",
        "jobs.cancel with the body `{nope`",
        router("POST", "jobs.cancel", body=b"{nope"),
        400,
        "the body is not valid JSON: Expecting property name enclosed in double quotes",
    ),
    case(
        "connecting-a-folder-that-is-not-a-repository-is-412-naming-it",
        'repositories.connect {"provider": "local", "path": "/proc"}',
        router("POST", "repositories.connect", {"provider": "local", "path": "/proc"}),
        412,
        "/proc is not a git repository",
        exact=True,
    ),
    # --- the engine API
    case(
        "an-event-that-is-not-json-is-400",
        "POST /e/{key} with the body `{not json`",
        engine_api("POST", "/e/key", b"{not json"),
        400,
        "not valid JSON",
    ),
    case(
        "an-event-over-256-kb-is-413",
        "POST /e/{key} with an event of 300 KB",
        engine_api("POST", "/e/key", {"name": GITHUB_PUSH, "data": {"x": "y" * 300_000}}),
        413,
        "Event is over the max size: Max 262144 bytes",
    ),
    case(
        "an-unknown-run-is-404-naming-it",
        f"GET /v1/runs/{UNKNOWN_RUN}",
        engine_api("GET", f"/v1/runs/{UNKNOWN_RUN}"),
        404,
        f"run {UNKNOWN_RUN} not found",
        exact=True,
    ),
    case(
        "cancelling-an-unknown-run-is-404-naming-it",
        f"DELETE /v1/runs/{UNKNOWN_RUN}",
        engine_api("DELETE", f"/v1/runs/{UNKNOWN_RUN}"),
        404,
        f"run {UNKNOWN_RUN} not found",
        exact=True,
    ),
    case(
        "a-bulk-cancel-without-its-function-is-400-naming-the-field",
        'POST /v1/cancellations {"app_id": "docs-ingest"}',
        engine_api("POST", "/v1/cancellations", {"app_id": "docs-ingest"}),
        400,
        "function_id",
    ),
    case(
        "a-push-event-with-malformed-data-fails-its-run-at-once",
        'a github/push event sent to the engine with data {"ingestion_id": "x"}',
        event(GITHUB_PUSH, {"ingestion_id": "x"}),
        "FAILED",
        "malformed github/push event: ingestion_id: Input should be a valid integer",
        unchanged=frozenset({DATABASE, INDEX}),
        failed_calls=1,
    ),
    case(
        "a-file-event-with-malformed-data-fails-its-run-at-once",
        'a docs/file.process event sent to the engine with data {"path": "../x"}',
        event(FILE_PROCESS, {"path": "../x"}),
        "FAILED",
        "malformed docs/file.process event: ingestion_id: Field required",
        exact=True,
        unchanged=frozenset({DATABASE, INDEX}),
        failed_calls=1,
    ),
    case(
        "a-push-event-for-a-job-that-does-not-exist-fails-its-run-at-once",
        'a github/push event sent to the engine with data {"ingestion_id": 999999}',
        event(GITHUB_PUSH, {"ingestion_id": 999999, "repository_id": 1}),
        "FAILED",
        "ingestion 999999 does not exist",
        exact=True,
        unchanged=frozenset({DATABASE, INDEX}),
        failed_calls=1,
    ),
    # --- lightfast.yml: the job fails at once, saying where, and the index is left as it was
    case(
        "a-yaml-alias-bomb-in-lightfast-yml-fails-the-job-at-once",
        "lightfast.yml with ten levels of nine aliases each (9**10 strings, were it expanded)",
        config(
            "".join(
                f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 9)}]\n"
                for prev, name in zip(["", *"abcdefghi"], "abcdefghij", strict=True)
            )
            + "include: *j\n"
        ),
        "failed",
        "lightfast.yml line 2: invalid YAML: aliases (*name) are not allowed",
        exact=True,
        unchanged=frozenset({INDEX}),
        failed_calls=1,
    ),
    case(
        "invalid-yaml-in-lightfast-yml-fails-the-job-at-once-naming-the-line",
        "lightfast.yml reading `chunk_size: [`",
        config("chunk_size: [\n"),
        "failed",
        "lightfast.yml line 2: invalid YAML: while parsing a flow node, expected the node "
        "content, but found '<stream end>'",
        exact=True,
        unchanged=frozenset({INDEX}),
        failed_calls=1,
    ),
    case(
        "an-unknown-version-of-lightfast-yml-fails-the-job-at-once",
        "lightfast.yml reading `version: 2`",
        config("version: 2\n"),
        "failed",
        "lightfast.yml line 1: version must be 1 (got 2)",
        exact=True,
        unchanged=frozenset({INDEX}),
        failed_calls=1,
    ),
    case(
        "an-include-glob-escaping-the-repository-fails-the-job-at-once",
        "lightfast.yml including `../**`",
        config("include:\n  - '../**'\n"),
        "failed",
        "lightfast.yml line 2: include item 1 is not a valid glob: '../**' has a '..' segment: "
        "globs match paths inside the repository, from its root",
        exact=True,
        unchanged=frozenset({INDEX}),
        failed_calls=1,
    ),
    case(
        "an-absolute-exclude-glob-escaping-the-root-fails-the-job-at-once",
        "lightfast.yml excluding `/../etc/**`",
        config("exclude: ['/../etc/**']\n"),
        "failed",
        "lightfast.yml line 1: exclude item 1 is not a valid glob: '/../etc/**' has a '..' segment",
        unchanged=frozenset({INDEX}),
        failed_calls=1,
    ),
    # --- the files themselves, from one push (FILES)
    case(
        "a-binary-file-is-skipped-with-its-reason-and-never-indexed",
        f"{BINARY}: PNG bytes under a .md name",
        file(BINARY),
        "skipped",
        "binary file",
        exact=True,
        unchanged=frozenset(),
        failed_calls=0,
        points=0,
    ),
    case(
        "a-file-that-is-not-utf8-is-skipped-naming-the-offset",
        f"{LATIN1}: Latin-1 text",
        file(LATIN1),
        "skipped",
        "not UTF-8 text (invalid byte at offset 5)",
        exact=True,
        unchanged=frozenset(),
        failed_calls=0,
        points=0,
    ),
    case(
        "an-empty-file-is-processed-to-no-chunks",
        f"{EMPTY}: no bytes at all",
        file(EMPTY),
        "processed",
        "",
        exact=True,
        unchanged=frozenset(),
        failed_calls=0,
        points=0,
    ),
    case(
        "a-10-mb-file-is-skipped-by-the-plan-and-never-read",
        f"{HUGE}: 10 MiB of markdown, over the default max_file_size",
        file(HUGE),
        "skipped",
        f"{TEN_MB} bytes, over max_file_size (1000000)",
        exact=True,
        unchanged=frozenset(),
        points=0,
    ),
    case(
        "a-file-gone-between-plan-and-fetch-fails-at-once-naming-its-blob",
        f"{GONE}: listed in the pushed tree, its blob lost before its run reads it",
        file(GONE),
        "failed",
        "not found in",
        unchanged=frozenset(),
        failed_calls=1,
        points=0,
        check=lambda bench: names_the_lost_blob(bench),
    ),
    case(
        "a-tab-in-a-name-is-a-valid-git-path-and-is-indexed",
        f"{TAB_NAMED!r}: a control character other than NUL in a file name",
        file(TAB_NAMED),
        "processed",
        "",
        exact=True,
        unchanged=frozenset(),
        failed_calls=0,
        points=1,
    ),
    # --- last, as it changes what the index holds: an absolute glob is rooted at the repository
    case(
        "an-absolute-include-glob-is-rooted-at-the-repository-not-the-filesystem",
        "lightfast.yml including `/docs/**`",
        config("include: ['/docs/**']\n"),
        "processed",
        "",
        exact=True,
        unchanged=frozenset(),
        failed_calls=0,
        check=lambda bench: only_docs_indexed(bench.system),
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input(bench: Bench, case: Case) -> None:
    leg = make_url(bench.system.services.settings.sqlalchemy_url).get_backend_name()
    print(f"[{leg}] tried: {case.tried}")
    bench.settle()
    before = bench.snapshot(case.unchanged)

    seen = case.act(bench)

    print(f"  saw: {seen.status} {seen.text[:300]!r}")
    if seen.failed_calls is not None:
        print(f"  failing calls of its run: {seen.failed_calls}")
    assert seen.status == case.status, seen.text
    if case.exact:
        assert seen.text == case.says
    else:
        assert case.says in seen.text
    if case.failed_calls is not None:
        assert seen.failed_calls == case.failed_calls
    if case.points is not None:
        assert seen.points == case.points
    if case.check is not None:
        case.check(bench)
    bench.settle()
    if case.unchanged:
        print(f"  unchanged: {', '.join(sorted(case.unchanged))}")
    assert bench.snapshot(case.unchanged) == before
