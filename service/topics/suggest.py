"""Propose topics from an article: key phrases with scores and ready-to-use queries. Pure.

Two documented statistical methods, combined:
- YAKE! (Campos et al., Information Sciences 2020, via the `yake` package): unsupervised, single-document
  keyphrase scoring from term position, frequency, casing and context dispersion. Lower is better.
- TF-IDF of the article's 2–3 word phrases against the user's own stored entries (document frequency
  from the full-text index), when there are enough of them: phrases frequent here and rare in the news
  at large make good topics, while phrases every story uses ("last year") are pushed down. The IDF is
  damped by 1 - exp(-df/3) so that a phrase nobody else ever wrote ("remained elusive") does not win:
  a topic is only useful if the news keeps using its words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..feeds.normalize import plain_text
from .text import words

# Function words; a phrase starting or ending with one is never a good topic.
STOPWORDS = set("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves since ever last year years new one
two three said says mr ms s t n ca don won isn aren didn doesn hasn haven wasn weren wouldn couldn shouldn may
might must shall would also still yet however although though even well much many like make made
""".split())
MIN_BACKGROUND = 1000  # below this many stored entries, document frequencies say little
INNER_OK = {"of"}  # "republic of korea" is a name; "seoul and tokyo" is two topics


@dataclass(frozen=True)
class Suggestion:
    phrase: str
    score: float  # 0..1, higher is better
    method: str  # "yake", "tf-idf" or "yake+tf-idf"
    query: str
    slug: str
    stored_matches: int | None = None


_BLOCK = re.compile(r"<(script|style|nav|footer|header)\b", re.I)


def _without_blocks(text: str) -> str:
    """The text without its script, style, nav, footer and header elements (each replaced by a space); an
    element never closed is kept as text. One pass: the pattern `<(script|…)\b.*?</\1>` searched to the
    end of the page from every unclosed opening tag, and a page of 8,000 "<script>" took 3.4 s (quadratic;
    a 1 MB page, minutes). Once no closing tag of a kind follows a point, none follows any later one."""
    out: list[str] = []
    pos = 0
    unclosed_after: dict[str, int] = {}  # tag -> a position after which the page has no closing tag of it
    while (m := _BLOCK.search(text, pos)) is not None:
        tag = m.group(1).lower()
        close = None
        if m.end() < unclosed_after.get(tag, len(text) + 1):
            close = re.compile(rf"</{tag}\s*>", re.I).search(text, m.end())
            if close is None:
                unclosed_after[tag] = m.end()
        if close is None:
            out.append(text[pos:m.end()])  # kept as text, as before
            pos = m.end()
            continue
        out.append(text[pos:m.start()] + " ")
        pos = close.end()
    out.append(text[pos:])
    return "".join(out)


_LINE = "\ue000"  # a line break through plain_text


def article_text(body: bytes, content_type: str | None = None) -> str:
    """Readable text from a file or HTTP body (HTML tags stripped, one line per block)."""
    text = body.decode("utf-8", errors="replace")
    if "html" in (content_type or "") or re.search(r"<(html|body|p|div)\b", text[:5000], re.I):
        text = _without_blocks(text)
        text = re.sub(r"(?i)</?(p|div|br|li|h[1-6]|section|article|tr)\b[^>]*>", "\n", text)
        # One parse of the page, its lines kept by a private-use character (plain_text folds newlines): a
        # parse per line cost 13 s on a page of 300,000 short lines.
        text = "\n".join(line.strip() for line in plain_text(_LINE.join(text.splitlines())).split(_LINE))
    return text


def _sentences(text: str) -> str:
    """Lines without final punctuation (headlines, captions) become sentences of their own, so no
    key phrase runs from a headline into the next line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(line if line[-1] in ".!?:;\"'”’" else line + "." for line in lines)


def _clean(phrase: str) -> tuple[str, ...] | None:
    w = tuple(words(phrase))
    if not w or w[0] in STOPWORDS or w[-1] in STOPWORDS or any(len(x) < 2 and not x.isdigit() for x in w):
        return None
    if any(x in STOPWORDS and x not in INNER_OK for x in w[1:-1]):
        return None
    if len(w) == 1 and (len(w[0]) < 4 or w[0] in STOPWORDS):
        return None
    return w


def _ngrams(text: str) -> Counter:
    """2- and 3-word phrases inside sentences, without function words at their edges."""
    counts: Counter = Counter()
    for sentence in re.split(r"[.!?;:\n]+", text):
        w = words(sentence)
        for n in (2, 3):
            for i in range(len(w) - n + 1):
                gram = tuple(w[i:i + n])
                if gram[0] in STOPWORDS or gram[-1] in STOPWORDS or any(len(x) < 2 for x in gram):
                    continue
                if any(x in STOPWORDS and x not in INNER_OK for x in gram[1:-1]):
                    continue
                counts[gram] += 1
    return counts


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    n = len(inner)
    return any(outer[i:i + n] == inner for i in range(len(outer) - n + 1))


def _slug(phrase: tuple[str, ...]) -> str:
    return "-".join(phrase)[:64].strip("-")


def suggest(text: str, *, limit: int = 10, total_docs: int = 0,
            doc_freq: Callable[[str], int] | None = None) -> list[Suggestion]:
    """Rank candidate phrases; `doc_freq(phrase)` counts stored entries containing a phrase."""
    import yake

    text = _sentences(text)
    scores: dict[tuple[str, ...], dict[str, float]] = {}
    extractor = yake.KeywordExtractor(lan="en", n=3, top=40, dedupLim=0.8)
    ranked = extractor.extract_keywords(text)
    for rank, (phrase, value) in enumerate(ranked):
        key = _clean(phrase)
        if key:
            # Rank-based, so scores from the two methods are on one 0..1 scale.
            scores.setdefault(key, {})["yake"] = 1.0 - rank / max(len(ranked), 1)
    background = doc_freq is not None and total_docs >= MIN_BACKGROUND
    if background:
        grams = _ngrams(text)
        idf_max = math.log(total_docs + 1)
        tfidf = {}
        for gram, tf in grams.most_common(200):
            df = doc_freq(" ".join(gram))
            if df == 0:
                continue  # never seen in the news: likely an artefact of this page (a byline, a caption)
            # A topic should recur in the news: a phrase seen once in the whole background is more
            # likely this writer's turn of phrase, so rarity is damped below ~3 occurrences.
            recurrence = 1 - math.exp(-df / 3)
            tfidf[gram] = (1 + math.log(tf)) * math.log((total_docs + 1) / (df + 1)) / idf_max * recurrence
        top = max(tfidf.values(), default=1.0) or 1.0
        for gram, value in tfidf.items():
            scores.setdefault(gram, {})["tf-idf"] = value / top
        for key, parts in scores.items():  # a YAKE phrase that every story uses is not a topic
            if "yake" in parts and "tf-idf" not in parts:
                df = doc_freq(" ".join(key))
                parts["common"] = float(df > total_docs * 0.02 or df == 0)
    combined = []
    for key, parts in scores.items():
        if parts.get("common"):
            continue
        value = (parts.get("yake", 0.0) + parts.get("tf-idf", 0.0)) / (2 if background else 1)
        method = "+".join(m for m in ("yake", "tf-idf") if m in parts)
        combined.append((value, key, method))
    combined.sort(key=lambda x: -x[0])
    chosen: list[tuple[float, tuple[str, ...], str]] = []
    for value, key, method in combined:
        # skip a phrase inside a better one ("supreme court" under "korean supreme court") and vice
        # versa; whole words only, so "south korea" does not swallow "south korean supreme court"
        if any(_contains(k, key) or _contains(key, k) for _, k, _ in chosen):
            continue
        chosen.append((value, key, method))
        if len(chosen) >= limit:
            break
    return [Suggestion(" ".join(k), round(v, 3), m, f'"{" ".join(k)}"' if len(k) > 1 else k[0], _slug(k))
            for v, k, m in chosen]
