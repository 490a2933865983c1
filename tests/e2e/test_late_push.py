"""Pushes delivered out of order: one whose commit is behind the commit indexed (a delivery GitHub
made late) ends skipped as overtaken and never takes the index back; a force push that moved the
branch back to an older commit is indexed all the same."""

import json
from pathlib import Path
from typing import Any

import pytest

from service.db import session_scope
from service.models import IngestionStatus
from service.repositories import ensure_org
from service.tokens import issue_token
from tests.e2e.system import System, page, running_system

ALPHA = "docs/alpha.md"
BETA = "docs/beta.md"
ZETA = "docs/zeta.md"
GAMMA = "docs/gamma.md"
OLD_BETA = "Beta pages describe how the lighthouse keeper trims the lamp wick each evening."
NEW_BETA = "Beta pages now explain how to renew a passport at the embassy counter."
ZETA_TEXT = "Zeta pages teach how to brew green tea with water just below boiling."


def deliver(system: System, before: str, after: str) -> int:
    """Deliver the push that moved the branch from `before` to `after`; the job id."""
    response = system.deliver(system.payload(before=before, after=after))
    assert response.status_code == 202, response.text
    return int(response.json()["job_id"])


def search(system: System, text: str) -> list[dict[str, Any]]:
    """`search.query`, as the UI and the CLI ask it."""
    with session_scope(system.services.db) as session:
        token = issue_token(session, ensure_org(session, "default"), name="test").token
    response = system.http.get(
        "/api/trpc/search.query",
        params={"input": json.dumps({"query": text, "limit": 10})},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["result"]["data"]["hits"]
    return hits


def three_commits(system: System) -> tuple[str, str, str]:
    """C1 indexed; C2 adds zeta.md; C3 removes it and rewrites beta.md (both not pushed yet)."""
    repo = system.repo
    repo.write({ALPHA: page("Alpha"), BETA: page("Beta", ("Lamp", OLD_BETA))})
    c1 = repo.commit("alpha and beta")
    job = system.finished(system.push())
    assert job.status is IngestionStatus.PROCESSED, job.error_message
    repo.write({ZETA: page("Zeta", ("Tea", ZETA_TEXT))})
    c2 = repo.commit("zeta")
    repo.remove(ZETA)
    repo.write({BETA: page("Beta", ("Passport", NEW_BETA))})
    c3 = repo.commit("no more zeta, a new beta")
    return c1, c2, c3


def assert_indexed_at(system: System, head: str) -> None:
    """The repository is at `head`, and search finds exactly what `head` holds."""
    assert system.repository().last_ingested_sha == head
    tree = system.repo.git("ls-tree", "-r", "--name-only", head).split()
    assert {path: row.content_sha for path, row in system.indexed().items()} == {
        path: system.repo.blob_of(path, head) for path in tree
    }
    system.assert_index_consistent()
    assert ZETA not in {hit["path"] for hit in search(system, ZETA_TEXT)}
    beta = [hit["text"] for hit in search(system, OLD_BETA) if hit["path"] == BETA]
    assert any(NEW_BETA in text for text in beta)
    assert not any(OLD_BETA in text for text in beta)


@pytest.mark.parametrize("late_by", ["after the newer job ended", "while the newer job runs"])
def test_a_push_delivered_after_a_newer_one_is_skipped_as_overtaken(
    tmp_path: Path, database_url: str, late_by: str
) -> None:
    with running_system(tmp_path, database_url) as system:
        c1, c2, c3 = three_commits(system)

        newer = deliver(system, c2, c3)
        if late_by == "after the newer job ended":
            system.finished(newer)
        late = deliver(system, c1, c2)
        newer_job, late_job = system.finished(newer), system.finished(late, timeout=60)

        assert newer_job.status is IngestionStatus.PROCESSED, newer_job.error_message
        assert late_job.status is IngestionStatus.SKIPPED
        assert late_job.error_message == (
            f"overtaken: job #{newer} indexed {c3[:12]}, a later commit than {c2[:12]}"
        )
        assert system.files(late) == {}
        assert_indexed_at(system, c3)


def test_a_force_push_back_to_an_older_commit_is_indexed(tmp_path: Path, database_url: str) -> None:
    with running_system(tmp_path, database_url) as system:
        c1, c2, c3 = three_commits(system)
        assert system.finished(deliver(system, c1, c3)).status is IngestionStatus.PROCESSED

        system.repo.git("reset", "-q", "--hard", c2)  # the branch goes back to zeta's commit
        back = system.finished(deliver(system, c3, c2))

        assert back.status is IngestionStatus.PROCESSED, back.error_message
        assert system.repository().last_ingested_sha == c2
        assert system.indexed()[ZETA].content_sha == system.repo.blob_of(ZETA, c2)
        system.assert_index_consistent()
        [zeta, *_] = search(system, ZETA_TEXT)
        assert zeta["path"] == ZETA


def test_a_force_push_delivered_after_the_push_built_on_it_is_skipped(
    tmp_path: Path, database_url: str
) -> None:
    """The branch went back to C1 (forced), then C4 was pushed on top of it; GitHub delivered the
    second push first. The forced push's commit is behind C4, and the branch is not at it."""
    with running_system(tmp_path, database_url) as system:
        c1, _, c3 = three_commits(system)
        assert system.finished(deliver(system, c1, c3)).status is IngestionStatus.PROCESSED
        system.repo.git("reset", "-q", "--hard", c1)
        system.repo.write({BETA: page("Beta", ("Passport", NEW_BETA)), GAMMA: page("Gamma")})
        c4 = system.repo.commit("a new beta and gamma, on the old history")

        on_top = system.finished(deliver(system, c1, c4))
        forced = system.finished(deliver(system, c3, c1))

        assert on_top.status is IngestionStatus.PROCESSED, on_top.error_message
        assert forced.status is IngestionStatus.SKIPPED
        assert forced.error_message == (
            f"overtaken: job #{on_top.id} indexed {c4[:12]}, a later commit than {c1[:12]}"
        )
        assert_indexed_at(system, c4)
