"""A topic's developments: its own matched entries grouped by the event they report. Pure.

Clustering all news to show one topic's events let unrelated news ride along in the topic's stories
(issue 13: a Kenzaburo Oe obituary inside Seoul's forced-labor plan). A topic's matched entries are a few
dozen a month and all about one subject, so they are grouped on their own:

- in publication order (published time, then entry id), one pass: each entry joins the open development
  whose recurring words explain most of its headline, or starts one;
- a word weighs by how rare it is in the language (wordfreq's Zipf scale: "Kishida" and "omurice" weigh
  more than "plan"), discounted by how many of the topic's recent entries use it: every forced-labor
  entry says "forced labor", so those words tell its developments apart no better than "the";
- a development stays open while its last entry is at most `gap` old and its first at most `span`.

With the optional sentence-embedding model installed (service/stories/meaning.py), "recurring words" is
replaced by meaning: an entry joins the open development whose mean headline vector is closest, if the
cosine is at least MEANING_THRESHOLD *and* at least MEANING_MARGIN above the entry's mean cosine to the
topic's other recent entries (its background: every japan-korea-relations headline is about Japan and
Korea, so closeness to the topic as a whole says nothing about which event). Each vector is first moved
MEANING_CENTRE of the way from the topic's recent mean, for the same reason; and two open developments
whose mean vectors come within MEANING_MERGE when an entry joins one are merged (an event split by its
first reports). Measured side by side with the words-only grouping in bench/developments_eval.py
(docs/stories.md).

A single pass in publication order is *prefix-stable*: where an entry goes depends only on the entries
published before it. So a late-arriving older entry re-places only the entries after it, and ingest,
re-matching and live polling give the same developments whatever order the entries arrived in
(`Developer` is fed what was placed before the first new entry — each with the development it joined
when placed — and the merges made before it, then places the rest: `develop_pass`).
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from datetime import date, datetime, timedelta, timezone

from ..topics.text import readable
from .cluster import Terms, normalized_title, terms, zipf

GAP = timedelta(hours=48)  # a development is open while its newest entry is at most this old
SPAN = timedelta(days=7)  # ... and its first at most this old
CONTEXT = timedelta(days=14)  # the topic's recent entries that say which words are its everyday vocabulary
THRESHOLD = 0.05  # share of the headline's weight the development's recurring words must explain
YOUNG_THRESHOLD = 0.2  # ... for a development of one entry (no recurring words yet)
SIGNATURE_SHARE = 0.2  # a development's word counts once at least this share of its entries use it
RARE_ZIPF = 3.0  # one shared word suffices only if it is this rare (a name: "Kishida", not "summit")
MIN_CONTEXT = 8  # fewer recent entries than this say nothing about the topic's vocabulary
MEANING_THRESHOLD = 0.35  # cosine of an entry to a development's mean vector, at least
MEANING_DECAY = 0.10  # ... plus this much per day since the mean publication time of its entries
MEANING_MARGIN = 0.085  # ... and this much above the entry's mean cosine to the topic's other recent entries
MEANING_MERGE = 0.70  # two open developments whose mean vectors come this close are one (docs/stories.md)
MEANING_CENTRE = 0.20  # each headline vector is moved this much of the topic's recent mean away from it
MAX_WORD_DEVELOPMENTS = 200  # a word in more open developments than this does not make candidates


@dataclass(frozen=True)
class Item:
    entry_id: int
    published_at: datetime
    title: str
    summary: str = ""
    language: str | None = None

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.published_at, self.entry_id)


@dataclass(frozen=True)
class Merge:
    """Two open developments found to be one when an entry joined one of them: `absorbed` (the later
    begun) is part of `into` from then on. `key` is the joining entry's (published_at, entry id)."""

    key: tuple[datetime, int]
    absorbed: int
    into: int


@dataclass(slots=True)
class _Development:
    anchor: int  # the entry id of its first entry: the development's id
    first: datetime
    last: datetime
    docs: int = 0
    term_docs: dict = field(default_factory=dict)
    titles: set = field(default_factory=set)
    vector: object = None  # the sum of its headline vectors (with the meaning model)
    vectors: int = 0  # how many of its entries have one (a headline the model cannot read has none)
    seconds: float = 0.0  # the sum of its entries' publication times (epoch seconds): their mean is its centre

    def absorb(self, words: frozenset, title_key: str, when: datetime, vector=None) -> None:  # noqa: ANN001
        if vector is not None:
            self.vector = vector.copy() if self.vector is None else self.vector + vector
            self.vectors += 1
        self.docs += 1
        self.seconds += when.timestamp()
        for t in words:
            self.term_docs[t] = self.term_docs.get(t, 0) + 1
        if title_key:
            self.titles.add(title_key)
        self.last = max(self.last, when)

    def take(self, other: _Development) -> None:
        """Everything of `other` (merged into this one)."""
        self.vector = other.vector if self.vector is None else (self.vector if other.vector is None
                                                                 else self.vector + other.vector)
        self.docs += other.docs
        self.vectors += other.vectors
        self.seconds += other.seconds
        for t, n in other.term_docs.items():
            self.term_docs[t] = self.term_docs.get(t, 0) + n
        self.titles |= other.titles
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)


def rarity(zipf_: float) -> float:
    """How much a shared word says, from its Zipf frequency: 7 for a name no word list knows, 0.5 for
    everyday words."""
    return max(0.5, 7.0 - zipf_)


class Developer:
    """One topic's developments, built one entry at a time in publication order."""

    def __init__(self, *, gap: timedelta = GAP, span: timedelta = SPAN, threshold: float = THRESHOLD,
                 young_threshold: float = YOUNG_THRESHOLD, context: timedelta = CONTEXT,
                 meaning: Callable[[str], object] | None = None, meaning_threshold: float = MEANING_THRESHOLD,
                 meaning_margin: float = MEANING_MARGIN, meaning_decay: float = MEANING_DECAY,
                 meaning_merge: float | None = MEANING_MERGE, meaning_centre: float = MEANING_CENTRE):
        """`meaning`: headline -> unit vector (service.stories.meaning.vector); None groups by words.
        `meaning_merge`: None never merges developments. `meaning_centre`: 0 compares headline vectors
        as the model gives them."""
        self.meaning_centre = meaning_centre
        self.meaning, self.meaning_threshold, self.meaning_margin = meaning, meaning_threshold, meaning_margin
        self.meaning_decay, self.meaning_merge = meaning_decay, meaning_merge
        self.merges: list[Merge] = []  # made by `place`, in order
        self.background = None  # the sum of the recent entries' vectors (as compared: moved from the mean)
        self.raw_background = None  # ... and of the model's own vectors (the mean they are moved from)
        self.vector_count = 0  # how many of the recent entries have a vector (the backgrounds' mean is over these)
        self.gap, self.span, self.context = gap, span, context
        self.threshold, self.young_threshold = threshold, young_threshold
        self.open: dict[int, _Development] = {}
        self._deadlines: list[tuple[datetime, int]] = []
        self.postings: dict[str, set[int]] = {}
        self.recent: deque = deque()  # (published_at, words, vector, model vector) of the topic's entries within `context`
        self.df: dict[str, int] = {}
        self.last_key: tuple[datetime, int] | None = None

    # -- state ------------------------------------------------------------------------------------
    def _advance(self, when: datetime) -> None:
        while self.recent and when - self.recent[0][0] > self.context:
            _, old, vector, raw = self.recent.popleft()
            if vector is not None:
                self.background = self.background - vector
                self.raw_background = self.raw_background - raw
                self.vector_count -= 1
            for t in old:
                n = self.df[t] - 1
                if n:
                    self.df[t] = n
                else:
                    del self.df[t]
        # Developments close in deadline order (a heap with stale entries skipped), not by a scan of all
        # open developments per entry: a stream holds thousands at once.
        heap = self._deadlines
        while heap and heap[0][0] < when:
            _, anchor = heapq.heappop(heap)
            d = self.open.get(anchor)
            if d is None or self._deadline(d) >= when:
                continue  # closed already, or its deadline moved on (pushed again then)
            del self.open[anchor]
            for t in d.term_docs:
                keys = self.postings.get(t)
                if keys is not None:
                    keys.discard(anchor)
                    if not keys:
                        del self.postings[t]

    def _deadline(self, d: _Development) -> datetime:
        """The last moment the development accepts entries."""
        return min(d.last + self.gap, d.first + self.span)

    def _check_order(self, item: Item) -> None:
        if self.last_key is not None and item.key < self.last_key:
            raise ValueError("entries must be given in publication order")
        self.last_key = item.key

    def _vector(self, item: Item):  # noqa: ANN202
        """The headline's meaning as the model gives it, or None when there is no model or the English
        model cannot read the headline (mostly non-Latin letters, or not mostly English words: `english`):
        such an entry is grouped by its words."""
        if not self.meaning or not readable(item.title, "") or not english(item.title):
            return None
        return self.meaning(item.title)

    def _moved(self, raw):  # noqa: ANN001, ANN202
        """The vector compared: `raw` moved MEANING_CENTRE of the way away from the topic's recent mean (of
        the model's own vectors over CONTEXT, so a vector depends only on the CONTEXT before it). What
        every headline of a topic shares ("Silicon Valley Bank" in every report of its collapse week,
        "Japan and South Korea" in every japan-korea-relations entry) says nothing about which event a
        headline reports; left in, it made distinct acts of the SVB week (the seizure, the deposit
        guarantee) look like one."""
        n = self.vector_count
        if raw is None or not self.meaning_centre or self.raw_background is None or n < MIN_CONTEXT:
            return raw
        import numpy as np

        moved = raw - (self.meaning_centre * self.raw_background / n).astype(raw.dtype)
        return moved / max(float(np.linalg.norm(moved)), 1e-12)

    def _count(self, item: Item, words: frozenset, vector, raw) -> None:  # noqa: ANN001
        """The entry as part of the topic's recent vocabulary (and background meaning: `vector` as
        compared, `raw` as the model gave it). The backgrounds are running sums in float64: a replay from
        LOOKBACK back and a pass from the beginning reach them by different additions and subtractions,
        and must agree far below any threshold's resolution."""
        self.recent.append((item.published_at, words, vector, raw))
        if vector is not None:
            self.vector_count += 1
            self.background = vector.astype("float64") if self.background is None else self.background + vector
            self.raw_background = raw.astype("float64") if self.raw_background is None else self.raw_background + raw
        for t in words:
            self.df[t] = self.df.get(t, 0) + 1

    def _remember(self, item: Item, words: frozenset, vector, raw, anchor: int) -> None:  # noqa: ANN001
        d = self.open.get(anchor)
        if d is None:
            d = self.open[anchor] = _Development(anchor, item.published_at, item.published_at)
        d.absorb(words, normalized_title(item.title), item.published_at, vector)
        heapq.heappush(self._deadlines, (self._deadline(d), anchor))
        for t in words:
            self.postings.setdefault(t, set()).add(anchor)
        self._count(item, words, vector, raw)

    def copy(self) -> Developer:
        """The pass's state as it is now, to go on from later: nothing placed from here on changes it."""
        new = object.__new__(Developer)
        new.__dict__.update(self.__dict__)  # settings, counts and the background sums (never changed in place)
        new.merges = []
        new.open = {a: replace(d, term_docs=dict(d.term_docs), titles=set(d.titles)) for a, d in self.open.items()}
        new._deadlines = list(self._deadlines)
        new.postings = {t: set(keys) for t, keys in self.postings.items()}
        new.recent = deque(self.recent)
        new.df = dict(self.df)
        return new

    # -- placing ----------------------------------------------------------------------------------
    def replay(self, item: Item, anchor: int) -> None:
        """An entry placed before (kept where it is): it only brings the state up to its time."""
        self._check_order(item)
        self._advance(item.published_at)
        raw = self._vector(item)
        vector = self._moved(raw)
        if anchor not in self.open and anchor != item.entry_id:
            # Its development closed (or began before what was loaded): the entry still counts as
            # vocabulary, and re-opens nothing.
            self._count(item, self._words(item), vector, raw)
            return
        self._remember(item, self._words(item), vector, raw, anchor)

    def place(self, item: Item) -> int:
        """The development (its anchor entry id) the entry joins; a new one is anchored on the entry."""
        self._check_order(item)
        self._advance(item.published_at)
        words = self._words(item)
        anchor = self._same_title(item)
        raw = self._vector(item)
        vector = self._moved(raw)
        if anchor is None:
            anchor = self._best(words) if vector is None else self._closest(vector, item.published_at, words)
        self._remember(item, words, vector, raw, item.entry_id if anchor is None else anchor)
        if anchor is None:
            return item.entry_id
        if vector is not None and self.meaning_merge is not None:
            self._merge_near(anchor, words, item.key)
        return anchor

    def _merge_near(self, anchor: int, words: frozenset, key: tuple[datetime, int]) -> None:
        """After an entry joins a development, the other open developments (sharing a word with the entry)
        whose mean vector is now within MEANING_MERGE of its own are the same event, split early (the
        first reports of an event can differ more from each other than from the later ones that bridge
        them): each is folded into whichever of the two began first."""
        import numpy as np

        for other in self._candidates(words):
            d, e = self.open.get(anchor), self.open.get(other)
            if other == anchor or d is None or e is None or d.vector is None or e.vector is None:
                continue
            norms = max(float(np.linalg.norm(d.vector)) * float(np.linalg.norm(e.vector)), 1e-12)
            if float(d.vector @ e.vector) / norms >= self.meaning_merge:
                into, absorbed = sorted((d, e), key=lambda x: (x.first, x.anchor))
                self._fold(absorbed.anchor, into.anchor)
                self.merges.append(Merge(key, absorbed.anchor, into.anchor))
                anchor = into.anchor

    def _fold(self, absorbed: int, into: int) -> None:
        keep, gone = self.open[into], self.open.pop(absorbed)
        keep.take(gone)
        for t in gone.term_docs:
            keys = self.postings.get(t)
            if keys is not None:
                keys.discard(absorbed)
                keys.add(into)
        heapq.heappush(self._deadlines, (self._deadline(keep), into))

    def replay_merge(self, merge: Merge) -> None:
        """A merge made before (kept): applied where both developments are in what was loaded (if either
        is not, both closed before anything placed now)."""
        if merge.absorbed in self.open and merge.into in self.open:
            self._fold(merge.absorbed, merge.into)

    @staticmethod
    def _words(item: Item) -> Terms:
        return terms(item.title, item.summary, item.language)

    def _same_title(self, item: Item) -> int | None:
        """The same headline syndicated (four words or more) is the same development."""
        title_key = normalized_title(item.title)
        if len(title_key.split()) >= 4:
            for d in self.open.values():
                if title_key in d.titles:
                    return d.anchor
        return None

    def _candidates(self, words: frozenset) -> list[int]:
        """Open developments sharing a word with the entry (blocking: a report of the same event shares at
        least one content word with it), by anchor. A word shared by more than
        MAX_WORD_DEVELOPMENTS open developments is skipped, so a busy stream stays linear."""
        found: set[int] = set()
        for t in words:
            keys = self.postings.get(t)
            if keys and len(keys) <= MAX_WORD_DEVELOPMENTS:
                found |= keys
        return sorted(found)

    def _closest(self, vector, when: datetime, words: frozenset) -> int | None:  # noqa: ANN001
        """The open development whose mean vector is closest, if close enough: at least the threshold, and
        the margin above the entry's mean cosine to the topic's other recent entries (not the
        development's own: when one event is most of a topic's week, it is not its own background)."""
        import numpy as np

        n = self.vector_count
        to_all = float(self.background @ vector) if self.background is not None else 0.0
        best, best_score = None, -1.0
        for anchor in self._candidates(words):
            d = self.open[anchor]
            if d.vector is None:
                continue
            score = float(d.vector @ vector) / max(float(np.linalg.norm(d.vector)), 1e-12)
            # A report days after a development's centre in time asks more (each day MEANING_DECAY more):
            # "Leaders to hold summit next week" is not the forced-labor plan of three days before, and
            # the missile-data talks of 9 May are not the 7-8 May summit, though reports of the summit
            # came in until the day before. Measured from the development's last entry instead, each
            # late report kept the door open for the next: the summit chained four later events.
            need = self.meaning_threshold + self.meaning_decay * _days_after_centre(d, when)
            others = n - d.vectors
            if others >= MIN_CONTEXT:
                need = max(need, (to_all - float(d.vector @ vector)) / others + self.meaning_margin)
            # Candidates come in anchor order: deterministic for a given prefix.
            if score >= need and score > best_score:
                best, best_score = anchor, score
        return best

    def _weight(self, term: str, words: Terms) -> float:
        n = len(self.recent)
        everyday = self.df.get(term, 0) / n if n >= MIN_CONTEXT else 0.0
        return rarity(words.zipf(term)) * (1.0 - everyday)

    def _best(self, words: Terms) -> int | None:
        weights = {t: self._weight(t, words) for t in words}
        total = sum(weights.values()) or 1.0
        hits: dict[int, list] = {}  # anchor -> [Σ w·share, shared words, rarest Zipf]
        for t, w in weights.items():
            for anchor in self.postings.get(t, ()):
                d = self.open[anchor]
                share = d.term_docs[t] / d.docs
                if share < SIGNATURE_SHARE or w <= 0:
                    continue
                hit = hits.setdefault(anchor, [0.0, 0, 9.0])
                hit[0] += w * share
                hit[1] += 1
                hit[2] = min(hit[2], words.zipf(t))
        best, best_score = None, 0.0
        for anchor, (value, shared, rarest) in hits.items():
            d = self.open[anchor]
            score = value / total
            if shared < 2 and rarest >= RARE_ZIPF:
                continue  # one everyday word in common is a coincidence
            if score < (self.young_threshold if d.docs < 2 else self.threshold):
                continue
            if (score, -anchor) > (best_score, -(best or 0)):
                best, best_score = anchor, score
        return best


ENGLISH_SHARE = 0.5  # of a headline's words that are common English words (Zipf >= 3), for the model to read it
_WORDS = re.compile(r"[^\W\d_]{2,}")


def english(title: str) -> bool:
    """Whether the English model can read the headline: at least half its words (of two letters or more,
    the first 40) are common English words. By its text, not the feed's declared language: Business
    Insider's Polish edition declares en-US. On March 2023 of the corpus, 11 of 32,114 English headlines
    fall below (name-heavy: "Chaim Topol obituary", grouped by their words instead) and 99 of 10,834 Polish
    ones pass; every seed topic's match of January–June passes."""
    found = _WORDS.findall(title[:2000].casefold())[:40]
    return not found or sum(zipf(w, "en") >= 3.0 for w in found) >= ENGLISH_SHARE * len(found)


def _days_after_centre(d: _Development, when: datetime) -> float:
    """Days from the mean publication time of the development's entries to `when` (0 before it)."""
    return max(0.0, when.timestamp() - d.seconds / d.docs) / 86400.0 if d.docs else 0.0


def headline_index(times: list[datetime]) -> int:
    """Which of a development's entries (oldest first) heads it: the first report of its busiest day
    (UTC), the earliest such day on a tie. Its first entry may be a precursor ("Japan planning steps to
    end the trade rift", the day before Seoul's plan) or a preview; the day most outlets reported is the
    day the event happened."""
    if not times:
        return 0
    days: dict = {}
    for t in times:
        days[t.date()] = days.get(t.date(), 0) + 1
    busiest = max(sorted(days), key=lambda d: days[d])  # max keeps the first (earliest) of equal counts
    return next(i for i, t in enumerate(times) if t.date() == busiest)


HEADLINE_PIVOT = 0.7  # a headline's word weights are divided by their norm to this power, not 1 (docs/stories.md)


def representative_order(titles: list[str], times: list[datetime],
                         languages: list[str | None] | None = None) -> list[int]:
    """Some reports (oldest first), most representative first: by how close each headline is to all the
    others' (the cosine of their content words, each weighted by its rarity, summed over the others), the
    earliest first on a tie; when no two headlines share a word, the first report of the busiest day
    (`headline_index`) and then the rest oldest first. Wire reports of the act itself repeat each other's
    words; a commentary, a roundup or a preview shares few of them.

    The cosine is *pivoted*: each headline's weights are divided by their norm to the power
    HEADLINE_PIVOT (0.7), not 1, so a headline that says more of what the others say counts for more
    than one that says only the words every report shares. With the plain cosine the shortest such
    headline won: "Here's how spy balloons work" headed the day the US shot the balloon down, and
    "Turkey and Syria earthquake: what we know so far" the day of the earthquake."""
    unit = []
    for n, title in enumerate(titles):  # each in its language: its stopwords out, Japanese segmented
        found = terms(title or "", "", languages[n] if languages else None)
        weights = {t: rarity(found.zipf(t)) for t in found}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        unit.append({t: w / norm ** HEADLINE_PIVOT for t, w in weights.items()} if norm else {})
    # sum over j != i of cos(i, j) = sum over i's words t of u_it * (sum over all j of u_jt), less
    # cos(i, i) = sum of u_it²: one pass over the words, not over the pairs (a development can hold hundreds).
    column: dict[str, float] = defaultdict(float)
    for u in unit:
        for t, w in u.items():
            column[t] += w
    scores = [round(sum(w * (column[t] - w) for t, w in u.items()), 9) if u else 0.0 for u in unit]
    if not any(score > 1e-9 for score in scores):
        first = headline_index(times)
        return [first, *(i for i in range(len(titles)) if i != first)] if titles else []
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def representative_index(titles: list[str], times: list[datetime],
                         languages: list[str | None] | None = None) -> int:
    """The report that says what most of them say (`representative_order`); 0 for none."""
    order = representative_order(titles, times, languages)
    return order[0] if order else 0


def headline_of(members: list):  # noqa: ANN201
    """The entry that heads a development, or a digest's share of one (its members oldest first, each with
    `title` and `published_at`; `representative_index`), or None for no members."""
    if not members:
        return None
    return members[representative_index([m.title for m in members], [m.published_at for m in members],
                                        [getattr(m, "language", None) for m in members])]


@dataclass(frozen=True)
class DayLine:
    """One day of a development that runs over several: the report that heads that day, and how many."""

    day: date
    head: Any
    entries: int


def day_lines(members: list, min_entries: int = 2) -> list[DayLine]:
    """What a development that runs over several days (UTC) shows besides its headline: for each day with
    at least `min_entries` of its reports, oldest first, the report that says what most of that day's say
    (`headline_of`; the development's own headline where that day's reports say what it says, so the
    reader sees the day it heads and the count of every day). A day's single report is a straggler.
    Empty for a development of one day, and where only one day has `min_entries` (its line would repeat
    the headline over a straggler past midnight). Where one development holds an event's successive acts
    (the deal, the House vote, the Senate vote, a day apart: the grouping's open failure on a flood), the
    reader sees each of them named."""
    by_day: dict[date, list] = defaultdict(list)
    for m in members:
        when = m.published_at
        by_day[(when.astimezone(timezone.utc) if when.tzinfo else when).date()].append(m)
    lines = [DayLine(day, headline_of(by_day[day]), len(by_day[day]))
             for day in sorted(by_day) if len(by_day[day]) >= min_entries]
    return lines if len(lines) >= 2 else []


@dataclass
class Pass:
    """What placing some entries gave: the development each joined when placed (`placed`), the merges
    made on the way (`merges`), and `final`, the development an anchor ends in after every merge, those
    made before the pass included."""

    placed: dict[int, int]
    merges: list[Merge]
    merged: dict[int, int]  # absorbed -> into, before and during the pass
    checkpoint: Developer | None = field(default=None, repr=False)  # the state at `keep_at` (develop_pass)

    def final(self, anchor: int) -> int:
        seen = 0
        while anchor in self.merged and seen < len(self.merged):  # a chain, never a cycle (guarded all the same)
            anchor, seen = self.merged[anchor], seen + 1
        return anchor


def develop_pass(items: list[Item], before: list[tuple[Item, int]] = (), merges: list[Merge] = (), *,
                 developer: Developer | None = None, keep_at: tuple[datetime, int] | None = None,
                 **settings) -> Pass:  # noqa: ANN003
    """Place `items` in publication order, given the entries placed `before` them (all earlier than the
    first item, in publication order, each with the development it joined when placed) and the `merges`
    made before the first item. Prefix-stable: the result for an entry depends only on what was
    published before it.

    `developer`: the pass's state after every entry before `before` and `items` (a checkpoint); by default
    the pass begins with nothing. `keep_at`: the result's `checkpoint` is a copy of the state after every
    entry and merge up to that key (and `developer` goes on past it)."""
    developer = developer if developer is not None else Developer(**settings)
    developer.merges = []
    # Entries in publication order, each merge right after the entry that made it (the same key).
    steps = sorted([*((item.key, 0, item, anchor) for item, anchor in before),
                    *((m.key, 1, m, None) for m in sorted(merges, key=lambda m: m.key)),
                    *((item.key, 0, item, None) for item in items)], key=lambda s: (s[0], s[1]))
    checkpoint = None
    placed: dict[int, int] = {}
    for key, kind, what, anchor in steps:
        if keep_at is not None and checkpoint is None and key > keep_at:
            checkpoint = developer.copy()
        if kind:
            developer.replay_merge(what)
        elif anchor is not None:
            developer.replay(what, anchor)
        else:
            placed[what.entry_id] = developer.place(what)
    if keep_at is not None and checkpoint is None:
        checkpoint = developer.copy()
    merged = {m.absorbed: m.into for m in [*merges, *developer.merges]}
    return Pass(placed, developer.merges, merged, checkpoint)


def develop(items: list[Item], before: list[tuple[Item, int]] = (), merges: list[Merge] = (),
            **settings) -> dict[int, int]:  # noqa: ANN003
    """entry id -> the development (its first entry's id) each of `items` ends in (develop_pass)."""
    result = develop_pass(items, before, merges, **settings)
    return {e: result.final(a) for e, a in result.placed.items()}
