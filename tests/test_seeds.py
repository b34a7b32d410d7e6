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
