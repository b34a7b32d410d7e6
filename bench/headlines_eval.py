"""Which report heads a development: does the headline a reader sees name the event most of its reports cover?

For every written development list in bench/developments/ (the items a topic matches, grouped by hand
before any grouping was run), the topic's developments are placed as the service places them
(bench/developments_eval.py), and each rule picks a headline:

- for the **whole development** (the timeline, topic page, Atom and alerts): developments of 3 or more
  entries in the list's months;
- for a **digest day** (what one day's digest shows of a development): each development's entries
  published on one UTC day, 3 or more of them (a continuing development's new reports).

A headline is *right* when the written list puts its report in the event most of the shown entries belong
to (the plurality; a tie counts any of the tied events as right). Rules:

- `busiest`: the first report of the busiest UTC day (the rule before 2026-12-05);
- `words, plain`: the report whose headline shares the most (rarity-weighted) words with the others, by
  the plain cosine (shipped on 2026-12-05);
- `words`: the same by the pivoted cosine (`develop.HEADLINE_PIVOT`, shipped since 2026-12-06);
- `meaning`: the report whose headline vector is closest to the others' (all-MiniLM-L6-v2).

A third table asks whether the headline tells the reader what happened: bench/labels/headline-acts.jsonl
labels, blind (a helper session given the headlines alone, shuffled, not knowing which rule chose them),
each headline any rule chose as an *act* (a report of a concrete act, decision, statement, finding or new
number) or *generic* (explainer, opinion, question, roundup, photo essay, feature). It covers the written
lists and two February 2023 topics no rule was tuned on (`UNLISTED`: the Chinese balloon, the Turkey–Syria
earthquake), whose groups have no written list; a headline not labelled is counted apart.

A second table counts, per list, the written events of 3+ reports that some line of the timeline names
(its report is in the event): with one headline per development (either rule), and with the headline
plus a line per day (`develop.day_lines`, shipped), and how many lines each shows.

    .venv/bin/python bench/headlines_eval.py
"""

from __future__ import annotations

import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import developments_eval as dev  # noqa: E402
from service.stories import develop as develop_module  # noqa: E402
from service.stories.develop import (  # noqa: E402
    MEANING_THRESHOLD,
    day_lines,
    develop,
    headline_index,
    headline_of,
    representative_index,
)
from service.stories.meaning import vector  # noqa: E402

WRITTEN = Path(__file__).resolve().parent / "developments"
MIN_SHOWN = 3


def by_meaning(members: list) -> int:
    import numpy as np

    vectors = np.array([vector(m.title) for m in members])
    sims = vectors @ vectors.T
    totals = sims.sum(1) - sims.diagonal()
    return int(max(range(len(members)), key=lambda i: (round(float(totals[i]), 6), -i)))


def by_words(pivot: float | None = None):  # noqa: ANN201
    def rule(members: list) -> int:
        shipped = develop_module.HEADLINE_PIVOT
        develop_module.HEADLINE_PIVOT = shipped if pivot is None else pivot
        try:
            return representative_index([m.title for m in members], [m.published_at for m in members])
        finally:
            develop_module.HEADLINE_PIVOT = shipped
    return rule


RULES = {
    "busiest": lambda members: headline_index([m.published_at for m in members]),
    "words, plain": by_words(1.0),
    "words": by_words(),
    "meaning": by_meaning,
}
UNLISTED = {  # topics of February 2023 with no written list: scored only by the act labels
    "balloon": "balloon OR balloons",
    "quake": "(earthquake OR quake) AND (turkey OR syria OR türkiye OR turkish OR syrian)",
}
ACTS = Path(__file__).resolve().parent / "labels" / "headline-acts.jsonl"


def groups(spec: dict) -> tuple[list[list], list[list], dict[int, str], list[list]]:
    """The developments (members oldest first) of 3+ entries in the list's months, each one's days of 3+
    entries, the written event of each entry, and every development."""
    gold_of = {i: f"g{n}" for n, d in enumerate(spec.get("development", [])) for i in d["items"]}
    months = set(spec.get("months", [3, 4]))
    prior = set(range(1, max(months) + 1))
    if "labels" in spec:
        placing = dev.labelled_items(spec["labels"], prior)
    else:
        slug = spec.get("topic") or ("query" if "query" in spec else "japan-korea-relations")
        placing = dev.topic_items(slug, prior, spec.get("query"))
    _, _, until = dev.window(spec)
    if until is not None:
        placing = [(i, source) for i, source in placing if i.published_at < until]
    placed = develop([i for i, _ in placing], **dev.settings(MEANING_THRESHOLD))
    members: dict[int, list] = defaultdict(list)
    for item, _ in placing:
        if dev.scored(spec, item):
            members[placed[item.entry_id]].append(item)
    whole = [m for m in members.values() if len(m) >= MIN_SHOWN]
    days = []
    for m in members.values():
        per_day: dict = defaultdict(list)
        for item in m:
            per_day[item.published_at.date()].append(item)
        days += [d for d in per_day.values() if len(d) >= MIN_SHOWN]
    gold = {i: gold_of.get(i, f"unlisted-{i}") for i in (x.entry_id for m in members.values() for x in m)}
    return whole, days, gold, list(members.values())


LINES = {  # what a timeline shows of a development: its headline, or that and a line per day
    "one headline (busiest day's first)": lambda m: [m[headline_index([x.published_at for x in m])]],
    "one headline (words)": lambda m: [headline_of(m)],
    "+ a line per day (shipped)": lambda m: _with_days(m),
}


def _with_days(m: list) -> list:
    """The headline and the day lines, a day line that repeats the headline counted once."""
    head = headline_of(m)
    return [head] + [line.head for line in day_lines(m) if line.head is not head]


def visible(developments: list[list], gold: dict[int, str], lines) -> tuple[int, int, int]:  # noqa: ANN001
    """Of the written events with 3+ reports, how many a line shown names (its report is in the event);
    and how many lines are shown in all."""
    sizes = Counter(gold.values())
    events = {g for g, n in sizes.items() if n >= MIN_SHOWN and not g.startswith("unlisted")}
    named, shown = set(), 0
    for m in developments:
        heads = lines(m)
        shown += len(heads)
        named |= {gold[h.entry_id] for h in heads}
    return len(events & named), len(events), shown


def right(members: list, index: int, gold: dict[int, str]) -> bool:
    counts = Counter(gold[m.entry_id] for m in members)
    top = max(counts.values())
    return counts[gold[members[index].entry_id]] == top


def act_table(shown_by_list: dict[str, dict[str, list[list]]]) -> None:
    import json

    label = {row["id"]: row["label"] for row in map(json.loads, ACTS.read_text(encoding="utf-8").splitlines())}
    print("\nHeadlines that say what happened (labelled act / groups; not labelled apart)\n")
    rules = {name: RULES[name] for name in ("words, plain", "words")}  # the rules the labels were made for
    print("| lists | shown as | groups | " + " | ".join(rules) + " |")
    print("|---|---|---:|" + "---:|" * len(rules))
    for name, stems in (("written lists", [s for s in shown_by_list if s not in UNLISTED]),
                        ("February 2023 (balloon, earthquake; held out)", [s for s in shown_by_list if s in UNLISTED])):
        for kind in ("whole", "day"):
            shown = [m for stem in stems for m in shown_by_list[stem][kind]]
            cells = []
            for rule in rules.values():
                picked = [m[rule(m)].entry_id for m in shown]
                acts, unknown = sum(label.get(i) == "act" for i in picked), sum(i not in label for i in picked)
                cells.append(f"{acts / len(shown):.3f}" + (f" ({unknown} not labelled)" if unknown else ""))
            print(f"| {name} | {kind} | {len(shown)} | " + " | ".join(cells) + " |")


def main() -> None:
    dev.MEANING = dev.load_model() is not None
    if not dev.MEANING:
        raise SystemExit("This bench needs the meaning extra (pip install -e '.[meaning]').")
    totals = {kind: Counter() for kind in ("whole", "day")}
    counts = Counter()
    seen: dict[str, list[int]] = {}
    table: list = []
    shown_by_list: dict[str, dict[str, list[list]]] = {}
    for slug, query in UNLISTED.items():
        whole, days, _, _ = groups({"topic": slug, "query": query, "months": [2]})
        shown_by_list[slug] = {"whole": whole, "day": days}
    print("| written list | shown as | groups | " + " | ".join(RULES) + " |")
    print("|---|---|---:|" + "---:|" * len(RULES))
    for path in sorted(WRITTEN.glob("*.toml")):
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
        whole, days, gold, developments = groups(spec)
        shown_by_list[path.stem] = {"whole": whole, "day": days}
        for name, lines in LINES.items():
            seen[name] = [a + b for a, b in zip(seen.get(name, (0, 0, 0)), visible(developments, gold, lines))]
        table.append((path.stem, {name: visible(developments, gold, lines) for name, lines in LINES.items()}))
        for kind, shown in (("whole", whole), ("day", days)):
            scores = {name: sum(right(m, rule(m), gold) for m in shown) for name, rule in RULES.items()}
            for name, s in scores.items():
                totals[kind][name] += s
            counts[kind] += len(shown)
            cells = " | ".join(f"{scores[name] / len(shown):.2f}" if shown else "—" for name in RULES)
            print(f"| {path.stem} | {kind} | {len(shown)} | {cells} |")
    for kind in ("whole", "day"):
        cells = " | ".join(f"**{totals[kind][name] / counts[kind]:.3f}**" for name in RULES)
        print(f"| all lists | {kind} | {counts[kind]} | {cells} |")
    print("\nWritten events of 3+ reports a timeline line names (named / events; lines shown)\n")
    print("| written list | " + " | ".join(LINES) + " |")
    print("|---|" + "---:|" * len(LINES))
    for stem, cells in table + [("**all lists**", seen)]:
        print(f"| {stem} | " + " | ".join(f"{n}/{e} ({n / e:.2f}); {k} lines" for n, e, k in cells.values()) + " |")
    act_table(shown_by_list)


if __name__ == "__main__":
    main()
