from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.unit.factories import MakeParts, Parts


@pytest.fixture
def make_parts(tmp_path: Path) -> Iterator[MakeParts]:
    """`make_parts(*function_configs)`: fresh parts on a new SQLite file, closed afterwards."""
    made: list[Parts] = []

    def make(*functions: dict[str, Any]) -> Parts:
        parts = Parts(tmp_path / f"engine-{len(made)}.db", *functions)
        made.append(parts)
        return parts

    yield make
    for parts in made:
        parts.close()
