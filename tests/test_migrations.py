"""Migrations: upgrade an empty database on both backends; the models and the revisions agree."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from service.db import Database, current_revision, upgrade
from service.models import Base


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


@pytest.mark.postgres
def test_upgrade_from_empty_postgres():
    from tests.conftest import PG_URL, new_pg_database

    if not PG_URL:
        pytest.skip("FOLLOWUP_TEST_POSTGRES_URL is not set")
    url, drop = new_pg_database()
    try:
        _check(url)
    finally:
        drop()


def test_sqlite_connections_use_wal_and_foreign_keys(sqlite_db):
    with sqlite_db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
