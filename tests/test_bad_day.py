"""A full disk (SQLite's page limit standing in for it): the API answers 503 with one sentence, the CLI
prints one sentence and exits 1, and nothing half-written stays behind."""

from __future__ import annotations

from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from service.config import Settings
from service.db import Database
from service.models import Entry, Topic
from service.web.app import create_app

from .digest.conftest import seeded, write_feeds


@contextmanager
def disk_full():
    """Every new SQLite connection may not grow the file past its current size."""

    def cap(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(Engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(Engine, "connect", cap)


def count(db, model):
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()


def test_a_full_disk_is_one_sentence_and_loses_nothing(sqlite_template, tmp_path, cli):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "f.db")
    url = f"sqlite:///{tmp_path / 'f.db'}"
    db = seeded(Settings(database_url=url), tmp_path)
    topics, entries = count(db, Topic), count(db, Entry)
    db.dispose()
    import sqlite3

    with sqlite3.connect(tmp_path / "f.db") as raw:  # no free pages left: any growth needs a new page
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("VACUUM")
    with disk_full():
        client = TestClient(create_app(Settings(database_url=url, allowed_hosts="testserver")), raise_server_exceptions=False)
        r = client.post("/api/topics", json={"slug": "big", "name": "Big", "query": "korea",
                                             "description": "x" * 4_900})
        assert r.status_code == 503, r.text
        assert "database or disk is full" in r.json()["detail"] and "nothing was changed" in r.json()["detail"]
        assert client.get("/api/topics").status_code == 200  # reads still work
        client.close()
        big = tmp_path / "big"
        big.mkdir()
        paths = write_feeds(big)
        result = cli("ingest", *map(str, paths), "--db", url)
        assert result.exit_code == 1 and "Traceback" not in result.stderr
        assert "database or disk is full" in result.stderr and "Free some disk space" in result.stderr
    db = Database(url)
    try:
        assert count(db, Topic) == topics and count(db, Entry) == entries
    finally:
        db.dispose()
