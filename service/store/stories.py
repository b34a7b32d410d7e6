"""Stories: create, assign entries, keep their statistics true, merge, and list them (timelines)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, delete, distinct, func, insert, literal, select, update

from ..models import Entry, Feed, Match, Story, Topic
from ._sql import chunks

stories = Story.__table__
entries = Entry.__table__
matches = Match.__table__
topics = Topic.__table__
feeds = Feed.__table__


def create_stories(conn: Connection, count: int, now: datetime, stats: list[dict] | None = None) -> list[int]:
    """New stories: empty (statistics filled by refresh_stories), or with `stats` already known (one dict
    of headline, headline_entry_id, first_seen, last_seen, entry_count, source_count per story)."""
    if count <= 0:
        return []
    rows = stats or [dict(headline="", first_seen=now, last_seen=now, entry_count=0, source_count=0)
                     for _ in range(count)]
    rows = [dict(r, created_at=now) for r in rows]
    if conn.dialect.name == "sqlite":
        # One writer holds SQLite's lock for the whole transaction, so the next ids are ours to number:
        # a plain executemany, without RETURNING's per-row round trip (a third of story creation's time
        # on a 100,000-item file, bench/cluster_scale.py).
        first = (conn.execute(select(func.max(stories.c.id))).scalar() or 0) + 1
        ids = list(range(first, first + len(rows)))
        conn.execute(insert(stories), [dict(r, id=i) for r, i in zip(rows, ids)])
        return ids
    return [r[0] for r in conn.execute(insert(stories).returning(stories.c.id, sort_by_parameter_order=True), rows)]


def assign_entries(conn: Connection, pairs: list[tuple[int, int]]) -> None:
    """Set entries' story: [(entry_id, story_id)]."""
    if pairs:
        conn.execute(update(entries).where(entries.c.id == bindparam("e_id")).values(story_id=bindparam("s_id")),
                     [dict(e_id=e, s_id=s) for e, s in pairs])


def refresh_stories(conn: Connection, story_ids) -> None:  # noqa: ANN001
    """Recompute headline (earliest entry), first/last seen, entry and distinct-source counts."""
    for batch in chunks(sorted(set(story_ids))):
        stats = conn.execute(
            select(entries.c.story_id, func.count().label("n"),
                   func.count(distinct(func.coalesce(entries.c.source, ""))).label("sources"),
                   func.min(entries.c.published_at).label("first"), func.max(entries.c.published_at).label("last"))
            .where(entries.c.story_id.in_(batch)).group_by(entries.c.story_id)).all()
        ranked = (select(entries.c.story_id, entries.c.id, entries.c.title,
                         func.row_number().over(partition_by=entries.c.story_id,
                                                order_by=(entries.c.published_at, entries.c.id)).label("rn"))
                  .where(entries.c.story_id.in_(batch)).subquery())
        heads = {r.story_id: r for r in conn.execute(select(ranked).where(ranked.c.rn == 1))}
        if stats:
            conn.execute(update(stories).where(stories.c.id == bindparam("s_id")).values(
                entry_count=bindparam("n"), source_count=bindparam("sources"), first_seen=bindparam("first"),
                last_seen=bindparam("last"), headline=bindparam("head"), headline_entry_id=bindparam("head_id")),
                [dict(s_id=s.story_id, n=s.n, sources=s.sources, first=s.first, last=s.last,
                      head=heads[s.story_id].title, head_id=heads[s.story_id].id) for s in stats])
        empty = set(batch) - {s.story_id for s in stats}
        if empty:
            conn.execute(delete(stories).where(stories.c.id.in_(empty)))


def merge_stories(conn: Connection, pairs: list[tuple[int, int]]) -> None:
    """Fold each (small, large) story into the other, in order (a chain a→b, b→c ends in c), then
    recompute the surviving stories once."""
    for small, large in pairs:
        conn.execute(update(entries).where(entries.c.story_id == small).values(story_id=large))
    smalls = {small for small, _ in pairs}
    for batch in chunks(sorted(smalls)):
        conn.execute(delete(stories).where(stories.c.id.in_(batch)))
    refresh_stories(conn, {large for _, large in pairs} - smalls)


def entries_without_story(conn: Connection, limit: int = 500, *, matched_only: bool = False,
                          before: datetime | None = None) -> list[Row]:
    """Entries not yet in a story, oldest first; with `matched_only`, only those some topic matched; with
    `before`, only those published before it."""
    stmt = (select(entries.c.id, entries.c.title, entries.c.summary, entries.c.url, entries.c.published_at,
                   entries.c.language).where(entries.c.story_id.is_(None)))
    if before is not None:
        stmt = stmt.where(entries.c.published_at < before)
    if matched_only:  # from the matches (few) rather than a walk over every unplaced entry (most, then)
        stmt = (stmt.select_from(entries.join(matches, matches.c.entry_id == entries.c.id))
                .group_by(entries.c.id, entries.c.title, entries.c.summary, entries.c.url, entries.c.published_at,
                          entries.c.language))
    return list(conn.execute(stmt.order_by(entries.c.published_at, entries.c.id).limit(limit)))


def entries_for_index(conn: Connection, *, after_id: int, published_since: datetime, limit: int = 20_000) -> list[Row]:
    """Entries with a story, stored after `after_id` and published within the window: what another
    process (or an earlier run) clustered, to bring this process's in-memory index up to date."""
    return list(conn.execute(
        select(entries.c.id, entries.c.title, entries.c.summary, entries.c.url, entries.c.published_at,
               entries.c.language, entries.c.story_id)
        .where(entries.c.id > after_id, entries.c.story_id.is_not(None), entries.c.published_at >= published_since)
        .order_by(entries.c.id).limit(limit)))


def entries_placed_between(conn: Connection, after: datetime | None, until: datetime) -> list[Row]:
    """Entries with a story published in (after, until], in publication order: the stories around a
    backlog being placed, whatever process or run placed them."""
    query = (select(entries.c.id, entries.c.title, entries.c.summary, entries.c.url, entries.c.published_at,
                    entries.c.language, entries.c.story_id)
             .where(entries.c.story_id.is_not(None), entries.c.published_at <= until))
    if after is not None:
        query = query.where(entries.c.published_at > after)
    return list(conn.execute(query.order_by(entries.c.published_at, entries.c.id)))


def max_entry_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(entries.c.id), 0))).scalar_one()


def list_stories(conn: Connection, *, topic: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, limit: int = 50) -> list[Row]:
    """Stories with an entry published in [since, until), newest activity first; with `topic`, only
    stories containing at least one of its matches."""
    stmt = select(stories)
    if topic:
        matched = (select(entries.c.story_id).join(matches, matches.c.entry_id == entries.c.id)
                   .join(topics, topics.c.id == matches.c.topic_id).where(topics.c.slug == topic))
        if since:
            matched = matched.where(entries.c.published_at >= since)
        if until:
            matched = matched.where(entries.c.published_at < until)
        stmt = stmt.where(stories.c.id.in_(matched))
    else:
        if since:
            stmt = stmt.where(stories.c.last_seen >= since)
        if until:
            stmt = stmt.where(stories.c.first_seen < until)
    return list(conn.execute(stmt.order_by(stories.c.last_seen.desc(), stories.c.id.desc()).limit(limit)))


def get_story(conn: Connection, story_id: int) -> Row:
    from ..errors import NotFoundError

    row = conn.execute(select(stories).where(stories.c.id == story_id)).first()
    if row is None:
        raise NotFoundError(f"No story {story_id}")
    return row


def story_entries(conn: Connection, story_ids: list[int], topic: str | None = None) -> dict[int, list[Row]]:
    """Entries of each story, oldest first, with their feed's name; with `topic`, each row's `matched`
    says whether the entry matched that topic."""
    out: dict[int, list[Row]] = defaultdict(list)
    if topic:
        matched = (select(matches.c.entry_id).join(topics, topics.c.id == matches.c.topic_id)
                   .where(topics.c.slug == topic, matches.c.entry_id == entries.c.id).exists())
    for batch in chunks(story_ids):
        cols = [entries.c.id, entries.c.story_id, entries.c.guid, entries.c.url, entries.c.title, entries.c.published_at,
                func.coalesce(feeds.c.title, entries.c.source, feeds.c.url).label("feed"),
                (matched if topic else literal(False)).label("matched")]
        stmt = (select(*cols).outerjoin(feeds, feeds.c.id == entries.c.feed_id)
                .where(entries.c.story_id.in_(batch)).order_by(entries.c.published_at, entries.c.id))
        for row in conn.execute(stmt):
            out[row.story_id].append(row)
    return out


def topic_daily_counts(conn: Connection, topic: str, since: datetime | None, until: datetime | None) -> dict[str, int]:
    """Matched entries per publication day (UTC) for a topic: the timeline's volume line."""
    day = func.date(entries.c.published_at)
    stmt = (select(day.label("day"), func.count().label("n")).select_from(matches)
            .join(entries, entries.c.id == matches.c.entry_id).join(topics, topics.c.id == matches.c.topic_id)
            .where(topics.c.slug == topic).group_by(day))
    if since:
        stmt = stmt.where(entries.c.published_at >= since)
    if until:
        stmt = stmt.where(entries.c.published_at < until)
    return {str(r.day): r.n for r in conn.execute(stmt)}
