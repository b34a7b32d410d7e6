"""The web app on a real database: the seed topics plus small feed files ingested through the pipeline."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.web.app import create_app

from ..digest.conftest import seeded


@pytest.fixture
def web_db(db_url, tmp_path):
    settings = Settings(database_url=db_url, allow_private_hosts=True, fetch_timeout_seconds=3.0, allowed_hosts="testserver")
    db = seeded(settings, tmp_path)
    yield db, settings
    db.dispose()


@pytest.fixture
def client(web_db):
    db, settings = web_db
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_client(web_db):
    """A client with other settings (e.g. an API token)."""
    db, settings = web_db
    clients = []

    def make(**changes):
        c = TestClient(create_app(settings.model_copy(update=changes), db), raise_server_exceptions=False)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()
