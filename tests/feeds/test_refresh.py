"""The orchestrator end to end over the loopback server, on SQLite and PostgreSQL."""

import asyncio

from sqlalchemy import func, select

from service.feeds.refresh import Pipeline
from service.models import Entry, Feed, Match
from service.store import feeds as feed_store
from service.store import topics as topic_store


def count(db, table):
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()


def add(db, *urls):
    with db.write() as conn:
        return [feed_store.add_feed(conn, u) for u in urls]


def feed_row(db, feed_id):
    with db.read() as conn:
        return feed_store.get_feed(conn, feed_id)


def poll(db, settings, **kw):
    return asyncio.run(Pipeline(db, settings).poll(**kw))


def test_poll_stores_entries_and_matches_then_repoll_is_304_without_duplicates(db, settings, feed_server):
    with db.write() as conn:
        topic_store.add_topic(conn, "korea", "Korea", "korea* OR seoul")
    (feed,) = add(db, feed_server.url("/feed/huffpost.xml"))
    first = poll(db, settings)
    assert first.count("ok") == 1 and first.new_entries == 31
    entries, matches = count(db, Entry), count(db, Match)
    assert entries == 31 and matches >= 1
    row = feed_row(db, feed.id)
    assert row.last_status == "200" and row.etag and row.next_check_at > row.last_checked_at and row.lease_owner is None

    second = poll(db, settings, include_not_due=True)
    assert second.count("not_modified") == 1
    assert (count(db, Entry), count(db, Match)) == (entries, matches)
    assert "if-none-match" in feed_server.requests[-1][1]


def test_overlapping_feeds_do_not_duplicate_entries(db, settings, feed_server):
    add(db, feed_server.url("/feed/reuters.xml"), feed_server.url("/gzip/reuters.xml"), feed_server.url("/br/reuters.xml"))
    summary = poll(db, settings)
    assert summary.count("ok") == 3
    assert count(db, Entry) == 10  # the same ten stories, three URLs


def test_failures_are_recorded_on_the_feed_and_the_run_carries_on(db, settings, feed_server):
    good, gone, missing, limited, dead, html = add(
        db, feed_server.url("/feed/reuters.xml"), feed_server.url("/gone"), feed_server.url("/missing"),
        feed_server.url("/ratelimit/7200"), "http://127.0.0.1:9/nothing", feed_server.url("/html"))
    summary = poll(db, settings)
    assert summary.count("ok") == 1 and count(db, Entry) == 10

    gone_row = feed_row(db, gone.id)
    assert gone_row.disabled_reason and "410" in gone_row.disabled_reason
    missing_row = feed_row(db, missing.id)
    assert missing_row.error_count == 1 and "404" in missing_row.last_error and missing_row.last_status == "404"
    limited_row = feed_row(db, limited.id)
    assert (limited_row.next_check_at - limited_row.last_checked_at).total_seconds() >= 7200
    assert feed_row(db, dead.id).last_status == "connect"
    assert feed_row(db, html.id).last_status == "parse_error"

    # the disabled feed is never claimed again; the others back off exponentially
    again = poll(db, settings, include_not_due=True)
    assert gone.id not in {o.feed_id for o in again.outcomes}
    assert feed_row(db, missing.id).error_count == 2
    assert feed_row(db, missing.id).interval_seconds > missing_row.interval_seconds


def test_permanent_redirect_updates_the_stored_url(db, settings, feed_server):
    (feed,) = add(db, feed_server.url("/moved/reuters.xml"))
    poll(db, settings)
    assert feed_row(db, feed.id).url == feed_server.url("/feed/reuters.xml")


def test_unchanged_body_skips_parsing_and_changed_entry_is_updated_not_duplicated(db, settings, feed_server):
    body = (feed_server.files["reuters.xml"]).read_bytes()
    (feed,) = add(db, feed_server.url("/feed/reuters.xml"))
    poll(db, settings)
    # same body but the server forgets validators: the hash short-cuts
    with db.write() as conn:
        feed_store.record_fetch(conn, feed.id, None, etag=None, last_modified=None)
    server_lm = feed_server.last_modified
    feed_server.last_modified = "Mon, 01 Jan 2001 00:00:00 GMT"
    try:
        assert poll(db, settings, include_not_due=True).count("unchanged") == 1
        # the publisher corrects a headline: same GUID, new title
        first_item = body[body.index(b"<item>"):]
        first_title = first_item.split(b"<title>")[1].split(b"</title>")[0]
        feed_server.overrides["reuters.xml"] = body.replace(first_title, b"Corrected headline about Seoul", 1)
        summary = poll(db, settings, include_not_due=True)
    finally:
        feed_server.overrides.clear()
        feed_server.last_modified = server_lm
    assert summary.outcomes[0].updated == 1 and count(db, Entry) == 10
    with db.read() as conn:
        row = conn.execute(select(Entry.__table__).where(Entry.__table__.c.title == "Corrected headline about Seoul")).one()
    assert row.updated_at is not None


def test_leases_keep_two_pollers_apart(db, settings, feed_server):
    from datetime import datetime, timezone

    add(db, feed_server.url("/feed/reuters.xml"), feed_server.url("/feed/huffpost.xml"))
    now = datetime.now(timezone.utc)
    with db.write() as conn:
        a = feed_store.claim_due_feeds(conn, "a", now=now, limit=1, lease_seconds=60)
    with db.write() as conn:
        b = feed_store.claim_due_feeds(conn, "b", now=now, limit=10, lease_seconds=60)
    with db.write() as conn:
        c = feed_store.claim_due_feeds(conn, "c", now=now, limit=10, lease_seconds=60)
    assert len(a) == 1 and len(b) == 1 and a[0].id != b[0].id and c == []
    with db.write() as conn:  # a lost its lease: its late result is refused
        assert feed_store.record_fetch(conn, a[0].id, "somebody-else", last_status="200") is False
        assert feed_store.record_fetch(conn, a[0].id, "a", last_status="200") is True
    from datetime import timedelta

    with db.write() as conn:  # an expired lease is claimable again (a crashed worker)
        d = feed_store.claim_due_feeds(conn, "d", now=now + timedelta(seconds=120), limit=10, lease_seconds=60)
    assert b[0].id in {f.id for f in d}


def test_ingest_file_is_its_own_feed_and_idempotent(db, settings, data_dir):
    pipeline = Pipeline(db, settings)
    path = data_dir / "feeds/embedded_extracted/reactnative_rss_parser_reuters.xml"
    first = pipeline.ingest_file(path)
    second = pipeline.ingest_file(path)
    assert first.status == "ok" and first.new == 10 and second.status == "unchanged"
    with db.read() as conn:
        feeds = conn.execute(select(Feed.__table__)).all()
    assert len(feeds) == 1 and feeds[0].kind == "file" and feeds[0].url.startswith("file://")
