"""Hostile and odd feed content (issue 12, items 2, 11-15): nothing in one document loses the feed or
breaks what is served from it later. Real polls from a loopback server, real ingest, real pages."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from fastapi.testclient import TestClient

import service.feeds.refresh as refresh
import service.stories.cluster as cluster
from service.config import Settings
from service.feeds.refresh import Pipeline
from service.seeds import load_seeds
from service.store import feeds as feed_store
from service.web.app import create_app

from ..conftest import serving

REPO = Path(__file__).resolve().parents[2]
RSS = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>' \
      '<language>{lang}</language>{items}</channel></rss>'
ITEM = '<item><title>{title}</title><link>https://{host}/{n}</link><pubDate>Mon, 06 Mar 2023 0{n}:00:00 GMT</pubDate></item>'


def rss(title: str, lang: str, titles: list[str], host: str = "news.example") -> bytes:
    items = "".join(ITEM.format(title=t, host=host, n=n) for n, t in enumerate(titles, 1))
    return RSS.format(title=title, lang=lang, items=items).encode()


def poll(db, settings):
    return asyncio.run(Pipeline(db, settings).poll(include_not_due=True))


def add(db, *urls):
    with db.write() as conn:
        return [feed_store.add_feed(conn, u).id for u in urls]


def entries_of(db, feed_id):
    from sqlalchemy import text

    with db.read() as conn:
        return conn.execute(text("SELECT title, story_id FROM entries WHERE feed_id = :f ORDER BY id"),
                            {"f": feed_id}).all()


# -- languages written without spaces -------------------------------------------------------------
CJK = {
    "ja": ["韓国大法院、徴用工訴訟で日本企業に賠償命令", "日本政府、韓国をホワイト国から除外へ 輸出管理を厳格化",
           "韓国政府、GSOMIA破棄を決定 日米韓の安保協力に影響"],
    "zh-cn": ["日本对韩国实施半导体材料出口管制", "韩国宣布终止日韩军事情报保护协定", "韩日关系因强征劳工判决持续紧张"],
    "ko": ["정부, 지소미아 종료 결정 유예", "대법원 강제징용 배상 판결 확정", "일본 수출규제 강화에 반도체 업계 긴장"],
}


def test_japanese_chinese_and_korean_feeds_are_read_and_placed(db, settings, hostile):
    settings = settings.model_copy(update={"story_scope": "all"})  # every entry is placed in a story
    for lang, titles in CJK.items():
        hostile.routes[f"/{lang}"] = (200, [("Content-Type", "application/rss+xml")],
                                      rss(f"News {lang}", lang, titles, host=f"{lang}.example"))
    ids = add(db, *(hostile.url(f"/{lang}") for lang in CJK))
    summary = poll(db, settings)
    assert summary.count("ok") == 3, [o.message for o in summary.outcomes]
    for feed_id, titles in zip(ids, CJK.values()):
        stored = entries_of(db, feed_id)
        assert [t for t, _ in stored] == titles and all(story for _, story in stored)
    # Segmented, not one "word" per headline: the headline's terms are dictionary words.
    assert {"徴用", "賠償"} <= cluster.terms(CJK["ja"][0], "", "ja")
    assert {"出口", "管制"} <= cluster.terms(CJK["zh-cn"][0], "", "zh-cn")
    assert "강제징용" in "".join(cluster.terms(CJK["ko"][1], "", "ko")) or {"배상", "판결"} <= cluster.terms(CJK["ko"][1], "", "ko")


def test_the_real_japanese_rdf_file_ingests(sqlite_db, data_dir):
    path = data_dir / "feeds/feed-rs/feed-rs/fixture/rss1/rss_1.0_example_1.xml"
    outcome = Pipeline(sqlite_db, Settings(database_url=str(sqlite_db.url))).ingest_file(path)
    assert outcome.status == "ok" and outcome.new == 2, outcome.message


def test_a_broken_language_tool_degrades_one_entry_and_says_so_once(db, settings, hostile, monkeypatch, caplog):
    settings = settings.model_copy(update={"story_scope": "all"})  # every entry is placed in a story
    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'MeCab'")

    monkeypatch.setattr(cluster, "wordfreq_tokenize", missing)
    monkeypatch.setattr(cluster, "zipf_frequency", missing)
    cluster.terms.cache_clear()
    cluster.zipf.cache_clear()
    cluster._zipf.cache_clear()
    cluster._WARNED.clear()
    hostile.routes["/ja"] = (200, [("Content-Type", "application/rss+xml")], rss("NHK", "ja", CJK["ja"]))
    hostile.routes["/ja2"] = (200, [("Content-Type", "application/rss+xml")], rss("NHK 2", "ja", CJK["ja"], "b.example"))
    ids = add(db, hostile.url("/ja"), hostile.url("/ja2"))
    with caplog.at_level(logging.WARNING, logger="followup.stories"):
        summary = poll(db, settings)
    cluster.terms.cache_clear()
    cluster.zipf.cache_clear()
    cluster._zipf.cache_clear()
    assert summary.count("ok") == 2, [o.message for o in summary.outcomes]
    assert all(len(entries_of(db, i)) == 3 for i in ids)
    warnings = [r for r in caplog.records if "degraded" in r.getMessage()]
    assert len(warnings) == 1 and "MeCab" in warnings[0].getMessage()


def test_a_failing_story_stage_never_loses_the_feed(db, settings, hostile, monkeypatch, caplog):
    settings = settings.model_copy(update={"story_scope": "all"})  # every entry is placed in a story
    load_seeds(db, settings.seeds_dir)
    hostile.routes["/feed"] = (200, [("Content-Type", "application/rss+xml")], rss("F", "en", ["GSOMIA talks resume", "Chip curbs eased"]))
    (feed_id,) = add(db, hostile.url("/feed"))

    def broken(self, items):
        raise RuntimeError("a clustering bug")

    monkeypatch.setattr(cluster.StoryIndex, "plan", broken)
    with caplog.at_level(logging.WARNING, logger="followup.refresh"):
        summary = poll(db, settings)
    assert summary.count("ok") == 1 and summary.new_matches >= 1
    assert [s for _, s in entries_of(db, feed_id)] == [None, None]  # stored; placed by a later run
    assert any("story placement failed" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    Pipeline(db, settings).assign_missing_stories()
    assert all(s for _, s in entries_of(db, feed_id))


def test_a_failing_development_stage_never_loses_the_feed_or_the_poll(db, settings, hostile, monkeypatch, caplog):
    load_seeds(db, settings.seeds_dir)
    with db.write() as conn:  # the seed topics, not the seed feeds (no network here)
        conn.execute(text("DELETE FROM feeds"))
    hostile.routes["/feed"] = (200, [("Content-Type", "application/rss+xml")], rss("F", "en", ["GSOMIA talks resume"]))
    (feed_id,) = add(db, hostile.url("/feed"))

    def broken(*args, **kwargs):
        raise RuntimeError("a grouping bug")

    monkeypatch.setattr(refresh, "develop_pass", broken)
    with caplog.at_level(logging.WARNING, logger="followup.refresh"):
        summary = poll(db, settings)  # the poll's own catch-up pass fails too, and the poll goes on
        summary_again = poll(db, settings)
    assert summary.count("ok") == 1 and summary.new_matches >= 1 and summary_again.outcomes
    with db.read() as conn:
        assert set(conn.execute(text("SELECT development_id FROM matches")).scalars()) == {None}
    assert any("development placement failed" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    assert Pipeline(db, settings).assign_developments() == summary.new_matches
    with db.read() as conn:
        entry = conn.execute(text("SELECT id FROM entries WHERE feed_id = :f"), {"f": feed_id}).scalar_one()
        assert set(conn.execute(text("SELECT development_id FROM matches")).scalars()) == {entry}


# -- dates, characters, types --------------------------------------------------------------------------
def test_a_json_feed_item_dated_year_one_loses_nothing(db, settings, hostile):
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
        {"id": "1", "url": "https://j.example/1", "title": "Year one", "date_published": "0001-01-01T00:00:00+01:00"},
        {"id": "2", "url": "https://j.example/2", "title": "A normal item", "date_published": "2023-03-06T10:00:00Z"},
        {"id": 3, "url": {"not": "a string"}, "title": ["odd"], "date_published": 12345},
    ]}
    hostile.routes["/feed.json"] = (200, [("Content-Type", "application/feed+json")], json.dumps(feed).encode())
    (feed_id,) = add(db, hostile.url("/feed.json"))
    summary = poll(db, settings)
    assert summary.count("ok") == 1, [o.message for o in summary.outcomes]
    assert [t for t, _ in entries_of(db, feed_id)] == ["Year one", "A normal item", ""]


def test_rss_served_as_json_is_read(db, settings, hostile):
    hostile.routes["/mislabelled"] = (200, [("Content-Type", "application/json")], rss("M", "en", ["Labelled wrong"]))
    (feed_id,) = add(db, hostile.url("/mislabelled"))
    assert poll(db, settings).count("ok") == 1
    assert [t for t, _ in entries_of(db, feed_id)] == ["Labelled wrong"]


def test_control_characters_never_reach_the_atom_feed(db, settings, hostile):
    load_seeds(db, settings.seeds_dir)
    title = "GSOMIA\x01 talks\x08 resume \x0b after \x1f pause"
    body = rss("C", "en", [title]).replace(b"<title>C</title>", b"<title>C\x01</title>")
    hostile.routes["/ctl"] = (200, [("Content-Type", "application/rss+xml")], body)
    (feed_id,) = add(db, hostile.url("/ctl"))
    assert poll(db, settings).count("ok") == 1
    assert entries_of(db, feed_id)[0][0] == "GSOMIA talks resume after pause"
    client = TestClient(create_app(settings.model_copy(update={"allowed_hosts": "testserver"}), db))
    atom = client.get("/topics/gsomia.atom")
    assert atom.status_code == 200
    ET.fromstring(atom.content)  # well-formed
    assert "GSOMIA talks resume" in atom.text


# -- ingest ------------------------------------------------------------------------------------------
def test_ingest_caps_file_size_and_goes_on(cli, tmp_path):
    big = tmp_path / "big.xml"
    big.write_bytes(rss("Big", "en", ["x" * (3 << 20)]))
    small = tmp_path / "small.xml"
    small.write_bytes(rss("Small", "en", ["A small item"]))
    import os

    os.environ["FOLLOWUP_MAX_BODY_BYTES"] = str(1 << 20)
    try:
        result = cli("ingest", "--db", f"sqlite:///{tmp_path / 'f.db'}", str(big), str(small))
    finally:
        del os.environ["FOLLOWUP_MAX_BODY_BYTES"]
    assert result.exit_code == 0 and "1 new" in result.stdout and "1 files could not be read" in result.stdout
    assert "larger than the 1 MB limit" in result.stderr


def test_db_current_on_a_read_only_database_is_one_sentence(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    url = f"sqlite:///{folder / 'x.db'}"
    assert subprocess.run([sys.executable, "-m", "service", "db", "upgrade", "--db", url], cwd=REPO,
                          capture_output=True).returncode == 0
    for leftover in folder.glob("x.db-*"):
        leftover.unlink()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root on a filesystem that supports it)")
    try:
        result = subprocess.run([sys.executable, "-m", "service", "db", "current", "--db", url], cwd=REPO,
                                capture_output=True, text=True)
    finally:
        subprocess.run(["chattr", "-i", str(folder)])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: The database could not be used:"), result.stderr


# -- the API's inputs ----------------------------------------------------------------------------------
def test_reserved_slugs_and_junk_opml(client, web_db):
    response = client.post("/api/topics", json={"slug": "new", "name": "New", "query": "gsomia"})
    assert response.status_code == 400 and "reserved" in response.json()["detail"]
    opml = (b'<?xml version="1.0"?><opml version="2.0"><body>'
            b'<outline xmlUrl="file:///etc/passwd"/><outline xmlUrl="javascript:alert(1)"/>'
            b'<outline xmlUrl="junk"/><outline xmlUrl="https://ok.example/feed.xml"/></body></opml>')
    result = client.post("/api/feeds.opml", content=opml, headers={"Content-Type": "text/x-opml"}).json()
    assert result["added"] == 1 and result["invalid"] == 3
    db, _ = web_db
    with db.read() as conn:
        urls = {f.url for f in feed_store.list_feeds(conn)}
    assert "https://ok.example/feed.xml" in urls
    assert not urls & {"file:///etc/passwd", "javascript:alert(1)", "junk"}


def test_many_feed_checks_of_a_silent_host_do_not_starve_the_server(web_db, silent):
    db, settings = web_db
    settings = settings.model_copy(update={"fetch_timeout_seconds": 4.0, "allowed_hosts": ""})
    with serving(settings, db) as base:
        def add_one(n):
            return httpx.post(f"{base}/api/feeds", json={"url": f"http://127.0.0.1:{silent.port}/feed{n}"}, timeout=30)

        with ThreadPoolExecutor(45) as pool:
            futures = [pool.submit(add_one, n) for n in range(45)]
            time.sleep(1.0)  # every request is in flight
            started = time.monotonic()
            health = httpx.get(f"{base}/healthz", timeout=10)
            page = httpx.get(f"{base}/api/topics", timeout=10)
            waited = time.monotonic() - started
            statuses = [f.result().status_code for f in futures]
        assert health.status_code == 200 and page.status_code == 200 and waited < 2.0, waited
        assert statuses.count(503) >= 40 and all(s in (400, 503) for s in statuses)
