"""The scheduler leases only due items, within concurrency keys and capacity, by priority."""

from engine.consts import QueueKind
from engine.outcomes import Completed
from engine.scheduler import Scheduler
from engine.store import QueueItem
from tests.engine.unit.factories import MakeParts, Parts, function_config


def users_of(parts: Parts, items: list[QueueItem]) -> list[str]:
    """The `data.user` of the event behind each leased call."""
    users = []
    for item in items:
        run = parts.store.get_run(item.run_id or "")
        assert run is not None
        users.append(run.event["data"]["user"])
    return users


def test_an_item_is_leased_only_once_it_is_due(make_parts: MakeParts) -> None:
    parts = make_parts()
    now = parts.clock.now()
    parts.store.enqueue(QueueKind.WAKE, now + 1000)

    assert parts.scheduler.take(now, 10) == []
    parts.clock.advance(999)
    assert parts.scheduler.take(parts.clock.now(), 10) == []
    parts.clock.advance(1)
    [item] = parts.scheduler.take(parts.clock.now(), 10)
    assert item.due_at == now + 1000


def test_a_concurrency_key_holds_one_call_until_the_leased_one_is_released(
    make_parts: MakeParts,
) -> None:
    fn = function_config("c", "app/c", concurrency=[{"limit": 1, "key": "event.data.user"}])
    parts = make_parts(fn)
    for user in ("ann", "ann", "bob"):
        parts.send("app/c", {"user": user})
    now = parts.clock.now()

    first = parts.scheduler.take(now, 10)
    assert sorted(users_of(parts, first)) == ["ann", "bob"]
    assert parts.scheduler.take(now, 10) == []  # the second "ann" waits for the first

    ann = next(item for item in first if users_of(parts, [item]) == ["ann"])
    parts.machine.apply_call(ann, Completed("done"))
    parts.scheduler.release(ann)
    assert users_of(parts, parts.scheduler.take(now, 10)) == ["ann"]


def test_higher_priority_runs_are_leased_first(make_parts: MakeParts) -> None:
    fn = function_config("p", "app/p", priority={"run": "event.data.priority"})
    parts = make_parts(fn)
    for priority in (0, 100, -50, 50):
        parts.send("app/p", {"user": f"p{priority}", "priority": priority})
    now = parts.clock.now()

    order = [users_of(parts, parts.scheduler.take(now, 1)) for _ in range(4)]

    assert order == [["p100"], ["p50"], ["p0"], ["p-50"]]


def test_a_high_priority_item_that_is_not_due_waits(make_parts: MakeParts) -> None:
    parts = make_parts()
    now = parts.clock.now()
    parts.store.enqueue(QueueKind.WAKE, now + 1000, priority=600, payload={"who": "high"})
    parts.store.enqueue(QueueKind.WAKE, now, priority=0, payload={"who": "low"})

    assert [item.payload for item in parts.scheduler.take(now, 10)] == [{"who": "low"}]


def test_no_more_items_than_capacity_are_leased(make_parts: MakeParts) -> None:
    parts = make_parts()
    now = parts.clock.now()
    for offset in range(5):
        parts.store.enqueue(QueueKind.WAKE, now - offset)

    assert parts.scheduler.take(now, 0) == []
    assert len(parts.scheduler.take(now, 2)) == 2
    assert len(parts.scheduler.take(now, 10)) == 3  # the two leased are not leased again
    assert parts.scheduler.take(now, 10) == []


def test_a_long_queue_of_blocked_calls_does_not_hide_a_runnable_one(make_parts: MakeParts) -> None:
    fn = function_config("k", "app/k", concurrency=[{"limit": 1, "key": "event.data.user"}])
    parts = make_parts(fn)
    for _ in range(600):  # more than any fixed scan window
        parts.send("app/k", {"user": "ann"})
    parts.send("app/k", {"user": "bob"})
    now = parts.clock.now()

    taken = parts.scheduler.take(now, 2)

    assert sorted(users_of(parts, taken)) == ["ann", "bob"]


def test_calls_held_back_by_a_full_key_run_in_the_order_they_came(make_parts: MakeParts) -> None:
    fn = function_config("k", "app/k", concurrency=[{"limit": 1, "key": "event.data.user"}])
    parts = make_parts(fn)
    for number in range(5):
        parts.send("app/k", {"user": "ann", "number": number})
    now = parts.clock.now()

    order = []
    for _ in range(5):
        [item] = parts.scheduler.take(now, 10)
        run = parts.store.get_run(item.run_id or "")
        assert run is not None
        order.append(run.event["data"]["number"])
        parts.machine.apply_call(item, Completed("done"))
        parts.scheduler.release(item)

    assert order == [0, 1, 2, 3, 4]
    assert parts.scheduler.take(now, 10) == []


def test_after_a_restart_calls_held_back_by_a_key_are_due_again(make_parts: MakeParts) -> None:
    fn = function_config("k", "app/k", concurrency=[{"limit": 1, "key": "event.data.user"}])
    parts = make_parts(fn)
    for _ in range(3):
        parts.send("app/k", {"user": "ann"})
    now = parts.clock.now()
    [first] = parts.scheduler.take(now, 10)  # the other two wait for the key
    parts.machine.apply_call(first, Completed("done"))  # then the process dies: no release

    restarted = Scheduler(parts.store)

    assert len(restarted.take(now, 10)) == 1
    assert restarted.take(now, 10) == []
