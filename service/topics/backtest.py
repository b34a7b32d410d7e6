"""Backtest a query against stored entries before saving it: per-day counts and the top matches."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from ..db import Database
from ..store import entries as entry_store
from .compile import TopicSpec, compile_topic, matcher_for
from .match import evaluate, make_document
from .text import words
from .semantic import EASING


@dataclass(frozen=True)
class BacktestHit:
    entry_id: int
    title: str
    url: str | None
    source: str | None
    published_at: datetime
    score: float
    terms: list[str]


@dataclass(frozen=True)
class Lookalike:
    """An entry the query misses that looks like the topic, or a match that looks unlike it."""

    entry_id: int
    title: str
    url: str | None
    published_at: datetime
    similarity: float


NEAR = 10  # near misses and unlike matches kept
MAX_FORMS = 100  # a query with more words than this gets no other-forms count


def other_forms(word: str) -> set[str]:
    """The regular English plural of a folded word ("earthquake" -> "earthquakes", "ally" -> "allies",
    "box" -> "boxes"): a bare query word matches only itself. Plurals only: read back to a singular, "news",
    "arms" and "times" would be "new", "arm" and "time"."""
    if len(word) < 3 or not word.isalpha() or not word.isascii():
        return set()
    if word.endswith("y") and word[-2] not in "aeiou":
        return {word[:-1] + "ies"}
    return {word + "es" if word.endswith(("s", "x", "z", "ch", "sh")) else word + "s"}


def _variants(node) -> dict[str, str]:  # noqa: ANN001
    """Other form -> the query's word, for the last word of each positive term written without `*`."""
    from .query import iter_terms

    found: dict[str, str] = {}
    for term, positive in iter_terms(node):
        if positive and not term.prefix and not term.substring and term.words:
            for form in other_forms(term.words[-1]):
                found.setdefault(form, term.words[-1])
    return found


@dataclass
class Backtest:
    scanned: int = 0
    per_day: Counter = field(default_factory=Counter)
    hits: list[BacktestHit] = field(default_factory=list)
    measured: bool = False  # similarities were measured (the topic has a description or examples, and a model)
    near_misses: list[Lookalike] = field(default_factory=list)  # most similar entries not matched
    unlike: list[Lookalike] = field(default_factory=list)  # least similar matches
    # Entries not matched that would be if a query word also matched its plural: form -> entries
    other_forms: Counter = field(default_factory=Counter)
    query_word: dict = field(default_factory=dict)  # other form -> the query's word it is a form of

    @property
    def total(self) -> int:
        return sum(self.per_day.values())

    def top(self, limit: int) -> list[BacktestHit]:
        return sorted(self.hits, key=lambda h: (-h.score, -h.published_at.timestamp()))[:limit]

    def to_dict(self, limit: int) -> dict:
        """The preview as the CLI's JSON and the API return it."""
        return dict(total=self.total, scanned=self.scanned,
                    per_day={d.isoformat(): n for d, n in sorted(self.per_day.items())},
                    top=[dict(entry_id=h.entry_id, title=h.title, url=h.url, source=h.source, published=h.published_at,
                              score=h.score, matched_terms=h.terms) for h in self.top(limit)],
                    near_misses=[_look(x) for x in self.near_misses], unlike_matches=[_look(x) for x in self.unlike],
                    other_forms=dict(self.other_forms.most_common()))

    def days(self, since: date | None, until: date) -> list[tuple[date, int]]:
        """Every day in the window (zeros included), oldest first."""
        if not self.per_day and since is None:
            return []
        start = since or min(self.per_day)
        span = (until - start).days
        from datetime import timedelta

        return [(start + timedelta(days=i), self.per_day.get(start + timedelta(days=i), 0)) for i in range(span + 1)]


def backtest(db: Database, spec: TopicSpec, since: datetime | None, keep: int = 1000) -> Backtest:
    """Run a (not yet saved) topic over the stored entries published since `since`. With a description or
    examples (and the model installed), also the near misses: the stored entries most like the topic that
    it does not match, and the matches least like it (service/topics/semantic.py)."""
    import heapq

    topic = compile_topic(spec)  # raises QueryError with the position before any scanning
    matcher = matcher_for([spec], measure=True)
    result = Backtest(measured=topic.id in matcher.profiles)
    variants = _variants(topic.node) if topic.node is not None else {}
    if len(variants) > MAX_FORMS:  # a query of hundreds of words is a list, not a topic someone misspelt
        variants = {}
    result.query_word = variants
    near: list[tuple[float, int, Lookalike]] = []  # min-heap of the most similar misses
    matched: set[int] = set()  # this batch's
    unlike: list[tuple[float, int, Lookalike]] = []  # min-heap on -similarity: the least similar matches
    with db.read() as conn:
        for rows in entry_store.iter_entries(conn, since=since):
            result.scanned += len(rows)
            scanned = rows
            rows = [row for row in rows if matcher.could_match(row.title, row.summary, row.source or "")]
            docs = [make_document(row.title, row.summary, row.source or "") for row in rows]
            sims = matcher.similarities(docs) if result.measured else [{}] * len(docs)
            for row, found, sim in zip(rows, matcher.match_many(docs), sims):
                value = sim.get(topic.id)
                # near misses reach the guard bar (threshold less EASING); unlike matches fall below it
                if value is not None and (value < topic.threshold - EASING) == bool(found):
                    look = Lookalike(row.id, row.title, row.url, row.published_at, value)
                    heap, key = (unlike, -value) if found else (near, value)
                    if len(heap) < NEAR:
                        heapq.heappush(heap, (key, row.id, look))
                    elif key > heap[0][0]:
                        heapq.heapreplace(heap, (key, row.id, look))
                if not found:
                    continue
                matched.add(row.id)
                result.per_day[row.published_at.date()] += 1
                if len(result.hits) < keep or found[0].score > result.hits[-1].score:
                    result.hits.append(BacktestHit(row.id, row.title, row.url, row.source, row.published_at,
                                                   found[0].score, found[0].terms))
                    if len(result.hits) > keep * 2:
                        result.hits = result.top(keep)
            if variants:
                _count_other_forms(result, topic, variants, [r for r in scanned if r.id not in matched])
            matched.clear()
    result.near_misses = [x for _, _, x in sorted(near, key=lambda t: (-t[0], t[1]))]
    result.unlike = [x for _, _, x in sorted(unlike, key=lambda t: (-t[0], t[1]))]
    return result


def _count_other_forms(result: Backtest, topic, variants: dict[str, str], rows) -> None:  # noqa: ANN001
    """Of the rows the topic did not match that use a plural of a query word, those its query (alone: no
    model runs here) matches with that plural read as the query's word; each form counted once per entry.
    A row's words are read once, as the matcher reads them (folded: Turkish "CİTİES" is not "cities"), and
    compared as a set, so the cost does not grow with the query."""
    few = len(variants) <= 20
    for row in rows:
        text = f"{row.title or ''} {row.summary or ''}"
        if few and not any(form in text.casefold() for form in variants):  # most rows have none: a C test first
            continue
        forms = {w for w in words(text) if w in variants}
        if not forms or evaluate(topic.node, make_document(row.title, row.summary, row.source or ""), None):
            continue  # no plural, or the query matched as written (another reason kept it out)
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(forms, key=len, reverse=True))) + r")\b",
                             re.I | re.A)

        def as_written(text: str | None) -> str:
            return pattern.sub(lambda m: variants.get(m.group(1).casefold(), m.group(1)), text or "")

        read = make_document(as_written(row.title), as_written(row.summary), row.source or "")
        if evaluate(topic.node, read, None) and (topic.exclude is None or not evaluate(topic.exclude, read, None)):
            result.other_forms.update(forms)


def _look(x: Lookalike) -> dict:
    return dict(entry_id=x.entry_id, title=x.title, url=x.url, published=x.published_at,
                similarity=round(x.similarity, 3))
