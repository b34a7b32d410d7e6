"""Matches: record which topics an entry matched, and search them (filters, full text, keyset pages)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Integer, Row, and_, bindparam, column, func, or_, select, text

from ..errors import InvalidInputError
from ..models import Entry, Feed, Match, Topic, UTCDateTime
from ..topics.text import words
from ._sql import chunks, insert

matches = Match.__table__
entries = Entry.__table__
topics = Topic.__table__
feeds = Feed.__table__


@dataclass(frozen=True)
class NewMatch:
    topic_id: int
    entry_id: int
    score: float
    terms: list[str]


def insert_matches(conn: Connection, rows: list[NewMatch], now: datetime) -> int:
    """Insert matches; an existing (topic, entry) pair is left as it is. Returns how many were new."""
    added = 0
    values = [dict(topic_id=m.topic_id, entry_id=m.entry_id, score=m.score, matched_terms=m.terms, matched_at=now)
              for m in rows]
    for batch in chunks(values):
        stmt = insert(conn, matches).on_conflict_do_nothing(index_elements=["topic_id", "entry_id"])
        added += len(conn.execute(stmt.returning(matches.c.id), batch).all())
    return added


def count_matches(conn: Connection, topic_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(matches)
    if topic_id is not None:
        stmt = stmt.where(matches.c.topic_id == topic_id)
    return conn.execute(stmt).scalar_one()


def parse_search(text_: str) -> list[tuple[str, tuple[str, ...]]]:
    """User search text -> [(kind, words)] with kind "phrase" | "word" | "prefix".

    Only letters and digits reach the full-text engines, so text like `covid-19`, `AT&T` or `c++`
    can never raise a syntax error there (PITFALLS.md)."""
    parts: list[tuple[str, tuple[str, ...]]] = []
    segments = text_.split('"')
    for i, segment in enumerate(segments):
        if i % 2 == 1:  # inside quotes
            w = tuple(words(segment))
            if w:
                parts.append(("phrase" if len(w) > 1 else "word", w))
            continue
        for raw in segment.split():
            w = tuple(words(raw))
            if not w:
                continue
            if raw.endswith("*") and len(w) == 1:
                parts.append(("prefix", w))
            else:
                parts.append(("phrase" if len(w) > 1 else "word", w))
    return parts


def _fts_condition(conn: Connection, search: str):
    parts = parse_search(search)
    if not parts:
        raise InvalidInputError("The search text has no letters or digits to look for")
    if conn.dialect.name == "sqlite":
        fts = " ".join(('"' + " ".join(w) + '"' + ("*" if kind == "prefix" else "")) for kind, w in parts)
        return entries.c.id.in_(text("SELECT rowid FROM entries_fts WHERE entries_fts MATCH :fts")
                                .bindparams(fts=fts).columns(column("rowid", Integer)))
    conditions = []
    for i, (kind, w) in enumerate(parts):
        name = f"fts{i}"
        if kind == "prefix":
            conditions.append(text(f"entries.search_vector @@ to_tsquery('simple', :{name})")
                              .bindparams(**{name: w[0] + ":*"}))
        else:
            conditions.append(text(f"entries.search_vector @@ phraseto_tsquery('simple', :{name})")
                              .bindparams(**{name: " ".join(w)}))
    return and_(*conditions)


def encode_cursor(published_at: datetime, match_id: int) -> str:
    return base64.urlsafe_b64encode(f"{published_at.isoformat()}|{match_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, match_id = raw.rsplit("|", 1)
        return datetime.fromisoformat(stamp), int(match_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError("The cursor is not one this server handed out") from exc


def search_matches(conn: Connection, *, topic: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, search: str | None = None, source: str | None = None,
                   limit: int = 50, cursor: str | None = None) -> list[Row]:
    """Matches newest first (by published time), with optional filters and a keyset cursor.

    Keyset pagination (published_at, match id) stays stable while new entries arrive."""
    stmt = (
        select(
            matches.c.id.label("match_id"), matches.c.score, matches.c.matched_terms, matches.c.matched_at,
            topics.c.slug.label("topic"), entries.c.id.label("entry_id"), entries.c.guid, entries.c.url,
            entries.c.title, entries.c.summary, entries.c.published_at, entries.c.language, entries.c.story_id,
            func.coalesce(feeds.c.title, entries.c.source, feeds.c.url).label("feed"),
            feeds.c.url.label("feed_url"),
        )
        .select_from(matches.join(topics, topics.c.id == matches.c.topic_id)
                     .join(entries, entries.c.id == matches.c.entry_id)
                     .outerjoin(feeds, feeds.c.id == entries.c.feed_id))
    )
    if topic:
        stmt = stmt.where(topics.c.slug == topic)
    if since:
        stmt = stmt.where(entries.c.published_at >= since)
    if until:
        stmt = stmt.where(entries.c.published_at < until)
    if source:
        pattern = f"%{source.lower()}%"
        stmt = stmt.where(or_(func.lower(feeds.c.title).like(pattern), func.lower(feeds.c.url).like(pattern),
                              func.lower(entries.c.source).like(pattern)))
    if search:
        stmt = stmt.where(_fts_condition(conn, search))
    if cursor:
        stamp, match_id = decode_cursor(cursor)
        stamp_param = bindparam("cursor_at", stamp, type_=UTCDateTime)
        stmt = stmt.where(or_(entries.c.published_at < stamp_param,
                              and_(entries.c.published_at == stamp_param, matches.c.id < match_id)))
    stmt = stmt.order_by(entries.c.published_at.desc(), matches.c.id.desc()).limit(limit)
    return list(conn.execute(stmt))


def count_entries_matching(conn: Connection, search: str) -> int:
    """How many stored entries the full-text search finds (document frequency for a phrase)."""
    return conn.execute(select(func.count()).select_from(entries).where(_fts_condition(conn, search))).scalar_one()


def search_entries(conn: Connection, search: str, limit: int = 50) -> list[Row]:
    """Full-text search over all stored entries (matched or not), newest first."""
    stmt = (select(entries.c.id, entries.c.title, entries.c.url, entries.c.published_at, entries.c.source)
            .where(_fts_condition(conn, search)).order_by(entries.c.published_at.desc()).limit(limit))
    return list(conn.execute(stmt))