"""Shared fixtures: real databases (SQLite always, PostgreSQL when FOLLOWUP_TEST_POSTGRES_URL is set),
a loopback feed server with real captured feeds, a CLI runner, and the shared real-data folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from service.config import Settings, sqlalchemy_url
from service.db import Database, upgrade
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FOLLOWUP_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("FOLLOWUP_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI") == "true"


def shared_data() -> Path:
    """The real-data folder; a test needing it is skipped with a reason only outside CI."""
    if not SHARED.is_dir():
        if IN_CI:
            pytest.fail(f"CI needs the real data folder at {SHARED}")
        pytest.skip(f"real data folder {SHARED} is absent (set FOLLOWUP_SHARED_DATA)")
    return SHARED


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return shared_data()


# -- databases ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (migrating every test would cost ~0.2 s each)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()  # closing the last connection checkpoints the WAL into the file we copy
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def pg_database():
    """A private PostgreSQL database for this test session (and xdist worker), dropped at the end."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI must set FOLLOWUP_TEST_POSTGRES_URL so the PostgreSQL tests run")
        pytest.skip("FOLLOWUP_TEST_POSTGRES_URL is not set")
    name = f"followup_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(sqlalchemy_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(sqlalchemy_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_pg_database() -> tuple[str, callable]:
    """An empty PostgreSQL database (for migration tests) and a function that drops it."""
    name = f"followup_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(sqlalchemy_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(sqlalchemy_url(PG_URL)).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


_TABLES = "digest_runs, subscriptions, matches, entries, stories, topics, feeds, meta"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A migrated, empty database URL: SQLite, and PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "followup.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path, sqlite_template):
    path = tmp_path / "followup.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def settings(db_url) -> Settings:
    return Settings(database_url=db_url, allow_private_hosts=True, fetch_timeout_seconds=2.0,
                    concurrency=8, per_host_concurrency=8)


# -- the loopback feed server -------------------------------------------------------------------
FIXTURE_FEEDS = {
    "herald.xml": "feeds/embedded_extracted/kstodon_koreaherald_2021-02-09.xml",
    "reuters.xml": "feeds/embedded_extracted/reactnative_rss_parser_reuters.xml",
    "huffpost.xml": "feeds/embedded_extracted/reactnative_rss_parser_huffpost.xml",
    "win1251.xml": "feeds/miniflux/internal/reader/parser/testdata/encoding_WINDOWS-1251.xml",
    "guardian.rss": "feeds/rss-parser/test/input/guardian.rss",
    "jsonfeed.json": "feeds/feed-rs/feed-rs/fixture/jsonfeed/jsonfeed_example_1.json",
}


@pytest.fixture(scope="session")
def feed_server(tmp_path_factory):
    data = shared_data()
    files = {name: data / rel for name, rel in FIXTURE_FEEDS.items() if (data / rel).exists()}
    server = FeedServer(files).start()
    yield server
    server.stop()


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """Run `followup ...` in-process with CliRunner; returns (exit_code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FOLLOWUP_ALLOW_PRIVATE_HOSTS", "true")
    monkeypatch.setenv("FOLLOWUP_FETCH_TIMEOUT_SECONDS", "2")
    from service.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return result

    return invoke


# -- headless Chromium (Debian's, driven by Playwright: it cannot download its own browser here) --------
CHROMIUM = os.environ.get("FOLLOWUP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("FOLLOWUP_TEST_ARTIFACTS", REPO / "test-artifacts"))


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium; skipped with the reason outside CI when it is not installed, failed in CI."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI needs Chromium at {CHROMIUM} (.ci/run installs Debian's chromium package)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


# -- the web app on a real loopback port ---------------------------------------------------------------
@contextlib.contextmanager
def serving(settings: Settings, db: Database):
    """`followup serve` in a thread of this process (uvicorn on 127.0.0.1, a free port); yields the base URL."""
    import threading
    import time

    from service.web.server import make_server

    server = make_server(settings, db, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
