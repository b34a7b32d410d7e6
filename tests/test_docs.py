"""Docs stay honest: every command and setting is documented, and documented query examples parse."""

import re
from pathlib import Path

from typer.main import get_command

from service.cli import app
from service.config import Settings
from service.topics.query import parse_query

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_every_command_is_in_the_readme():
    root = get_command(app)
    for name, cmd in root.commands.items():
        subs = getattr(cmd, "commands", None)
        for sub in (subs or [None]):
            phrase = f"followup {name}" + (f" {sub}" if sub else "")
            spaced = re.escape(phrase).replace(r"\ ", r"\s+")
            alt = f"followup {name}" if sub and re.search(rf"followup {name} [^\n]*\b{sub}\b", README) else None
            assert re.search(spaced, README) or alt, f"{phrase} is not documented in README.md"


def test_every_setting_is_in_the_readme():
    for name in Settings.model_fields:
        assert f"FOLLOWUP_{name.upper()}" in README, name


def test_the_readme_opens_with_the_two_commands_and_ci_uses_the_test_one():
    blocks = re.findall(r"```sh\n(.+?)\n```", README, re.S)
    run_cmd, test_cmd = blocks[0].strip(), blocks[1].strip()
    assert run_cmd.endswith("followup run")
    assert test_cmd in (REPO / ".ci/run").read_text()


def test_query_examples_in_the_docs_parse():
    text = (REPO / "docs/queries.md").read_text()
    block = re.search(r"## Examples\n\n```\n(.+?)```", text, re.S).group(1)
    examples = [line for line in block.splitlines() if line.strip()]
    assert len(examples) >= 5
    for example in examples:
        parse_query(example)
