"""Real Korean and Japanese feeds (EUC-KR, EUC-JP, Shift_JIS; tests/data/cjk/SOURCES.md) polled from a
loopback server: decoded, matched by aliases glued to other characters, and found by full-text search
for words inside runs that neither FTS5's unicode61 nor PostgreSQL's 'simple' parser splits."""

import asyncio
from pathlib import Path

import pytest

from service.feeds.refresh import Pipeline
from service.store import feeds as feed_store
from service.store import matches as match_store
from service.store import topics as topic_store
from tests.feedserver import FeedServer

CJK = Path(__file__).resolve().parent.parent / "data" / "cjk"


@pytest.fixture(scope="module")
def cjk_server():
    server = FeedServer({p.name: p for p in CJK.glob("*.xml")}).start()
    yield server
    server.stop()


@pytest.fixture
def polled(db, settings, cjk_server):
    with db.write() as conn:
        for name in sorted(p.name for p in CJK.glob("*.xml")):
            feed_store.add_feed(conn, cjk_server.url(f"/feed/{name}"))
        # Aliases as a user writes them: the word alone, found inside longer runs of text.
        topic_store.add_topic(conn, "dokdo", "Dokdo / Takeshima", "독도 OR 竹島 OR dokdo")
        topic_store.add_topic(conn, "japan-ko", "Japan (in Korean)", "일본")
        topic_store.add_topic(conn, "pollution", "Pollution (in Japanese)", "環境破壊 OR 大気汚染")
    summary = asyncio.run(Pipeline(db, settings).poll())
    assert summary.count("ok") == 4 and summary.new_entries == 48
    return db


def titles(rows):
    return sorted(r.title for r in rows)


def test_korean_and_japanese_feeds_are_decoded_and_matched_by_glued_aliases(polled):
    with polled.read() as conn:
        assert titles(match_store.search_matches(conn, topic="dokdo")) == ["독도사랑전"]
        japan = titles(match_store.search_matches(conn, topic="japan-ko"))
        assert "JCN 뉴스와이어, 일본어판 보도 자료와 금융 공개 보급 서비스 발표." in japan  # 일본어판, 일본
        assert any(t.startswith("JCB가 China UnionPay") for t in japan)                # 일본에서
        assert titles(match_store.search_matches(conn, topic="pollution")) == ["これはひどい・・・", "出撃前にチェックしたい情報"]


@pytest.mark.parametrize("search,expected", [
    ("독도", ["독도사랑전"]),                          # "독도사랑전": one token to unicode61
    ("시상식", ["호주 투자홍보(IR) 매거진 시상식9월 21일 개막",  # glued to a date
             "IR(투자홍보) 매거진 호주 어워드 - BHP, ANZ은행, Babcock & Brown, Coates Hire 그리고 매콰어리 은행 등에게 수여"]),
    ("視聴率", ["2005年大晦日視聴率"]),               # Shift_JIS, inside a title
    ("環境破壊", ["これはひどい・・・"]),               # EUC-JP, mid-sentence in the summary
    ('"日本アカデミー賞"', ["第29回日本アカデミー賞優秀賞"]),
    ("宝塚", ["和央ようか事故", "宝塚次期トップスターが決定"]),
])
def test_full_text_search_finds_words_inside_korean_and_japanese_runs(polled, search, expected):
    with polled.read() as conn:
        assert titles(match_store.search_entries(conn, search)) == sorted(expected)
        assert match_store.count_entries_matching(conn, search) == len(expected)
