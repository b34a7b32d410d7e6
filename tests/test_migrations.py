"""Migrations: upgrade an empty database on both backends; the models and the revisions agree."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from service.db import Database, current_revision, upgrade
from service.models import Base


def _downgrade(db: Database, revision: str) -> None:
    from alembic import command

    from service.db import alembic_config

    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _check(url):
    db = Database(url)
    try:
        assert current_revision(db) is None
        upgrade(db)
        upgrade(db)  # a second run is a no-op
        assert current_revision(db) is not None
        tables = set(inspect(db.engine).get_table_names())
        assert {"feeds", "entries", "topics", "matches", "meta", "alembic_version"} <= tables
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"include_name": lambda name, type_, parent: not (
                type_ == "table" and name and name.startswith("entries_fts"))})
            diff = [d for d in compare_metadata(ctx, Base.metadata)
                    # the PostgreSQL-only generated search column and its index are managed by hand
                    if "search_vector" not in str(d) and "ix_entries_search" not in str(d)]
        assert diff == [], f"models.py and migrations/ disagree: {diff}"
        return db
    finally:
        db.dispose()


def test_upgrade_from_empty_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'new.db'}")
    assert (tmp_path / "new.db").exists()


@pytest.fixture
def empty_pg_url():
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    from tests.conftest import IN_CI, PG_URL, new_pg_database

    if not PG_URL:
        if IN_CI:
            pytest.fail("CI must set FOLLOWUP_TEST_POSTGRES_URL so the PostgreSQL tests run")
        pytest.skip("FOLLOWUP_TEST_POSTGRES_URL is not set")
    url, drop = new_pg_database()
    yield url
    drop()


@pytest.mark.postgres
def test_upgrade_from_empty_postgres(empty_pg_url):
    _check(empty_pg_url)


def test_sqlite_connections_use_wal_and_foreign_keys(sqlite_db):
    with sqlite_db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def _upgrade_existing(url):
    """A database at 0001 with data in it upgrades to head, keeps its data, the entries get stories,
    the digest tables (0003) work and existing matches get their publication time (0004)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from service.config import Settings
    from service.feeds.refresh import Pipeline

    db = Database(url)
    try:
        upgrade(db, "0001")
        now = datetime(2023, 3, 6, tzinfo=timezone.utc)
        with db.write() as conn:
            conn.execute(text("INSERT INTO feeds (url, kind, error_count, created_at) VALUES ('https://a.example/rss', 'http', 0, :now)"),
                         {"now": now if db.dialect != "sqlite" else now.replace(tzinfo=None)})
            for n, title in enumerate(["Seoul unveils forced labor compensation plan",
                                       "Seoul unveils forced labor compensation plan for victims"]):
                conn.execute(text("INSERT INTO entries (feed_id, identity, title, summary, content_hash, published_at, fetched_at) "
                                  "VALUES (1, :i, :t, '', 'h', :now, :now)"),
                             {"i": f"id{n}", "t": title, "now": now if db.dialect != "sqlite" else now.replace(tzinfo=None)})
        upgrade(db, "0003")
        stamp = now if db.dialect != "sqlite" else now.replace(tzinfo=None)
        with db.write() as conn:
            conn.execute(text("INSERT INTO topics (slug, name, description, query, aliases, active, created_at, updated_at) "
                              "VALUES ('fl', 'Forced labor', '', 'forced labor', '{}', true, :now, :now)"), {"now": stamp})
            conn.execute(text("INSERT INTO matches (topic_id, entry_id, score, matched_terms, matched_at) "
                              "SELECT 1, id, 1.0, '[]', :now FROM entries"), {"now": stamp})
        upgrade(db)
        # 0004: the matches carry their entry's publication time.
        from service.store import matches as match_store

        with db.read() as conn:
            rows = match_store.search_matches(conn, topic="fl")
            assert [r.published_at for r in rows] == [now, now]
            if db.dialect == "postgresql":  # 0005: the matches' copy of the search vector was filled in
                assert len(match_store.search_matches(conn, topic="fl", search="compensation plan")) == 2
            assert conn.execute(text("SELECT count(*) FROM matches WHERE published_at IS NULL")).scalar() == 0
        with db.read() as conn:  # 0006: the table of other sources exists, empty; URLs are indexed
            assert conn.execute(text("SELECT count(*) FROM entry_sources")).scalar() == 0
        with db.read() as conn:  # 0011: no alerts yet; existing subscriptions keep sending empty digests
            assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM alert_log")).scalar() == 0
        with db.read() as conn:  # 0009: an existing topic keeps matching by its query alone
            from service.store import topics as topic_store

            (spec,) = topic_store.topic_specs(conn)
            assert (spec.meaning, spec.examples, spec.similarity) == ("off", (), None)
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM entries WHERE story_id IS NULL")).scalar() == 2
        pipeline = Pipeline(db, Settings(database_url=url))
        assert pipeline.assign_missing_stories() == 2
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM entries WHERE story_id IS NULL")).scalar() == 0
            assert conn.execute(text("SELECT entry_count, source_count FROM stories")).all() == [(2, 1)]
        # 0003: digests work on the upgraded database, and the ledger's unique key holds.
        from service.store import digests

        with db.write() as conn:
            sub = digests.add_subscription(conn, channel="dir", target="out", topics_=None, send_at="07:00",
                                           tz="Asia/Seoul", fmt="html", now=now)
            window = (now, now)
            first = digests.claim_run(conn, sub.id, "2023-03-07", owner="a", now=now, lease=timedelta(minutes=5),
                                      window=window, max_attempts=3)
            second = digests.claim_run(conn, sub.id, "2023-03-07", owner="b", now=now, lease=timedelta(minutes=5),
                                       window=window, max_attempts=3)
        assert first is not None and second is None
        assert sub.skip_empty is False
        with db.write() as conn, pytest.raises(IntegrityError):
            conn.execute(text("INSERT INTO digest_runs (subscription_id, period, status, attempts, created_at) "
                              "VALUES (:s, '2023-03-07', 'sent', 1, :now)"),
                         {"s": sub.id, "now": now if db.dialect != "sqlite" else now.replace(tzinfo=None)})
    finally:
        db.dispose()


def test_upgrade_existing_sqlite_database(tmp_path):
    _upgrade_existing(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_upgrade_existing_postgres_database(empty_pg_url):
    _upgrade_existing(empty_pg_url)


def _upgrade_cjk(url):
    """0010: entries stored before it with Korean or Japanese text are found by words inside their runs
    after the upgrade (SQLite: their FTS5 rows rewritten; PostgreSQL: the generated column rebuilt and the
    matches' copies refreshed), and a downgrade gives back the old index without losing a row."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from service.store import matches as match_store

    db = Database(url)
    now = datetime(2023, 3, 6, tzinfo=timezone.utc)
    stamp = now if db.dialect != "sqlite" else now.replace(tzinfo=None)
    try:
        upgrade(db, "0009")
        with db.write() as conn:
            conn.execute(text("INSERT INTO feeds (url, kind, error_count, created_at) VALUES ('https://a.example/rss', 'http', 0, :now)"),
                         {"now": stamp})
            rows = [("외교부 \"지소미아 종료는 잠정조치\"..日수출규제 철회 촉구", ""), ("安倍首相、帰国", "元徴用工による訴訟で"),
                    ("Seoul keeps GSOMIA", "English")]
            for n, (title, summary) in enumerate(rows):
                conn.execute(text("INSERT INTO entries (feed_id, identity, title, summary, content_hash, published_at, fetched_at) "
                                  "VALUES (1, :i, :t, :s, 'h', :now, :now)"), {"i": f"id{n}", "t": title, "s": summary, "now": stamp})
            if db.dialect == "sqlite":  # as 0009's code indexed them: the raw text
                conn.execute(text("INSERT INTO entries_fts(rowid, title, summary) SELECT id, title, summary FROM entries"))
            conn.execute(text("INSERT INTO topics (slug, name, description, query, aliases, active, created_at, updated_at, meaning) "
                              "VALUES ('jk', 'JK', '', 'x', '{}', true, :now, :now, 'off')"), {"now": stamp})
            conn.execute(text("INSERT INTO matches (topic_id, entry_id, score, matched_terms, matched_at, published_at) "
                              "SELECT 1, id, 1.0, '[]', :now, :now FROM entries"), {"now": stamp})
            if db.dialect == "postgresql":
                match_store.copy_search_vectors(conn, entry_ids=[1, 2, 3])
        with db.read() as conn:
            assert match_store.search_entries(conn, "지소미아") == []  # one token "지소미아" only by luck of spacing
            assert match_store.search_entries(conn, "徴用工") == []
        upgrade(db)
        with db.read() as conn:
            for search, title in (("지소미아", rows[0][0]), ("수출규제", rows[0][0]), ("徴用工", "安倍首相、帰国"),
                                  ("gsomia", "Seoul keeps GSOMIA")):
                assert [r.title for r in match_store.search_entries(conn, search)] == [title], search
                assert [r.title for r in match_store.search_matches(conn, search=search)] == [title], search
        _downgrade(db, "0009")
        with db.read() as conn:
            assert match_store.search_entries(conn, "徴用工") == []
            assert match_store.search_entries(conn, "gsomia")[0].title == "Seoul keeps GSOMIA"
            assert conn.execute(text("SELECT count(*) FROM entries")).scalar() == 3
        upgrade(db)
        with db.read() as conn:
            assert [r.title for r in match_store.search_entries(conn, "徴用工")] == ["安倍首相、帰国"]
    finally:
        db.dispose()


def test_upgrade_cjk_sqlite_database(tmp_path):
    _upgrade_cjk(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_upgrade_cjk_postgres_database(empty_pg_url):
    _upgrade_cjk(empty_pg_url)


def _upgrade_merges(url):
    """0012: matches placed before it keep their development and get it as the one they joined when
    placed (no merges were made then); placing a later match replays them; a downgrade keeps every match
    and its development."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    from service.feeds.refresh import develop_topics

    db = Database(url)
    now = datetime(2023, 3, 6, tzinfo=timezone.utc)

    def stamp(t):
        return t if db.dialect != "sqlite" else t.replace(tzinfo=None)

    try:
        upgrade(db, "0011")
        titles = ["Seoul unveils forced labor compensation plan", "Seoul unveils forced labor compensation plan for victims",
                  "Japan welcomes Seoul's forced labor compensation plan"]
        with db.write() as conn:
            conn.execute(text("INSERT INTO feeds (url, kind, error_count, created_at) VALUES ('https://a.example/rss', 'http', 0, :now)"),
                         {"now": stamp(now)})
            conn.execute(text("INSERT INTO topics (slug, name, description, query, aliases, active, created_at, updated_at, meaning) "
                              "VALUES ('fl', 'FL', '', 'forced labor', '{}', true, :now, :now, 'off')"), {"now": stamp(now)})
            for n, title in enumerate(titles[:2]):
                when = stamp(now + timedelta(hours=n))
                conn.execute(text("INSERT INTO entries (id, feed_id, identity, title, summary, content_hash, published_at, fetched_at) "
                                  "VALUES (:id, 1, :i, :t, '', 'h', :w, :w)"), {"id": n + 1, "i": f"id{n}", "t": title, "w": when})
                conn.execute(text("INSERT INTO matches (topic_id, entry_id, score, matched_terms, matched_at, published_at, "
                                  "development_id) VALUES (1, :e, 1.0, '[]', :w, :w, 1)"), {"e": n + 1, "w": when})
        upgrade(db)
        with db.read() as conn:
            assert conn.execute(text("SELECT entry_id, development_id, placed_id FROM matches ORDER BY entry_id")).all() == \
                [(1, 1, 1), (2, 1, 1)]
            assert conn.execute(text("SELECT count(*) FROM development_merges")).scalar() == 0
        with db.write() as conn:  # a later report is placed with the old ones replayed as they were
            when = stamp(now + timedelta(hours=5))
            conn.execute(text("INSERT INTO entries (id, feed_id, identity, title, summary, content_hash, published_at, fetched_at) "
                              "VALUES (3, 1, 'id2', :t, '', 'h', :w, :w)"), {"t": titles[2], "w": when})
            conn.execute(text("INSERT INTO matches (topic_id, entry_id, score, matched_terms, matched_at, published_at) "
                              "VALUES (1, 3, 1.0, '[]', :w, :w)"), {"w": when})
            assert develop_topics(conn, [1]) == 1
        with db.read() as conn:
            rows = conn.execute(text("SELECT entry_id, development_id, placed_id FROM matches ORDER BY entry_id")).all()
        assert rows[:2] == [(1, 1, 1), (2, 1, 1)] and rows[2][1] == rows[2][2] and rows[2][1] in (1, 3)
        _downgrade(db, "0011")
        with db.read() as conn:
            assert conn.execute(text("SELECT entry_id, development_id FROM matches ORDER BY entry_id")).all() == \
                [(r[0], r[1]) for r in rows]
        upgrade(db)
    finally:
        db.dispose()


def test_upgrade_merges_sqlite_database(tmp_path):
    _upgrade_merges(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_upgrade_merges_postgres_database(empty_pg_url):
    _upgrade_merges(empty_pg_url)


def _upgrade_alert_retries(url):
    """0013: an alert's log rows written before it have nothing to retry; a downgrade keeps them."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    db = Database(url)
    now = datetime(2023, 3, 6, tzinfo=timezone.utc)
    stamp = now if db.dialect != "sqlite" else now.replace(tzinfo=None)
    try:
        upgrade(db, "0012")
        with db.write() as conn:
            conn.execute(text("INSERT INTO topics (slug, name, description, query, aliases, active, created_at, updated_at, meaning) "
                              "VALUES ('fl', 'FL', '', 'forced labor', '{}', true, :now, :now, 'off')"), {"now": stamp})
            conn.execute(text("INSERT INTO alerts (url, topic_id, trigger, paused, created_at, active_since) "
                              "VALUES ('json://127.0.0.1/', 1, 'new', false, :now, :now)"), {"now": stamp})
            conn.execute(text("INSERT INTO alert_log (alert_id, topic_id, development_id, sent_at) VALUES (1, 1, 7, :now)"),
                         {"now": stamp})
        upgrade(db)
        with db.read() as conn:
            assert conn.execute(text("SELECT development_id, retry_targets, retries, retry_at FROM alert_log")).all() == \
                [(7, None, 0, None)]
        _downgrade(db, "0012")
        with db.read() as conn:
            assert conn.execute(text("SELECT alert_id, development_id FROM alert_log")).all() == [(1, 7)]
        upgrade(db)
    finally:
        db.dispose()


def test_upgrade_alert_retries_sqlite_database(tmp_path):
    _upgrade_alert_retries(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_upgrade_alert_retries_postgres_database(empty_pg_url):
    _upgrade_alert_retries(empty_pg_url)
