"""Property-based API tests from the OpenAPI schema (schemathesis): generated requests for every
operation, a bounded number of examples each, and never a 500."""

from __future__ import annotations

import base64
import shutil
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
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
        # Valid requests and invalid ones (wrong types, out-of-schema values), more of each than before.
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)
            def run(case):
                case.call_and_validate(checks=[not_a_server_error])

            try:
                run()
            except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters)
                continue
            except Exception as exc:  # noqa: BLE001 - collect every failing operation, then report them all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    calls = api_app.state.calls
    assert len(calls) >= 5 * len(operations) and not [c for c in calls if c[2] >= 500]
    assert {c[2] for c in calls} >= {200, 404, 422}  # valid and invalid inputs both reached the app


# Boundary values that generated strings rarely hit: each once in every query and path parameter of
# every operation (the red-team pass found HTTP 500s with exactly these).
_NAIVE_CURSOR = base64.urlsafe_b64encode(b"2023-01-01T00:00:00|5").decode().rstrip("=")
BOUNDARY = ["99999999999999d", "99999999999999999999999", "-1", "0", "0001-01-01", "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00", "1e308", "NaN", "NOT " * 1200 + "x", "(" * 500 + "x", '"' * 3,
            _NAIVE_CURSOR, "\x01\x08", "x" * 5000, "%00", "..%2F..%2Fetc%2Fpasswd", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")]


def test_boundary_values_never_500(api_app):
    from fastapi.testclient import TestClient

    client = TestClient(api_app, raise_server_exceptions=False)
    spec = client.get("/openapi.json").json()
    tried, errors = 0, []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = [p for p in op.get("parameters", []) if p["in"] in ("query", "path")]
            for param in params:
                for value in BOUNDARY:
                    url = path
                    query = {}
                    for p in params:
                        chosen = value if p is param else ("gsomia" if p["in"] == "path" and "slug" in p["name"] else "1")
                        if p["in"] == "path":
                            url = url.replace("{" + p["name"] + "}", quote(chosen, safe=""))
                        elif p is param:
                            query[p["name"]] = chosen
                    body = {"query": value} if method == "post" and "topics/test" in path else None
                    response = client.request(method.upper(), url, params=query, json=body)
                    tried += 1
                    if response.status_code >= 500:
                        errors.append(f"{method.upper()} {url} {param['name']}={value[:40]!r}: {response.status_code}")
    for value in BOUNDARY:  # the query language's own entry point
        response = client.post("/api/topics/test", json={"query": value})
        tried += 1
        if response.status_code >= 500:
            errors.append(f"POST /api/topics/test query={value[:40]!r}: {response.status_code}")
    assert tried > 200
    assert not errors, "\n".join(errors)
