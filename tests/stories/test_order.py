"""Order independence (issue 13): a backfill of per-source files and the same days ingested one by one
form the same developments, because `followup ingest` stores first and places entries in stories in
publication order. Real items from ../shared/data (1–15 March 2023, as the issue reproduced it; the
6 March forced-labor compensation plan)."""

from __future__ import annotations

import json
from datetime import datetime

from ..conftest import shared_data


def developments(cli, db: str) -> list[tuple[str, tuple[str, ...]]]:
    digest = json.loads(cli("digest", "--topics", "forced-labor", "--since", "2023-03-05", "--until", "2023-03-09",
                            "--format", "json", "--db", db).stdout)
    section = digest["sections"][0]
    return sorted((s["headline"], tuple(sorted(s["outlets"]))) for s in section["new"] + section.get("continuing", []))


def test_per_source_backfill_equals_day_by_day(cli, tmp_path):
    shared_data()
    from bench.corpus import items, write_daily_feeds, write_feeds

    rows = [i for i in items(months={3}) if datetime.fromisoformat(i["date_published"]).day <= 15]
    results = {}
    for name, writer in (("per-source", write_feeds), ("daily", write_daily_feeds)):
        paths = writer(iter(rows), tmp_path / name)
        db = f"sqlite:///{tmp_path / name}.db"
        assert cli("seed", "--db", db).exit_code == 0
        ingest = cli("ingest", *map(str, sorted(paths)), "--db", db)
        assert ingest.exit_code == 0, ingest.stderr
        results[name] = developments(cli, db)
    assert results["per-source"] == results["daily"]
    # The 6 March plan is one development of 10+ outlets, not one per outlet's file.
    big = [headline for headline, outlets in results["daily"] if len(outlets) >= 10]
    assert len(big) == 1 and "plan" in big[0].lower(), results["daily"]
    assert not [h for h, _ in results["daily"] if "compensat" in h.lower() and h != big[0]], results["daily"]
