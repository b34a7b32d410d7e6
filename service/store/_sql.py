"""Small dialect helpers shared by the store modules."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TypeVar

from sqlalchemy import Connection, Table, text
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


def advisory_locks(conn: Connection, names: Iterable[str]) -> None:
    """PostgreSQL: transaction-scoped advisory locks on these names, taken in one order (no deadlock), so
    a concurrent writer of the same names waits for this transaction and then sees its rows. SQLite has
    one writer at a time anyway."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "big", signed=True) for n in names})
    if keys:
        conn.execute(text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"),
                     {"keys": keys})


def aware(value):  # noqa: ANN001, ANN201
    """A timestamp read back from an aggregate (MIN/MAX) as an aware UTC datetime: SQLite returns such
    values as text or naive datetimes, PostgreSQL as aware ones; None stays None."""
    from datetime import datetime, timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value
