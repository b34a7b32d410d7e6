"""Backtest a query against stored entries before saving it: per-day counts and the top matches."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from ..db import Database
from ..store import entries as entry_store
from .compile import Matcher, TopicSpec, compile_topic
from .match import make_document


@dataclass(frozen=True)
class BacktestHit:
    entry_id: int
    title: str
    url: str | None
    source: str | None
    published_at: datetime
    score: float
    terms: list[str]


@dataclass
class Backtest:
    scanned: int = 0
    per_day: Counter = field(default_factory=Counter)
    hits: list[BacktestHit] = field(default_factory=list)

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
                              score=h.score, matched_terms=h.terms) for h in self.top(limit)])

    def days(self, since: date | None, until: date) -> list[tuple[date, int]]:
        """Every day in the window (zeros included), oldest first."""
        if not self.per_day and since is None:
            return []
        start = since or min(self.per_day)
        span = (until - start).days
        from datetime import timedelta

        return [(start + timedelta(days=i), self.per_day.get(start + timedelta(days=i), 0)) for i in range(span + 1)]


def backtest(db: Database, spec: TopicSpec, since: datetime | None, keep: int = 1000) -> Backtest:
    """Run a (not yet saved) topic over the stored entries published since `since`."""
    compile_topic(spec)  # raises QueryError with the position before any scanning
    matcher = Matcher([spec])
    result = Backtest()
    with db.read() as conn:
        for rows in entry_store.iter_entries(conn, since=since):
            for row in rows:
                result.scanned += 1
                found = matcher.match(make_document(row.title, row.summary, row.source or ""))
                if not found:
                    continue
                result.per_day[row.published_at.date()] += 1
                if len(result.hits) < keep or found[0].score > result.hits[-1].score:
                    result.hits.append(BacktestHit(row.id, row.title, row.url, row.source, row.published_at,
                                                   found[0].score, found[0].terms))
                    if len(result.hits) > keep * 2:
                        result.hits = result.top(keep)
    return result
