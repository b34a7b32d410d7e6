"""The seeds: valid, real, loaded once, and never overwriting a user's edits."""

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from service.feeds.opml import parse_opml
from service.seeds import load_seeds, read_topics, seed_on_first_start
from service.store import feeds as feed_store
from service.store import topics as topic_store

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def test_seed_topics_have_the_required_slugs_and_compile():
    topics = read_topics(SEEDS / "topics.toml")
    assert [t["slug"] for t in topics] == ["export-controls", "gsomia", "forced-labor", "japan-korea-relations"]
    for t in topics:
        assert t["name"] and t["description"] and t["query"]
    gsomia = next(t for t in topics if t["slug"] == "gsomia")
    assert "General Security of Military Information Agreement" in gsomia["aliases"]["gsomia"]


def test_seed_feeds_are_many_real_http_urls():
    feeds = parse_opml((SEEDS / "feeds.opml").read_bytes())
    assert len(feeds) >= 25
    hosts = {urlsplit(f.url).hostname for f in feeds}
    for outlet in ("en.yna.co.kr", "www.koreaherald.com", "feed.koreatimes.co.kr", "english.hani.co.kr",
                   "www.japantimes.co.jp", "asia.nikkei.com", "mainichi.jp", "feeds.bbci.co.uk",
                   "www.theguardian.com", "rss.nytimes.com", "www.aljazeera.com", "thediplomat.com", "news.google.com"):
        assert outlet in hosts, outlet
    assert all(f.url.startswith(("http://", "https://")) and f.title for f in feeds)


def test_article_cites_its_source_without_copying_it():
    text = (SEEDS / "article.md").read_text()
    assert "Foreign Affairs" in text and "July 2019" in text
    for topic in ("white list", "GSOMIA", "forced-labor"):
        assert topic in text
    teaser = Path(__file__).resolve().parents[2] / "shared" / "seed" / "article-teaser.txt"
    if teaser.exists():  # no sentence of the copyrighted teaser is reproduced
        for sentence in teaser.read_text().split(". "):
            if len(sentence) > 60:
                assert sentence.strip() not in text


def test_seeding_is_idempotent_and_keeps_user_edits(db):
    first = load_seeds(db, SEEDS)
    assert first.topics_added == 4 and first.feeds_added >= 25
    with db.write() as conn:
        topic_store.update_topic(conn, "gsomia", query="gsomia OR 지소미아")
        feed_store.remove_feed(conn, 1)
        topic_store.remove_topic(conn, "forced-labor")
    assert seed_on_first_start(db, SEEDS) is None  # already seeded once: a deleted topic stays deleted
    again = load_seeds(db, SEEDS)  # an explicit `followup seed` restores what is missing only
    assert again.topics_added == 1 and again.feeds_added == 1 and again.topics_kept == 3
    with db.read() as conn:
        assert topic_store.get_topic(conn, "gsomia").query == "gsomia OR 지소미아"


def test_topics_toml_is_plain_toml():
    tomllib.loads((SEEDS / "topics.toml").read_text())


def test_a_first_start_stopped_while_matching_finishes_on_the_next(db, tmp_path, monkeypatch):
    """The seed topics are saved (and the database marked seeded) before their backlog is read; a first
    start stopped half-way (Ctrl-C, a supervisor) left the rest empty for good. The next start finishes."""
    import service.seeds as seeds
    from service.config import Settings
    from service.feeds.refresh import Pipeline

    feed = tmp_path / "yna.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Yonhap</title>'
        "<item><title>S. Korea unveils plan to compensate forced labor victims without Japanese firms</title>"
        "<link>https://en.yna.co.kr/1</link><pubDate>Mon, 06 Mar 2023 02:00:00 GMT</pubDate></item>"
        "<item><title>Yoon, Kishida agree to resume shuttle diplomacy at Tokyo summit</title>"
        "<link>https://en.yna.co.kr/2</link><pubDate>Thu, 16 Mar 2023 10:00:00 GMT</pubDate></item>"
        "</channel></rss>", encoding="utf-8")
    Pipeline(db, Settings(database_url=str(db.engine.url))).ingest_file(feed)
    real, calls = seeds.match_backlog, []

    def stopped(database, slug):  # noqa: ANN001, ANN202
        calls.append(slug)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(database, slug)

    monkeypatch.setattr(seeds, "match_backlog", stopped)
    try:
        seed_on_first_start(db, SEEDS)
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(seeds, "match_backlog", real)
    assert seed_on_first_start(db, SEEDS) is None  # seeded already: it finishes the backlog instead
    from sqlalchemy import text

    with db.read() as conn:
        matched = dict(conn.execute(text("SELECT t.slug, count(m.id) FROM topics t LEFT JOIN matches m "
                                         "ON m.topic_id = t.id GROUP BY t.slug")).all())
    assert calls[1] == "gsomia" and matched["forced-labor"] >= 1 and matched["japan-korea-relations"] >= 1, matched
    assert load_seeds(db, SEEDS).matches == 0  # nothing left to finish
