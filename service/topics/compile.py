"""Topics -> one matcher. An index of the topics' literal terms picks candidate topics per entry, so
the cost per entry grows with the number of candidates, not with the number of topics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from ..errors import QueryError
from .match import Document, evaluate, score
from .query import And, Near, Node, Not, Or, Term, parse_query
from .text import fold, has_cjk, words


@dataclass(frozen=True)
class TopicSpec:
    """What the matcher needs of a topic (store rows are converted into this)."""

    id: int
    slug: str
    query: str
    exclude: str | None = None
    aliases: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CompiledTopic:
    id: int
    slug: str
    node: Node
    exclude: Node | None


@dataclass(frozen=True)
class MatchResult:
    topic_id: int
    slug: str
    score: float
    terms: list[str]  # labels of the query terms that matched, title hits first


def _synonym_term(text: str, like: Term) -> Term:
    """A synonym is a phrase; a trailing * makes its last word a prefix, as in queries."""
    text = text.strip()
    if has_cjk(text):
        return Term(words=tuple(words(text)), text=" ".join(fold(text).split()), field=like.field, substring=True)
    prefix = text.endswith("*")
    folded = tuple(words(text))
    if not folded:
        raise QueryError(f"The alias {text!r} has no letters or digits")
    if prefix and len(folded[-1]) < 2:
        raise QueryError(f"The alias {text!r} needs at least 2 letters before the *")
    return Term(words=folded, text=" ".join(folded), prefix=prefix, field=like.field)


def expand_aliases(node: Node, aliases: dict[str, list[str]]) -> Node:
    """Replace a term that names an alias group with (term OR each synonym)."""
    if not aliases:
        return node
    table = {" ".join(words(name)): names for name, names in aliases.items()}

    def walk(n: Node) -> Node:
        if isinstance(n, Term):
            synonyms = table.get(n.text) if not n.prefix else None
            if not synonyms:
                return n
            return Or((n, *(_synonym_term(s, n) for s in synonyms)))
        if isinstance(n, Not):
            return Not(walk(n.child))
        if isinstance(n, Near):
            children = []
            for c in n.children:
                w = walk(c)
                # NEAR takes terms or an OR of terms: flatten alias ORs into the child's OR.
                if isinstance(c, Or) and isinstance(w, Or):
                    flat = []
                    for x in w.children:
                        flat.extend(x.children if isinstance(x, Or) else (x,))
                    w = Or(tuple(flat))
                children.append(w)
            return Near(tuple(children), n.distance)
        return type(n)(tuple(walk(c) for c in n.children))

    return walk(node)


def anchors(node: Node) -> frozenset[Term] | None:
    """Terms of which at least one must occur for the node to match (None: no such set)."""
    if isinstance(node, Term):
        return frozenset((node,))
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        out: set[Term] = set()
        for child in node.children:
            sub = anchors(child)
            if sub is None:
                return None
            out |= sub
        return frozenset(out)
    options = [a for a in (anchors(c) for c in node.children) if a is not None]
    if not options:
        return None
    # Fewer anchor terms, phrases over single words, longer words: rarer candidates.
    return min(options, key=lambda a: (len(a), -min(len(t.words) for t in a), -sum(len(t.text) for t in a)))


def compile_topic(spec: TopicSpec) -> CompiledTopic:
    """Parse and check a topic's query and exclusion; raises QueryError with a plain sentence."""
    node = expand_aliases(parse_query(spec.query), spec.aliases or {})
    if anchors(node) is None:
        raise QueryError("The query needs at least one word to look for outside NOT / -", 0, spec.query)
    exclude = None
    if spec.exclude and spec.exclude.strip():
        try:
            exclude = expand_aliases(parse_query(spec.exclude), spec.aliases or {})
        except QueryError as exc:
            raise QueryError(f"In the exclusion: {exc.message}", exc.position, spec.exclude) from exc
    return CompiledTopic(spec.id, spec.slug, node, exclude)


def _index_key(term: Term) -> tuple[str, object]:
    """("word", w) | ("bigram", (w1, w2)) | ("prefix", p) | ("text", s): the literal the candidate index
    looks for. A phrase is indexed by its first two words together, far rarer than either word."""
    if term.substring:
        return ("text", term.text)
    if len(term.words) == 1:
        return ("prefix", term.words[0]) if term.prefix else ("word", term.words[0])
    if len(term.words) == 2 and term.prefix:
        return ("word", term.words[0])
    return ("bigram", (term.words[0], term.words[1]))


class Matcher:
    """All active topics compiled once. `match(doc)` returns the topics the document matches."""

    def __init__(self, specs: list[TopicSpec], *, on_error=None):  # noqa: ANN001
        self.topics: dict[int, CompiledTopic] = {}
        self.errors: dict[str, str] = {}
        self._by_word: dict[str, set[int]] = defaultdict(set)
        self._by_bigram: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._by_prefix: dict[str, set[int]] = defaultdict(set)
        self._prefix_lengths: set[int] = set()
        self._automaton = ahocorasick.Automaton()
        texts: dict[str, set[int]] = defaultdict(set)
        for spec in specs:
            try:
                topic = compile_topic(spec)
            except QueryError as exc:
                # One broken topic never stops matching for the others.
                self.errors[spec.slug] = str(exc)
                if on_error:
                    on_error(spec, exc)
                continue
            self.topics[topic.id] = topic
            for term in anchors(topic.node) or ():
                kind, key = _index_key(term)
                if kind == "word":
                    self._by_word[key].add(topic.id)
                elif kind == "bigram":
                    self._by_bigram[key].add(topic.id)
                elif kind == "prefix":
                    self._by_prefix[key].add(topic.id)
                    self._prefix_lengths.add(len(key))
                else:
                    texts[key].add(topic.id)
        for text, ids in texts.items():
            self._automaton.add_word(text, frozenset(ids))
        self._has_texts = bool(texts)
        if self._has_texts:
            self._automaton.make_automaton()
        self._lengths = sorted(self._prefix_lengths)

    def __len__(self) -> int:
        return len(self.topics)

    def candidates(self, doc: Document) -> set[int]:
        found: set[int] = set()
        by_word, by_prefix, lengths = self._by_word, self._by_prefix, self._lengths
        if self._by_bigram:
            by_bigram = self._by_bigram
            for pair in doc.bigrams():
                ids = by_bigram.get(pair)
                if ids:
                    found |= ids
        for word in doc.vocabulary():
            ids = by_word.get(word)
            if ids:
                found |= ids
            for n in lengths:
                if n > len(word):
                    break
                ids = by_prefix.get(word[:n])
                if ids:
                    found |= ids
        if self._has_texts:
            for name in ("title", "summary", "source"):
                text = doc.texts.get(name)
                if text:
                    for _end, ids in self._automaton.iter(text):
                        found |= ids
        return found

    def match(self, doc: Document) -> list[MatchResult]:
        results = []
        for topic_id in self.candidates(doc):
            topic = self.topics[topic_id]
            hits: set[tuple[str, str]] = set()
            if not evaluate(topic.node, doc, hits):
                continue
            if topic.exclude is not None and evaluate(topic.exclude, doc, None):
                continue
            ordered = sorted({label for label, name in hits if name == "title"}) + sorted(
                {label for label, name in hits} - {label for label, name in hits if name == "title"})
            results.append(MatchResult(topic.id, topic.slug, score(hits), ordered))
        results.sort(key=lambda r: r.topic_id)
        return results
