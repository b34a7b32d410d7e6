"""Property-based API tests from the OpenAPI schema (schemathesis): generated requests for every
operation, a bounded number of examples each, and never a 500."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from service.config import Settings
from service.web.app import create_app

from ..digest.conftest import seeded


@pytest.fixture(scope="module")
def api_app(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copy(sqlite_template, folder / "followup.db")
    url = f"sqlite:///{folder / 'followup.db'}"
    # No private hosts: generated feed URLs are refused by the SSRF guard instead of being fetched.
    app_settings = Settings(database_url=url, fetch_timeout_seconds=2.0, data_dir=folder / "data", allowed_hosts="testserver")
    db = seeded(app_settings, folder)
    app = create_app(app_settings, db)
    app.state.calls = []

    @app.middleware("http")
    async def count(request, call_next):  # every generated request is seen by the app
        response = await call_next(request)
        app.state.calls.append((request.method, request.url.path, response.status_code))
        return response

    yield app
    db.dispose()


@pytest.fixture(scope="module")
def api_schema(api_app):
    return schemathesis.openapi.from_asgi("/openapi.json", api_app)


def test_no_server_errors(api_schema, api_app):
    # Each operation gets its own Hypothesis run (schemathesis' pytest plugin does not load under
    # pytest 9 here, so the loop is written out).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def run(case):
            case.call_and_validate(checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every failing operation, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    calls = api_app.state.calls
    assert len(calls) >= 5 * len(operations) and not [c for c in calls if c[2] >= 500]
    assert {c[2] for c in calls} >= {200, 404, 422}  # valid and invalid inputs both reached the app
