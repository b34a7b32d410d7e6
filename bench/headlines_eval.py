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
- `words`: the report whose headline shares the most (rarity-weighted) words with the others;
- `meaning`: the report whose headline vector is closest to the others' (all-MiniLM-L6-v2).

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


RULES = {
    "busiest": lambda members: headline_index([m.published_at for m in members]),
    "words": lambda members: representative_index([m.title for m in members], [m.published_at for m in members]),
    "meaning": by_meaning,
}


def groups(spec: dict) -> tuple[list[list], list[list], dict[int, str], list[list]]:
    """The developments (members oldest first) of 3+ entries in the list's months, each one's days of 3+
    entries, the written event of each entry, and every development."""
    gold_of = {i: f"g{n}" for n, d in enumerate(spec["development"]) for i in d["items"]}
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
    "+ a line per day (shipped)": lambda m: [headline_of(m)] + [line.head for line in day_lines(m)],
}


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


def main() -> None:
    dev.MEANING = dev.load_model() is not None
    if not dev.MEANING:
        raise SystemExit("This bench needs the meaning extra (pip install -e '.[meaning]').")
    totals = {kind: Counter() for kind in ("whole", "day")}
    counts = Counter()
    seen: dict[str, list[int]] = {}
    table: list = []
    print("| written list | shown as | groups | " + " | ".join(RULES) + " |")
    print("|---|---|---:|" + "---:|" * len(RULES))
    for path in sorted(WRITTEN.glob("*.toml")):
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
        whole, days, gold, developments = groups(spec)
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


if __name__ == "__main__":
    main()
