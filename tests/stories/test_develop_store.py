"""Developments as stored (service/feeds/refresh.py develop_topics, service/store/developments.py), on
SQLite and PostgreSQL: real headlines arriving in random batches — polls, per-source files, a late older
report — end in the developments one pass in publication order gives, merges included (each match keeps
the development it joined when placed, `development_merges` the merges, migration 0012)."""

from __future__ import annotations

import hashlib
import random

import pytest
from sqlalchemy import text

from service.feeds.refresh import develop_topics
from service.feeds.normalize import NormalizedEntry
from service.store import entries as entry_store
from service.store import feeds as feed_store
from service.store import matches as match_store
from service.store import topics as topic_store
from service.stories import meaning
from service.stories.develop import Item, develop_pass

from .test_develop import SEOUL_SUMMIT, meanings, summit_days


def normalized(item: Item) -> NormalizedEntry:
    return NormalizedEntry(identity=hashlib.sha256(item.title.encode()).hexdigest(), guid=f"guid-{item.entry_id}",
                           url=f"https://news.example/{item.entry_id}", title=item.title, summary="", author=None,
                           language="en", published_at=item.published_at,
                           content_hash=hashlib.sha256(item.title.encode()).hexdigest())


def stored(db) -> tuple[dict[int, tuple[int, int]], list[tuple]]:  # noqa: ANN001
    with db.read() as conn:
        rows = conn.execute(text("SELECT e.guid, m.development_id, m.placed_id FROM matches m "
                                 "JOIN entries e ON e.id = m.entry_id")).all()
        merges = conn.execute(text("SELECT entry_id, absorbed_id, into_id FROM development_merges ORDER BY id")).all()
    return {int(g.removeprefix("guid-")): (d, p) for g, d, p in rows}, [tuple(m) for m in merges]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_arrival_order_gives_the_one_pass_developments(db, seed, monkeypatch):
    if meaning.vector not in meanings():
        pytest.skip("the meaning extra is not installed (pip install -e '.[meaning]')")
    monkeypatch.setattr("service.feeds.refresh.meaning_vector", lambda: meaning.vector)
    items = summit_days()
    rng = random.Random(seed)
    pending = items[:]
    rng.shuffle(pending)
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://news.example/rss", "Example News")
        topic = topic_store.add_topic(conn, "jk", "Japan-Korea relations", "japan OR korea OR seoul")
    ids: dict[int, int] = {}  # item number -> stored entry id (entries are stored in random order)
    while pending:
        n = rng.randint(1, 6)
        batch, pending = pending[:n], pending[n:]
        with db.write() as conn:
            written = entry_store.upsert_entries(conn, feed.id, "Example News", [normalized(i) for i in batch],
                                                 batch[0].published_at)
            ids.update({item.entry_id: s.id for item, s in zip(batch, written)})
            match_store.insert_matches(conn, [match_store.NewMatch(topic.id, ids[i.entry_id], 1.0, ["x"]) for i in batch],
                                       batch[0].published_at)
            develop_topics(conn, [topic.id])

    # The one pass over the same entries (under their stored ids), in publication order.
    as_stored = [Item(ids[i.entry_id], i.published_at, i.title) for i in items]
    whole = develop_pass(as_stored, meaning=meaning.vector)
    got, merges = stored(db)
    number = {v: k for k, v in ids.items()}
    assert {number[e]: got[number[e]] for e in whole.placed} == \
        {number[e]: (whole.final(a), a) for e, a in whole.placed.items()}
    assert merges == [(m.key[1], m.absorbed, m.into) for m in whole.merges]
    # The summit is one development (a merge made it so), whatever order its reports came in.
    assert len({got[n][0] for n in range(1, len(SEOUL_SUMMIT) + 1)}) == 1


def test_an_alert_that_pushed_a_development_does_not_push_it_again_once_merged(db, monkeypatch):
    """The summit's early second development is pushed by an alert; when it is merged into the first, the
    alert counts the merged development as pushed (the same event), so it is not pushed again as it grows."""
    if meaning.vector not in meanings():
        pytest.skip("the meaning extra is not installed (pip install -e '.[meaning]')")
    from service.models import utcnow
    from service.store import alerts as alert_store

    monkeypatch.setattr("service.feeds.refresh.meaning_vector", lambda: meaning.vector)
    items = summit_days()[:len(SEOUL_SUMMIT)]
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://news.example/rss", "Example News")
        topic = topic_store.add_topic(conn, "jk", "Japan-Korea relations", "japan OR korea OR seoul")
        alert = alert_store.add_alert(conn, url="json://127.0.0.1:9/", topic_id=topic.id, trigger="outlets",
                                      min_outlets=1, now=utcnow())
    ids: dict[int, int] = {}
    for item in items:  # one report at a time, as polling brings them
        with db.write() as conn:
            (s,) = entry_store.upsert_entries(conn, feed.id, "Example News", [normalized(item)], item.published_at)
            ids[item.entry_id] = s.id
            match_store.insert_matches(conn, [match_store.NewMatch(topic.id, s.id, 1.0, ["x"])], item.published_at)
            develop_topics(conn, [topic.id])
            if item.entry_id == 3:  # its own development, pushed
                assert alert_store.claim(conn, alert.id, topic.id, ids[3], utcnow())
    got, merges = stored(db)
    assert merges == [(ids[6], ids[3], ids[1])] and got[3] == (ids[1], ids[3])
    with db.read() as conn:
        pushed = set(conn.execute(text("SELECT development_id FROM alert_log")).scalars())
        assert pushed == {ids[3], ids[1]}
        assert alert_store.candidates(conn, alert_store.get_alert(conn, alert.id), since=items[0].published_at) == []


def test_an_edited_query_replaces_the_matches_at_once_and_places_them_as_a_fresh_topic_would(db, monkeypatch):
    """`topics edit --query` re-matches the backlog. The old set stays whole until the new one takes its place
    in one transaction (a reader polling meanwhile, or a process killed half-way, never saw the topic emptied);
    matches in both keep their row and when they were first matched; and the developments are those of a
    topic created with the new query (entries leaving the topic re-place the developments after them)."""
    from service.feeds.refresh import match_backlog
    from service.topics import manage

    if meaning.vector in meanings():
        monkeypatch.setattr("service.feeds.refresh.meaning_vector", lambda: meaning.vector)
    items = summit_days()
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://news.example/rss", "Example News")
        entry_store.upsert_entries(conn, feed.id, "Example News", [normalized(i) for i in items], items[-1].published_at)
    manage.create_topic(db, "jk", "Japan-Korea", "korea OR japan* NOT kishida")

    def matches(slug: str) -> dict[int, tuple]:
        with db.read() as conn:
            return {r.entry_id: r[1:] for r in conn.execute(text(
                "SELECT m.entry_id, m.id, m.matched_at, m.development_id FROM matches m JOIN topics t ON t.id = m.topic_id "
                "WHERE t.slug = :slug"), {"slug": slug})}

    before = matches("jk")
    seen_meanwhile: list[int] = []
    with db.write() as conn:
        topic_store.update_topic(conn, "jk", query="seoul OR kishida")
    match_backlog(db, "jk", replace=True, on_batch=lambda n: seen_meanwhile.append(len(matches("jk"))))
    after = matches("jk")

    assert seen_meanwhile == [len(before)]  # the old set, whole, while the backlog was being matched
    manage.create_topic(db, "fresh", "Fresh", "seoul OR kishida")
    fresh = matches("fresh")
    assert set(after) == set(fresh) and set(before) - set(after) and set(after) - set(before)  # some left, some came
    for entry_id in set(after) & set(before):
        assert after[entry_id][:2] == before[entry_id][:2]  # the same row, first matched when it was
    assert {e: v[2] for e, v in after.items()} == {e: v[2] for e, v in fresh.items()}  # the same developments
    assert {v[2] for v in before.values()} - set(after)  # a development's first entry left: the rest re-placed
