"""A topic's developments: which matches are still to be placed, what a placement needs to read, writing
the placements, and listing developments for timelines, pages, digests and Atom."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    func,
    insert,
    not_,
    or_,
    select,
    tuple_,
    update,
)

from ..models import DevelopmentMerge, Entry, Feed, Match, Story, Topic
from ._sql import advisory_locks, aware, chunks

matches = Match.__table__
entries = Entry.__table__
topics = Topic.__table__
feeds = Feed.__table__
stories = Story.__table__
merges_table = DevelopmentMerge.__table__

OUTLET = func.coalesce(feeds.c.title, entries.c.source, feeds.c.url)


def lock_topic(conn: Connection, topic_id: int) -> None:
    """One placer per topic at a time on PostgreSQL (two workers re-placing the same topic's recent
    entries would each write what their own snapshot saw)."""
    advisory_locks(conn, [f"development:{topic_id}"])


def unplaced(conn: Connection, topic_ids: list[int] | None = None) -> dict[int, tuple[datetime, int]]:
    """Topics with matches not yet in a development -> the earliest such match (published, entry id)."""
    stmt = (select(matches.c.topic_id, matches.c.published_at, matches.c.entry_id)
            .where(matches.c.development_id.is_(None)))
    if topic_ids is not None:
        stmt = stmt.where(matches.c.topic_id.in_(topic_ids))
    first: dict[int, tuple[datetime, int]] = {}
    # One pass over the unplaced matches (few: what the last documents added, or a backfill's).
    for r in conn.execute(stmt):
        key = (r.published_at, r.entry_id)
        if r.topic_id not in first or key < first[r.topic_id]:
            first[r.topic_id] = key
    return first


def topic_items(conn: Connection, topic_id: int, since: datetime) -> list[Row]:
    """The topic's matched entries published from `since`, in publication order, with what placing them
    needs and where each is now."""
    return list(conn.execute(
        select(matches.c.entry_id, matches.c.published_at, matches.c.development_id, matches.c.placed_id, entries.c.title,
               entries.c.summary, entries.c.language, entries.c.updated_at)
        .join(entries, entries.c.id == matches.c.entry_id)
        .where(matches.c.topic_id == topic_id, matches.c.published_at >= since)
        .order_by(matches.c.published_at, matches.c.entry_id)))


def window_digest(conn: Connection, topic_id: int, since: datetime, until: tuple[datetime, int]) -> tuple:
    """Of the topic's matches published from `since` up to and including the entry at `until`: how many,
    the sum of their entry ids and of the developments they joined when placed, and the latest time one of
    their entries was rewritten (a corrected headline) — whether the matches a placement saw are still
    the ones stored, as it saw them (refresh._Checkpoint.digest)."""
    at, entry_id = until
    count, ids, joined, updated = conn.execute(
        select(func.count(), func.coalesce(func.sum(matches.c.entry_id), 0),
               func.coalesce(func.sum(func.coalesce(matches.c.placed_id, matches.c.development_id)), 0),
               func.max(entries.c.updated_at))
        .select_from(matches.join(entries, entries.c.id == matches.c.entry_id))
        .where(matches.c.topic_id == topic_id, matches.c.published_at >= since,
               or_(matches.c.published_at < at, and_(matches.c.published_at == at, matches.c.entry_id <= entry_id)))).one()
    return int(count), int(ids), int(joined), aware(updated)


def topic_created(conn: Connection, topic_id: int) -> datetime | None:
    """When the topic was created: with its id, which topic this is (a database made again at the same
    address, or a deleted topic's id given again, is another)."""
    return conn.execute(select(topics.c.created_at).where(topics.c.id == topic_id)).scalar()


def move_development(conn: Connection, topic_id: int, absorbed: int, into: int) -> None:
    """Every match of the topic in development `absorbed` is now in `into` (a merge)."""
    conn.execute(update(matches).where(matches.c.topic_id == topic_id, matches.c.development_id == absorbed)
                 .values(development_id=into))


def set_developments(conn: Connection, topic_id: int, placed: dict[int, tuple[int, int]]) -> None:
    """Write entry id -> (development it is in, development it joined when placed) for one topic's matches."""
    if placed:
        conn.execute(update(matches).where(matches.c.topic_id == topic_id, matches.c.entry_id == bindparam("e_id"))
                     .values(development_id=bindparam("d_id"), placed_id=bindparam("p_id")),
                     [dict(e_id=e, d_id=d, p_id=p) for e, (d, p) in placed.items()])


def _from(key: tuple[datetime, int]):  # noqa: ANN202
    """Merges made by the entry at `key` or later (published_at, then entry id)."""
    at, entry_id = key
    return or_(merges_table.c.published_at > at,
               and_(merges_table.c.published_at == at, merges_table.c.entry_id >= entry_id))


def merges_between(conn: Connection, topic_id: int, since: datetime, until: tuple[datetime, int]) -> list[Row]:
    """The topic's development merges made from `since` up to (not including) the entry at `until`, in order."""
    return list(conn.execute(
        select(merges_table.c.published_at, merges_table.c.entry_id, merges_table.c.absorbed_id, merges_table.c.into_id)
        .where(merges_table.c.topic_id == topic_id, merges_table.c.published_at >= since, not_(_from(until)))
        .order_by(merges_table.c.published_at, merges_table.c.entry_id, merges_table.c.id)))


def merged_from(conn: Connection, topic_id: int, key: tuple[datetime, int]) -> bool:
    """Whether a merge of the topic's developments was made by the entry at `key` or a later one."""
    return conn.execute(select(merges_table.c.id).where(merges_table.c.topic_id == topic_id, _from(key)).limit(1)).first() is not None


def replace_merges(conn: Connection, topic_id: int, first: tuple[datetime, int], made: list[dict]) -> None:
    """The merges made from the entry at `first` on are the ones just made (`made`: published_at, entry_id,
    absorbed_id, into_id): those recorded by an earlier placement of the same entries go."""
    conn.execute(delete(merges_table).where(merges_table.c.topic_id == topic_id, _from(first)))
    if made:
        conn.execute(insert(merges_table), [dict(m, topic_id=topic_id) for m in made])


def development_stats():  # noqa: ANN201
    """Per (topic, development): first and last publication time, entries and distinct outlets (a select
    to narrow with where/having; list_developments and the alerts' candidates read it)."""
    return (select(matches.c.topic_id, matches.c.development_id, func.min(matches.c.published_at).label("first"),
                   func.max(matches.c.published_at).label("last"), func.count().label("entries"),
                   func.count(distinct(OUTLET)).label("outlets"))
            .select_from(matches.join(entries, entries.c.id == matches.c.entry_id)
                         .outerjoin(feeds, feeds.c.id == entries.c.feed_id))
            .where(matches.c.development_id.is_not(None))
            .group_by(matches.c.topic_id, matches.c.development_id))


def list_developments(conn: Connection, topic_id: int, *, since: datetime | None = None,
                      until: datetime | None = None, limit: int = 50) -> list[dict]:
    """The topic's developments with an entry published in [since, until), newest activity first: id,
    first/last seen, entries, outlets, and the outlets of the wider story (stories.view heads them)."""
    stmt = development_stats().where(matches.c.topic_id == topic_id)
    if since is not None:
        stmt = stmt.having(func.max(matches.c.published_at) >= since)
    if until is not None:
        stmt = stmt.having(func.min(matches.c.published_at) < until)
    rows = sorted(conn.execute(stmt), key=lambda r: (r.last, r.development_id), reverse=True)[:limit]
    wider = {}  # the global story of each development's first entry: who else, across topics, covered it
    for batch in chunks([r.development_id for r in rows]):
        wider.update(conn.execute(select(entries.c.id, stories.c.source_count)
                                  .join(stories, stories.c.id == entries.c.story_id).where(entries.c.id.in_(batch))).all())
    return [dict(id=r.development_id, first_seen=r.first, last_seen=r.last, entry_count=r.entries, outlets=r.outlets,
                 story_outlets=wider.get(r.development_id) or None) for r in rows]


def count_developments(conn: Connection, topic_id: int, *, since: datetime | None = None,
                       until: datetime | None = None) -> tuple[int, int]:
    """(developments in the window, of which new: first entry at or after `since`), as list_developments
    selects them but without a limit."""
    groups = (select(func.min(matches.c.published_at).label("first"))
              .where(matches.c.topic_id == topic_id, matches.c.development_id.is_not(None))
              .group_by(matches.c.development_id))
    if since is not None:
        groups = groups.having(func.max(matches.c.published_at) >= since)
    if until is not None:
        groups = groups.having(func.min(matches.c.published_at) < until)
    sub = groups.subquery()
    new = func.count() if since is None else func.sum(case((sub.c.first >= since, 1), else_=0))
    total, fresh = conn.execute(select(func.count(), new).select_from(sub)).one()
    return total, int(fresh or 0)


def development_entries(conn: Connection, topic_id: int, development_ids: list[int]) -> dict[int, list[Row]]:
    """Each development's entries, oldest first, with their outlet."""
    out: dict[int, list[Row]] = defaultdict(list)
    for batch in chunks(development_ids):
        stmt = (select(matches.c.development_id, entries.c.id, entries.c.guid, entries.c.url, entries.c.title,
                       entries.c.language, matches.c.published_at, OUTLET.label("feed"))
                .select_from(matches.join(entries, entries.c.id == matches.c.entry_id)
                             .outerjoin(feeds, feeds.c.id == entries.c.feed_id))
                .where(matches.c.topic_id == topic_id, matches.c.development_id.in_(batch))
                .order_by(matches.c.published_at, matches.c.entry_id))
        for row in conn.execute(stmt):
            out[row.development_id].append(row)
    return out


def development_first_seen(conn: Connection, keys: list[tuple[int, int]]) -> dict[tuple[int, int], datetime]:
    """(topic id, development) -> its first entry's publication time."""
    out: dict[tuple[int, int], datetime] = {}
    for batch in chunks(sorted(set(keys))):
        stmt = (select(matches.c.topic_id, matches.c.development_id, func.min(matches.c.published_at).label("first"))
                .where(tuple_(matches.c.topic_id, matches.c.development_id).in_(batch))
                .group_by(matches.c.topic_id, matches.c.development_id))
        for r in conn.execute(stmt):
            out[(r.topic_id, r.development_id)] = r.first
    return out


def mark_read(conn: Connection, topic_id: int, development_ids: list[int], now: datetime) -> int:
    """Mark a topic's developments read (their "new" badge goes); returns how many were not read before."""
    from ..models import DevelopmentRead
    from ._sql import insert

    reads = DevelopmentRead.__table__
    done = 0
    for batch in chunks(sorted(set(development_ids))):
        stmt = insert(conn, reads).on_conflict_do_nothing(index_elements=["topic_id", "development_id"])
        done += len(conn.execute(stmt.returning(reads.c.id),
                                 [dict(topic_id=topic_id, development_id=d, read_at=now) for d in batch]).all())
    return done


def read_developments(conn: Connection, topic_id: int, development_ids: list[int]) -> set[int]:
    """Which of these developments the reader has marked read."""
    from ..models import DevelopmentRead

    reads = DevelopmentRead.__table__
    out: set[int] = set()
    for batch in chunks(development_ids):
        out.update(conn.execute(select(reads.c.development_id).where(
            reads.c.topic_id == topic_id, reads.c.development_id.in_(batch))).scalars())
    return out
