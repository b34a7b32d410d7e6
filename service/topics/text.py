"""Text normalization shared by queries and documents, so both sides agree on what a "word" is."""

from __future__ import annotations

import re
import unicodedata

# Letters and digits of any script; "_" is punctuation here. Apostrophes split ("Japan's" -> japan, s),
# hyphens split ("forced-labor" -> forced, labor), which is what lets a phrase match either spelling.
_WORD = re.compile(r"[^\W_]+")
# Scripts written without spaces between words (or with particles glued on, as Korean does): a
# query term in one of these matches as a substring of the text.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\uf900-\ufaff]")


# The same scripts for the full-text index, without the katakana middle dot (punctuation, "ムン・ジェイン").
_CJK_RUN = re.compile(r"[\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u1100-\u11ff"
                      r"\u3130-\u318f\uf900-\ufaff]+")


def fold(text: str) -> str:
    """NFKC + casefold: full-width letters, ligatures and case variants compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """Folded words in order."""
    return _WORD.findall(fold(text))


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def index_text(text: str | None) -> str | None:
    """Text as the full-text engines should read it: each run of Korean, Japanese or Chinese characters
    becomes its overlapping character pairs ("지소미아를" -> "지소 소미 미아 아를"), so a search for a word
    inside a run (지소미아, 徴用工) finds it as a phrase of pairs. Neither SQLite's unicode61 nor PostgreSQL's
    'simple' parser splits these scripts (a whole Japanese sentence is one token). Pairs rather than a
    dictionary segmenter because PostgreSQL must compute the same thing in its generated column
    (migration 0010's followup_index_text); it is what Lucene's CJK analyzer does. Text without these
    scripts is returned unchanged; text with them is NFKC-normalized first (full-width letters)."""
    if not text or not _CJK.search(text):
        return text
    return _CJK_RUN.sub(_pairs, unicodedata.normalize("NFKC", text))


def _pairs(match: re.Match) -> str:
    run = match.group()
    if len(run) == 1:
        return f" {run} "
    return " " + " ".join(run[i:i + 2] for i in range(len(run) - 1)) + " "


def search_words(word: str) -> tuple[str, ...]:
    """One folded search word as the index holds it: itself, or its character pairs (see index_text)."""
    return tuple(words(index_text(word) or "")) if has_cjk(word) else (word,)


_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def readable(title: str, summary: str) -> bool:
    """Whether the English model can read the entry: at least half its letters Latin. A Korean headline
    compared with an English description scores 0.05–0.25 whatever it says, so for one the model cannot
    read, meaning is not measured and a topic's query decides (a guard would drop every alias match)."""
    text = f"{title or ''} {summary or ''}"[:2000]
    letters = len(_LETTER.findall(text))
    return letters == 0 or len(_LATIN.findall(text)) * 2 >= letters
