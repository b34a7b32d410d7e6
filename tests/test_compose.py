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
    assert {"postgres", "followup", "migrate"} <= set(services)
    assert "healthcheck" in services["postgres"] and compose["volumes"]
    assert services["followup"]["environment"]["FOLLOWUP_DATABASE_URL"].startswith("postgresql://")
    assert services["followup"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_dockerfile_installs_and_runs_followup():
    text = (REPO / "Dockerfile").read_text()
    assert "COPY migrations" in text and "COPY seeds" in text and 'CMD ["followup", "run"]' in text
