"""What a user could see change: every row of the app's database, every point of the index, every
event the engine holds, each read whole so that two reads compare equal when nothing changed."""

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import SQLModel

from service.deps import Services

# Noted at most once a minute by any authenticated call, refused or not: bookkeeping of the
# token, not something the call changed.
IGNORED_COLUMNS = {("api_token", "last_used_at")}


def database_rows(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in primary key order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with services.db.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in IGNORED_COLUMNS]
            query = sa.select(*columns).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in connection.execute(query)]
    return rows


def index_points(services: Services, collection: str, dimension: int) -> list[tuple[Any, ...]]:
    """Every point of the collection: repository, path, chunk index and text."""

    async def read() -> list[tuple[Any, ...]]:
        total = await services.vectors.count(collection)
        if not total:
            return []
        # The nearest `total` points to any vector are all of them.
        hits = await services.vectors.search(collection, [1.0] * dimension, limit=total)
        return sorted((h.repository, h.path, h.chunk_index, h.text) for h in hits)

    return asyncio.run(read())


def engine_events(engine: httpx.Client) -> list[tuple[str, str]]:
    """The events the engine holds, newest first: internal id and name."""
    response = engine.get("/v1/events", params={"limit": 100})
    response.raise_for_status()
    return [(event["internal_id"], event["name"]) for event in response.json()["data"]]
