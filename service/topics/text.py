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


def fold(text: str) -> str:
    """NFKC + casefold: full-width letters, ligatures and case variants compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """Folded words in order."""
    return _WORD.findall(fold(text))


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))
