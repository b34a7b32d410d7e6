"""Online story clustering: each new entry joins the best recent story or starts one. Pure.

Single pass, no batch re-clustering, over a sliding window (default 72 h):
1. exact duplicates — the same canonical URL, or the same normalized headline (syndication) — join at
   once;
2. otherwise the entry joins the story whose *recurring vocabulary* explains most of its headline:
       score(S) = Σ_t idf(t) · docs_S(t) / (docs_S + 1)  /  Σ_t idf(t)      over the headline's terms t
   where docs_S(t) counts the story's entries containing t and idf is learned online from everything
   seen. A story about one event repeats its distinctive names in most headlines ("Sbarro",
   "Titanfall", "forced labor"), so a new headline sharing them scores high even when worded
   differently, while words every story uses weigh little. Joining an established story also needs a
   quarter of its *core* (the words most of its entries use), so a story cannot drift away from what it
   is about one incidental shared word at a time;
3. when a story's dominant term (highest docs·idf) is in at least half of its entries, any other live
   story with that term in at least half of *its* entries is the same event split early: the smaller
   is merged into the larger.
Measured on real labelled headlines in bench/stories_eval.py (docs/stories.md). PITFALLS.md measured
TF-IDF single-pass at ~9k docs/s on 2 cores, MinHash LSH at ~2.5k and transformer embeddings at 20–60.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from wordfreq import tokenize as wordfreq_tokenize
from wordfreq import zipf_frequency

from ..feeds.normalize import headline
from ..topics.text import words

log = logging.getLogger("followup.stories")

# Words that say nothing about which event a headline reports.
_STOP = set("""
a an and are as at be but by for from has have he her his how in into is it its new of on or our over says said
she so than that the their them they this to up was we were what when where which who why will with would you
your after about more not no just can could may might also first last one two three year years day days week
news update live latest video watch report reports us vs amid near off out than then there these those via
""".split())
_SUFFIXES = ("isations", "izations", "isation", "ization", "ations", "ation", "ments", "ment", "ings", "ing",
             "edly", "ed", "ies", "es", "s", "ly", "cy")
DEFAULT_THRESHOLD = 0.03
MERGE_SHARE = 0.5
MIN_TITLE_TERMS = 3  # shorter headlines ("Watch live") borrow terms from the summary
# A shared word counts only if at least this share of the story's entries use it: incidental words of a
# large story ("police", "monday") must not pull unrelated headlines in and chain stories together.
SIGNATURE_SHARE = 0.2
# A story stops accepting entries this many windows after it was first seen, however active it stays, so
# a daily column ("weather today") cannot grow into one month-long story.
MAX_AGE_WINDOWS = 3.0
EXPIRE_EVERY = 2000
# Joining a young story needs at least this many shared words: one moderately common word shared with a
# one-entry story is a coincidence in a real stream (it chained unrelated items before this rule).
MIN_EVIDENCE = 2
# A story of fewer than YOUNG_DOCS entries has no reliable signature yet; joining it needs this much of
# the headline as well.
YOUNG_THRESHOLD = 0.1
YOUNG_DOCS = 3
# A story's *core* is the words at least half its entries use. An entry joining an established story
# must carry at least CORE_COVER of the core's weight, not just any signature word: in the 2023 stream a
# story born on North Korean sanctions otherwise absorbed Seoul's forced-labour plan through "korea".
CORE_SHARE = 0.5
CORE_COVER = 0.25
# One shared word is enough only if it is rare in the language: below this Zipf frequency (about 18 uses
# per million words in wordfreq's lists), i.e. a name like "Sbarro", "Titanfall" or "Biden", not "man",
# "police" or "Korea" (4.65). Without it, "Man ..." headlines of a whole day formed one 160-entry story.
# 4.0 was chosen when a word's rarity was the rarest form any text had shown ("highs" for "high"); read
# from the headline's own word (Terms), 4.25 is the same cut (docs/stories.md).
RARE_ZIPF = 4.25
# Words this common (Polish "za", English "people", "time") are function words of their language even
# where the yake lists miss them: they never tie headlines together.
FUNCTION_ZIPF = 6.0


# A word shared by more live stories than this names no event (the postings of "police" or a stock phrase of
# one outlet's headlines): it is skipped, which also keeps each placement O(terms), not O(stories) — the
# red-team pass fed 100,000 near-identical titles and the walk over such postings made ingest quadratic.
MAX_TERM_STORIES = 50
# A story keeps the set of its words used by at least this share of its entries (exact, updated on each
# absorb): its core and dominant term are read from it instead of a scan of every word it ever held
# (quadratic for a story of many entries with a unique word each).
FREQUENT_SHARE = min(CORE_SHARE, MERGE_SHARE)

# A word in more than this share of all recent entries is a function word of some language that has no
# list below (or a term too broad to tell events apart): it never ties entries into one story.
COMMON_SHARE = 0.10


@lru_cache(maxsize=64)
def stopwords(language: str | None) -> frozenset[str]:
    """English function words plus the entry's own language's, from the lists the `yake` package ships
    (34 languages). Without them, Polish "na"/"się" tied every Polish headline into one story."""
    words_ = set(_STOP)
    code = (language or "en").split("-")[0].split("_")[0].lower()
    code = {"cs": "cz"}.get(code, code)
    try:
        import yake

        path = Path(yake.__file__).parent / "core" / "StopwordsList" / f"stopwords_{code}.txt"
        if path.exists():
            words_.update(w.strip().casefold() for w in path.read_text(encoding="utf-8").splitlines() if w.strip())
    except ImportError:  # pragma: no cover - yake is a dependency; English still works without it
        pass
    return frozenset(words_)


@lru_cache(maxsize=262_144)
def stem(word: str) -> str:
    """Light suffix stripping so "bankrupt"/"bankruptcy", "sterilisation"/"sterilization" meet, and
    British -our spellings ("labour", "honour") meet American ones."""
    if len(word) > 5 and word.endswith("our"):
        word = word[:-3] + "or"
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            if suffix == "es" and not word[:-2].endswith(("s", "x", "z", "ch", "sh")):
                suffix = "s"  # "missiles" -> "missile", like "missile"; "churches" -> "church"
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def normalized_title(title: str) -> str:
    """Headline key for exact-duplicate detection: folded words, outlet suffixes (" - Reuters") removed."""
    return headline(title)


# Compass words name a different place with every word they precede (North Korea, North Carolina, South
# Africa, West Bank): alone they tied North Korea's missile tests to North Carolina's courts in the 2023
# stream. They count only glued to the next word, which also counts alone ("southern Indian Ocean" still
# meets "Indian Ocean"); "N Korea" and "S. Korea" are the usual abbreviations.
_COMPASS = {"north": "north", "south": "south", "east": "east", "west": "west", "n": "north", "s": "south",
            "northern": "north", "southern": "south", "eastern": "east", "western": "west"}


@lru_cache(maxsize=200_000)
def zipf(word: str, language: str) -> float:
    """How common a word is in everyday `language` (Zipf scale: 7 = "the", 0 = unknown), from wordfreq."""
    if word.isdigit() and len(word) > 1 and len(word) != 4:
        # wordfreq rates a number by its first digit and length only (Benford; 4 digits as years): one
        # lookup per shape, not per number (a feed of 100,000 numbered headlines paid 100,000 lookups).
        word = word[0] + "0" * (len(word) - 1)
    return _zipf(word, language)


@lru_cache(maxsize=200_000)
def _zipf(word: str, language: str) -> float:
    try:
        return zipf_frequency(word, language)
    except (LookupError, ValueError):  # a language wordfreq does not know
        return zipf_frequency(word, "en")
    except Exception as exc:  # noqa: BLE001 - an optional language tool missing or broken
        _degraded(language, exc)
        return 0.0


_CJK = {"ja", "zh", "ko"}  # no spaces between words: segmented by MeCab (ja, ko) or jieba (zh), pinned
MAX_WORD = 64  # characters: no word or name is longer; a hostile 10-million-letter "word" cost wordfreq 500 MB
MAX_TEXT = 2_000  # characters of a summary read for its lede's words (and of CJK text segmented): segmenting
# a hostile 3-million-character Japanese summary cost 1.7 GB and 4 s, for the 30 words of its lede that are used
_WARNED: set[tuple[str, str]] = set()


def _degraded(language: str, exc: Exception) -> None:
    """Say once per language and problem that story terms for it are degraded (never lose the feed)."""
    key = (language, type(exc).__name__)
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning("story clustering for language %r is degraded: %s: %s", language, type(exc).__name__, exc)


@lru_cache(maxsize=1)
def _quiet_jieba() -> None:
    import jieba  # wordfreq imports it lazily, and jieba then sets its own logger to DEBUG

    jieba.setLogLevel(logging.WARNING)


def _tokens(text: str, language: str) -> list[str]:
    if language in _CJK:
        # Segmenting costs about 14 µs and 1 KB per character (MeCab through wordfreq): a hostile title of a
        # million Japanese characters took 14 s and 900 MB. No headline is that long; the first MAX_TEXT
        # characters are segmented, as for a summary. (Other scripts are split by a regex, in linear time
        # and little memory, whatever the length.)
        text = text[:MAX_TEXT]
        try:
            if language == "zh":
                _quiet_jieba()
            return [t.casefold() for t in wordfreq_tokenize(text, language)]
        except Exception as exc:  # noqa: BLE001 - the segmenter missing: words as the regex sees them
            _degraded(language, exc)
    return words(text)




def _content_words(text: str, stop: frozenset[str], language: str) -> dict[str, float]:
    """Content word -> the Zipf frequency of the rarest surface form it has in `text`."""
    found: dict[str, float] = {}
    tokens = [t for t in _tokens(text, language) if len(t) <= MAX_WORD]
    i = 0
    while i < len(tokens):
        w = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if w in _COMPASS and len(nxt) > 1 and nxt not in stop and nxt not in _COMPASS:
            _add(found, f"{_COMPASS[w]}_{stem(nxt)}", nxt, language)
            _add(found, stem(nxt), nxt, language)
            i += 2
            continue
        if w not in stop and len(w) > 1 and zipf(w, language) < FUNCTION_ZIPF:
            _add(found, stem(w), w, language)
        i += 1
    return found


def _add(found: dict[str, float], term: str, surface: str, language: str) -> None:
    found[term] = min(found.get(term, 9.0), zipf(surface, language))


class Terms(frozenset):
    """A text's content words (stems), and how common each one's rarest surface form in that text is in
    everyday language (`zipfs`: term -> Zipf). A property of the text alone: it once lived in a
    process-wide table of the rarest surface seen for each stem by any text, so how rare a word counted
    (and where an entry was grouped) depended on what else the process had read before — a server that
    had polled other feeds and a fresh `followup ingest` grouped the same entries differently."""

    zipfs: dict

    def zipf(self, term: str) -> float:
        return self.zipfs.get(term, 0.0)


def _terms(found: dict[str, float]) -> Terms:
    out = Terms(found)
    out.zipfs = found
    return out


@lru_cache(maxsize=65_536)  # plan() and then add() ask for the same item's terms: compute them once
def terms(title: str, summary: str = "", language: str | None = None) -> Terms:
    """The headline's content words, stemmed (compass words glued to the place they name); the
    summary's lede only when the headline is too short."""
    stop = stopwords(language)
    code = (language or "en").split("-")[0].split("_")[0].lower()
    try:
        found = _content_words(title or "", stop, code)
        if len(found) < MIN_TITLE_TERMS and summary:
            for term, z in _content_words(" ".join(_tokens(summary[:MAX_TEXT], code)[:30]), stop, code).items():
                found[term] = min(found.get(term, 9.0), z)
    except Exception as exc:  # noqa: BLE001 - one entry placed alone beats a feed lost (issue 12)
        _degraded(code, exc)
        return _terms({})
    return _terms(found)


@dataclass(slots=True)
class _Story:
    docs: int = 0
    term_docs: dict = field(default_factory=dict)  # word -> entries using it (a plain dict: Counter's
    # construction and update were measurable per story on a 100k-item ingest)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    titles: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    frequent: set[str] = field(default_factory=set)  # words in >= FREQUENT_SHARE of the entries

    def absorb(self, item_terms: set[str], when: datetime) -> None:
        """Count one more entry: its words and its time."""
        self.docs += 1
        counts = self.term_docs
        for t in item_terms:  # (Counter.update's type checks were a tenth of a 100k-item ingest)
            counts[t] = counts.get(t, 0) + 1
        self.first_seen = min(self.first_seen or when, when)
        self.last_seen = max(self.last_seen or when, when)
        # Only this entry's words can have risen to the threshold (it only rises for the others): the set
        # is a superset of the frequent words, pruned when it grows; readers check the counts.
        need = FREQUENT_SHARE * self.docs
        frequent = self.frequent
        for t in item_terms:
            if counts[t] >= need:
                frequent.add(t)
        if len(frequent) > 64:
            self.frequent = {t for t in frequent if counts[t] >= need}

    def refresh_frequent(self) -> None:
        need = FREQUENT_SHARE * self.docs
        self.frequent = {t for t, c in self.term_docs.items() if c >= need}


class Plan(list):
    """plan()'s placements, holding the staged stories so commit() can adopt them as they are."""

    staged: "_Staged | None" = None


class _Staged(dict):
    """Stories touched by the plan being made, with their own postings so lookups stay O(terms)."""

    def __init__(self) -> None:
        super().__init__()
        self.postings: dict[str, set] = defaultdict(set)
        self.by_url: dict[str, object] = {}
        self.by_title: dict[str, object] = {}
        self.df: Counter = Counter()  # word counts of the plan's items, so a big batch learns idf as it goes
        self.n_docs = 0
        self.adopted = False  # commit() took these stories over (a plan is applied once)


@dataclass(frozen=True)
class Candidate:
    """An entry to place, as the clusterer sees it."""

    title: str
    summary: str
    url: str | None
    published_at: datetime
    language: str | None = None


@dataclass(frozen=True)
class Placement:
    story: object  # an existing story id, or ("new", n) for the n-th story this plan starts
    score: float
    reason: str  # "url" | "title" | "similar" | "new"
    terms: frozenset = field(default=frozenset(), compare=False, repr=False)  # the item's words, for commit()
    title_key: str | None = field(default=None, compare=False, repr=False)


class StoryIndex:
    """Recent stories in memory. `plan()` decides; `commit()` applies once the database agreed."""

    def __init__(self, window: timedelta = timedelta(hours=72), threshold: float = DEFAULT_THRESHOLD,
                 merge_share: float = MERGE_SHARE, signature_share: float = SIGNATURE_SHARE,
                 max_age_windows: float = MAX_AGE_WINDOWS):
        self.window = window
        self.signature_share = signature_share
        self.core_share = CORE_SHARE
        self.core_cover = CORE_COVER
        self.rare_zipf = RARE_ZIPF
        self.min_evidence = MIN_EVIDENCE
        self.young_threshold = YOUNG_THRESHOLD
        self.young_docs = YOUNG_DOCS
        self.max_age = window * max_age_windows
        self.threshold = threshold
        self.merge_share = merge_share
        self.stories: dict[object, _Story] = {}
        self._postings: dict[str, set] = defaultdict(set)
        self._by_title: dict[str, object] = {}
        self._by_url: dict[str, object] = {}
        self.df: Counter = Counter()
        self.n_docs = 0
        self._latest: datetime | None = None

    def __len__(self) -> int:
        return len(self.stories)

    @property
    def latest(self) -> datetime | None:
        """The newest publication time this index has placed: its "now"."""
        return self._latest

    def _idf(self, term: str, staged: "_Staged | None" = None) -> float:
        if staged is not None and staged.n_docs:
            return math.log((self.n_docs + staged.n_docs + 1) / (self.df.get(term, 0) + staged.df.get(term, 0) + 1)) + 1.0
        return math.log((self.n_docs + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def _live(self, story: _Story | None, when: datetime) -> bool:
        return (story is not None and story.last_seen is not None and abs(when - story.last_seen) <= self.window
                and (story.first_seen is None or when - story.first_seen <= self.max_age))

    def _scores(self, item_terms: Terms, when: datetime, staged: "_Staged") -> dict:
        """score(S) for every live story sharing a signature term with the item, in one postings pass."""
        staged_df, staged_postings = staged.df, staged.postings
        n_docs = self.n_docs + staged.n_docs
        log_n = math.log(n_docs + 1)
        common = COMMON_SHARE * n_docs if n_docs >= 1000 else None  # too common to tell events apart
        df, postings = self.df, self._postings
        total = 0.0
        weights = []
        for t in item_terms:
            d = df.get(t, 0) + staged_df.get(t, 0)
            w = log_n - math.log(d + 1) + 1.0  # idf (see _idf)
            total += w
            if common is not None and d > common:
                continue
            committed, local = postings.get(t, ()), staged_postings.get(t, ())
            if len(committed) + len(local) <= MAX_TERM_STORIES:
                weights.append((t, w, committed, local))
        total = total or 1.0
        hits: dict = {}  # key -> [story, Σ w·share, evidence, rarest Zipf, core Σ w·share]
        alive: dict = {}
        signature, core = self.signature_share, self.core_share
        for t, w, committed, local in weights:
            for source, keys in ((None, committed), (staged, local)):
                for key in keys:
                    if source is None:
                        if key in staged:
                            continue
                        ok = alive.get(key)
                        if ok is None:
                            ok = alive[key] = self._live(self.stories.get(key), when)
                        if not ok:
                            continue
                        story = self.stories[key]
                    else:
                        story = staged[key]
                        if not self._live(story, when):  # a batch (one feed file) can span weeks
                            continue
                    share = story.term_docs[t] / (story.docs + 1)
                    if share < signature:
                        continue
                    hit = hits.get(key)
                    if hit is None:
                        hit = hits[key] = [story, 0.0, 0, 9.0, 0.0]
                    hit[1] += w * share
                    hit[2] += 1
                    z = item_terms.zipf(t)
                    if z < hit[3]:
                        hit[3] = z
                    if share >= core:
                        hit[4] += w * share
        out = {}
        for key, (story, value, evidence, rarest, core_hit) in hits.items():
            score = value / total
            if score < self.threshold:
                continue
            if evidence < self.min_evidence and rarest >= self.rare_zipf:
                continue  # one shared word joins only if it is a rare one ("Sbarro", not "man" or "Korea")
            if story.docs < self.young_docs:
                if evidence < self.min_evidence or score < self.young_threshold:
                    continue  # a young story has no reliable signature yet: ask for more than one shared word
            elif core_hit < self.core_cover * self._core_mass(story, staged):
                continue
            out[key] = score
        return out

    def _core_mass(self, story: _Story, staged: "_Staged") -> float:
        """Σ idf·share over the story's core words (those in at least CORE_SHARE of its entries)."""
        need = self.core_share * (story.docs + 1)
        staged_df = staged.df
        n_docs = self.n_docs + staged.n_docs
        common = COMMON_SHARE * n_docs if n_docs >= 1000 else None
        mass = 0.0
        for t in story.frequent:
            c = story.term_docs[t]
            if c >= need and (common is None or self.df.get(t, 0) + staged_df.get(t, 0) <= common):
                mass += self._idf(t, staged) * c / (story.docs + 1)
        return mass

    # -- planning -------------------------------------------------------------------------------
    def plan(self, items: list[Candidate]) -> list[Placement]:
        """Where each item goes; items of one batch may join each other's new stories."""
        placements = Plan()
        staged = _Staged()
        new_count = 0
        for item in items:
            title_key = normalized_title(item.title)
            exact = self._exact(item, title_key, staged)
            item_terms = terms(item.title, item.summary, item.language)
            if exact is not None:
                placement = Placement(exact[0], 1.0, exact[1], item_terms, title_key)
            else:
                scores = self._scores(item_terms, item.published_at, staged)
                best = max(scores, key=lambda k: (scores[k], str(k)), default=None)
                best_score = scores.get(best, 0.0)
                if best is not None and best_score >= self.threshold:
                    placement = Placement(best, round(best_score, 4), "similar", item_terms, title_key)
                else:
                    placement = Placement(("new", new_count), 1.0, "new", item_terms, title_key)
                    new_count += 1
            placements.append(placement)
            self._stage(staged, placement.story, item, item_terms, title_key)
        placements.staged = staged
        return placements

    def _exact(self, item: Candidate, title_key: str, staged: "_Staged") -> tuple[object, str] | None:
        syndicated = len(title_key.split()) >= 4  # "Live updates" is not a syndicated headline
        if item.url and item.url in staged.by_url and self._live(staged[staged.by_url[item.url]], item.published_at):
            return staged.by_url[item.url], "url"
        if syndicated and title_key in staged.by_title and self._live(staged[staged.by_title[title_key]], item.published_at):
            return staged.by_title[title_key], "title"
        if item.url and (key := self._by_url.get(item.url)) is not None and self._live(self.stories.get(key), item.published_at):
            return key, "url"
        if syndicated and (key := self._by_title.get(title_key)) is not None and self._live(self.stories.get(key), item.published_at):
            return key, "title"
        return None

    def _stage(self, staged: "_Staged", key: object, item: Candidate, item_terms: set[str], title_key: str) -> None:
        """Record a placement inside a plan (a copy of the story: the index itself is untouched)."""
        if key not in staged:
            base = self.stories.get(key)
            staged[key] = _Story(base.docs, dict(base.term_docs), base.first_seen, base.last_seen,
                                 frequent=set(base.frequent)) if base else _Story()
            if base:
                for t in base.term_docs:
                    staged.postings[t].add(key)
        staged[key].absorb(item_terms, item.published_at)
        df, postings = staged.df, staged.postings
        for t in item_terms:
            df[t] = df.get(t, 0) + 1
            postings[t].add(key)
        staged.n_docs += 1
        if title_key:
            staged.by_title[title_key] = key
        if item.url:
            staged.by_url[item.url] = key

    # -- applying -------------------------------------------------------------------------------
    def commit(self, items: list[Candidate], placements: list[Placement], new_ids: dict[object, object]) -> None:
        """Apply a plan the database stored; `new_ids` maps each ("new", n) key to its story id.

        The plan's staged stories already hold every count the items add (the plan was made against
        this index, and one process applies its plans one at a time): they replace the stories they
        copied instead of the items being counted a second time."""
        staged = getattr(placements, "staged", None)
        if staged is not None and not staged.adopted:
            staged.adopted = True
            self._adopt(staged, items, placements, new_ids)
            return
        for item, placement in zip(items, placements):
            self.add(new_ids.get(placement.story, placement.story), item, placement.terms or None, placement.title_key)

    def _adopt(self, staged: "_Staged", items: list[Candidate], placements: list[Placement],
               new_ids: dict[object, object]) -> None:
        final = {key: new_ids.get(key, key) for key in staged}
        for key, story in staged.items():
            base = self.stories.get(final[key])
            if base is not None:
                story.titles, story.urls = base.titles, base.urls
            self.stories[final[key]] = story
        for t, keys in staged.postings.items():
            posting = self._postings[t]
            for key in keys:
                posting.add(final[key])
        df = self.df
        for t, c in staged.df.items():
            df[t] = df.get(t, 0) + c
        before = self.n_docs
        self.n_docs += staged.n_docs
        for item, placement in zip(items, placements):
            key = final[placement.story]
            self._remember(key, self.stories[key], item, placement.title_key)
        if self.n_docs // EXPIRE_EVERY > before // EXPIRE_EVERY:
            self.expire(self._latest)

    def _remember(self, key: object, story: _Story, item: Candidate, title_key: str | None) -> None:
        """Index an entry's headline and URL for exact-duplicate joins; move the window's "now"."""
        if title_key is None:
            title_key = normalized_title(item.title)
        if title_key:
            story.titles.add(title_key)
            self._by_title[title_key] = key
        if item.url:
            story.urls.add(item.url)
            self._by_url[item.url] = key
        self._latest = max(self._latest or item.published_at, item.published_at)

    def add(self, key: object, item: Candidate, item_terms: frozenset | None = None,
            title_key: str | None = None) -> None:
        """Put an entry into a story (also how the index is warmed from stored entries on start)."""
        story = self.stories.get(key)
        if story is None:
            story = self.stories[key] = _Story()
        if item_terms is None:
            item_terms = terms(item.title, item.summary, item.language)
        df = self.df
        for t in item_terms:
            df[t] = df.get(t, 0) + 1
        self.n_docs += 1
        story.absorb(item_terms, item.published_at)
        for t in item_terms:
            self._postings[t].add(key)
        self._remember(key, story, item, title_key)
        if self.n_docs % EXPIRE_EVERY == 0:  # keep postings short: dead stories cost a check per lookup
            self.expire(self._latest)

    def find_merges(self, keys: set, now: datetime) -> list[tuple[object, object]]:
        """(smaller, larger) pairs of live stories that share their dominant term (see module doc)."""
        merges: list[tuple[object, object]] = []
        gone: set = set()
        for key in keys:
            story = self.stories.get(key)
            if key in gone or story is None or story.docs < 2:
                continue
            top = self._dominant(story)
            if top is None:
                continue
            for other_key in list(self._postings.get(top, ())):
                other = self.stories.get(other_key)
                if other_key == key or other_key in gone or other is None or other.docs < 2:
                    continue
                if not self._live(other, now) or other.term_docs.get(top, 0) / other.docs < self.merge_share:
                    continue
                first = min(filter(None, (story.first_seen, other.first_seen)))
                if max(filter(None, (story.last_seen, other.last_seen))) - first > self.max_age:
                    continue  # merged, it would outlive the age cap
                small, large = (other_key, key) if other.docs <= story.docs else (key, other_key)
                merges.append((small, large))
                gone.add(small)
                if small == key:
                    break
        return merges

    def _dominant(self, story: _Story) -> str | None:
        """The story's most telling term (entries x idf), if at least merge_share of its entries use it."""
        need = self.merge_share * story.docs
        frequent = [(t, story.term_docs[t]) for t in story.frequent if story.term_docs[t] >= need]
        if not frequent:
            return None
        return max(frequent, key=lambda tc: (tc[1] * self._idf(tc[0]), tc[0]))[0]

    def merge(self, small: object, large: object) -> None:
        """Fold story `small` into `large` (after the database did the same)."""
        s = self.stories.pop(small, None)
        target = self.stories.get(large)
        if s is None or target is None:
            return
        target.docs += s.docs
        counts = target.term_docs
        for t, c in s.term_docs.items():
            counts[t] = counts.get(t, 0) + c
        target.refresh_frequent()
        target.last_seen = max(filter(None, (target.last_seen, s.last_seen)))
        target.first_seen = min(filter(None, (target.first_seen, s.first_seen)))
        target.titles |= s.titles
        target.urls |= s.urls
        for t in s.term_docs:
            self._postings[t].discard(small)
            self._postings[t].add(large)
        for title in s.titles:
            self._by_title[title] = large
        for url in s.urls:
            self._by_url[url] = large

    def expire(self, now: datetime) -> int:
        """Forget stories last seen before the window: they can no longer be joined."""
        old = [k for k, s in self.stories.items() if s.last_seen and (
            now - s.last_seen > self.window or (s.first_seen and now - s.first_seen > self.max_age))]
        for key in old:
            story = self.stories.pop(key)
            for t in story.term_docs:
                self._postings[t].discard(key)
            for title in story.titles:
                if self._by_title.get(title) == key:
                    del self._by_title[title]
            for url in story.urls:
                if self._by_url.get(url) == key:
                    del self._by_url[url]
        return len(old)
