"""Two transactions on one PostgreSQL database, the second run while the first is still open.

Under READ COMMITTED the second sees nothing the first has not committed, and waits only where
it needs a row the first has locked. `while_open` runs the second until it has either finished or
is waiting on such a lock (PostgreSQL says so in pg_stat_activity), and only then commits the
first: the worst interleaving for code that decides from what it read, every time.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from service.db import session_scope
from tests.engine.harness import eventually

A = TypeVar("A")
B = TypeVar("B")


def waiting_on_a_lock(db: Engine) -> bool:
    with db.connect() as connection:
        waiting: int = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


def while_open(
    db: Engine, first: Callable[[Session], A], second: Callable[[Session], B]
) -> tuple[A, B]:
    """`first` in a transaction; `second` in another that starts before the first commits."""
    assert db.dialect.name == "postgresql", "pg_stat_activity tells when the second waits"

    def run_second() -> B:
        with session_scope(db) as session:
            return second(session)

    with ThreadPoolExecutor(1) as pool:
        with session_scope(db) as session:
            first_result = first(session)
            second_result = pool.submit(run_second)
            eventually(lambda: second_result.done() or waiting_on_a_lock(db))
        return first_result, second_result.result(timeout=30)
