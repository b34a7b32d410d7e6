"""Installation facts (key/value)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from ..models import Meta
from ._sql import insert

meta = Meta.__table__


def get_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()


def set_meta_once(conn: Connection, key: str, value: str) -> bool:
    """Set a key unless it already exists; True if this call set it."""
    stmt = insert(conn, meta).values(key=key, value=value).on_conflict_do_nothing(index_elements=["key"])
    return conn.execute(stmt.returning(meta.c.key)).first() is not None


def set_meta(conn: Connection, key: str, value: str | None) -> None:
    """Set a key (None deletes it)."""
    if value is None:
        conn.execute(delete(meta).where(meta.c.key == key))
    elif not set_meta_once(conn, key, value):
        conn.execute(update(meta).where(meta.c.key == key).values(value=value))
