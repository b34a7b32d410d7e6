"""Matching by meaning: how close an entry is to what a topic says about itself. Pure, given vectors.

A boolean query finds what its author thought of. Real coverage says the same thing in other words
("curbs on exports of chip chemicals" without "export control"), and users write worse queries than the
seed authors. So a topic may also carry a plain-language description and example items; an entry's
*similarity* to the topic is its cosine, in the sentence-embedding model's space
(service/stories/meaning.py: all-MiniLM-L6-v2, from a PyPI package, run on the CPU), to the closest of
them. How the similarity and the query combine is the topic's `meaning`:

- ``off``: the query alone (every topic before issue 14, and every topic when the model is absent);
- ``guard``: the query is required, and the similarity must reach the threshold less EASING (the query's
  false alarms that look nothing like the topic are dropped);
- ``boost``: the similarity reaching the threshold suffices, and a query match lowers the bar by EASING
  (recall the query loses, precision the query brings);
- ``only``: the similarity alone (a topic may have no query at all).

Cost: the model costs about 0.5 GFLOP per entry (six BERT layers over ~64 word pieces), so this 2-core
machine encodes a few hundred entries a second at best: far too slow for every entry of 50,000 feeds.
An entry is therefore only compared with a topic it shares a *gate* word with: the topic's anchor terms
(at least one of which its query needs: "japan", "gsomia") and the rare words of its description and
examples (a name like "Kishida", a term like "photoresist"). A report of a subject in other words still
names the subject's actors; one that names none of them is not found by meaning either. Measured in
bench/topics_eval.py and docs/topics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .text import has_cjk, words

MODES = ("off", "guard", "boost", "only")
SIMILARITY = 0.60  # default threshold: the cosine to the closest description/example (seed labels, desc-only: 0.58–0.60)
EASING = 0.10  # a query match lowers the threshold by this much (guard and boost)
# A description/example word rarer than this (wordfreq's Zipf scale: "Korean" 4.5, "export" 4.2, "summit"
# 4.3 are in; "Japan" 4.9, "talks" 4.6, "war" 5.5 are not) opens the gate; as a prefix when it has five
# letters or more ("export" opens for "exports", "exported").
GATE_ZIPF = 4.5
# A topic without a query has no anchor terms: its own words open the gate up to this ("forced" 4.8,
# "labor" 4.8, "Japanese" 4.8 are in; "court" 5.4, "plan" 5.4 are not).
GATE_ZIPF_ALONE = 5.0
GATE_ZIPF_EXAMPLES = 3.5  # an example item's words: only names and terms ("Kishida", "photoresist")
# Words a description uses about itself ("Everything in the topics above belongs here"), not its subject.
META_WORDS = frozenset("topic topics item items article articles story stories belongs belong substantially "
                       "including includes mention mentions passing aimed related relevant".split())
MAX_EXAMPLES = 50
MAX_EXAMPLE_CHARS = 2_000


def check_mode(mode: str | None) -> str:
    mode = (mode or "off").strip().lower()
    if mode not in MODES:
        raise ValueError(f"meaning must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def clean_examples(examples: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Example items as given (headline, or headline and text), trimmed; blanks and repeats dropped."""
    out: list[str] = []
    for text in examples or ():
        text = " ".join(str(text).split())[:MAX_EXAMPLE_CHARS]
        if text and text not in out:
            out.append(text)
    if len(out) > MAX_EXAMPLES:
        raise ValueError(f"a topic takes at most {MAX_EXAMPLES} examples ({len(out)} given)")
    return tuple(out)


def entry_text(title: str, summary: str) -> str:
    """What the model reads of an entry: its headline, then its text (the model stops at 64 word pieces)."""
    title, summary = (title or "").strip(), (summary or "").strip()
    if summary and not summary.startswith(title):
        return f"{title}. {summary}"[:MAX_EXAMPLE_CHARS] if title else summary[:MAX_EXAMPLE_CHARS]
    return (summary or title)[:MAX_EXAMPLE_CHARS]


def profile_texts(name: str, description: str, examples: tuple[str, ...]) -> list[str]:
    """The texts a topic is compared by: its name and description as one, then each example."""
    head = ". ".join(t for t in ((name or "").strip(), (description or "").strip()) if t)
    return ([head] if head else []) + list(examples)


# Rarity is judged in the language of the text the word comes from: an example item in Polish made every
# Polish word look "rare" by English counts, and the gate opened for all Polish news. The text's language
# is the one of these in which its words are most common (wordfreq's lists); CJK words are kept whole
# whatever their frequency (they match as substrings, and wordfreq's segmenters for them are slow to load).
RARITY_LANGUAGES = ("en", "pl", "de", "fr", "es", "it", "pt", "nl", "sv", "ru", "uk", "tr", "id", "vi")


@lru_cache(maxsize=200_000)
def _zipf(word: str, lang: str = "en", wordlist: str = "best") -> float:
    """The word's Zipf frequency in `lang` (7 = "the", below 3.5 = rare)."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover - a dependency
        return 0.0
    return zipf_frequency(word, lang, wordlist=wordlist)


def language(ws: list[str]) -> str:
    """The language of RARITY_LANGUAGES whose word counts know these words best (English on a tie).
    Judged on wordfreq's small lists (the common words decide, and all 14 small lists take ~60 MB where
    the full ones take ~500 MB); rarity is then read from the full list of that one language."""
    plain = [w for w in ws if not has_cjk(w) and not w.isdigit()]
    if not plain:
        return "en"
    return max(RARITY_LANGUAGES, key=lambda lang: (sum(_zipf(w, lang, "small") for w in plain), lang == "en"))


def rare_words(*texts: str, zipf: float = GATE_ZIPF) -> set[str]:
    """Words of the texts rare enough, in each text's own language, to name a subject; CJK runs are
    kept whole."""
    out: set[str] = set()
    for text in texts:
        ws = words(text or "")
        lang = language(ws)
        for w in ws:
            if has_cjk(w) or (len(w) >= 3 and not w.isdigit() and w not in META_WORDS and _zipf(w, lang) < zipf):
                out.add(w)
    return out


def similarity(vector, profile) -> float:  # noqa: ANN001
    """The cosine to the topic's closest description or example (unit vectors; `profile` is rows)."""
    if profile is None or len(profile) == 0:
        return 0.0
    return float((profile @ vector).max())


def decide(mode: str, query_hit: bool, score: float | None, threshold: float) -> bool:
    """Whether the entry matches, from the query's verdict and the similarity (None: not measured)."""
    if mode == "off" or score is None:
        return query_hit and mode != "only"
    if mode == "guard":
        return query_hit and score >= threshold - EASING
    if mode == "boost":
        return score >= threshold or (query_hit and score >= threshold - EASING)
    return score >= threshold  # only


@dataclass(frozen=True)
class Verdict:
    """Why an entry matched or not, for `topics explain`."""

    mode: str
    query_hit: bool
    similarity: float | None
    threshold: float
    closest: str  # the description or example it was closest to
    matched: bool

    def sentence(self) -> str:
        if self.mode == "off":
            return "This topic matches by its query alone."
        if self.similarity is None:
            return ("Meaning was not measured: the entry shares no gate word with the topic (its anchor terms "
                    "and the rare words of its description and examples), it is written mostly in a script the "
                    "English model cannot read (Korean, Japanese, Chinese, …: the query decides), or no model is "
                    "installed.")
        bar = self.threshold - EASING if self.query_hit and self.mode in ("guard", "boost") else self.threshold
        return (f"Similarity {self.similarity:.2f} to {self.closest[:80]!r} "
                f"({'at least' if self.similarity >= bar else 'below'} the {bar:.2f} needed, meaning {self.mode}, "
                f"query {'matched' if self.query_hit else 'did not match'}): "
                f"{'matches' if self.matched else 'does not match'}.")
