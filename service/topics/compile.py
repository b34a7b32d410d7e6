"""Topics -> one matcher. An index of the topics' literal terms picks candidate topics per entry, so
the cost per entry grows with the number of candidates, not with the number of topics."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from ..errors import QueryError
from .match import Document, evaluate, score
from .query import Near, Node, Not, Or, Term, parse_query
from .semantic import (GATE_ZIPF, GATE_ZIPF_ALONE, GATE_ZIPF_EXAMPLES, SIMILARITY, check_mode, decide, entry_text,
                       profile_texts, rare_words, similarity)
from .text import fold, has_cjk, readable, words

log = logging.getLogger("followup.topics")


@dataclass(frozen=True)
class TopicSpec:
    """What the matcher needs of a topic (store rows are converted into this)."""

    id: int
    slug: str
    query: str
    exclude: str | None = None
    aliases: dict[str, list[str]] = field(default_factory=dict)
    # Matching by meaning (service/topics/semantic.py): how query and similarity combine, and with what.
    meaning: str = "off"
    name: str = ""
    description: str = ""
    examples: tuple[str, ...] = ()
    similarity: float | None = None


@dataclass(frozen=True)
class CompiledTopic:
    id: int
    slug: str
    node: Node | None  # None: a topic that matches by meaning only and has no query
    exclude: Node | None
    meaning: str = "off"
    threshold: float = SIMILARITY


@dataclass(frozen=True)
class MatchResult:
    topic_id: int
    slug: str
    score: float
    terms: list[str]  # labels of the query terms that matched, title hits first
    similarity: float | None = None  # the entry's similarity to the topic, when it was measured


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


def anchors(node: Node, *, gate: bool = False) -> frozenset[Term] | None:
    """Terms of which at least one must occur for the node to match (None: no such set). With `gate`, an
    AND contributes every conjunct's set that names an actor (at most GATE_GROUP terms: "japan OR
    japanese OR tokyo"), not only its rarest: the meaning gate of "japan korea "export control*"" opens
    for "Tokyo restricts photoresist shipments to Korean chipmakers" (service/topics/semantic.py)."""
    if isinstance(node, Term):
        return frozenset((node,))
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        out: set[Term] = set()
        for child in node.children:
            sub = anchors(child, gate=gate)
            if sub is None:
                return None
            out |= sub
        return frozenset(out)
    options = [a for a in (anchors(c, gate=gate) for c in node.children) if a is not None]
    if not options:
        return None
    small = [a for a in options if len(a) <= GATE_GROUP] if gate else []
    if small:
        return frozenset().union(*small)
    # Fewer anchor terms, phrases over single words, longer words: rarer candidates.
    return min(options, key=lambda a: (len(a), -min(len(t.words) for t in a), -sum(len(t.text) for t in a)))


GATE_GROUP = 6


def compile_topic(spec: TopicSpec) -> CompiledTopic:
    """Parse and check a topic's query and exclusion; raises QueryError with a plain sentence."""
    try:
        mode = check_mode(spec.meaning)
    except ValueError as exc:
        raise QueryError(f"The topic's {exc}") from exc
    if mode == "only" and not (spec.query or "").strip():
        node = None  # matches by meaning alone
        if not (spec.description or "").strip() and not spec.examples:
            raise QueryError("A topic without a query needs a description or examples to match by meaning")
    else:
        node = expand_aliases(parse_query(spec.query), spec.aliases or {})
        if anchors(node) is None:
            raise QueryError("The query needs at least one word to look for outside NOT / -", 0, spec.query)
    threshold = SIMILARITY if spec.similarity is None else float(spec.similarity)
    if not 0.0 < threshold < 1.0:
        raise QueryError(f"The similarity threshold must be between 0 and 1, not {threshold}")
    exclude = None
    if spec.exclude and spec.exclude.strip():
        try:
            exclude = expand_aliases(parse_query(spec.exclude), spec.aliases or {})
        except QueryError as exc:
            raise QueryError(f"In the exclusion: {exc.message}", exc.position, spec.exclude) from exc
    return CompiledTopic(spec.id, spec.slug, node, exclude, mode, threshold)


def gate_terms(topic: CompiledTopic, spec: TopicSpec) -> set[Term]:
    """What opens a topic's meaning test for an entry (service/topics/semantic.py): its anchor terms (the
    rarest word of each) and the rare words of its name, description and examples."""
    out: set[Term] = set()
    for term in (anchors(topic.node, gate=True) or ()) if topic.node is not None else ():
        if term.substring:
            out.add(term)
            continue
        pool = [w for w in term.words if len(w) >= 3] or list(term.words)
        from .semantic import _zipf

        word = min(pool, key=_zipf)
        out.add(Term(words=(word,), text=word, prefix=term.prefix and len(term.words) == 1))
    zipf = GATE_ZIPF if topic.node is not None else GATE_ZIPF_ALONE
    # An example is a whole item: its everyday words would open the gate for half the news (measured: the
    # hold-out bench's examples, real items with their text, tripled the entries encoded), so only its
    # rare words (names, terms) count.
    words_ = rare_words(spec.name, spec.description, zipf=zipf) | rare_words(*spec.examples, zipf=GATE_ZIPF_EXAMPLES)
    for word in sorted(words_):
        if has_cjk(word):
            out.add(Term(words=(word,), text=word, substring=True))
        else:
            out.add(Term(words=(word,), text=word, prefix=len(word) >= 5))
    return out


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


def _merge(bounds: dict[str, tuple[bool, bool]], literal: str, new: tuple[bool, bool]) -> None:
    """A literal found by several kinds of term needs only the weakest of their word bounds."""
    old = bounds.get(literal)
    bounds[literal] = new if old is None else (old[0] and new[0], old[1] and new[1])


class _TermIndex:
    """Literal terms -> topic ids: which topics a document could concern, in time linear in the document."""

    def __init__(self) -> None:
        self._by_word: dict[str, set[int]] = defaultdict(set)
        self._by_bigram: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._by_prefix: dict[str, set[int]] = defaultdict(set)
        self._texts: dict[str, set[int]] = defaultdict(set)
        self._automaton = None
        self._lengths: list[int] = []

    def add(self, term: Term, topic_id: int) -> None:
        kind, key = _index_key(term)
        if kind == "word":
            self._by_word[key].add(topic_id)
        elif kind == "bigram":
            self._by_bigram[key].add(topic_id)
        elif kind == "prefix":
            self._by_prefix[key].add(topic_id)
        else:
            self._texts[key].add(topic_id)

    def literals(self) -> dict[str, tuple[bool, bool]]:
        """Every literal a candidate needs one of, in a field's folded text -> (must start a word, must end one):
        a word or a phrase's first word is a whole word, a prefix starts one, a text term is anywhere. (A
        document's words are the maximal runs of letters and digits of its folded text.)"""
        out: dict[str, tuple[bool, bool]] = {}
        kinds = [(self._by_word, (True, True)), ((pair[0] for pair in self._by_bigram), (True, True)),
                 (self._by_prefix, (True, False)), (self._texts, (False, False))]
        for literals, bounds in kinds:
            for literal in literals:
                _merge(out, literal, bounds)
        return out

    def freeze(self) -> None:
        if self._texts:
            self._automaton = ahocorasick.Automaton()
            for text, ids in self._texts.items():
                self._automaton.add_word(text, frozenset(ids))
            self._automaton.make_automaton()
        self._lengths = sorted({len(k) for k in self._by_prefix})

    def candidates(self, doc: Document) -> set[int]:
        found: set[int] = set()
        by_word, by_prefix, lengths = self._by_word, self._by_prefix, self._lengths
        if self._by_bigram:
            by_bigram = self._by_bigram
            for pair in doc.bigrams():
                ids = by_bigram.get(pair)
                if ids:
                    found |= ids
        if by_word or lengths:
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
        if self._automaton is not None:
            for name in ("title", "summary", "source"):
                text = doc.texts.get(name)
                if text:
                    for _end, ids in self._automaton.iter(text):
                        found |= ids
        return found


class Matcher:
    """All active topics compiled once. `match(doc)` returns the topics the document matches.

    `encoder` (texts -> unit row vectors; service.stories.meaning.encoder) turns on matching by meaning
    for the topics that ask for it; without it they match by their query alone (and a topic with no
    query matches nothing), which `notices` says."""

    def __init__(self, specs: list[TopicSpec], *, on_error=None, encoder=None, measure: bool = False):  # noqa: ANN001
        self.topics: dict[int, CompiledTopic] = {}
        self.errors: dict[str, str] = {}
        self.notices: dict[str, str] = {}
        self.encoder = encoder
        self.profiles: dict[int, tuple[object, list[str]]] = {}  # topic id -> (rows, their texts)
        self._query_index = _TermIndex()
        self._gate_index = _TermIndex()
        self._screen = None  # could_match's automaton, built when first asked
        wanted: list[tuple[CompiledTopic, TopicSpec, list[str]]] = []  # topics to measure, with their texts
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
            if topic.node is not None:
                for term in anchors(topic.node) or ():
                    self._query_index.add(term, topic.id)
            texts = profile_texts(spec.name, spec.description, tuple(spec.examples or ()))
            if topic.meaning == "off":
                # `measure`: a query-only topic's similarities too (backtests list near misses)
                if measure and encoder is not None and texts:
                    wanted.append((topic, spec, texts))
                continue
            if encoder is None or not texts:
                self.notices[spec.slug] = (
                    f"Topic {spec.slug} asks to match by meaning, but " +
                    ("no sentence-embedding model is installed (pip install -e '.[meaning]')" if encoder is None
                     else "it has no description or examples") +
                    (": it matches by its query alone." if topic.node is not None else ": it matches nothing."))
                continue
            wanted.append((topic, spec, texts))
        for (topic, spec, texts), rows in zip(wanted, self._encode_profiles([w[2] for w in wanted])):
            if isinstance(rows, Exception):
                if topic.meaning != "off":
                    self.notices[spec.slug] = (f"Topic {spec.slug}'s description and examples could not be "
                                               f"encoded ({type(rows).__name__}: {rows}): it matches by its "
                                               "query alone.")
                continue
            self.profiles[topic.id] = (rows, texts)
            for term in gate_terms(topic, spec):
                self._gate_index.add(term, topic.id)
        self._query_index.freeze()
        self._gate_index.freeze()

    def _encode_profiles(self, groups: list[list[str]]) -> list:
        """Each topic's profile rows, encoded in one batch (a thousand topics' profiles one topic at a
        time took 5 s); if that fails, topic by topic, so one topic's failure (an Exception in its
        place) never stops the others."""
        if not groups:
            return []
        try:
            rows = self.encoder([t for texts in groups for t in texts])
        except Exception:  # noqa: BLE001 - find the topic that fails
            rows = None
        out: list = []
        start = 0
        for texts in groups:
            if rows is not None:
                out.append(rows[start:start + len(texts)])
                start += len(texts)
                continue
            try:
                out.append(self.encoder(texts))
            except Exception as exc:  # noqa: BLE001 - one topic's profile never stops the others
                out.append(exc)
        return out

    def __len__(self) -> int:
        return len(self.topics)

    def candidates(self, doc: Document) -> set[int]:
        return self._query_index.candidates(doc) | self._gate_index.candidates(doc)

    def could_match(self, title: str, summary: str = "", source: str = "") -> bool:
        """False only when no topic can match the entry: none of the literals any topic is found by occurs,
        as a word or the start of one (text terms anywhere), in its folded text. One automaton scan, so a
        backlog of mostly unrelated entries (a new or edited topic, a backtest) skips splitting their words;
        `match_many` decides for the rest."""
        if self._screen is None:
            literals: dict[str, tuple[bool, bool]] = {}
            for index in (self._query_index, self._gate_index):
                for literal, bounds in index.literals().items():
                    _merge(literals, literal, bounds)
            screen = ahocorasick.Automaton()
            for literal, (start_bound, end_bound) in literals.items():
                screen.add_word(literal, (len(literal), start_bound, end_bound))
            if literals:
                screen.make_automaton()
            self._screen = screen if literals else False
        if self._screen is False:
            return False
        for text in (title, summary, source):
            if not text:
                continue
            folded = fold(text)
            last = len(folded) - 1
            for end, (length, start_bound, end_bound) in self._screen.iter(folded):
                begin = end - length + 1
                if start_bound and begin > 0 and folded[begin - 1].isalnum():
                    continue
                if end_bound and end < last and folded[end + 1].isalnum():
                    continue
                return True
        return False

    def _query(self, topic: CompiledTopic, doc: Document) -> tuple[bool, set[tuple[str, str]]]:
        hits: set[tuple[str, str]] = set()
        if topic.node is None or not evaluate(topic.node, doc, hits):
            return False, hits
        return True, hits

    def match(self, doc: Document) -> list[MatchResult]:
        return self.match_many([doc])[0]

    def match_many(self, docs: list[Document]) -> list[list[MatchResult]]:
        """Each document's matches. Entries that need a similarity are encoded together, in one batch."""
        pending: list[tuple[int, CompiledTopic, bool, set]] = []  # (doc index, topic, query hit, hits)
        results: list[list[MatchResult]] = [[] for _ in docs]
        gated_docs: set[int] = set()
        for n, doc in enumerate(docs):
            gated = self._gate_index.candidates(doc) if self.profiles and _readable(doc) else set()
            for topic_id in self._query_index.candidates(doc) | gated:
                topic = self.topics[topic_id]
                hit, hits = self._query(topic, doc)
                measured = topic_id in gated and topic_id in self.profiles and topic.meaning != "off"
                if (hit or measured) and topic.exclude is not None and evaluate(topic.exclude, doc, None):
                    continue  # an exclusion is final, whatever the meaning
                if measured:
                    if hit or topic.meaning != "guard":
                        pending.append((n, topic, hit, hits))
                        gated_docs.add(n)
                elif hit and (topic.meaning != "only" or topic_id not in self.profiles):
                    results[n].append(_result(topic, hits, None))  # not measured: the query alone
        if pending:
            order = sorted(gated_docs)
            try:
                vectors = self.encoder([entry_text(docs[n].raw.get("title", ""), docs[n].raw.get("summary", ""))
                                        for n in order])
            except Exception as exc:  # noqa: BLE001 - a broken model must not lose the feed document
                log.warning("matching by meaning failed (%s: %s); these entries are matched by their topics' "
                            "queries alone", type(exc).__name__, exc)
                vectors = None
            row = {n: i for i, n in enumerate(order)}
            for n, topic, hit, hits in pending:
                value = None if vectors is None else similarity(vectors[row[n]], self.profiles[topic.id][0])
                if decide(topic.meaning, hit, value, topic.threshold):
                    results[n].append(_result(topic, hits, value))
        for found in results:
            found.sort(key=lambda r: r.topic_id)
        return results

    def similarities(self, docs: list[Document]) -> list[dict[int, float]]:
        """Each document's similarity to every meaning topic it shares a gate word with, matched or not
        (near misses in backtests)."""
        gated = [{t for t in self._gate_index.candidates(doc) if t in self.profiles}
                 if self.profiles and _readable(doc) else set() for doc in docs]
        order = [n for n, g in enumerate(gated) if g]
        out: list[dict[int, float]] = [{} for _ in docs]
        if not order:
            return out
        vectors = self.encoder([entry_text(docs[n].raw.get("title", ""), docs[n].raw.get("summary", "")) for n in order])
        for vector, n in zip(vectors, order):
            out[n] = {t: similarity(vector, self.profiles[t][0]) for t in gated[n]}
        return out

    def closest(self, topic_id: int, doc: Document) -> tuple[float, str] | None:
        """The entry's similarity to the topic and the description/example it is closest to (explain);
        None when the topic has no meaning profile or the entry shares no gate word with it."""
        if topic_id not in self.profiles or not _readable(doc) or topic_id not in self._gate_index.candidates(doc):
            return None
        rows, texts = self.profiles[topic_id]
        vector = self.encoder([entry_text(doc.raw.get("title", ""), doc.raw.get("summary", ""))])[0]
        cosines = rows @ vector
        best = int(cosines.argmax())
        return float(cosines[best]), texts[best]


def _result(topic: CompiledTopic, hits: set[tuple[str, str]], value: float | None) -> MatchResult:
    ordered = sorted({label for label, name in hits if name == "title"}) + sorted(
        {label for label, name in hits} - {label for label, name in hits if name == "title"})
    query_score = score(hits) if hits else 0.0
    if value is not None:
        ordered.append(f"meaning {value:.2f}")
        # A match the query alone would not have made ranks by its similarity (0.5 ~ one title word).
        query_score = max(query_score, round(value * 6.0, 3))
    return MatchResult(topic.id, topic.slug, query_score, ordered, value)


def matcher_for(specs: list[TopicSpec], *, on_error=None, measure: bool = False) -> Matcher:  # noqa: ANN001
    """A Matcher with the sentence-embedding model when any topic matches by meaning (or, with `measure`,
    has a description or examples to measure similarity by) and the model is installed and enabled
    (FOLLOWUP_MEANING); the model is not loaded for query-only topics."""
    encoder = None
    if any(check_mode_safe(s.meaning) != "off" or (measure and (s.description or s.examples)) for s in specs):
        from ..stories.meaning import encoder as load_encoder

        encoder = load_encoder()
    return Matcher(specs, on_error=on_error, encoder=encoder, measure=measure)


def check_mode_safe(mode: str | None) -> str:
    try:
        return check_mode(mode)
    except ValueError:
        return "off"  # compile_topic reports it


def _readable(doc: Document) -> bool:
    return readable(doc.raw.get("title", ""), doc.raw.get("summary", ""))
