"""Small read-only facts for health checks, metrics and the home page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, func, select

from ..models import Entry, Feed, Match, Story, Topic
from ._sql import aware

feeds = Feed.__table__
entries = Entry.__table__
matches = Match.__table__
topics = Topic.__table__


def last_poll_at(conn: Connection) -> datetime | None:
    return conn.execute(select(func.max(feeds.c.last_checked_at))).scalar_one()


def stored_counts(conn: Connection) -> dict[str, int]:
    counts = {name: conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()
              for name, model in (("entries", Entry), ("matches", Match), ("stories", Story))}
    counts["feeds"] = conn.execute(select(func.count()).select_from(feeds)).scalar_one()
    counts["feeds_failing"] = conn.execute(select(func.count()).select_from(feeds)
                                           .where(feeds.c.last_error.is_not(None))).scalar_one()
    return counts


def latest_match_at(conn: Connection, slug: str) -> datetime | None:
    """Publication time of the topic's newest matched entry."""
    value = conn.execute(select(func.max(entries.c.published_at))
                         .select_from(matches.join(topics, topics.c.id == matches.c.topic_id)
                                      .join(entries, entries.c.id == matches.c.entry_id))
                         .where(topics.c.slug == slug)).scalar_one()
    return aware(value)  # SQLite returns MAX() of a timestamp column as text


def feed_health(conn: Connection) -> dict:
    """How the feeds are doing, for /healthz and the home page: counts, and the commonest error among the
    failing ones."""
    from .feeds import PAUSED

    paused = feeds.c.disabled_reason.is_not(None) & (feeds.c.disabled_reason == PAUSED)
    failing = ~paused & ((feeds.c.error_count > 0) | feeds.c.disabled_reason.is_not(None))
    total, checked, bad = conn.execute(select(
        func.count(), func.count(feeds.c.last_checked_at),
        func.coalesce(func.sum(case((failing, 1), else_=0)), 0))).one()
    common = conn.execute(select(func.coalesce(feeds.c.disabled_reason, feeds.c.last_error).label("error"),
                                 func.count().label("n"))
                          .where(failing).group_by("error").order_by(func.count().desc()).limit(1)).first()
    has_entries = conn.execute(select(entries.c.id).limit(1)).first() is not None
    return dict(total=total, checked=checked, failing=int(bad), commonest_error=common.error if common else None,
                entries=has_entries)
