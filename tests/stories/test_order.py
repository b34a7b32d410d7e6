"""Developments a reader can trust (issue 13), on the real items of 1–17 March 2023 (../shared/data):

- order independence: a backfill of per-source files (`followup ingest` once), the same days polled one
  by one from a loopback server (`poll --all` each day), and the topics added only after the backfill
  (matched retroactively) give the same developments on forced-labor and japan-korea-relations;
- the 6 March compensation plan is one forced-labor development of at least 10 outlets, and the 16 March
  Tokyo summit one japan-korea-relations development;
- nothing from outside Japan–Korea news inside either."""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from datetime import datetime

from sqlalchemy import text

from service.config import Settings
from service.db import Database
from service.feeds.refresh import Pipeline
from service.seeds import read_topics
from service.store import feeds as feed_store
from service.topics.manage import create_topic

from ..conftest import REPO, shared_data
from ..hostile.conftest import HostileServer

JAPAN_KOREA = re.compile(r"japan|korea|seoul|tokyo|yoon|kishida|omurice|omelette", re.I)


def developments(cli, db: str, topic: str) -> list[dict]:
    result = cli("stories", "--topic", topic, "--since", "2023-03-01", "--until", "2023-03-18", "--limit", "200",
                 "--format", "json", "--db", db)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def grouping(devs: list[dict]) -> set[frozenset[str]]:
    return {frozenset(e["guid"] for e in d["entries"]) for d in devs}


def test_backfill_and_day_by_day_give_the_same_trustworthy_developments(cli, tmp_path):
    shared_data()
    from bench.corpus import items, write_daily_feeds, write_feeds

    rows = [i for i in items(months={3}) if datetime.fromisoformat(i["date_published"]).day <= 17]
    found: dict[str, dict[str, list[dict]]] = {}

    backfill = f"sqlite:///{tmp_path / 'backfill'}.db"
    assert cli("seed", "--db", backfill).exit_code == 0
    paths = write_feeds(iter(rows), tmp_path / "per-source")
    result = cli("ingest", *map(str, sorted(paths)), "--db", backfill)
    assert result.exit_code == 0, result.stderr

    # The same days polled one by one from a loopback server (one feed per source, each day's file
    # served at its URL): new matches are placed as each feed document is stored.
    daily = f"sqlite:///{tmp_path / 'daily'}.db"
    assert cli("seed", "--db", daily).exit_code == 0
    by_day: dict[str, dict[str, bytes]] = defaultdict(dict)
    for path in write_daily_feeds(iter(rows), tmp_path / "daily"):
        day, source = re.match(r"(2023-\d\d-\d\d)-(source\d+)", path.name).groups()
        by_day[day][source] = path.read_bytes()
    database = Database(daily)
    server = HostileServer()
    try:
        with database.write() as conn:
            conn.execute(text("DELETE FROM feeds"))  # the seed topics, not the seed feeds (no network)
            for day in sorted(by_day, reverse=True):  # before its first item, a source's feed is empty
                for source, body in by_day[day].items():
                    server.routes[f"/{source}"] = (200, [("Content-Type", "application/rss+xml")],
                                                   re.sub(rb"<item>.*?</item>", b"", body, flags=re.S))
            for source in sorted(server.routes):
                feed_store.add_feed(conn, server.url(source))
        pipeline = Pipeline(database, Settings(database_url=daily, allow_private_hosts=True))
        for day in sorted(by_day):
            for source, body in by_day[day].items():
                server.routes[f"/{source}"] = (200, [("Content-Type", "application/rss+xml")], body)
            summary = asyncio.run(pipeline.poll(include_not_due=True))
            assert not summary.count("error"), [o.message for o in summary.outcomes if o.status == "error"]
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        database.dispose()

    # The topics added only after the backfill (matched retroactively, `followup topics add` does the same).
    late = f"sqlite:///{tmp_path / 'late'}.db"
    result = cli("ingest", *map(str, sorted(paths)), "--db", late)
    assert result.exit_code == 0, result.stderr
    database = Database(late)
    try:
        for t in read_topics(REPO / "seeds" / "topics.toml"):
            if t["slug"] in ("forced-labor", "japan-korea-relations"):
                create_topic(database, t["slug"], t["name"], t["query"], exclude=t.get("exclude"),
                             aliases=t.get("aliases") or {})
    finally:
        database.dispose()

    for name, db in (("backfill", backfill), ("daily", daily), ("late", late)):
        found[name] = {t: developments(cli, db, t) for t in ("forced-labor", "japan-korea-relations")}
    for topic in ("forced-labor", "japan-korea-relations"):
        assert grouping(found["backfill"][topic]) == grouping(found["daily"][topic]), topic
        assert ([d["outlets"] for d in found["backfill"][topic]]
                == [d["outlets"] for d in found["daily"][topic]]), topic
        assert grouping(found["backfill"][topic]) == grouping(found["late"][topic]), topic

    labor = found["backfill"]["forced-labor"]
    plan = [d for d in labor if d["outlets"] >= 10]
    assert len(plan) == 1, [(d["headline"], d["outlets"]) for d in labor]
    plan_days = {e["published"][:10] for e in plan[0]["entries"]}
    assert "2023-03-06" in plan_days and plan_days <= {"2023-03-05", "2023-03-06", "2023-03-07", "2023-03-08"}
    # No other forced-labor development is the plan again.
    assert not [d for d in labor if d is not plan[0] and d["first_seen"][:10] == "2023-03-06"], labor

    relations = found["backfill"]["japan-korea-relations"]
    summit = {d["id"] for d in relations for e in d["entries"]
              if e["published"].startswith("2023-03-16") and "summit" in e["title"].lower()
              and "missile" not in e["title"].lower() and "icbm" not in e["title"].lower()}
    assert len(summit) == 1, [(d["headline"], [e["title"] for e in d["entries"]]) for d in relations]

    summit_dev = next(d for d in relations if d["id"] in summit)
    for dev in (plan[0], summit_dev):
        strangers = [e["title"] for e in dev["entries"] if not JAPAN_KOREA.search(e["title"])]
        assert not strangers, (dev["headline"], strangers)
