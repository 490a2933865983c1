"""Isolation: a token of one organization reads and changes nothing of another's.

Organization A (`acme`) has a local and a GitHub repository, jobs in every state the procedures
act on, a store only it has, and indexed chunks; B (`globex`) has its own. For every procedure of
the router (iterated from PROCEDURES: a new procedure fails here until it has a case) B's token is
aimed at A's objects: A's job and repository ids, filters and texts that match A's jobs, A's
folder, names and stores. Each probe must

- answer the expected status (404 for A's ids), with nothing of A in it that B did not send;
- leave every row that is not B's, and A's points in the index, as they were;
- answer exactly as the same probe aimed at nothing (ids, names that do not exist), so B cannot
  tell what A has;
- and, for a read, find A's objects when A's own token sends it: the probe aims at something real.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

from router.procedure import ProcedureKind
from router.procedures import PROCEDURES
from service.db import session_scope
from service.models import (
    ConnectedRepository,
    FileStatus,
    IngestionCommit,
    IngestionStatus,
    Organization,
    Provider,
    Store,
)
from service.repositories import connect, ensure_org, ensure_store, local_external_id
from service.vectors import ChunkRecord
from tests.e2e.system import GitRepo
from tests.router.jobs_factory import make_job
from tests.router.service import Router, running_router, unused_port

A, B = "acme", "globex"
A_SECRET = "The acme launch code is kept in the vault behind the boiler room."
A_PRIVATE = "Acme plans to acquire Initech in the spring."
B_TEXT = "Globex onboarding: the cafeteria opens at eight."
MISSING_JOB = 2_000_000_000  # ids that exist in no organization
MISSING_REPOSITORY = 1_900_000_000


@dataclass
class World:
    router: Router
    a_token: str
    b_token: str
    b_org: int
    a_jobs: dict[str, int]  # a name of its state → id
    a_repositories: dict[str, ConnectedRepository]
    a_folder: Path
    a_collections: list[str]
    # Strings only A's objects carry: none may reach B unless B sent it.
    a_marks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Probe:
    what: str
    input: Any
    status: int
    # The same probe aimed at nothing, and what to swap to compare the answers (A's → twin's).
    twin: Any = None
    swap: dict[str, str] = field(default_factory=dict)
    control: bool = False  # a read: A's token must find A's objects with it


def _jobs_list(world: World) -> list[Probe]:
    repository_ids = [r.id for r in world.a_repositories.values()]
    missing_ids = [MISSING_REPOSITORY + n for n in range(len(repository_ids))]
    job = world.a_jobs["processed with a failed file"]
    return [
        Probe("everything B sees", {}, 200, control=True),
        Probe("every status", {"status": [s.value for s in IngestionStatus]}, 200, control=True),
        Probe(
            "A's repository ids",
            {"repositoryIds": repository_ids},
            200,
            {"repositoryIds": missing_ids},
            _swapped(repository_ids, missing_ids),
            control=True,
        ),
        Probe(
            "A's delivery id",
            {"text": "acme-delivery-failed"},
            200,
            {"text": "no-such-delivery"},
            {"acme-delivery-failed": "no-such-delivery"},
            control=True,
        ),
        Probe(
            "A's job id as text",
            {"text": f"#{job}"},
            200,
            {"text": f"#{MISSING_JOB}"},
            _swapped([job], [MISSING_JOB]),
            control=True,
        ),
        Probe("A's sha prefix", {"text": "acef"}, 200, {"text": "dddd"}, {"acef": "dddd"}, True),
        Probe(
            "A's file path",
            {"text": "launch-plan"},
            200,
            {"text": "no-such-path"},
            {"launch-plan": "no-such-path"},
            control=True,
        ),
    ]


def _jobs_get(world: World) -> list[Probe]:
    return [
        Probe(
            f"A's {state} job",
            {"id": job, "fileStatus": ["failed", "pending"]},
            404,
            {"id": MISSING_JOB, "fileStatus": ["failed", "pending"]},
            _swapped([job], [MISSING_JOB]),
            control=True,
        )
        for state, job in world.a_jobs.items()
    ]


def _jobs_retry(world: World) -> list[Probe]:
    return [
        Probe(
            f"A's {state} job, only failed files {only_failed}",
            {"id": job, "onlyFailedFiles": only_failed},
            404,
            {"id": MISSING_JOB, "onlyFailedFiles": only_failed},
            _swapped([job], [MISSING_JOB]),
        )
        for state, job in world.a_jobs.items()
        for only_failed in (False, True)
    ]


def _jobs_cancel(world: World) -> list[Probe]:
    return [
        Probe(
            f"A's {state} job",
            {"id": job},
            404,
            {"id": MISSING_JOB},
            _swapped([job], [MISSING_JOB]),
        )
        for state, job in world.a_jobs.items()
    ]


def _bulk(world: World, extra: dict[str, Any]) -> list[Probe]:
    jobs = list(world.a_jobs.values())
    missing = [MISSING_JOB + n for n in range(len(jobs))]
    repositories = [r.id for r in world.a_repositories.values()]
    missing_repositories = [MISSING_REPOSITORY + n for n in range(len(repositories))]
    return [
        Probe(
            "A's job ids",
            {"ids": jobs, **extra},
            200,
            {"ids": missing, **extra},
            _swapped(jobs, missing),
        ),
        Probe(
            "a filter of A's repository ids",
            {"filter": {"repositoryIds": repositories}, **extra},
            200,
            {"filter": {"repositoryIds": missing_repositories}, **extra},
            _swapped(repositories, missing_repositories),
        ),
        Probe(
            "a filter of A's delivery id",
            {"filter": {"text": "acme-delivery-cancelled"}, **extra},
            200,
            {"filter": {"text": "no-such-delivery"}, **extra},
            {"acme-delivery-cancelled": "no-such-delivery"},
        ),
        Probe(
            "a filter of A's path and statuses",
            {"filter": {"text": "launch-plan", "status": ["queued", "running", "failed"]}, **extra},
            200,
            {
                "filter": {"text": "no-such-path", "status": ["queued", "running", "failed"]},
                **extra,
            },
            {"launch-plan": "no-such-path"},
        ),
    ]


def _repositories_list(world: World) -> list[Probe]:
    return [Probe("B's list", {}, 200, control=True)]


def _repositories_connect(world: World) -> list[Probe]:
    return [
        Probe("A's folder", {"provider": "local", "path": str(world.a_folder)}, 412),
        Probe("a folder inside A's", {"provider": "local", "path": str(world.a_folder / "d")}, 412),
        Probe(
            "A's GitHub repository",
            {"provider": "github", "fullName": "acme/launch-plans"},
            412,
            {"provider": "github", "fullName": "acme/no-such-repo"},
            {"acme/launch-plans": "acme/no-such-repo"},
        ),
    ]


def _repositories_sync(world: World) -> list[Probe]:
    return [
        Probe(
            f"A's repository {name}",
            {"repositoryId": repository.id},
            404,
            {"repositoryId": MISSING_REPOSITORY},
            _swapped([repository.id], [MISSING_REPOSITORY]),
        )
        for name, repository in world.a_repositories.items()
    ]


def _search_query(world: World) -> list[Probe]:
    return [
        Probe("A's text", {"query": A_SECRET}, 200, control=True),
        Probe(
            "A's text in B's store of the same name",
            {"query": A_SECRET, "store": "docs"},
            200,
            control=True,
        ),
        Probe(
            "A's text in A's repository",
            {"query": A_SECRET, "repository": "acme-handbook"},
            404,
            {"query": A_SECRET, "repository": "no-such-repo"},
            {"acme-handbook": "no-such-repo"},
            control=True,
        ),
        Probe(
            "A's store only A has",
            {"query": A_PRIVATE, "store": "private"},
            404,
            {"query": A_PRIVATE, "store": "no-such-store"},
            {"private": "no-such-store"},
            control=True,
        ),
    ]


CASES: dict[str, Callable[[World], list[Probe]]] = {
    "jobs.list": _jobs_list,
    "jobs.get": _jobs_get,
    "jobs.retry": _jobs_retry,
    "jobs.cancel": _jobs_cancel,
    "jobs.retryMany": partial(_bulk, extra={"onlyFailedFiles": False}),
    "jobs.cancelMany": partial(_bulk, extra={}),
    "repositories.list": _repositories_list,
    "repositories.connect": _repositories_connect,
    "repositories.sync": _repositories_sync,
    "search.query": _search_query,
}


def test_a_token_of_one_organization_reaches_nothing_of_another(
    tmp_path: Path, database_url: str
) -> None:
    # No GitHub here: connecting a GitHub repository fails at once, saying so.
    github = f"http://127.0.0.1:{unused_port()}"
    with running_router(
        tmp_path, database_url, GITHUB_API_URL=github, GITHUB_TOKEN="ghp_test"
    ) as router:
        world = _world(router, tmp_path)
        problems = [f"{name}: no isolation case" for name in PROCEDURES if name not in CASES]
        problems += [f"{name}: not a procedure" for name in CASES if name not in PROCEDURES]
        for name in PROCEDURES:
            probes = CASES[name](world) if name in CASES else []
            problems += [f"{name}: no probe"] if not probes else []
            for probe in probes:
                problems += _run(world, name, probe)
    assert problems == []


def _run(world: World, name: str, probe: Probe) -> list[str]:
    """What is wrong with B's answer to `probe`, if anything."""
    where = f"{name} {probe.what}"
    before = _snapshot(world)
    answer = _call(world.router, name, world.b_token, probe.input)
    after = _snapshot(world)
    print(f"{where}: {json.dumps(probe.input)} → {answer.status_code}")
    problems = []
    if answer.status_code != probe.status:
        problems.append(f"{where}: {answer.status_code}, not {probe.status}: {answer.text}")
    sent = json.dumps(probe.input)
    leaked = [mark for mark in world.a_marks if mark in answer.text and mark not in sent]
    if leaked:
        problems.append(f"{where}: B's answer carries {leaked}: {answer.text}")
    if before != after:
        problems.append(f"{where}: changed {_changes(before, after)}")
    if probe.twin is not None:
        twin = _call(world.router, name, world.b_token, probe.twin)
        mine = _normalised(answer, list(probe.swap))
        theirs = _normalised(twin, list(probe.swap.values()))
        if mine != theirs:
            problems.append(f"{where}: answers unlike nothing's (an oracle): {mine} ≠ {theirs}")
    if probe.control:
        seen = _call(world.router, name, world.a_token, probe.input)
        if seen.status_code != 200 or not any(
            mark in seen.text and mark not in sent for mark in world.a_marks
        ):
            problems.append(f"{where}: A's own token finds nothing of A: {seen.text}")
    return problems


def _call(router: Router, name: str, token: str, input: Any) -> httpx.Response:
    if PROCEDURES[name].kind is ProcedureKind.QUERY:
        return router.query(name, token, input)
    return router.mutate(name, token, input)


def _swapped(mine: list[Any], twins: list[Any]) -> dict[str, str]:
    return {str(m): str(t) for m, t in zip(mine, twins, strict=True)}


def _normalised(answer: httpx.Response, sent: list[str]) -> tuple[int, str]:
    """The answer with the ids and names the probe sent replaced by placeholders, and the moment
    of the live check (which differs between two calls) left out."""
    text = json.dumps(_without(answer.json(), "checkedAt"), sort_keys=True)
    for n, value in enumerate(sent):
        pattern = rf"(?<!\d){re.escape(value)}(?!\d)" if value.isdigit() else re.escape(value)
        text = re.sub(pattern, f"«{n}»", text)
    return answer.status_code, text


def _without(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [_without(v, key) for v in value]
    return value


# --- the two organizations -----------------------------------------------------------------------


def _world(router: Router, tmp_path: Path) -> World:
    services = router.services
    # A's checkout is named unlike its repository, so a message naming the repository is caught
    # even when B sends the folder's path.
    checkout = GitRepo(tmp_path / "checkouts" / "one")
    checkout.write({"d/guide.md": "# Guide\n"})
    checkout.commit("first")
    with session_scope(services.db) as session:
        handbook = connect(
            session,
            provider=Provider.LOCAL,
            full_name="acme-handbook",
            external_id=local_external_id(checkout.path),
            default_branch="main",
            embedder=services.embedder,
            org_slug=A,
            local_path=checkout.path,
        )
        plans = connect(
            session,
            provider=Provider.GITHUB,
            full_name="acme/launch-plans",
            external_id="4242",
            default_branch="main",
            embedder=services.embedder,
            org_slug=A,
        )
        private = ensure_store(session, ensure_org(session, A), "private", services.embedder)
    theirs, _ = router.local_repository("globex-docs", org=B)
    a_jobs = _a_jobs(router, handbook, plans)
    make_job(
        services.db,
        theirs,
        status=IngestionStatus.FAILED,
        after="beef" + "0" * 36,
        delivery_id="globex-delivery-1",
        files={"guide/welcome.md": FileStatus.FAILED},
    )
    make_job(services.db, theirs, after="beef" + "1" * 36, delivery_id="globex-delivery-2")
    with session_scope(services.db) as session:
        b_org = ensure_org(session, B).id
        collections = {
            (s.organization_id, s.name): s.collection for s in session.exec(select(Store)).all()
        }
    a_org = handbook.organization_id
    _index(router, collections[(a_org, "docs")], "acme-handbook", "secret/launch-plan.md", A_SECRET)
    _index(router, private.collection, "acme/launch-plans", "plans/initech.md", A_PRIVATE)
    _index(router, collections[(b_org, "docs")], "globex-docs", "guide/welcome.md", B_TEXT)
    assert b_org is not None
    marks = [
        "acme",
        "acme-handbook",
        "acme/launch-plans",
        "launch-plan",
        "initech",
        "acme-delivery",
        "acef",
        "launch code",
        "Initech",
        str(checkout.path),
        *(f"(id {r.id})" for r in (handbook, plans)),
    ]
    return World(
        router=router,
        a_token=router.token(A),
        b_token=router.token(B),
        b_org=b_org,
        a_jobs=a_jobs,
        a_repositories={"acme-handbook": handbook, "acme/launch-plans": plans},
        a_folder=checkout.path,
        a_collections=[collections[(a_org, "docs")], private.collection],
        a_marks=marks,
    )


def _a_jobs(
    router: Router, handbook: ConnectedRepository, plans: ConnectedRepository
) -> dict[str, int]:
    """A job in each state a procedure acts on differently, with a sha and a delivery id of its
    own."""
    db = router.services.db
    files = {"secret/launch-plan.md": FileStatus.FAILED, "secret/ok.md": FileStatus.PROCESSED}
    made = {
        "queued": dict(status=IngestionStatus.QUEUED),
        "running": dict(
            status=IngestionStatus.RUNNING,
            files={"secret/launch-plan.md": FileStatus.PENDING},
            event_id="01ACMEEVENT",
        ),
        "processed with a failed file": dict(status=IngestionStatus.PROCESSED, files=files),
        "processed": dict(status=IngestionStatus.PROCESSED),
        "failed": dict(status=IngestionStatus.FAILED, files=files, error="the acme vault is shut"),
        "cancelled": dict(status=IngestionStatus.CANCELLED),
        "skipped": dict(status=IngestionStatus.SKIPPED),
    }
    jobs = {}
    for n, (state, fields) in enumerate(made.items()):
        repository = plans if state == "processed" else handbook
        jobs[state] = make_job(
            db,
            repository,
            after=f"acef{n:02d}".ljust(40, "a"),
            delivery_id=f"acme-delivery-{state.replace(' ', '-')}",
            **fields,
        )
    return jobs


def _index(router: Router, collection: str, repository: str, path: str, text: str) -> None:
    """One chunk of `text` in `collection`, embedded as ingestion would, through the app's own
    vector store and embedder (on the app's event loop)."""
    services, portal = router.services, router.client.portal
    assert portal is not None
    [vector] = portal.call(services.embedder.embed, [text])
    portal.call(services.vectors.ensure_collection, collection, len(vector))
    chunk = ChunkRecord(0, text, ("Plans",), "Plans", "0" * 64, vector)
    portal.call(partial(services.vectors.upsert_file, collection, repository, path, [chunk]))


# --- what B must not change ----------------------------------------------------------------------


def _snapshot(world: World) -> dict[str, Any]:
    """Every row that is not B's, and the number of points in each of A's collections."""
    services, portal = world.router.services, world.router.client.portal
    assert portal is not None
    with services.db.connect() as connection:
        b_jobs = set(
            connection.execute(
                sa.select(col(IngestionCommit.id)).where(
                    col(IngestionCommit.organization_id) == world.b_org
                )
            ).scalars()
        )
        b_stores = set(
            connection.execute(
                sa.select(col(Store.id)).where(col(Store.organization_id) == world.b_org)
            ).scalars()
        )
        tables = {}
        for table in SQLModel.metadata.sorted_tables:
            rows = [dict(row) for row in connection.execute(sa.select(table)).mappings()]
            tables[table.name] = sorted(
                (
                    repr(sorted(row.items()))
                    for row in rows
                    if not _bs(table, row, world.b_org, b_jobs, b_stores)
                ),
            )
    points = {c: portal.call(services.vectors.count, c) for c in world.a_collections}
    return {"rows": tables, "points": points}


def _bs(table: sa.Table, row: dict[str, Any], org: int, jobs: set[int], stores: set[int]) -> bool:
    if table.name == Organization.__tablename__:
        return bool(row["id"] == org)
    return (
        row.get("organization_id") == org
        or row.get("ingestion_id") in jobs
        or row.get("store_id") in stores
    )


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [
        f"{key} of {name}"
        for key in ("rows", "points")
        for name in before[key]
        if before[key][name] != after[key].get(name)
    ]
