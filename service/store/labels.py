"""A reader's feedback: which entries are (not) relevant to a topic."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, select

from ..models import Entry, TopicLabel, utcnow
from ._sql import insert

labels = TopicLabel.__table__
entries = Entry.__table__


def set_label(conn: Connection, topic_id: int, entry_id: int, relevant: bool, now: datetime | None = None) -> None:
    """Record (or change) the reader's judgement of one entry for one topic."""
    stmt = insert(conn, labels).values(topic_id=topic_id, entry_id=entry_id, relevant=relevant,
                                       created_at=now or utcnow())
    conn.execute(stmt.on_conflict_do_update(index_elements=["topic_id", "entry_id"],
                                            set_=dict(relevant=relevant, created_at=now or utcnow())))


def topic_labels(conn: Connection, topic_id: int) -> list[Row]:
    """The topic's labels with their entries' text, oldest first."""
    stmt = (select(labels.c.entry_id, labels.c.relevant, labels.c.created_at, entries.c.title, entries.c.summary,
                   entries.c.published_at)
            .join(entries, entries.c.id == labels.c.entry_id)
            .where(labels.c.topic_id == topic_id).order_by(labels.c.created_at, labels.c.id))
    return list(conn.execute(stmt))


def relevant_entries(conn: Connection, topic_id: int) -> list[tuple[int, datetime]]:
    """(entry id, published) of the entries the reader marked relevant to the topic."""
    return [tuple(r) for r in conn.execute(
        select(labels.c.entry_id, entries.c.published_at).join(entries, entries.c.id == labels.c.entry_id)
        .where(labels.c.topic_id == topic_id, labels.c.relevant.is_(True)))]
