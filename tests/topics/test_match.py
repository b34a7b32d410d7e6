"""Matching semantics, table-driven, and the candidate index (a topic is only evaluated when one of its
literal terms occurs)."""

import pytest

from service.errors import QueryError
from service.topics.compile import Matcher, TopicSpec, compile_topic
from service.topics.match import make_document


def matches(query, title, summary="", source="", exclude=None, aliases=None):
    m = Matcher([TopicSpec(1, "t", query, exclude, aliases or {})])
    assert not m.errors, m.errors
    return bool(m.match(make_document(title, summary, source)))


@pytest.mark.parametrize("query,title,summary,expected", [
    ("korea", "South Korea ends pact", "", True),
    ("korea", "Koreans protest", "", False),                       # whole words only
    ("korea*", "Koreans protest", "", True),
    ("gsomia", "", "Seoul keeps GSOMIA alive", True),               # summary counts
    ('"white list"', "Japan drops Seoul from white-list", "", True),  # hyphen = space
    ('"white list"', "List of white goods", "", False),              # order matters
    ("forced-labor", "Forced labor ruling", "", True),
    ("japan korea", "Japan and Korea talk", "", True),
    ("japan korea", "Japan talks", "", False),
    ("japan -china", "Japan and China talk", "", False),
    ("japan -china", "Japan and Korea talk", "", True),
    ("japan NEAR/2 korea", "Japan and South Korea", "", True),
    ("japan NEAR/2 korea", "Japan leaders met in Seoul to discuss Korea", "", False),
    ("japan NEAR/3 korea", "Korea , as Japan said", "", True),      # either order
    ("title:gsomia", "", "GSOMIA mentioned only here", False),
    ("title:gsomia", "GSOMIA deal", "", True),
    ("source:yonhap korea", "Korea news", "", False),
    ("강제징용", "日本 강제징용 배상 판결", "", True),                   # Korean: substring
    ("강제징용", "징용", "", False),
    ("徴用工", "元徴用工訴訟", "", True),                               # Japanese: substring
    ("Ｇｓｏｍｉａ", "gsomia", "", True),
    ("naïve", "NAÏVE plan", "", True),
])
def test_semantics(query, title, summary, expected):
    assert matches(query, title, summary) is expected


def test_source_scope():
    assert matches("source:yonhap korea", "Korea news", source="Yonhap News Agency")


def test_exclusion_and_aliases():
    assert not matches('"forced labor"', "Forced labor in Xinjiang", exclude="xinjiang OR uyghur*")
    assert matches('"forced labor"', "Forced labor ruling in Seoul", exclude="xinjiang OR uyghur*")
    aliases = {"gsomia": ["General Security of Military Information Agreement", "지소미아"]}
    assert matches("gsomia", "Seoul extends General Security of Military Information Agreement", aliases=aliases)
    assert matches("gsomia", "지소미아 정상화", aliases=aliases)
    assert matches("gsomia NEAR/3 japan", "Japan welcomes 지소미아", aliases=aliases)


def test_title_hits_score_higher_and_terms_are_recorded():
    m = Matcher([TopicSpec(1, "t", "gsomia OR pact")])
    in_title = m.match(make_document("GSOMIA restored", "the pact"))[0]
    in_summary = m.match(make_document("Restored", "GSOMIA and the pact"))[0]
    assert in_title.score > in_summary.score
    assert in_title.terms[0] == "gsomia" and set(in_title.terms) == {"gsomia", "pact"}


def test_purely_negative_query_is_refused():
    with pytest.raises(QueryError, match="at least one word to look for"):
        compile_topic(TopicSpec(1, "t", "-china"))


def test_a_broken_topic_never_stops_the_others():
    m = Matcher([TopicSpec(1, "bad", "(japan"), TopicSpec(2, "good", "japan")])
    assert "bad" in m.errors and len(m) == 1
    assert [r.slug for r in m.match(make_document("Japan"))] == ["good"]


def test_candidates_come_from_the_index_not_from_every_topic():
    specs = [TopicSpec(i, f"t{i}", f'"topic{i} phrase" OR word{i}') for i in range(2000)]
    specs.append(TopicSpec(5000, "pre", "semicond*"))
    specs.append(TopicSpec(5001, "cjk", "徴用工"))
    m = Matcher(specs)
    doc = make_document("word17 and semiconductors", "元徴用工")
    assert m.candidates(doc) == {17, 5000, 5001}
    assert {r.topic_id for r in m.match(doc)} == {17, 5000, 5001}


def test_the_screen_never_drops_an_entry_a_topic_matches(data_dir):
    """`could_match` (one automaton scan of the folded text) lets a backlog skip most entries before their
    words are split; it must be a superset of what matching finds. Checked on 5,000 real items against the
    seed topics (their aliases and meaning gates included), the table above's queries, and prefixes,
    phrases, NEAR, exclusions, source and title scopes, Korean and Japanese terms."""
    from pathlib import Path

    from bench.corpus import items
    from service.seeds import read_topics, spec_of
    from service.stories.meaning import encoder

    seeds = [spec_of(t, n) for n, t in enumerate(read_topics(Path(__file__).resolve().parents[2] / "seeds" / "topics.toml"), 1)]
    queries = ["korea", "korea*", "gsomia", '"white list"', "forced-labor", "japan korea", "japan -china",
               "japan NEAR/2 korea", "title:gsomia", "source:reuters korea", "강제징용", "徴用工", "naïve",
               '"credit suisse" OR ubs', "bank* NOT (river OR blood)", '"silicon valley bank" OR svb', "title:biden*",
               "ukrain* NEAR/5 (drone OR missile*)", "北朝鮮", "중국 OR 일본"]
    specs = seeds + [TopicSpec(100 + n, f"q{n}", q, None, {}) for n, q in enumerate(queries)]
    rows = [(i.get("title") or "", i.get("description") or "", i.get("source_title") or "") for i in items(limit=5_000)]
    skipped = {}
    for name, matcher in [("all", Matcher(specs, encoder=encoder()))] + [(s.slug, Matcher([s], encoder=encoder())) for s in specs]:
        skipped[name] = 0
        for title, summary, source in rows:
            if not matcher.could_match(title, summary, source):
                skipped[name] += 1
                assert matcher.candidates(make_document(title, summary, source)) == set(), (name, title)
    assert Matcher([]).could_match("Japan and Korea") is False
    # Worth having: a topic's backlog skips most entries unsplit ('"credit suisse" OR ubs': nearly all).
    assert skipped["q13"] > 4_750 and sorted(skipped.values())[len(skipped) // 2] > 4_000, skipped
