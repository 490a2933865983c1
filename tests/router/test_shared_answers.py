"""Polled answers are shared by an organization's callers for a moment, computed once and then
refreshed behind them; an error is not shared; another organization, or the same one after a
mutation, gets a fresh answer."""

import asyncio

import pytest

from router.shared import SharedAnswers


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_concurrent_callers_share_one_computation_then_a_refresh_replaces_it() -> None:
    clock, computed = Clock(), []

    async def compute() -> int:
        computed.append(1)
        await asyncio.sleep(0)
        return len(computed)

    async def main() -> list[int]:
        shared = SharedAnswers(ttl=1.0, max_age=2.0, clock=clock)
        first = await asyncio.gather(*(shared.get(1, "jobs.list", compute) for _ in range(20)))
        other_org = await shared.get(2, "jobs.list", compute)  # 2
        clock.now += 0.5
        fresh = await shared.get(1, "jobs.list", compute)  # 1, as it is
        clock.now += 0.6
        served_while_refreshing = await shared.get(1, "jobs.list", compute)  # 1; 3 computes
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))  # the refresh
        refreshed = await shared.get(1, "jobs.list", compute)  # 3
        clock.now += 2.5
        too_old = await shared.get(1, "jobs.list", compute)  # waits for 4
        shared.forget(1)
        after_a_mutation = await shared.get(1, "jobs.list", compute)  # 5
        return [
            *first,
            other_org,
            fresh,
            served_while_refreshing,
            refreshed,
            too_old,
            after_a_mutation,
        ]

    answers = asyncio.run(main())

    assert answers[:20] == [1] * 20
    assert answers[20:] == [2, 1, 1, 3, 4, 5]


def test_an_error_is_raised_to_its_callers_and_not_kept() -> None:
    calls = []

    async def fail_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return "ok"

    async def main() -> str:
        shared = SharedAnswers(ttl=1.0, clock=Clock())
        with pytest.raises(RuntimeError):
            await shared.get(1, "jobs.get", fail_once)
        return str(await shared.get(1, "jobs.get", fail_once))

    assert asyncio.run(main()) == "ok"
