"""The store on both databases: identity upserts, full-text search, filters, keyset pages."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from service.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from service.feeds.normalize import NormalizedEntry
from service.models import Entry
from service.store import entries as entry_store
from service.store import feeds as feed_store
from service.store import matches as match_store
from service.store import topics as topic_store

T0 = datetime(2023, 3, 6, 9, 0, tzinfo=timezone.utc)


def entry(n, title, summary="", hours=0):
    import hashlib

    return NormalizedEntry(identity=hashlib.sha256(f"e{n}".encode()).hexdigest(), guid=f"guid-{n}",
                           url=f"https://news.example/{n}", title=title, summary=summary, author=None, language="en",
                           published_at=T0 + timedelta(hours=hours), content_hash=hashlib.sha256(f"{title}|{summary}".encode()).hexdigest())


@pytest.fixture
def filled(db):
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://news.example/rss", "Example News")
        topic = topic_store.add_topic(conn, "fl", "Forced labor", '"forced labor"')
        other = topic_store.add_topic(conn, "trade", "Trade", "trade")
        items = [
            entry(1, "Seoul unveils forced labor compensation plan", "Victims' groups protest the fund", 0),
            entry(2, "Forced labor plan: Japan welcomes it", "Tokyo reacts to the covid-19 era plan", 1),
            entry(3, "Trade curbs lifted on chip materials", "Japan ends export controls on AT&T-like firms", 2),
            entry(4, "Court orders Mitsubishi to pay", "A forced labor ruling", 3),
        ]
        stored = entry_store.upsert_entries(conn, feed.id, "Example News", items, T0)
        ids = {s.entry.guid: s.id for s in stored}
        match_store.insert_matches(conn, [
            match_store.NewMatch(topic.id, ids["guid-1"], 3.0, ["forced labor"]),
            match_store.NewMatch(topic.id, ids["guid-2"], 3.0, ["forced labor"]),
            match_store.NewMatch(topic.id, ids["guid-4"], 1.0, ["forced labor"]),
            match_store.NewMatch(other.id, ids["guid-3"], 3.0, ["trade"]),
        ], T0)
    return db


def test_upsert_is_idempotent_and_updates_changed_text(db):
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://a.example/rss")
        first = entry_store.upsert_entries(conn, feed.id, "A", [entry(1, "Old"), entry(2, "Two")], T0)
        again = entry_store.upsert_entries(conn, feed.id, "A", [entry(1, "Old"), entry(2, "Two")], T0)
        changed = entry_store.upsert_entries(conn, feed.id, "A", [entry(1, "New headline")], T0 + timedelta(hours=1))
        total = conn.execute(select(func.count()).select_from(Entry.__table__)).scalar_one()
    assert [s.status for s in first] == ["new", "new"]
    assert [s.status for s in again] == ["unchanged", "unchanged"]
    assert changed[0].status == "updated" and changed[0].id == first[0].id and total == 2
    with db.read() as conn:
        assert [r.title for r in match_store.search_entries(conn, "headline")] == ["New headline"]
        assert match_store.search_entries(conn, "Old") == []  # the index followed the update


def test_matches_are_unique_per_topic_and_entry(filled):
    with filled.write() as conn:
        topic = topic_store.get_topic(conn, "fl")
        e = conn.execute(select(Entry.__table__.c.id).order_by(Entry.__table__.c.id)).first()
        again = match_store.insert_matches(conn, [match_store.NewMatch(topic.id, e.id, 9.0, ["x"])], T0)
    assert again == 0


@pytest.mark.parametrize("kwargs,titles", [
    ({}, ["Court orders Mitsubishi to pay", "Trade curbs lifted on chip materials",
          "Forced labor plan: Japan welcomes it", "Seoul unveils forced labor compensation plan"]),
    ({"topic": "fl"}, ["Court orders Mitsubishi to pay", "Forced labor plan: Japan welcomes it",
                       "Seoul unveils forced labor compensation plan"]),
    ({"topic": "fl", "search": "plan"}, ["Forced labor plan: Japan welcomes it", "Seoul unveils forced labor compensation plan"]),
    ({"search": '"compensation plan"'}, ["Seoul unveils forced labor compensation plan"]),
    ({"search": "compens*"}, ["Seoul unveils forced labor compensation plan"]),
    ({"search": "victims"}, ["Seoul unveils forced labor compensation plan"]),       # summary is indexed
    ({"search": "covid-19"}, ["Forced labor plan: Japan welcomes it"]),             # raw punctuation is safe
    ({"search": "AT&T"}, ["Trade curbs lifted on chip materials"]),
    ({"search": "c++"}, []),
    ({"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=3)},
     ["Trade curbs lifted on chip materials", "Forced labor plan: Japan welcomes it"]),
    ({"source": "example"}, ["Court orders Mitsubishi to pay", "Trade curbs lifted on chip materials",
                             "Forced labor plan: Japan welcomes it", "Seoul unveils forced labor compensation plan"]),
    ({"source": "nowhere"}, []),
])
def test_search_matches(filled, kwargs, titles):
    with filled.read() as conn:
        rows = match_store.search_matches(conn, **kwargs)
    assert [r.title for r in rows] == titles


def test_search_without_letters_is_a_clear_error(filled):
    with filled.read() as conn, pytest.raises(InvalidInputError, match="no letters or digits"):
        match_store.search_matches(conn, search="&&& ---")


def test_keyset_pages_are_stable_under_inserts(filled):
    with filled.read() as conn:
        page1 = match_store.search_matches(conn, limit=2)
    cursor = match_store.encode_cursor(page1[-1].published_at, page1[-1].match_id)
    with filled.write() as conn:  # something newer arrives between two page loads
        feed = feed_store.get_feed(conn, "https://news.example/rss")
        (new,) = entry_store.upsert_entries(conn, feed.id, "Example News", [entry(9, "Newest", hours=10)], T0)
        match_store.insert_matches(conn, [match_store.NewMatch(topic_store.get_topic(conn, "fl").id, new.id, 1.0, [])], T0)
    with filled.read() as conn:
        page2 = match_store.search_matches(conn, limit=2, cursor=cursor)
    assert [r.title for r in page1] == ["Court orders Mitsubishi to pay", "Trade curbs lifted on chip materials"]
    assert [r.title for r in page2] == ["Forced labor plan: Japan welcomes it", "Seoul unveils forced labor compensation plan"]
    with filled.read() as conn, pytest.raises(InvalidInputError):
        match_store.search_matches(conn, cursor="not-a-cursor")


def test_removing_a_feed_keeps_its_entries_and_matches(filled):
    with filled.write() as conn:
        feed_store.remove_feed(conn, "https://news.example/rss")
    with filled.read() as conn:
        rows = match_store.search_matches(conn, topic="fl")
    assert len(rows) == 3 and rows[0].feed == "Example News"


def test_duplicates_and_missing_things_are_named_errors(db):
    with db.write() as conn:
        feed_store.add_feed(conn, "https://a.example/rss")
        topic_store.add_topic(conn, "t", "T", "x")
    with db.write() as conn, pytest.raises(AlreadyExistsError, match="already in the list"):
        feed_store.add_feed(conn, "https://a.example/rss")
    with db.write() as conn, pytest.raises(AlreadyExistsError, match="already exists"):
        topic_store.add_topic(conn, "t", "T", "x")
    with db.read() as conn, pytest.raises(NotFoundError, match="No topic"):
        topic_store.get_topic(conn, "nope")
    with db.read() as conn, pytest.raises(NotFoundError, match="No feed"):
        feed_store.get_feed(conn, 999)


@pytest.mark.parametrize("search", ["forced", '"forced labor"', "plan", "forc*", "japan plan"])
def test_both_full_text_plans_give_the_same_pages(filled, monkeypatch, search):
    """Searching matches has two plans on each database (store/matches.py): collect the hits first, or
    walk the matches in order checking each. Whichever is chosen, every filter and cursor page is the same."""

    def pages(**kw):
        out, cursor = [], None
        with filled.read() as conn:
            while True:
                rows = match_store.search_matches(conn, search=search, limit=1, cursor=cursor, **kw)
                out += [(r.topic, r.entry_id) for r in rows]
                if len(rows) < 1:
                    return out
                cursor = match_store.encode_cursor(rows[-1].published_at, rows[-1].match_id)

    sqlite = filled.dialect == "sqlite"
    for kw in ({}, {"topic": "fl"}, {"since": T0 + timedelta(minutes=30)}):
        if sqlite:
            monkeypatch.setattr(match_store, "_PROBE_OVER_READ", 1e12)  # never walk
        else:
            monkeypatch.setattr(match_store, "PG_FEW_HITS", 10**9)  # always collect the hits first
        collected = pages(**kw)
        if sqlite:
            monkeypatch.setattr(match_store, "_PROBE_OVER_READ", 0.0)  # always walk
            with filled.read() as conn:
                assert match_store._walk_is_cheaper(conn, search) == (search != "forc*" or bool(collected))
        else:
            monkeypatch.setattr(match_store, "PG_FEW_HITS", 0)  # never: the planner's own plan
        walked = pages(**kw)
        assert walked == collected, kw
    assert collected or search == "japan plan"


def test_search_within_matches_follows_a_changed_entry(filled):
    """An entry whose text changes is found by its new words among the matches (on PostgreSQL the
    matches keep a copy of the entry's search vector, migration 0005)."""
    with filled.write() as conn:
        feed = feed_store.get_feed(conn, "https://news.example/rss")
        changed = entry(1, "Seoul unveils forced labor compensation plan", "Victims' groups welcome the foundation", 0)
        assert entry_store.upsert_entries(conn, feed.id, "Example News", [changed], T0)[0].status == "updated"
    with filled.read() as conn:
        assert [r.entry_id for r in match_store.search_matches(conn, search="foundation")] != []
        assert match_store.search_matches(conn, search="protest") == []
        assert {r.topic for r in match_store.search_matches(conn, search='"forced labor"')} == {"fl"}


# Headlines and text of real Korean and Japanese reports (Yonhap 2020-02-19; Sankei 2018-11-19).
KO = '외교부 "지소미아 종료는 잠정조치"..日수출규제 철회 촉구'
JA = ("元徴用工による訴訟で韓国最高裁が日本企業に賠償を命じた判決への対応を示せない文氏と会談しても無意味だと判断、"
      "「戦略的放置」に徹したようだ。")


@pytest.fixture
def cjk(db):
    with db.write() as conn:
        feed = feed_store.add_feed(conn, "https://news.example/ko", "Korean and Japanese news")
        topic = topic_store.add_topic(conn, "jk", "Japan and Korea", "지소미아 OR 徴用工 OR gsomia")
        stored = entry_store.upsert_entries(conn, feed.id, "News", [
            entry(11, KO, "정부는 한일 군사정보보호협정(GSOMIA·지소미아) 종료 결정을 유예했다"),
            entry(12, "安倍首相、帰国", JA),
            entry(13, "Seoul keeps GSOMIA alive", "An English report"),
        ], T0)
        match_store.insert_matches(conn, [match_store.NewMatch(topic.id, s.id, 1.0, ["x"]) for s in stored], T0)
    return db


@pytest.mark.parametrize("search,titles", [
    ("지소미아", [KO]),                       # inside a run of Hangul with particles glued on
    ("수출규제", [KO]),                       # after a Chinese character with no space ("日수출규제")
    ('"지소미아 종료"', [KO]),
    ("군사정보보호협정", [KO]),                 # in the summary
    ("徴用工", ["安倍首相、帰国"]),             # in the middle of a Japanese sentence
    ("戦略的放置", ["安倍首相、帰国"]),
    ("韓国最高裁", ["安倍首相、帰国"]),
    ("徴用*", ["安倍首相、帰国"]),
    ("徴", ["安倍首相、帰国"]),                 # a lone character is looked for at the start of a pair
    ("ＧＳＯＭＩＡ", ["Seoul keeps GSOMIA alive", KO]),  # full-width letters fold to gsomia
    ("지소미아를", []),                        # not in the text: pairs make a phrase, not a bag
    ("徴用工 判決", ["安倍首相、帰国"]),
])
def test_search_finds_korean_and_japanese_words_inside_runs(cjk, search, titles):
    with cjk.read() as conn:
        assert sorted(r.title for r in match_store.search_entries(conn, search)) == sorted(titles)
        assert sorted(r.title for r in match_store.search_matches(conn, search=search)) == sorted(titles)


def test_a_changed_korean_entry_leaves_no_stale_words_in_the_index(cjk):
    with cjk.write() as conn:
        feed = feed_store.get_feed(conn, "https://news.example/ko")
        changed = entry(11, "한미일 미사일 경보 정보 공유", "정부가 발표했다")
        assert entry_store.upsert_entries(conn, feed.id, "News", [changed], T0)[0].status == "updated"
    with cjk.read() as conn:
        assert match_store.search_entries(conn, "지소미아") == []
        assert [r.title for r in match_store.search_entries(conn, "경보")] == ["한미일 미사일 경보 정보 공유"]
        assert [r.title for r in match_store.search_matches(conn, search="미사일")] == ["한미일 미사일 경보 정보 공유"]


@pytest.mark.parametrize("text_", [
    KO, JA, "ムン・ジェイン大統領", "ＧＳＯＭＩＡ破棄", "・ＡＢＣ", "plain English, no CJK", "韓", "a韓b", "한국어 text 日本語",
])
def test_postgres_indexes_cjk_text_as_python_does(pg_database, text_):
    """followup_index_text (migration 0010, in PostgreSQL's generated column) and index_text (SQLite's
    index) give the same tokens, so both engines find the same words."""
    from sqlalchemy import text

    from service.db import Database
    from service.topics.text import index_text, words

    db = Database(pg_database)
    try:
        with db.read() as conn:
            pg = conn.execute(text("SELECT followup_index_text(:t)"), {"t": text_}).scalar()
    finally:
        db.dispose()
    assert words(pg) == words(index_text(text_))
