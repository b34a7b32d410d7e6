"""Topics: the user's watch list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import AlreadyExistsError, NotFoundError
from ..models import Topic, utcnow
from ..topics.compile import TopicSpec
from ._sql import insert

topics = Topic.__table__


def add_topic(conn: Connection, slug: str, name: str, query: str, *, description: str = "",
              exclude: str | None = None, aliases: dict | None = None, active: bool = True,
              meaning: str = "off", examples: list[str] | tuple[str, ...] = (), similarity: float | None = None,
              now: datetime | None = None, exist_ok: bool = False) -> Row | None:
    """Insert a topic. Raises AlreadyExistsError for a taken slug (or returns None if exist_ok)."""
    now = now or utcnow()
    stmt = insert(conn, topics).values(
        slug=slug, name=name, query=query, description=description, exclude=exclude,
        aliases=aliases or {}, active=active, created_at=now, updated_at=now,
        meaning=meaning, examples=list(examples), similarity=similarity,
    ).on_conflict_do_nothing(index_elements=["slug"]).returning(topics.c.id)
    # RETURNING, not rowcount: PostgreSQL reports rowcount -1 for inserts with implicit RETURNING.
    if conn.execute(stmt).first() is None:
        if exist_ok:
            return None
        raise AlreadyExistsError(f"A topic with the slug {slug!r} already exists (use `followup topics edit {slug}`)")
    return get_topic(conn, slug)


def get_topic(conn: Connection, slug: str) -> Row:
    row = conn.execute(select(topics).where(topics.c.slug == slug)).first()
    if row is None:
        raise NotFoundError(f"No topic {slug!r} (see `followup topics list`)")
    return row


def list_topics(conn: Connection, *, active_only: bool = False) -> list[Row]:
    stmt = select(topics).order_by(topics.c.slug)
    if active_only:
        stmt = stmt.where(topics.c.active.is_(True))
    return list(conn.execute(stmt))


def update_topic(conn: Connection, slug: str, now: datetime | None = None, **values: Any) -> Row:
    get_topic(conn, slug)
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return get_topic(conn, slug)
    try:
        conn.execute(update(topics).where(topics.c.slug == slug).values(updated_at=now or utcnow(), **values))
    except IntegrityError as exc:
        raise AlreadyExistsError(f"A topic with the slug {values.get('slug')!r} already exists") from exc
    return get_topic(conn, values.get("slug", slug))


def remove_topic(conn: Connection, slug: str) -> Row:
    row = get_topic(conn, slug)
    conn.execute(delete(topics).where(topics.c.id == row.id))
    return row


def topic_specs(conn: Connection) -> list[TopicSpec]:
    """Active topics as the matcher wants them."""
    return [
        TopicSpec(id=r.id, slug=r.slug, query=r.query, exclude=r.exclude, aliases=r.aliases or {},
                  meaning=r.meaning or "off", name=r.name or "", description=r.description or "",
                  examples=tuple(r.examples or ()), similarity=r.similarity)
        for r in list_topics(conn, active_only=True)
    ]


def topics_fingerprint(conn: Connection) -> tuple:
    """Changes whenever a topic is added, edited or removed: tells a long-running process to recompile."""
    return tuple(conn.execute(select(func.count(), func.max(topics.c.updated_at), func.sum(topics.c.id))).one())
