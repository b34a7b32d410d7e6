"""One article, one entry (issue 13, part): the same article reached through two feeds — opaque GUIDs of
each feed's own, the same canonical link (tracking parameters differ) — is stored and matched once, with
both feeds as its sources; a feed linking every item to one page, or two headlines that say different
things under one URL, are not folded together."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from service.feeds.refresh import Pipeline
from service.seeds import load_seeds
from service.store import feeds as feed_store

from ..hostile.conftest import HostileServer

ITEM = ("<item><title>{title}</title><link>{link}</link><guid isPermaLink=\"false\">{guid}</guid>"
        "<pubDate>Mon, 06 Mar 2023 0{n}:00:00 GMT</pubDate></item>")


def feed(name: str, items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(ITEM.format(title=t, link=link, guid=g, n=n) for n, (t, link, g) in enumerate(items, 1))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
            f"{body}</channel></rss>").encode()


def test_one_article_through_two_feeds_is_one_entry(db, settings):
    load_seeds(db, settings.seeds_dir)
    with db.write() as conn:  # the seed topics, not the seed feeds (no network here)
        conn.execute(text("DELETE FROM feeds"))
    server = HostileServer()
    try:
        plan = "South Korea announces plan to compensate Japan forced labor victims"
        server.routes["/news"] = (200, [("Content-Type", "application/rss+xml")], feed("Yonhap news", [
            (plan, "https://en.yna.co.kr/view/AEN20230306001?utm_source=rss&utm_medium=feed", "1001"),
            ("Home page item one", "https://home.example/", "h1"),
            ("Forced labor plan: victims react", "https://same.example/section", "s1"),
        ]))
        server.routes["/national"] = (200, [("Content-Type", "application/rss+xml")], feed("Yonhap national", [
            (plan + " (update)", "https://en.yna.co.kr/view/AEN20230306001?ref=national#top", "n-77"),
            ("Home page item two", "https://home.example/", "h2"),
            ("Weather: snow expected in Seoul", "https://same.example/section", "s2"),
        ]))
        with db.write() as conn:
            first = feed_store.add_feed(conn, server.url("/news")).id
            second = feed_store.add_feed(conn, server.url("/national")).id
        summary = asyncio.run(Pipeline(db, settings).poll(include_not_due=True))
        assert summary.count("ok") == 2
        with db.read() as conn:
            entries = conn.execute(text("SELECT id, title FROM entries ORDER BY id")).all()
            plan_rows = [e for e in entries if "compensate" in e.title]
            assert len(plan_rows) == 1  # one article, one entry
            first_feed = conn.execute(text("SELECT feed_id FROM entries WHERE id = :e"), {"e": plan_rows[0].id}).scalar()
            others = conn.execute(text("SELECT feed_id FROM entry_sources WHERE entry_id = :e"),
                                  {"e": plan_rows[0].id}).scalars().all()
            assert sorted([first_feed, *others]) == [first, second]
            matches = conn.execute(text("SELECT count(*) FROM matches WHERE entry_id = :e"), {"e": plan_rows[0].id}).scalar()
            assert matches == conn.execute(text("SELECT count(DISTINCT topic_id) FROM matches WHERE entry_id = :e"),
                                           {"e": plan_rows[0].id}).scalar() >= 1
        titles = [e.title for e in entries]
        assert "Home page item one" in titles and "Home page item two" in titles  # a home-page link folds nothing
        assert "Weather: snow expected in Seoul" in titles  # the same URL, another headline: another article
        assert summary.new_entries == 5
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


ITEM_WITH_SUMMARY = ("<item><title>{title}</title><link>{link}</link><guid isPermaLink=\"false\">{guid}</guid>"
                     "<description>{summary}</description><pubDate>{date}</pubDate></item>")


def feed_with_summaries(name: str, items: list[dict]) -> bytes:
    body = "".join(ITEM_WITH_SUMMARY.format(**i) for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
            f"{body}</channel></rss>").encode()


def test_a_syndicated_copy_is_one_entry_but_a_daily_page_or_another_publisher_is_not(db, settings):
    """The same headline from the same publisher under another URL (a second feed of the publisher) is
    the same article; the same publisher's daily page with yesterday's headline, and another publisher's
    identical headline, are not."""
    server = HostileServer()
    day = "Mon, 06 Mar 2023 {h:02d}:00:00 GMT"
    plan = "South Korea announces plan to compensate Japan forced labor victims - Yonhap"
    summary = "Seoul will compensate victims through a public foundation, the foreign minister said."
    try:
        server.routes["/politics"] = (200, [("Content-Type", "application/rss+xml")], feed_with_summaries("Yonhap politics", [
            dict(title=plan, link="https://en.yna.co.kr/view/AEN20230306001", guid="p1", summary=summary, date=day.format(h=2)),
            dict(title="Live updates: the war in Ukraine", link="https://en.yna.co.kr/live/0305", guid="p2",
                 summary="Sunday's events as they happened.", date="Sun, 05 Mar 2023 06:00:00 GMT"),
        ]))
        server.routes["/mobile"] = (200, [("Content-Type", "application/rss+xml")], feed_with_summaries("Yonhap mobile", [
            dict(title=plan.replace(" - Yonhap", ""), link="https://m.yna.co.kr/amp/AEN20230306001-m", guid="m1",
                 summary=summary + " (Yonhap)", date=day.format(h=3)),
            dict(title="Live updates: the war in Ukraine", link="https://en.yna.co.kr/live/0306", guid="m2",
                 summary="Monday's events as they happen.", date=day.format(h=6)),
        ]))
        server.routes["/other"] = (200, [("Content-Type", "application/rss+xml")], feed_with_summaries("Other outlet", [
            dict(title=plan.replace(" - Yonhap", ""), link="https://other.example/plan", guid="o1", summary=summary,
                 date=day.format(h=4)),
        ]))
        with db.write() as conn:
            ids = [feed_store.add_feed(conn, server.url(p)).id for p in ("/politics", "/mobile", "/other")]
        outcomes = asyncio.run(Pipeline(db, settings).poll(include_not_due=True))
        assert outcomes.count("ok") == 3
        with db.read() as conn:
            rows = conn.execute(text("SELECT id, feed_id, title FROM entries ORDER BY id")).all()
            plans = [r for r in rows if "compensate" in r.title]
            # Yonhap once (under whichever of its feeds was polled first, the other kept as a source),
            # the other outlet once.
            assert len(plans) == 2 and ids[2] in {r.feed_id for r in plans}
            yonhap = next(r for r in plans if r.feed_id != ids[2])
            sources = conn.execute(text("SELECT feed_id FROM entry_sources WHERE entry_id = :e"),
                                   {"e": yonhap.id}).scalars().all()
            assert sorted([yonhap.feed_id, *sources]) == ids[:2]
            assert len([r for r in rows if r.title.startswith("Live updates")]) == 2
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
