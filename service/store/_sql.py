"""Small dialect helpers shared by the store modules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")
# SQLite's default limit on bound parameters is 32766 since 3.32; stay far below it.
CHUNK = 500


def insert(conn: Connection, table: Table):
    """INSERT with ON CONFLICT support for the connection's dialect (SQLite and PostgreSQL share the API)."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
