"""Evaluate a parsed query against one document. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from .query import And, Near, Node, Not, Or, Term
from .text import fold, words

BODY_FIELDS = ("title", "summary")  # where an unscoped term looks; source: must be asked for
# A hit in the headline says more about what an article is about than one in its summary.
FIELD_WEIGHTS = {"title": 3.0, "summary": 1.0, "source": 0.5}


@dataclass
class Document:
    """An entry as the matcher sees it: folded words (with positions) and folded text per field."""

    words: dict[str, list[str]]
    texts: dict[str, str]
    _positions: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # title and summary as given (what the model reads)

    def positions(self, name: str) -> dict[str, list[int]]:
        cached = self._positions.get(name)
        if cached is None:
            cached = {}
            for i, word in enumerate(self.words.get(name, ())):
                cached.setdefault(word, []).append(i)
            self._positions[name] = cached
        return cached

    def vocabulary(self) -> set[str]:
        vocab: set[str] = set()
        for seq in self.words.values():
            vocab.update(seq)
        return vocab

    def bigrams(self) -> set[tuple[str, str]]:
        """Adjacent word pairs within each field (what phrase anchors are indexed by)."""
        pairs: set[tuple[str, str]] = set()
        for seq in self.words.values():
            pairs.update(zip(seq, seq[1:]))
        return pairs


def make_document(title: str, summary: str = "", source: str = "") -> Document:
    texts = {"title": fold(title or ""), "summary": fold(summary or ""), "source": fold(source or "")}
    return Document(
        words={"title": words(title or ""), "summary": words(summary or ""), "source": words(source or "")},
        texts=texts,
        raw={"title": title or "", "summary": summary or ""},
    )


def _spans(term: Term, doc: Document, name: str) -> list[tuple[int, int]]:
    """(start, end) word positions where the term occurs in one field; end is exclusive."""
    if term.substring:
        text = doc.texts.get(name, "")
        if term.text not in text:
            return []
        # Position of the substring in word units, so NEAR works across scripts.
        spans, start = [], text.find(term.text)
        while start != -1 and len(spans) < 64:
            index = len(words(text[:start]))
            spans.append((index, index + max(1, len(term.words))))
            start = text.find(term.text, start + 1)
        return spans
    positions = doc.positions(name)
    first = term.words[0]
    if len(term.words) == 1:
        if term.prefix:
            return [(p, p + 1) for w, ps in positions.items() if w.startswith(first) for p in ps]
        return [(p, p + 1) for p in positions.get(first, ())]
    seq = doc.words.get(name, [])
    n = len(term.words)
    out = []
    for start in positions.get(first, ()):
        if start + n > len(seq):
            continue
        ok = all(seq[start + k] == term.words[k] for k in range(1, n - 1))
        last = seq[start + n - 1]
        if ok and (last.startswith(term.words[-1]) if term.prefix else last == term.words[-1]):
            out.append((start, start + n))
    return out


def _fields(term: Term) -> tuple[str, ...]:
    return (term.field,) if term.field else BODY_FIELDS


def evaluate(node: Node, doc: Document, hits: set[tuple[str, str]] | None) -> bool:
    """True if the node matches. Positive term hits are added to `hits` as (label, field)."""
    if isinstance(node, Term):
        found = False
        for name in _fields(node):
            if _spans(node, doc, name):
                found = True
                if hits is None:
                    return True
                hits.add((node.label(), name))
        return found
    if isinstance(node, And):
        local: set[tuple[str, str]] = set()
        for child in node.children:
            if not evaluate(child, doc, local if hits is not None else None):
                return False
        if hits is not None:
            hits |= local
        return True
    if isinstance(node, Or):
        any_true = False
        for child in node.children:
            if evaluate(child, doc, hits):
                any_true = True
                if hits is None:
                    return True
        return any_true
    if isinstance(node, Not):
        return not evaluate(node.child, doc, None)
    if isinstance(node, Near):
        return _near(node, doc, hits)
    raise TypeError(f"unknown query node {node!r}")


def _child_spans(child: Node, doc: Document, name: str) -> list[tuple[int, int, str]]:
    terms = child.children if isinstance(child, Or) else (child,)
    out = []
    for term in terms:
        if name in _fields(term):
            out.extend((s, e, term.label()) for s, e in _spans(term, doc, name))
    return out


def _near(node: Near, doc: Document, hits: set[tuple[str, str]] | None) -> bool:
    """Each neighbour pair in the chain within `distance` words of each other, in either order."""
    matched = False
    names = {name for c in node.children for t in (c.children if isinstance(c, Or) else (c,)) for name in _fields(t)}
    for name in (n for n in ("title", "summary", "source") if n in names):
        spans = []
        for c in node.children:
            found = _child_spans(c, doc, name)
            if not found:
                break
            spans.append(found)
        if len(spans) < len(node.children):
            continue
        ok, labels = True, set()
        for left, right in zip(spans, spans[1:]):
            pair = next(
                ((a, b) for a in left for b in right
                 if (b[0] - a[1] if b[0] >= a[1] else a[0] - b[1]) <= node.distance),
                None,
            )
            if pair is None:
                ok = False
                break
            labels.update((pair[0][2], pair[1][2]))
        if ok:
            matched = True
            if hits is None:
                return True
            hits.update((label, name) for label in labels)
    return matched


def score(hits: set[tuple[str, str]]) -> float:
    """Sum of field weights over distinct terms, each term counted in its best field."""
    best: dict[str, float] = {}
    for label, name in hits:
        best[label] = max(best.get(label, 0.0), FIELD_WEIGHTS.get(name, 1.0))
    return round(sum(best.values()), 3)
