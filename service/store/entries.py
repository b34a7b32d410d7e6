"""Entries: insert-or-update by identity, keeping the SQLite full-text index in step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, bindparam, delete, func, select, text, update

from ..errors import NotFoundError
from ..feeds.normalize import NormalizedEntry
from ..models import Entry, EntrySource, Feed
from ..topics.text import index_text, words
from ._sql import advisory_locks, chunks, insert

entries = Entry.__table__
feeds = Feed.__table__
sources = EntrySource.__table__
# The same canonical URL seen through another feed is the same article if it was published within this
# many days of the stored one and its headline says the same (a feed that links every item to one
# section page must not fold different articles together).
SAME_ARTICLE_DAYS = 7
SAME_TITLE = 0.5  # Jaccard similarity of the headlines' words
SYNDICATED_HOURS = 48  # a syndicated copy (same publisher and headline, another URL) within this
SYNDICATED_SUMMARY = 0.9  # ... whose summary's words are (nearly) all in the other's


@dataclass(frozen=True)
class StoredEntry:
    id: int
    entry: NormalizedEntry
    status: str  # "new" | "updated" | "unchanged" | "duplicate" (the same article stored from another feed)


def upsert_entries(conn: Connection, feed_id: int | None, source: str | None,
                   items: list[NormalizedEntry], fetched_at: datetime) -> list[StoredEntry]:
    """Store entries by identity. New ones are inserted; a changed title/summary updates the row in
    place (updated_at set) so an entry is never duplicated; the rest are left alone."""
    if not items:
        return []
    by_identity = {e.identity: e for e in items}
    existing: dict[str, tuple[int, str]] = {}
    elsewhere: set[int] = set()  # stored entries first seen in another feed
    for batch in chunks(list(by_identity)):
        for row in conn.execute(select(entries.c.identity, entries.c.id, entries.c.content_hash, entries.c.feed_id)
                                .where(entries.c.identity.in_(batch))):
            existing[row.identity] = (row.id, row.content_hash)
            if feed_id is not None and row.feed_id != feed_id:
                elsewhere.add(row.id)

    fresh = [e for i, e in by_identity.items() if i not in existing]
    copies = _same_articles(conn, feed_id, fresh)
    fresh = [e for e in fresh if e.identity not in copies]
    if fresh:
        rows = [
            dict(feed_id=feed_id, identity=e.identity, guid=e.guid, url=e.url, title=e.title, summary=e.summary,
                 author=e.author, source=source, language=e.language, content_hash=e.content_hash,
                 published_at=e.published_at, fetched_at=fetched_at, title_key=e.title_key)
            for e in fresh
        ]
        for batch in chunks(rows):
            # DO NOTHING: a concurrent worker that stored the same entry first wins, quietly.
            conn.execute(insert(conn, entries).on_conflict_do_nothing(index_elements=["identity"]), batch)
    new_ids: dict[str, int] = {}
    for batch in chunks([e.identity for e in fresh]):
        for row in conn.execute(select(entries.c.identity, entries.c.id).where(entries.c.identity.in_(batch))):
            new_ids[row.identity] = row.id

    changed = [(existing[e.identity][0], e) for e in items
               if e.identity in existing and existing[e.identity][1] != e.content_hash]
    if changed:
        _fts_delete(conn, [entry_id for entry_id, _ in changed])
        conn.execute(
            update(entries).where(entries.c.id == bindparam("b_id")).values(
                title=bindparam("b_title"), summary=bindparam("b_summary"),
                content_hash=bindparam("b_hash"), updated_at=bindparam("b_now")),
            [dict(b_id=i, b_title=e.title, b_summary=e.summary, b_hash=e.content_hash, b_now=fetched_at)
             for i, e in changed],
        )
    _fts_insert(conn, list(new_ids.values()) + [entry_id for entry_id, _ in changed])
    if changed and conn.dialect.name == "postgresql":
        from .matches import (
            copy_search_vectors,  # the matches' copy of a changed entry's vector
        )

        for batch in chunks([entry_id for entry_id, _ in changed]):
            copy_search_vectors(conn, entry_ids=batch)

    changed_ids = {e.identity: entry_id for entry_id, e in changed}
    out = []
    for e in items:
        if e.identity in new_ids:
            out.append(StoredEntry(new_ids[e.identity], e, "new"))
        elif e.identity in changed_ids:
            out.append(StoredEntry(changed_ids[e.identity], e, "updated"))
        elif e.identity in existing:
            out.append(StoredEntry(existing[e.identity][0], e, "unchanged"))
        elif e.identity in copies:
            out.append(StoredEntry(copies[e.identity], e, "duplicate"))
    # The other feeds an entry was seen in (its first feed is entries.feed_id).
    also = elsewhere | set(copies.values())
    if feed_id is not None and also:
        rows = [dict(entry_id=i, feed_id=feed_id, first_seen_at=fetched_at) for i in sorted(also)]
        for batch in chunks(rows):
            conn.execute(insert(conn, sources).on_conflict_do_nothing(index_elements=["entry_id", "feed_id"]), batch)
    return out


def _same_articles(conn: Connection, feed_id: int | None, fresh: list[NormalizedEntry]) -> dict[str, int]:
    """identity -> stored entry id, for new items that are an article already stored from another feed:
    - the same canonical URL (tracking parameters are gone by now), published within SAME_ARTICLE_DAYS,
      with a headline that says the same;
    - or a syndicated copy: the same headline from the same publisher (title_key) under another URL,
      published within SYNDICATED_HOURS, with a summary that says the same (or none): a daily
      "Live updates: …" page of one outlet has the headline of yesterday's, not its summary.
    (The same permalink GUID is the same entry already: its identity is global, feeds.normalize.)"""
    copies = _same_url(conn, feed_id, fresh)
    rest = [e for e in fresh if e.identity not in copies and e.title_key]
    if rest:
        copies.update(_syndicated(conn, feed_id, rest))
    return copies


def _syndicated(conn: Connection, feed_id: int | None, fresh: list[NormalizedEntry]) -> dict[str, int]:
    by_key: dict[str, list[NormalizedEntry]] = {}
    for e in fresh:
        by_key.setdefault(e.title_key, []).append(e)
    return _copies(conn, feed_id, by_key, entries.c.title_key, "title:", SYNDICATED_HOURS * 3600,
                   lambda row, e: same_summary(row.summary, e.summary))


def _same_url(conn: Connection, feed_id: int | None, fresh: list[NormalizedEntry]) -> dict[str, int]:
    by_url: dict[str, list[NormalizedEntry]] = {}
    for e in fresh:
        if e.url and _article_url(e.url):
            by_url.setdefault(e.url, []).append(e)
    return _copies(conn, feed_id, by_url, entries.c.url, "", SAME_ARTICLE_DAYS * 86400,
                   lambda row, e: _similar(row.title, e.title))


def _copies(conn: Connection, feed_id: int | None, groups: dict[str, list[NormalizedEntry]], column, lock_prefix: str,  # noqa: ANN001
            window_seconds: float, same: Callable[[Row, NormalizedEntry], bool]) -> dict[str, int]:
    """identity -> stored entry id for new items whose key (`column`) is a stored entry's from another
    feed, published within the window, that `same` accepts."""
    if not groups:
        return {}
    # Two workers storing the same article from two feeds at once would each miss the other's uncommitted
    # row: a lock per key makes the second wait for the first and then see its row.
    advisory_locks(conn, (lock_prefix + k for k in groups))
    stored: dict[str, list[Row]] = {}
    for batch in chunks(list(groups)):
        query = (select(entries.c.id, column.label("key"), entries.c.title, entries.c.summary, entries.c.published_at,
                        entries.c.feed_id).where(column.in_(batch)))
        for row in conn.execute(query):
            stored.setdefault(row.key, []).append(row)
    copies: dict[str, int] = {}
    for key, items in groups.items():
        for e in items:
            for row in stored.get(key, ()):
                if feed_id is not None and row.feed_id == feed_id:
                    continue  # one feed's own items with two identities: the feed says they differ
                if abs((row.published_at - e.published_at).total_seconds()) > window_seconds:
                    continue
                if same(row, e):
                    copies[e.identity] = row.id
                    break
    return copies


def same_summary(a: str | None, b: str | None) -> bool:
    """Whether two copies of one headline from one publisher are one article by their summaries: the same
    (one's words nearly all in the other's, in their first 400 characters), or either has none."""
    return not a or not b or _contained(a[:400], b[:400])


def _article_url(url: str) -> bool:
    """A URL that names one article, not a site's home page."""
    parts = urlsplit(url)
    return bool(parts.path.strip("/") or parts.query)


def _contained(a: str, b: str) -> bool:
    """One text's words nearly all in the other's (a copy truncated, or with an outlet's suffix)."""
    wa, wb = set(words(a)), set(words(b))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= SYNDICATED_SUMMARY


def _similar(a: str, b: str) -> bool:
    wa, wb = set(words(a or "")), set(words(b or ""))
    if not wa or not wb:
        return True  # an untitled copy: the URL decides
    return len(wa & wb) / len(wa | wb) >= SAME_TITLE


def _fts_insert(conn: Connection, ids: list[int]) -> None:
    if conn.dialect.name != "sqlite" or not ids:
        return  # PostgreSQL keeps its tsvector column up to date by itself (generated column)
    _fts_write(conn, ids, "INSERT INTO entries_fts(rowid, title, summary) VALUES (:id, :title, :summary)")


def _fts_delete(conn: Connection, ids: list[int]) -> None:
    """Remove rows from the external-content index; must run while the old text is still in entries."""
    if conn.dialect.name != "sqlite" or not ids:
        return
    _fts_write(conn, ids, "INSERT INTO entries_fts(entries_fts, rowid, title, summary) "
                          "VALUES ('delete', :id, :title, :summary)")


def _fts_write(conn: Connection, ids: list[int], statement: str) -> None:
    """The index holds index_text() of title and summary (Korean, Japanese and Chinese runs as character
    pairs); a 'delete' must give FTS5 exactly what was indexed, so both go through here."""
    for batch in chunks(ids):
        rows = conn.execute(select(entries.c.id, entries.c.title, entries.c.summary)
                            .where(entries.c.id.in_(batch))).all()
        if rows:
            conn.execute(text(statement), [{"id": r.id, "title": index_text(r.title),
                                             "summary": index_text(r.summary)} for r in rows])


def get_entry(conn: Connection, ref: str | int) -> Row:
    """An entry by id, GUID or URL."""
    stmt = select(entries, feeds.c.title.label("feed_title"), feeds.c.url.label("feed_url")).outerjoin(
        feeds, feeds.c.id == entries.c.feed_id)
    if isinstance(ref, int) or str(ref).isdigit():
        row = conn.execute(stmt.where(entries.c.id == int(ref))).first()
    else:
        row = conn.execute(stmt.where((entries.c.guid == ref) | (entries.c.url == ref)).limit(1)).first()
    if row is None:
        raise NotFoundError(f"No entry {ref!s}")
    return row


def iter_entries(conn: Connection, since: datetime | None = None, batch_size: int = 2000):
    """All entries (optionally published since a time), oldest first, in batches: for re-matching."""
    last_id = 0
    while True:
        stmt = select(entries.c.id, entries.c.title, entries.c.summary, entries.c.source, entries.c.url,
                      entries.c.published_at).where(entries.c.id > last_id).order_by(entries.c.id).limit(batch_size)
        if since is not None:
            stmt = stmt.where(entries.c.published_at >= since)
        rows = list(conn.execute(stmt))
        if not rows:
            return
        yield rows
        last_id = rows[-1].id


def count_entries(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(entries)).scalar_one()


def prune_unmatched(conn: Connection, older_than: datetime, limit: int = 5000) -> tuple[int, set[int]]:
    """Delete up to `limit` entries published and fetched before `older_than` that matched no topic (the
    full-text index first); matched entries and their stories stay. Returns (deleted, touched story ids)."""
    from ..models import Match

    matches = Match.__table__
    rows = conn.execute(
        select(entries.c.id, entries.c.story_id)
        .where(entries.c.published_at < older_than, entries.c.fetched_at < older_than,
               ~select(matches.c.id).where(matches.c.entry_id == entries.c.id).exists())
        .order_by(entries.c.id).limit(limit)).all()
    ids = [r.id for r in rows]
    if not ids:
        return 0, set()
    _fts_delete(conn, ids)
    for batch in chunks(ids):
        conn.execute(delete(entries).where(entries.c.id.in_(batch)))
    return len(ids), {r.story_id for r in rows if r.story_id is not None}


def compact_fulltext(conn: Connection, pages: int = 500) -> bool:
    """One step of FTS5's incremental merge (SQLite only). Deleting rows from an FTS5 index only adds
    delete markers; they, and the space of the deleted text, go away when segments are merged. Without
    this the index grew by half again over two simulated months of retention while the entries stayed
    flat (bench/retention.py). A negative page count merges even when few segments are waiting. Returns
    whether there was work: call it until it says no."""
    if conn.dialect.name != "sqlite":
        return False
    before = conn.exec_driver_sql("SELECT total_changes()").scalar()
    conn.exec_driver_sql(f"INSERT INTO entries_fts(entries_fts, rank) VALUES('merge', {-abs(int(pages))})")
    return conn.exec_driver_sql("SELECT total_changes()").scalar() - before >= 2



def entry_feeds(conn: Connection, entry_id: int) -> list[Row]:
    """Every feed an entry was seen in: its first, then the others (one article through several feeds)."""
    first = conn.execute(select(feeds.c.id, feeds.c.title, feeds.c.url).join(entries, entries.c.feed_id == feeds.c.id)
                         .where(entries.c.id == entry_id)).all()
    others = conn.execute(select(feeds.c.id, feeds.c.title, feeds.c.url).join(sources, sources.c.feed_id == feeds.c.id)
                          .where(sources.c.entry_id == entry_id).order_by(sources.c.first_seen_at)).all()
    seen = {f.id for f in first}
    return list(first) + [o for o in others if o.id not in seen]
