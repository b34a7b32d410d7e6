"""docker-compose.yml validates against the Compose Specification schema (no Docker engine runs here)."""

import json
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid(data_dir):
    schema = json.loads((data_dir / "compose-spec.json").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)
    services = compose["services"]
    assert {"postgres", "migrate", "web", "scheduler", "worker", "mail"} <= set(services)
    assert "healthcheck" in services["postgres"] and compose["volumes"]["pgdata"] is None
    for name, command in (("web", ["followup", "serve"]), ("scheduler", ["followup", "run", "--roles", "scheduler"]),
                          ("worker", ["followup", "worker"])):
        service = services[name]
        assert service["command"] == command
        assert service["environment"]["FOLLOWUP_DATABASE_URL"].startswith("postgresql://")
        # migrations run once, before any of them starts
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["followup", "db", "upgrade"]
    assert "ports" not in services["worker"]  # scalable: --scale worker=N
    assert services["web"]["environment"]["FOLLOWUP_SMTP_HOST"] == "mail"


def test_dockerfile_installs_and_runs_followup():
    text = (REPO / "Dockerfile").read_text()
    assert "COPY migrations" in text and "COPY seeds" in text and 'CMD ["followup", "run"]' in text
