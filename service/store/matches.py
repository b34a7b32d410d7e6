"""Matches: record which topics an entry matched, and search them (filters, full text, keyset pages)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (Connection, Integer, Row, and_, bindparam, column, delete, func, or_, select, text, tuple_,
                        update)

from ..errors import InvalidInputError
from ..models import Entry, Feed, Match, Topic, UTCDateTime
from ..topics.text import has_cjk, search_words, words
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
    # The stored entry's publication time when the caller has just read it (re-matching the backlog);
    # otherwise insert_matches reads it (a feed may send a new date for an entry, which stays as stored).
    published_at: datetime | None = None
    # When the topic first matched it: kept across a re-match (an edited query), so alerts and "new"
    # badges do not take old matches for new ones; None means now.
    matched_at: datetime | None = None


def insert_matches(conn: Connection, rows: list[NewMatch], now: datetime) -> int:
    """Insert matches; an existing (topic, entry) pair is left as it is, and a pair the reader marked not
    relevant (a dismissed match, topic_labels) is not matched again. Returns how many were new."""
    rows = _not_dismissed(conn, rows)
    published: dict[int, datetime] = {}
    for batch in chunks(sorted({m.entry_id for m in rows if m.published_at is None})):
        published.update(conn.execute(select(entries.c.id, entries.c.published_at).where(entries.c.id.in_(batch))).all())
    values = [dict(topic_id=m.topic_id, entry_id=m.entry_id, score=m.score, matched_terms=m.terms,
                   matched_at=m.matched_at or now,
                   published_at=m.published_at or published.get(m.entry_id)) for m in rows]
    new_ids: list[int] = []
    for batch in chunks(values):
        stmt = insert(conn, matches).on_conflict_do_nothing(index_elements=["topic_id", "entry_id"])
        new_ids += [r[0] for r in conn.execute(stmt.returning(matches.c.id), batch)]
    if conn.dialect.name == "postgresql":
        for batch in chunks(new_ids):
            copy_search_vectors(conn, match_ids=batch)
    return len(new_ids)


@dataclass(frozen=True)
class Replaced:
    kept: int
    added: int
    removed: int

    @property
    def total(self) -> int:
        return self.kept + self.added


def replace_topic_matches(conn: Connection, topic_id: int, rows: list[NewMatch], now: datetime) -> Replaced:
    """Make `rows` the topic's whole set of matches, in the caller's one transaction (an edited query): a reader
    sees the old set or the new one, never a topic emptied half-way, and a killed process changes nothing.
    Matches in both keep their row (when first matched, development) with the new score and terms; the others
    are removed or added. Where an entry left, the developments after it are placed again (develop_topics
    re-places from the earliest unplaced match, so the first match from there on is marked unplaced)."""
    wanted = {m.entry_id: m for m in _not_dismissed(conn, [m for m in rows if m.topic_id == topic_id])}
    current = {r.entry_id: r for r in conn.execute(
        select(matches.c.id, matches.c.entry_id, matches.c.score, matches.c.matched_terms, matches.c.published_at)
        .where(matches.c.topic_id == topic_id))}
    gone = [r for entry_id, r in current.items() if entry_id not in wanted]
    for batch in chunks([r.id for r in gone]):
        conn.execute(delete(matches).where(matches.c.id.in_(batch)))
    changed = [dict(b_id=r.id, b_score=wanted[e].score, b_terms=wanted[e].terms)
               for e, r in current.items() if e in wanted and (r.score, r.matched_terms) != (wanted[e].score, wanted[e].terms)]
    if changed:
        conn.execute(update(matches).where(matches.c.id == bindparam("b_id"))
                     .values(score=bindparam("b_score"), matched_terms=bindparam("b_terms")), changed)
    added = insert_matches(conn, [m for e, m in wanted.items() if e not in current], now)
    left = [(r.published_at, r.entry_id) for r in gone if r.published_at is not None]
    if left:
        after = conn.execute(
            select(matches.c.id).where(matches.c.topic_id == topic_id,
                                       tuple_(matches.c.published_at, matches.c.entry_id) > tuple_(*min(left)))
            .order_by(matches.c.published_at, matches.c.entry_id).limit(1)).scalar()
        if after is not None:
            conn.execute(update(matches).where(matches.c.id == after).values(development_id=None, placed_id=None))
    return Replaced(kept=len(current) - len(gone), added=added, removed=len(gone))


def _not_dismissed(conn: Connection, rows: list[NewMatch]) -> list[NewMatch]:
    from ..models import TopicLabel

    labels = TopicLabel.__table__
    dismissed: set[tuple[int, int]] = set()
    for batch in chunks(sorted({m.entry_id for m in rows})):
        dismissed.update(conn.execute(select(labels.c.topic_id, labels.c.entry_id)
                                      .where(labels.c.entry_id.in_(batch), labels.c.relevant.is_(False))).all())
    return [m for m in rows if (m.topic_id, m.entry_id) not in dismissed] if dismissed else rows


def remove_match(conn: Connection, topic_id: int, entry_id: int) -> bool:
    """Take one match away (the reader dismissed it); False if there was none."""
    return conn.execute(delete(matches).where(matches.c.topic_id == topic_id, matches.c.entry_id == entry_id)).rowcount > 0


def copy_search_vectors(conn: Connection, *, match_ids: list[int] | None = None,
                        entry_ids: list[int] | None = None) -> None:
    """PostgreSQL: refresh the matches' copy of their entry's search vector (migration 0005) for new
    matches or for entries whose text changed."""
    if conn.dialect.name != "postgresql" or not (match_ids or entry_ids):
        return
    column_, ids = ("matches.id", match_ids) if match_ids else ("matches.entry_id", entry_ids)
    conn.execute(text("UPDATE matches SET search_vector = entries.search_vector FROM entries "
                      f"WHERE entries.id = matches.entry_id AND {column_} IN :ids")
                 .bindparams(bindparam("ids", expanding=True)), {"ids": list(ids)})


def count_matches(conn: Connection, topic_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(matches)
    if topic_id is not None:
        stmt = stmt.where(matches.c.topic_id == topic_id)
    return conn.execute(stmt).scalar_one()


def parse_search(text_: str) -> list[tuple[str, tuple[str, ...]]]:
    """User search text -> [(kind, words)] with kind "phrase" | "word" | "prefix".

    Only letters and digits reach the full-text engines, so text like `covid-19`, `AT&T` or `c++`
    can never raise a syntax error there (PITFALLS.md). Korean, Japanese and Chinese words become the
    phrase of their character pairs, as the index holds them (text.index_text); a lone character of
    those scripts is looked for at the start of a pair."""
    parts: list[tuple[str, tuple[str, ...]]] = []
    segments = text_.split('"')
    for i, segment in enumerate(segments):
        if i % 2 == 1:  # inside quotes
            parts.extend(_part(tuple(words(segment)), prefix=False))
            continue
        for raw in segment.split():
            w = tuple(words(raw))
            parts.extend(_part(w, prefix=raw.endswith("*") and len(w) == 1))
    return parts


def _part(w: tuple[str, ...], *, prefix: bool) -> list[tuple[str, tuple[str, ...]]]:
    if not w:
        return []
    expanded = tuple(x for word in w for x in search_words(word))
    if len(expanded) == 1 and len(expanded[0]) == 1 and has_cjk(expanded[0]):
        prefix = True
    if prefix:
        return [("prefix", expanded)]
    return [("phrase" if len(expanded) > 1 else "word", expanded)]


def _fts_condition(conn: Connection, search: str, entry_id=None, *, probe: bool = False):  # noqa: ANN001
    """The full-text condition on `entry_id` (default entries.id). On SQLite, probe=True checks each row
    against the index (for a walk in order); otherwise all hits are collected first."""
    parts = parse_search(search)
    if not parts:
        raise InvalidInputError("The search text has no letters or digits to look for")
    column_ = entries.c.id if entry_id is None else entry_id
    if conn.dialect.name == "sqlite":
        fts = " ".join(('"' + " ".join(w) + '"' + ("*" if kind == "prefix" else "")) for kind, w in parts)
        if probe:
            return text("EXISTS (SELECT 1 FROM entries_fts WHERE entries_fts MATCH :fts "
                        "AND entries_fts.rowid = matches.entry_id)").bindparams(fts=fts)
        return column_.in_(text("SELECT rowid FROM entries_fts WHERE entries_fts MATCH :fts")
                           .bindparams(fts=fts).columns(column("rowid", Integer)))
    # Searching matches uses the matches' own copy of the vector (migration 0005): only matched rows,
    # and no visit to the entry's row per candidate.
    table = "entries" if entry_id is None else "matches"
    conditions = []
    for i, (kind, w) in enumerate(parts):
        name = f"fts{i}"
        if kind == "prefix":  # words are letters and digits only: nothing here is tsquery syntax
            conditions.append(text(f"{table}.search_vector @@ to_tsquery('simple', :{name})")
                              .bindparams(**{name: " <-> ".join(w) + ":*"}))
        else:
            conditions.append(text(f"{table}.search_vector @@ phraseto_tsquery('simple', :{name})")
                              .bindparams(**{name: " ".join(w)}))
    return and_(*conditions)


# Searching matches for words has two plans on SQLite, and neither is good for every word (bench/query.py,
# 1.2 million entries): collecting every entry that holds the words (~0.65 µs a hit: "with", 253,000 hits,
# 70 ms) or walking the matches newest first and probing the index for each (~2.5 µs a match, but it stops
# at the first page: a word in 35 of a topic's 11,000 matches took 400 ms). A walk probes about
# 50 × N / df matches to fill a page (N entries, df holding the rarest word), so it is chosen once
# df² > 50 × 3.85 × N (df > 15,000 at 1.2 million entries). On PostgreSQL the planner chooses from its
# statistics on the tsvector column, except for words too rare to be in them (see _pg_few_hits).
_PROBE_OVER_READ = 2.5 / 0.65


def _walk_is_cheaper(conn: Connection, search: str) -> bool:
    """From the rarest word's document count in FTS5's own vocabulary (a per-connection fts5vocab table)."""
    try:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS temp.entries_fts_vocab "
                             "USING fts5vocab(main, 'entries_fts', 'row')")
        counts = []
        for kind, w in parse_search(search):
            exact = w[:-1] if kind == "prefix" else w
            if kind == "prefix":
                counts.append(conn.exec_driver_sql(
                    "SELECT sum(doc) FROM (SELECT doc FROM temp.entries_fts_vocab WHERE term >= ? AND term < ? "
                    "LIMIT 1000)", (w[-1].lower(), w[-1].lower() + "\U0010ffff")).scalar() or 0)
            counts.extend(conn.exec_driver_sql("SELECT doc FROM temp.entries_fts_vocab WHERE term = ?",
                                               (x.lower(),)).scalar() or 0 for x in exact)
        total = conn.exec_driver_sql("SELECT max(id) FROM entries").scalar() or 0
    except Exception:  # noqa: BLE001 - an estimate only: without it, collect the hits (always correct)
        return False
    return bool(counts) and min(counts) ** 2 > 50 * _PROBE_OVER_READ * total


PG_FEW_HITS = 1_000


def _pg_few_hits(conn: Connection, condition) -> bool:  # noqa: ANN001
    """Whether fewer than PG_FEW_HITS matches hold the words: counted from the GIN index, stopping there."""
    capped = select(text("1")).select_from(matches).where(condition).limit(PG_FEW_HITS).subquery()
    return conn.execute(select(func.count()).select_from(capped)).scalar_one() < PG_FEW_HITS


def encode_cursor(published_at: datetime, match_id: int) -> str:
    return base64.urlsafe_b64encode(f"{published_at.isoformat()}|{match_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, match_id = raw.rsplit("|", 1)
        when, number = datetime.fromisoformat(stamp), int(match_id)
        if when.tzinfo is None or not 0 < number < 2**63:  # ours always carry a zone and a row id
            raise ValueError("not ours")
        return when, number
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise InvalidInputError("The cursor is not one this server handed out") from exc


def search_matches(conn: Connection, *, topic: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, search: str | None = None, source: str | None = None,
                   limit: int = 50, cursor: str | None = None) -> list[Row]:
    """Matches newest first (by published time), with optional filters and a keyset cursor.

    Keyset pagination (published_at, match id) stays stable while new entries arrive. Filters and order
    use the matches' own copy of the publication time, so a topic's pages are read in order from
    ix_matches_topic_published (docs/performance.md has the latencies at 1.2 million entries)."""
    stmt = (
        select(
            matches.c.id.label("match_id"), matches.c.score, matches.c.matched_terms, matches.c.matched_at,
            topics.c.slug.label("topic"), entries.c.id.label("entry_id"), entries.c.guid, entries.c.url,
            entries.c.title, entries.c.summary, matches.c.published_at, entries.c.language, entries.c.story_id,
            func.coalesce(feeds.c.title, entries.c.source, feeds.c.url).label("feed"),
            feeds.c.url.label("feed_url"),
        )
        .select_from(matches.join(topics, topics.c.id == matches.c.topic_id)
                     .join(entries, entries.c.id == matches.c.entry_id)
                     .outerjoin(feeds, feeds.c.id == entries.c.feed_id))
    )
    if topic:
        topic_id = conn.execute(select(topics.c.id).where(topics.c.slug == topic)).scalar()
        stmt = stmt.where(matches.c.topic_id == (topic_id if topic_id is not None else -1))
    if since:
        stmt = stmt.where(matches.c.published_at >= since)
    if until:
        stmt = stmt.where(matches.c.published_at < until)
    if source:
        pattern = f"%{source.lower()}%"
        stmt = stmt.where(or_(func.lower(feeds.c.title).like(pattern), func.lower(feeds.c.url).like(pattern),
                              func.lower(entries.c.source).like(pattern)))
    if cursor:
        stamp, match_id = decode_cursor(cursor)
        # A row-value comparison: both databases seek the (topic, published_at, id) index to the cursor.
        stmt = stmt.where(tuple_(matches.c.published_at, matches.c.id)
                          < tuple_(bindparam("cursor_at", stamp, type_=UTCDateTime), bindparam("cursor_id", match_id)))
    if search and conn.dialect.name == "postgresql":
        condition = _fts_condition(conn, search, matches.c.entry_id)
        if _pg_few_hits(conn, condition):
            # A rare word: PostgreSQL's estimate for words outside its statistics is far too high (551
            # for one in 5 matches) and it walked all 156,000 matches (110 ms); the few hits first: 2 ms.
            hits = select(matches.c.id).where(condition).cte("fts_hits").prefix_with("MATERIALIZED")
            stmt = stmt.where(matches.c.id.in_(select(hits.c.id)))
        else:
            stmt = stmt.where(condition)
    elif search:
        probe = _walk_is_cheaper(conn, search)
        stmt = stmt.where(_fts_condition(conn, search, matches.c.entry_id, probe=probe))
    stmt = stmt.order_by(matches.c.published_at.desc(), matches.c.id.desc()).limit(limit)
    return list(conn.execute(stmt))


def count_entries_matching(conn: Connection, search: str) -> int:
    """How many stored entries the full-text search finds (document frequency for a phrase)."""
    return conn.execute(select(func.count()).select_from(entries).where(_fts_condition(conn, search))).scalar_one()


def search_entries(conn: Connection, search: str, limit: int = 50) -> list[Row]:
    """Full-text search over all stored entries (matched or not), newest first."""
    stmt = (select(entries.c.id, entries.c.title, entries.c.url, entries.c.published_at, entries.c.source)
            .where(_fts_condition(conn, search)).order_by(entries.c.published_at.desc()).limit(limit))
    return list(conn.execute(stmt))

def entry_matches(conn: Connection, entry_id: int) -> list[Row]:
    """The topics an entry matched, with their terms and the development it is in."""
    return list(conn.execute(
        select(topics, matches.c.matched_terms, matches.c.development_id, matches.c.score)
        .join(topics, topics.c.id == matches.c.topic_id).where(matches.c.entry_id == entry_id)
        .order_by(topics.c.slug)))
