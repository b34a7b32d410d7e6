"""Stories through the real pipeline and CLI, on SQLite and PostgreSQL."""

import json

from sqlalchemy import func, select

from service.config import Settings
from service.feeds.refresh import Pipeline
from service.models import Entry, Story

RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{feed}</title>{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><link>{link}</link><description>{summary}</description><pubDate>{date}</pubDate></item>"


def feed_file(path, feed, items):
    path.write_text(RSS.format(feed=feed, items="".join(ITEM.format(**i) for i in items)), encoding="utf-8")
    return path


def test_every_entry_in_one_story_with_outlets_and_updates_keep_their_story(db_url, tmp_path):
    settings = Settings(database_url=db_url, story_scope="all")  # every entry, matched or not
    from service.db import Database

    db = Database(db_url)
    pipeline = Pipeline(db, settings)
    day = "Mon, 06 Mar 2023 {h:02d}:00:00 +0000"
    plan = [dict(title="South Korea unveils plan to compensate forced labour victims", link="https://yna.example/1",
                 summary="Seoul will pay through a foundation.", date=day.format(h=2))]
    pipeline.ingest_file(feed_file(tmp_path / "yonhap.xml", "Yonhap", plan))
    pipeline.ingest_file(feed_file(tmp_path / "guardian.xml", "Guardian", [
        dict(title="S Korea unveils plan to compensate forced labour victims of Japan", link="https://g.example/2",
             summary="Victims' groups protest.", date=day.format(h=4)),
        dict(title="Heavy snow disrupts flights across Europe", link="https://g.example/3", summary="", date=day.format(h=5)),
    ]))
    # a syndicating feed repeats the same headline under its own URL
    pipeline.ingest_file(feed_file(tmp_path / "aggregator.xml", "Aggregator", [
        dict(title="South Korea unveils plan to compensate forced labour victims", link="https://agg.example/x",
             summary="", date=day.format(h=6))]))
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Entry.__table__).where(Entry.__table__.c.story_id.is_(None))).scalar_one() == 0
        rows = conn.execute(select(Story.__table__).order_by(Story.__table__.c.entry_count.desc())).all()
    assert [(r.entry_count, r.source_count) for r in rows] == [(3, 3), (1, 1)]
    assert rows[0].headline == "South Korea unveils plan to compensate forced labour victims"  # the earliest
    # the publisher corrects its headline: same entry, same story, updated_at set
    plan[0]["title"] = "South Korea unveils foundation plan to compensate forced labour victims"
    outcome = pipeline.ingest_file(feed_file(tmp_path / "yonhap.xml", "Yonhap", plan))
    assert outcome.updated == 1 and outcome.new == 0
    with db.read() as conn:
        entry = conn.execute(select(Entry.__table__).where(Entry.__table__.c.url == "https://yna.example/1")).one()
        assert entry.story_id == rows[0].id and entry.updated_at is not None
        assert conn.execute(select(func.count()).select_from(Story.__table__)).scalar_one() == 2
    db.dispose()


def test_stories_and_timeline_commands(cli, db_url, tmp_path):
    dbarg = ["--db", db_url]
    day = "Mon, 06 Mar 2023 {h:02d}:00:00 +0000"
    feed_file(tmp_path / "c.xml", "Outlet C", [  # first in the story, but not on the topic
        dict(title="South Korea announces compensation plan, Japan responds", link="https://c.example/1", summary="", date=day.format(h=0))])
    feed_file(tmp_path / "a.xml", "Outlet A", [
        dict(title="South Korea announces plan to compensate Japan forced labor victims", link="https://a.example/1", summary="", date=day.format(h=1)),
        dict(title="Stocks rally on tech earnings", link="https://a.example/2", summary="", date=day.format(h=2))])
    feed_file(tmp_path / "b.xml", "Outlet B", [
        dict(title="Japan welcomes South Korea forced labor compensation plan", link="https://b.example/1", summary="", date=day.format(h=3))])
    assert cli("seed", *dbarg).exit_code == 0
    assert cli("ingest", str(tmp_path / "c.xml"), str(tmp_path / "a.xml"), str(tmp_path / "b.xml"), *dbarg).exit_code == 0
    result = cli("stories", "--topic", "forced-labor", "--since", "2023-03-01", "--format", "json", *dbarg)
    assert result.exit_code == 0, result.stderr
    # Seen from the topic: its own development, of its own matched entries only (Outlet C's report, which
    # the topic does not match, is not in it), headed by its first entry.
    (development,) = json.loads(result.stdout)
    assert {"id", "headline", "first_seen", "last_seen", "outlets", "entries"} <= set(development)
    assert development["headline"] == "South Korea announces plan to compensate Japan forced labor victims"
    assert development["outlets"] == 2 and development["entry_count"] == 2
    assert [e["feed"] for e in development["entries"]] == ["Outlet A", "Outlet B"]
    assert {"guid", "url", "title", "feed", "matched"} <= set(development["entries"][0])
    # Global stories hold what any topic matched (FOLLOWUP_STORY_SCOPE=matched): Outlet C's report is on
    # japan-korea-relations, so the story has three outlets; the stocks item is in none.
    lines = cli("stories", "--since", "2023-03-01", "--format", "jsonl", *dbarg).stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["outlets"] == 3
    assert development["story_outlets"] == 3
    text = cli("timeline", "forced-labor", "--since", "2023-03-01", "--until", "2023-04-01", *dbarg).stdout
    assert "forced-labor: 1 developments" in text and "2023-03-06" in text
    assert "South Korea announces plan to compensate Japan forced labor victims" in text
    assert "2 outlets, 2 entries: Outlet A, Outlet B; 3 outlets in the wider story" in text
    # The header counts every development in the window, and says when --limit shows fewer.
    feed_file(tmp_path / "d.xml", "Outlet D", [dict(title="Court orders Mitsubishi to pay forced labor victims",
                                                    link="https://d.example/1", summary="", date="Mon, 20 Mar 2023 09:00:00 +0000")])
    assert cli("ingest", str(tmp_path / "d.xml"), *dbarg).exit_code == 0
    text = cli("timeline", "forced-labor", "--since", "2023-03-01", "--until", "2023-04-01", "--limit", "1", *dbarg).stdout
    assert "forced-labor: 2 developments" in text and "(2 new, 0 continuing); the latest 1 shown" in text
    assert "Mitsubishi" in text and "compensate" not in text
    bad = cli("timeline", "nope", *dbarg)
    assert bad.exit_code == 1 and "No topic 'nope'" in bad.stderr
