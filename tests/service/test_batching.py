"""Concurrent calls share batches; one item's failure fails only that item's caller."""

import asyncio

import pytest
from sqlmodel import Session, col, select

from service.batching import Batcher
from service.db import batched_in_session, create_db_engine, migrate, session_scope
from service.models import Organization

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """A batch runner that keeps every batch it was given, and holds the first until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(items)
        await self.release.wait()
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]


async def test_calls_made_while_a_batch_runs_go_together_as_the_next() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder)

    first = asyncio.create_task(batcher(0))
    await asyncio.sleep(0)
    others = [asyncio.create_task(batcher(item)) for item in (2, 4, 6)]
    await asyncio.sleep(0)
    recorder.release.set()

    assert await first == 0
    assert [await task for task in others] == [20, 40, 60]
    assert recorder.batches == [[0], [2, 4, 6]]


async def test_a_batch_takes_at_most_its_limit_and_the_rest_go_next() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder, max_batch=2)

    calls = [asyncio.create_task(batcher(item)) for item in (0, 2, 4, 6, 8)]
    await asyncio.sleep(0)
    recorder.release.set()

    assert [await call for call in calls] == [0, 20, 40, 60, 80]
    assert recorder.batches == [[0, 2], [4, 6], [8]]


async def test_an_item_that_fails_fails_only_its_own_call() -> None:
    recorder = Recorder()
    recorder.release.set()
    batcher = Batcher(recorder)

    results = await asyncio.gather(*(batcher(item) for item in (1, 2)), return_exceptions=True)

    assert isinstance(results[0], ValueError)
    assert str(results[0]) == "odd 1"
    assert results[1] == 20


async def test_a_batch_that_raises_fails_every_call_in_it() -> None:
    async def broken(items: list[int]) -> list[int]:
        raise ConnectionError("down")

    batcher = Batcher(broken)

    results = await asyncio.gather(batcher(1), batcher(2), return_exceptions=True)

    assert [type(result) for result in results] == [ConnectionError, ConnectionError]


def _add_organizations(session: Session, slugs: list[str]) -> list[str]:
    for slug in slugs:
        session.add(Organization(slug=slug, name=slug))
    session.flush()  # a duplicate slug fails here, failing the whole transaction
    return slugs


async def test_a_failed_batch_transaction_is_retried_item_by_item(database_url: str) -> None:
    migrate(database_url)
    engine = create_db_engine(database_url)
    with session_scope(engine) as session:
        session.add(Organization(slug="taken", name="taken"))
    add = batched_in_session(engine, _add_organizations)

    results = await asyncio.gather(
        *(add(slug) for slug in ("a", "taken", "b")), return_exceptions=True
    )

    assert results[0] == "a"
    assert results[2] == "b"
    assert "unique" in str(results[1]).lower()
    with session_scope(engine) as session:
        slugs = session.exec(select(Organization.slug).order_by(col(Organization.slug))).all()
    assert slugs == ["a", "b", "taken"]
    engine.dispose()


@pytest.mark.parametrize("item_count", [1, 3])
async def test_a_lone_call_to_an_idle_batcher_runs_at_once(item_count: int) -> None:
    seen: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        seen.append(items)
        return items

    batcher = Batcher(run)
    for item in range(item_count):
        assert await batcher(item) == item

    assert seen == [[item] for item in range(item_count)]
