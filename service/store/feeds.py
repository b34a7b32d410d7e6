"""Feeds: add, list, claim due ones with a lease, record what a poll found."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, or_, select, update

from ..errors import AlreadyExistsError, NotFoundError
from ..models import Entry, Feed, utcnow
from ._sql import insert

feeds = Feed.__table__
entries = Entry.__table__


def add_feed(conn: Connection, url: str, title: str | None = None, *, kind: str = "http",
             exist_ok: bool = False, now: datetime | None = None) -> Row:
    """Insert a feed, due at once. Raises AlreadyExistsError unless exist_ok."""
    now = now or utcnow()
    stmt = insert(conn, feeds).values(url=url, title=title, kind=kind, created_at=now, next_check_at=now, error_count=0)
    inserted = conn.execute(stmt.on_conflict_do_nothing(index_elements=["url"]).returning(feeds.c.id)).first() is not None
    if not inserted and not exist_ok:
        raise AlreadyExistsError(f"The feed {url} is already in the list")
    return get_feed_by_url(conn, url)


def get_feed_by_url(conn: Connection, url: str) -> Row | None:
    return conn.execute(select(feeds).where(feeds.c.url == url)).first()


def get_feed(conn: Connection, ref: str | int) -> Row:
    """A feed by id or URL; raises NotFoundError."""
    if isinstance(ref, int) or str(ref).isdigit():
        row = conn.execute(select(feeds).where(feeds.c.id == int(ref))).first()
    else:
        row = get_feed_by_url(conn, str(ref))
    if row is None:
        raise NotFoundError(f"No feed {ref!s} (see `followup feeds list`)")
    return row


def list_feeds(conn: Connection, kind: str | None = None) -> list[Row]:
    counts = select(entries.c.feed_id, func.count().label("entry_count")).group_by(entries.c.feed_id).subquery()
    stmt = (
        select(feeds, func.coalesce(counts.c.entry_count, 0).label("entry_count"))
        .outerjoin(counts, counts.c.feed_id == feeds.c.id)
        .order_by(feeds.c.id)
    )
    if kind:
        stmt = stmt.where(feeds.c.kind == kind)
    return list(conn.execute(stmt))


def remove_feed(conn: Connection, ref: str | int) -> Row:
    """Delete a feed; its entries stay (their feed_id becomes NULL) so matches and history survive."""
    row = get_feed(conn, ref)
    conn.execute(delete(feeds).where(feeds.c.id == row.id))
    return row


def claim_due_feeds(conn: Connection, owner: str, *, now: datetime, limit: int, lease_seconds: int,
                    not_checked_since: datetime | None = None) -> list[Row]:
    """Lease up to `limit` due HTTP feeds to `owner`.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets any number of workers claim concurrently without double
    claims. SQLite: the write transaction (BEGIN IMMEDIATE) already serializes claimers.
    An expired lease (a crashed worker) is claimable again. With `not_checked_since`, every feed not
    checked since that time is claimed, due or not (`followup poll --all`).
    """
    due = [feeds.c.kind == "http", feeds.c.disabled_reason.is_(None),
           or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)]
    if not_checked_since is None:
        due.append(or_(feeds.c.next_check_at.is_(None), feeds.c.next_check_at <= now))
    else:
        due.append(or_(feeds.c.last_checked_at.is_(None), feeds.c.last_checked_at < not_checked_since))
    picked = (
        select(feeds.c.id)
        .where(and_(*due))
        .order_by(feeds.c.next_check_at.asc().nulls_first(), feeds.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [r[0] for r in conn.execute(picked)]
    if not ids:
        return []
    stmt = (
        update(feeds)
        .where(feeds.c.id.in_(ids))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
        .returning(*feeds.c)
    )
    return sorted(conn.execute(stmt), key=lambda r: r.id)


def record_fetch(conn: Connection, feed_id: int, owner: str | None, **values: Any) -> bool:
    """Store what a poll found and release the lease. False if the lease was lost to another worker."""
    stmt = update(feeds).where(feeds.c.id == feed_id)
    if owner is not None:
        stmt = stmt.where(feeds.c.lease_owner == owner)
    result = conn.execute(stmt.values(lease_owner=None, lease_until=None, **values))
    return result.rowcount == 1


def change_feed_url(conn: Connection, feed_id: int, new_url: str) -> bool:
    """Follow a permanent redirect, unless the new URL is already another feed."""
    if get_feed_by_url(conn, new_url) is not None:
        return False
    conn.execute(update(feeds).where(feeds.c.id == feed_id).values(url=new_url))
    return True


PAUSED = "paused by you"


def pause_feed(conn: Connection, ref: str | int) -> Row:
    """Stop polling a feed until it is enabled again (its entries stay)."""
    row = get_feed(conn, ref)
    conn.execute(update(feeds).where(feeds.c.id == row.id).values(disabled_reason=PAUSED))
    return get_feed(conn, row.id)


def enable_feed(conn: Connection, ref: str | int, now: datetime | None = None) -> Row:
    row = get_feed(conn, ref)
    conn.execute(update(feeds).where(feeds.c.id == row.id).values(
        disabled_reason=None, error_count=0, next_check_at=now or utcnow()))
    return get_feed(conn, row.id)
