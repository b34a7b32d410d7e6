"""Retention: entries that matched no topic go after FOLLOWUP_RETENTION_DAYS; matched entries and their
stories stay; the full-text index stays in step (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from service.config import Settings
from service.feeds.refresh import Pipeline
from service.models import Entry, Story
from service.store import matches as match_store

from .digest.conftest import seeded


def test_prune_keeps_matched_entries_and_their_stories(db_url, tmp_path):
    settings = Settings(database_url=db_url, retention_days=30)
    db = seeded(settings, tmp_path, now=datetime(2023, 3, 7, tzinfo=timezone.utc))
    pipeline = Pipeline(db, settings)
    try:
        e = Entry.__table__
        with db.read() as conn:
            before = conn.execute(select(func.count()).select_from(e)).scalar_one()
            matched_before = match_store.count_matches(conn)
        assert pipeline.prune(now=datetime(2023, 3, 20, tzinfo=timezone.utc)) == 0  # nothing old enough yet
        removed = pipeline.prune(now=datetime(2023, 5, 1, tzinfo=timezone.utc))
        with db.read() as conn:
            after = conn.execute(select(func.count()).select_from(e)).scalar_one()
            titles = {r.title for r in conn.execute(select(e.c.title))}
            assert match_store.count_matches(conn) == matched_before
            assert conn.execute(select(func.count()).select_from(Story.__table__)).scalar_one() >= 1
            # the weather item matched nothing: gone, and gone from full-text search too
            assert match_store.count_entries_matching(conn, "sunny") == 0
            assert match_store.count_entries_matching(conn, "compensate") >= 1
        assert removed == before - after == 1 and "Weather: a sunny week ahead" not in titles
        assert Pipeline(db, Settings(database_url=db_url, retention_days=0)).prune(
            now=datetime(2030, 1, 1, tzinfo=timezone.utc)) == 0  # 0 keeps everything
    finally:
        db.dispose()


def test_pruning_gives_the_full_text_index_its_space_back(tmp_path):
    """FTS5 deletes only add delete markers; the prune merges segments afterwards (bench/retention.py:
    without it the index grew by half again over two simulated months while the entries stayed flat)."""
    import hashlib

    from service.db import Database, upgrade
    from service.feeds.normalize import NormalizedEntry
    from service.store import entries as entry_store

    url = f"sqlite:///{tmp_path / 'r.db'}"
    db = Database(url)
    upgrade(db)
    old = datetime(2023, 1, 1, tzinfo=timezone.utc)

    def item(n: int, when: datetime) -> NormalizedEntry:
        text = f"report {n} on tariffs semiconductors and the alliance number{n}"
        return NormalizedEntry(identity=hashlib.sha256(str(n).encode()).hexdigest(), guid=str(n), url=None, title=text,
                               summary=text * 3, author=None, language="en", published_at=when,
                               content_hash=hashlib.sha256(text.encode()).hexdigest())

    def fts_pages() -> int:
        with db.read() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM dbstat WHERE name = 'entries_fts_data'").scalar()

    try:
        for batch in range(20):  # many small transactions, as polling makes them: many FTS5 segments
            with db.write() as conn:
                entry_store.upsert_entries(conn, None, "x", [item(batch * 200 + k, old) for k in range(200)], old)
        with db.write() as conn:
            entry_store.upsert_entries(conn, None, "x", [item(10_000, old + timedelta(days=60))], old + timedelta(days=60))
        full = fts_pages()
        removed = Pipeline(db, Settings(database_url=url, retention_days=30)).prune(now=old + timedelta(days=60))
        assert removed == 4000
        assert fts_pages() < full / 4, (full, fts_pages())
        with db.read() as conn:
            assert match_store.count_entries_matching(conn, "tariffs") == 1
            assert match_store.count_entries_matching(conn, "number10000") == 1
    finally:
        db.dispose()
