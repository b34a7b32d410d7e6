"""The query language: what parses to what, and what is refused with which sentence and position."""

import pytest

from service.errors import QueryError
from service.topics.query import And, Near, Not, Or, Term, parse_query


def t(text, **kw):
    from service.topics.text import words
    return Term(words=tuple(words(text)), text=" ".join(words(text)), **kw)


@pytest.mark.parametrize("query,expected", [
    ("gsomia", t("gsomia")),
    ("GSOMIA", t("gsomia")),
    ("Ｇｓｏｍｉａ", t("gsomia")),                                   # NFKC: full-width letters
    ('"white list"', t("white list")),
    ("forced-labor", t("forced labor")),                            # inner hyphen: a phrase
    ("sanction*", t("sanction", prefix=True)),
    ('"export control*"', t("export control", prefix=True)),
    ("japan korea", And((t("japan"), t("korea")))),
    ("japan AND korea", And((t("japan"), t("korea")))),
    ("japan and korea", And((t("japan"), t("korea")))),
    ('"and"', t("and")),                                             # a quoted operator is a word
    ("a OR b c", Or((t("a"), And((t("b"), t("c")))))),              # AND binds tighter than OR
    ("(a OR b) c", And((Or((t("a"), t("b"))), t("c")))),
    ("japan -china", And((t("japan"), Not(t("china"))))),
    ("japan NOT china", And((t("japan"), Not(t("china"))))),
    ("japan NEAR/5 korea", Near((t("japan"), t("korea")), 5)),
    ("japan near/3 (korea OR seoul)", Near((t("japan"), Or((t("korea"), t("seoul")))), 3)),
    ("title:gsomia", t("gsomia", field="title")),
    ('title:"white list"', t("white list", field="title")),
    ("source:yonhap", t("yonhap", field="source")),
    ("title:(a OR b)", Or((t("a", field="title"), t("b", field="title")))),
    ("강제징용", Term(words=("강제징용",), text="강제징용", substring=True)),
    ("徴用工", Term(words=("徴用工",), text="徴用工", substring=True)),
    ("U.S.", t("u s")),
])
def test_parses(query, expected):
    assert parse_query(query) == expected


@pytest.mark.parametrize("query,message,position", [
    ("", "The query is empty", 0),
    ("   ", "The query is empty", 0),
    ("(japan", "This ( is never closed", 0),
    ("japan)", "This ) has no matching (", 5),
    ('"white list', "This quote is never closed", 0),
    ("japan OR", "OR needs something on its right", 6),
    ("japan AND OR korea", "AND needs something on its right", 6),
    ("NOT", "NOT needs something to exclude", 0),
    ("japan NEAR korea", "NEAR needs a distance, like NEAR/5", 6),
    ("japan NEAR/0 korea", "NEAR/0 is not a distance", 6),
    ("japan NEAR/100000 korea", "NEAR/100000 is too far; the most is NEAR/50", 6),
    ("japan NEAR/5", "NEAR needs a word on each side", 6),
    ("()", "Empty parentheses", 0),
    ("a*b", "A * can only end a word", 0),
    ("s*", "A prefix needs at least 2 letters before the *", 0),
    ("title:", "title: needs a word, a phrase or parentheses right after it", 0),
    ("title:source:x", "title: needs a word", 0),
    ("!!!", "This term has no letters or digits to look for", 0),
])
def test_errors_say_what_and_where(query, message, position):
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert message in str(info.value)
    assert info.value.position == position
    if query.strip():
        assert "^" in info.value.pointer()


def test_pathological_queries_are_refused_quickly():
    import time

    started = time.monotonic()
    with pytest.raises(QueryError, match="nested more than"):
        parse_query("(" * 200 + "a" + ")" * 200)
    with pytest.raises(QueryError, match="more than 500 terms"):
        parse_query(" OR ".join(f"w{i}" for i in range(600)))
    with pytest.raises(QueryError):  # a 10k-term OR is refused outright (by its length)
        parse_query(" OR ".join(f"w{i}" for i in range(10_000)))
    with pytest.raises(QueryError, match="longer than"):
        parse_query("a " * 20_000)
    assert time.monotonic() - started < 2
